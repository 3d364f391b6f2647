"""Fetch-log readers: JSON Lines, CSV and Parquet read alike; malformed rows name the file and line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from envprint.freshness import FetchLogError, read_log
from tests.freshness.synth import rows, write_csv, write_jsonl, write_parquet

HEADER = "request_id,feature,hit,age_s,fetch_ms,ts\n"


def _read(path: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray, list]:
    batches = list(read_log(path, chunk_rows=7))
    return (
        [f for b in batches for f in b.feature],
        np.concatenate([b.hit for b in batches]),
        np.concatenate([b.age_s for b in batches]),
        np.concatenate([b.fetch_ms for b in batches]),
        np.concatenate([b.ts for b in batches]),
        [r for b in batches for r in b.request_id],
    )


@pytest.mark.parametrize("writer", [write_jsonl, write_csv, write_parquet])
def test_every_format_reads_the_same_rows(tmp_path: Path, writer) -> None:
    data = rows("f", 50, seed=1, stale_share=0.2, miss_share=0.1)
    suffix = {write_jsonl: ".jsonl", write_csv: ".csv", write_parquet: ".parquet"}[writer]
    features, hit, age, fetch, ts, ids = _read(writer(tmp_path / f"log{suffix}", data))
    assert features == ["f"] * 50
    assert hit.tolist() == [r["hit"] for r in data]
    assert np.array_equal(age, np.array([np.nan if r["age_s"] is None else r["age_s"] for r in data]), equal_nan=True)
    assert fetch.tolist() == [r["fetch_ms"] for r in data]
    assert ts.tolist() == [r["ts"] for r in data]
    assert ids == [r["request_id"] for r in data]


def test_gzipped_json_lines_are_read(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write(json.dumps({"feature": "a", "hit": True, "age_s": 1.5, "fetch_ms": 2}) + "\n")
    (batch,) = read_log(path)
    assert (batch.feature, batch.age_s.tolist(), batch.fetch_ms.tolist()) == (["a"], [1.5], [2.0])
    assert np.isnan(batch.ts[0]) and batch.request_id == [None]


def test_iso_timestamps_with_a_zone_are_epoch_seconds(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(HEADER + "r,a,true,1,1,2023-11-14T22:13:20Z\nr2,a,yes,1,1,2023-11-14T23:13:20+01:00\n")
    (batch,) = read_log(path)
    assert batch.ts.tolist() == [1_700_000_000.0, 1_700_000_000.0]


def _error(tmp_path: Path, name: str, text: str) -> FetchLogError:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(FetchLogError) as e:
        list(read_log(path))
    assert e.value.exit_code == 2
    return e.value


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "log.jsonl",
            '{"feature": "a", "hit": true, "age_s": 1, "fetch_ms": 1}\n{"feature": "a", "hit": true, "fetch_ms": 1}\n',
            "log.jsonl: line 2: missing 'age_s'",
        ),
        (
            "log.jsonl",
            '{"feature": "a", "hit": true, "age_s": 1, "fetch_ms": 1}\n\n'
            '{"feature": "a", "hit": true, "age_s": -3, "fetch_ms": 1}\n',
            "log.jsonl: line 3: age_s -3 is negative",
        ),
        (
            "log.jsonl",
            '{"feature": "a", "hit": true, "age_s": "3s", "fetch_ms": 1}\n',
            "line 1: age_s '3s' is not a number",
        ),
        (
            "log.jsonl",
            '{"feature": "a", "hit": "maybe", "age_s": 3, "fetch_ms": 1}\n',
            "line 1: hit 'maybe' is not true",
        ),
        (
            "log.jsonl",
            '{"feature": "a", "hit": true, "age_s": null, "fetch_ms": 1}\n',
            "line 1: age_s is empty on a hit",
        ),
        ("log.jsonl", '{"feature": "", "hit": true, "age_s": 1, "fetch_ms": 1}\n', "line 1: feature '' is not"),
        (
            "log.jsonl",
            '{"feature": "a", "hit": true, "age_s": 1, "fetch_ms": NaN}\n',
            "line 1: fetch_ms nan is not a finite",
        ),
        ("log.jsonl", '{"feature": "a", "hit": true, "age_s": 1, "fetch_ms": 1, "ts": "noon"}\n', "line 1: ts 'noon'"),
        (
            "log.jsonl",
            '{"feature": "a", "hit": true, "age_s": 1, "fetch_ms": 1}\n{"feature": \n',
            "line 2: not valid JSON",
        ),
        ("log.jsonl", "[1, 2]\n", "line 1: a JSON list, not an object"),
        ("log.csv", "request_id,feature,hit,fetch_ms\nr,a,true,1\n", "line 1 (header): missing column 'age_s'"),
        ("log.csv", HEADER + "r,a,true,1,1,\nr,a,true,abc,1,\n", "log.csv: line 3: age_s 'abc' is not a number"),
        ("log.csv", HEADER + "r,a,true,-0.5,1,\n", "line 2: age_s -0.5 is negative"),
        ("log.csv", HEADER + "r,a,true,1,1\n", "line 2: 5 field(s), expected 6"),
        ("log.csv", HEADER + "r,a,true,1,1,2023-11-14T22:13:20\n", "line 2: ts '2023-11-14T22:13:20' has no time zone"),
        ("log.csv", "", "empty file: no header"),
        ("log.txt", "whatever", "unknown log type '.txt'"),
    ],
)
def test_malformed_logs_name_the_file_and_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    assert message in str(_error(tmp_path, name, text))


def test_a_negative_age_in_parquet_names_the_row(tmp_path: Path) -> None:
    data = rows("f", 20, seed=2)
    data[13]["age_s"] = -2.0
    with pytest.raises(FetchLogError, match=r"row 14: age_s -2.0 is negative"):
        list(read_log(write_parquet(tmp_path / "log.parquet", data), chunk_rows=5))


def test_a_parquet_log_without_a_required_column_is_refused(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"feature": ["a"], "hit": [True], "fetch_ms": [1.0]}), tmp_path / "log.parquet")
    with pytest.raises(FetchLogError, match="missing column 'age_s'"):
        list(read_log(tmp_path / "log.parquet"))


def test_a_parquet_column_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"feature": ["a"], "hit": [True], "age_s": ["old"], "fetch_ms": [1.0]})
    pq.write_table(table, tmp_path / "log.parquet")
    with pytest.raises(FetchLogError, match="column 'age_s' is string, not numeric"):
        list(read_log(tmp_path / "log.parquet"))


def test_an_incomplete_last_line_being_written_is_skipped_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"feature": "a", "hit": true, "age_s": 1, "fetch_ms": 1}\n{"feature": "a", "hit": tr')
    batches = list(read_log(path))
    assert sum(len(b) for b in batches) == 1
    assert batches[-1].notes == (f"{path}: skipped line 2: incomplete (no newline; still being written?)",)


def test_a_missing_file_is_a_fetch_log_error(tmp_path: Path) -> None:
    with pytest.raises(FetchLogError, match="no such file"):
        list(read_log(tmp_path / "absent.jsonl"))


def test_a_directory_is_not_a_log(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").mkdir()
    with pytest.raises(FetchLogError, match="is a directory"):
        list(read_log(tmp_path / "d.jsonl"))
