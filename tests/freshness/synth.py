"""Synthetic fetch logs with known properties, written as real JSON Lines, CSV and Parquet files."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from envprint.freshness.log import COLUMNS

T0 = 1_700_000_000.0


def rows(
    feature: str,
    n: int,
    *,
    seed: int,
    stale_share: float = 0.0,
    stale_age: float = 7200.0,
    miss_share: float = 0.0,
    slow_share: float = 0.0,
    slow_ms: float = 8.0,
    age_range: tuple[float, float] = (0.5, 5.0),
    ids: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Returns `n` fetch rows of `feature`: exactly round(share · n) stale, missed and slow rows, the rest fresh.

    Fresh ages are uniform in `age_range` seconds, fresh latencies uniform in 0.2–2 ms; stale rows are
    `stale_age` seconds old, slow rows take `slow_ms`. Rows are shuffled with `seed`.
    """
    rng = np.random.default_rng(seed)
    kinds = np.zeros(n, np.int8)
    n_stale, n_miss, n_slow = round(stale_share * n), round(miss_share * n), round(slow_share * n)
    kinds[:n_stale] = 1
    kinds[n_stale : n_stale + n_miss] = 2
    rng.shuffle(kinds)
    slow = np.zeros(n, bool)
    slow[:n_slow] = True
    rng.shuffle(slow)
    out = []
    for i in range(n):
        kind = int(kinds[i])
        age: float | None = float(rng.uniform(*age_range))
        if kind == 1:
            age = stale_age + float(rng.uniform(0, 1))
        elif kind == 2:
            age = None
        out.append(
            {
                "request_id": ids[i] if ids is not None else f"{feature}-{i}",
                "feature": feature,
                "hit": kind != 2,
                "age_s": age,
                "fetch_ms": slow_ms if slow[i] else float(rng.uniform(0.2, 2.0)),
                "ts": T0 + i * 0.5,
            }
        )
    return out


def write_jsonl(path: Path, data: Sequence[dict[str, Any]]) -> Path:
    """Returns `path` after writing `data` as JSON Lines."""
    path.write_text("".join(json.dumps(r) + "\n" for r in data), encoding="utf-8")
    return path


def write_csv(path: Path, data: Sequence[dict[str, Any]]) -> Path:
    """Returns `path` after writing `data` as CSV with a header (None as an empty cell)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r in data:
            w.writerow(["" if r.get(c) is None else r[c] for c in COLUMNS])
    return path


def write_parquet(path: Path, data: Sequence[dict[str, Any]]) -> Path:
    """Returns `path` after writing `data` as Parquet with typed columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "request_id": pa.array([r["request_id"] for r in data], pa.string()),
            "feature": pa.array([r["feature"] for r in data], pa.string()),
            "hit": pa.array([r["hit"] for r in data], pa.bool_()),
            "age_s": pa.array([r["age_s"] for r in data], pa.float64()),
            "fetch_ms": pa.array([r["fetch_ms"] for r in data], pa.float64()),
            "ts": pa.array([r["ts"] for r in data], pa.float64()),
        }
    )
    pq.write_table(table, path)
    return path
