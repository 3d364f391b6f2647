"""Shadow attribution: divergence generated only on stale requests is pinned on the stale feature."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from envprint.errors import UsageError
from envprint.freshness import attribute, build_slos
from tests.freshness.synth import rows, write_jsonl

N = 4000
SHADOW_EVERY = 4  # the shadow sees 25 % of the requests


def _world(
    tmp_path: Path, *, diverge_share: float = 0.6, noise_share: float = 0.0
) -> tuple[Path, Path, Path, set[str]]:
    """Returns (baseline, candidate, log, stale ids): last_click_ts is stale on 15 % of requests and only
    those diverge (share `diverge_share` of them), plus `noise_share` of all rows diverging at random."""
    ids = [f"req-{i}" for i in range(N)]
    data = rows("last_click_ts", N, seed=11, stale_share=0.15, ids=ids)
    data += rows("user_embedding", N, seed=12, miss_share=0.05, ids=ids)
    data += rows("country", N, seed=13, stale_share=0.10, ids=ids)
    log = write_jsonl(tmp_path / "fetches.jsonl", data)
    stale = {r["request_id"] for r in data if r["feature"] == "last_click_ts" and r["age_s"] > 10}
    rng = np.random.default_rng(14)
    base, cand = tmp_path / "baseline.csv", tmp_path / "candidate.csv"
    with base.open("w", newline="") as b, cand.open("w", newline="") as c:
        wb, wc = csv.writer(b), csv.writer(c)
        wb.writerow(["request_id", "score"])
        wc.writerow(["request_id", "score"])
        shadowed = ids[::SHADOW_EVERY]
        scores = {rid: float(rng.uniform(0.1, 0.9)) for rid in shadowed}
        for rid in shadowed:
            wb.writerow([rid, scores[rid]])
        for rid in reversed(shadowed):
            moved = (rid in stale and rng.random() < diverge_share) or rng.random() < noise_share
            wc.writerow([rid, scores[rid] * (1.5 if moved else 1.0)])
    return base, cand, log, stale


def test_divergence_generated_only_on_stale_requests_is_attributed_to_the_stale_feature(tmp_path: Path) -> None:
    base, cand, log, stale = _world(tmp_path)
    result = attribute(base, cand, [log])
    assert result.likely_cause is not None and result.likely_cause.feature == "last_click_ts"
    top = result.features[0]
    shadowed_stale = len([i for i in range(0, N, SHADOW_EVERY) if f"req-{i}" in stale])
    assert (top.feature, top.stale, top.missed, top.fresh_diverging) == ("last_click_ts", shadowed_stale, 0, 0)
    assert top.degraded_rate == pytest.approx(0.6, abs=0.08)
    assert top.significant and top.p_value is not None and top.p_value < 1e-12
    others = {a.feature: a for a in result.features[1:]}
    assert set(others) == {"country", "user_embedding"}
    assert not any(a.significant for a in others.values())
    assert result.shadowed == N // SHADOW_EVERY
    assert result.coverage == pytest.approx(0.25)
    assert result.shadow.diverging == top.degraded_diverging  # every diverging row had a stale last_click_ts


def test_the_shadow_rule_asks_to_check_feature_availability_above_5_percent(tmp_path: Path) -> None:
    base, cand, log, _ = _world(tmp_path)
    result = attribute(base, cand, [log])
    assert result.fraction > 0.05 and result.rule_breached
    assert result.verdict.startswith("INVESTIGATE: ")
    assert "check feature availability first: likely last_click_ts" in result.verdict


def test_below_5_percent_the_rule_passes(tmp_path: Path) -> None:
    base, cand, log, _ = _world(tmp_path, diverge_share=0.2)
    result = attribute(base, cand, [log])
    assert result.fraction <= 0.05
    assert result.verdict.startswith("OK: ")


def test_random_divergence_is_not_pinned_on_any_feature(tmp_path: Path) -> None:
    base, cand, log, _ = _world(tmp_path, diverge_share=0.0, noise_share=0.1)
    result = attribute(base, cand, [log])
    assert result.rule_breached
    assert result.likely_cause is None
    assert "no feature's staleness explains it" in result.verdict


def test_a_stale_after_age_above_the_stale_values_finds_nothing_stale(tmp_path: Path) -> None:
    base, cand, log, _ = _world(tmp_path)
    result = attribute(base, cand, [log], slos=build_slos(stale_after=3 * 3600.0))
    top = {a.feature: a for a in result.features}["last_click_ts"]
    assert top.stale == 0 and result.likely_cause is None


def test_unpaired_requests_are_left_out_and_said(tmp_path: Path) -> None:
    base, cand, log, _ = _world(tmp_path)
    with base.open("a") as f:
        f.write("only-in-base,0.5\n")
    result = attribute(base, cand, [log])
    assert (result.only_baseline, result.only_candidate, result.unlogged) == (1, 0, 0)
    assert any("1 request(s) only in the baseline" in n for n in result.notes)


def test_a_repeated_request_id_is_refused(tmp_path: Path) -> None:
    base, cand, log, _ = _world(tmp_path)
    with base.open("a") as f:
        f.write("req-0,0.5\n")
    with pytest.raises(UsageError, match="request_id 'req-0' appears in rows 1 and 1001"):
        attribute(base, cand, [log])


def test_prediction_files_without_request_ids_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros(3))
    (tmp_path / "b.csv").write_text("score\n1\n")
    with pytest.raises(UsageError, match="cannot hold"):
        attribute(tmp_path / "a.npy", tmp_path / "a.npy", [tmp_path / "log.jsonl"])
    with pytest.raises(UsageError, match="no request_id column"):
        attribute(tmp_path / "b.csv", tmp_path / "b.csv", [tmp_path / "log.jsonl"])


def test_parquet_predictions_pair_by_request_id(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    base, cand, log, _ = _world(tmp_path)
    for path in (base, cand):
        with path.open() as f:
            body = list(csv.DictReader(f))
        table = pa.table({"request_id": [r["request_id"] for r in body], "score": [float(r["score"]) for r in body]})
        pq.write_table(table, path.with_suffix(".parquet"))
    result = attribute(base.with_suffix(".parquet"), cand.with_suffix(".parquet"), [log])
    assert result.likely_cause is not None and result.likely_cause.feature == "last_click_ts"
