"""`envprint freshness` and `envprint shadow --requests` as real subprocesses: exit codes and outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import envprint
from envprint import signing
from envprint.freshness import profile
from tests.conftest import run_envprint
from tests.freshness.synth import rows, write_csv, write_jsonl, write_parquet

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def breaching(tmp_path: Path) -> Path:
    """Returns a log with 15 % stale reads of last_click_ts and a fetch p99 of 8 ms on user_embedding."""
    data = rows("last_click_ts", 1000, seed=1, stale_share=0.15) + rows("user_embedding", 1000, seed=2, slow_share=0.02)
    return write_jsonl(tmp_path / "fetches.jsonl", data)


def test_a_breach_exits_1_and_names_feature_and_slo(breaching: Path) -> None:
    proc = run_envprint(["freshness", str(breaching)])
    assert proc.returncode == 1, proc.stderr
    assert "BREACH: 2 of 2 feature(s) miss an SLO (2 breaches) over 2000 fetches" in proc.stdout
    assert "last_click_ts: staleness_p95 = 2.02 h, target <= 10 s" in proc.stdout
    assert "user_embedding: fetch_p99 = 7.92 ms, target <= 5 ms" in proc.stdout


def test_a_clean_log_exits_0(tmp_path: Path) -> None:
    log = write_csv(tmp_path / "clean.csv", rows("last_click_ts", 500, seed=3) + rows("country", 500, seed=4))
    proc = run_envprint(["freshness", str(log)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK: 2 feature(s) within SLOs over 1000 fetches" in proc.stdout


def test_json_output_is_one_document_with_the_verdict(breaching: Path) -> None:
    proc = run_envprint(["freshness", str(breaching), "-f", "json"])
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert (doc["format"], doc["version"], doc["exit_code"], doc["passed"]) == ("envprint-freshness", 1, 1, False)
    by = {f["feature"]: f for f in doc["features"]}
    assert by["last_click_ts"]["stale_rate"] == 0.15
    assert [s["status"] for s in by["user_embedding"]["slos"]] == ["ok", "ok", "breach"]
    assert by["user_embedding"]["slos"][2]["observed"] == pytest.approx(8.0, rel=0.01)


def test_markdown_output_is_a_table(breaching: Path) -> None:
    proc = run_envprint(["freshness", str(breaching), "--format", "markdown"])
    assert proc.returncode == 1
    assert proc.stdout.startswith("## envprint freshness: BREACH")
    assert "| `last_click_ts` | 1000 | 100.0% | 15.0% |" in proc.stdout


def test_slo_options_and_file_change_the_verdict(breaching: Path, tmp_path: Path) -> None:
    file = tmp_path / "slos.toml"
    file.write_text('[features.user_embedding]\nfetch_p99 = "<= 10ms"\n')
    proc = run_envprint(
        ["freshness", str(breaching), "--slo", "last_click_ts:staleness_p95<=3h", "--slo-file", str(file)]
    )
    assert proc.returncode == 0, proc.stdout
    proc = run_envprint(["freshness", str(breaching), "--no-default-slos", "--slo", "stale_rate<=10%"])
    assert proc.returncode == 1
    assert "last_click_ts: stale_rate = 15%, target <= 10%" in proc.stdout


ROW = '{"feature":"a","hit":true,"age_s":%s,"fetch_ms":1}\n'


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("missing.csv", "request_id,feature,hit,fetch_ms\nr,a,true,1\n", "line 1 (header): missing column 'age_s'"),
        ("negative.jsonl", ROW % 1 + ROW % -4, "line 2: age_s -4 is negative"),
        ("text.csv", "feature,hit,age_s,fetch_ms\na,true,1,1\na,true,1,1\na,false,,fast\n", "line 4: fetch_ms 'fast'"),
    ],
)
def test_malformed_logs_exit_2_naming_the_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text)
    proc = run_envprint(["freshness", str(tmp_path / name)])
    assert proc.returncode == 2
    assert f"{tmp_path / name}: {message}" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_a_missing_log_and_a_bad_slo_exit_2(tmp_path: Path, breaching: Path) -> None:
    proc = run_envprint(["freshness", str(tmp_path / "absent.jsonl")])
    assert (proc.returncode, "absent.jsonl: no such file" in proc.stderr) == (2, True)
    proc = run_envprint(["freshness", str(breaching), "--slo", "latency<=5ms"])
    assert (proc.returncode, "unknown metric 'latency'" in proc.stderr) == (2, True)


def test_plot_writes_a_real_png(breaching: Path, tmp_path: Path) -> None:
    png = tmp_path / "freshness.png"
    proc = run_envprint(["freshness", str(breaching), "--plot", str(png)])
    assert proc.returncode == 1
    data = png.read_bytes()
    assert data[:8] == PNG_MAGIC
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1100, 800)
    assert not list(tmp_path.glob(".freshness.png.*"))  # no temporary file left behind


def test_baseline_reports_age_skew_and_must_verify(
    breaching: Path, tmp_path: Path, local_fingerprint: envprint.Fingerprint
) -> None:
    private, public = signing.generate_keypair(tmp_path / "train")
    label = np.full(100, 1_700_000_000.0)
    prof = profile({"t": label, "click": label - 30.0}, event_time="t", feature_times={"last_click_ts": "click"})
    prof.attach(local_fingerprint).save(tmp_path / "envprint.fp", key=private)
    proc = run_envprint(
        ["freshness", str(breaching), "--baseline", str(tmp_path / "envprint.fp"), "--key", str(public)]
    )
    assert proc.returncode == 1
    assert "[VERIFIED]" in proc.stdout
    assert "last_click_ts: 30.3 s in training → 2.02 h serving (×240)" in proc.stdout
    assert "user_embedding: not in the training profile" in proc.stdout
    _, other = signing.generate_keypair(tmp_path / "other")
    proc = run_envprint(["freshness", str(breaching), "--baseline", str(tmp_path / "envprint.fp"), "--key", str(other)])
    assert proc.returncode == 3


def test_shadow_requests_attributes_divergence_to_the_stale_feature(tmp_path: Path) -> None:
    ids = [f"r{i}" for i in range(2000)]
    data = rows("last_click_ts", 2000, seed=5, stale_share=0.2, ids=ids) + rows("country", 2000, seed=6, ids=ids)
    log = write_parquet(tmp_path / "fetches.parquet", data)
    stale = {r["request_id"] for r in data if r["feature"] == "last_click_ts" and r["age_s"] > 10}
    with (tmp_path / "base.csv").open("w") as b, (tmp_path / "cand.csv").open("w") as c:
        b.write("request_id,score\n")
        c.write("request_id,score\n")
        for i, rid in enumerate(ids[::5]):
            b.write(f"{rid},{0.5 + i % 7 / 100}\n")
            c.write(f"{rid},{(0.5 + i % 7 / 100) * (2 if rid in stale else 1)}\n")
    proc = run_envprint(["shadow", str(tmp_path / "base.csv"), str(tmp_path / "cand.csv"), "--requests", str(log)])
    assert proc.returncode == 1, proc.stderr  # above --max-fraction 10 %
    assert "check feature availability first: likely last_click_ts" in proc.stdout
    proc = run_envprint(
        ["shadow", str(tmp_path / "base.csv"), str(tmp_path / "cand.csv"), "--requests", str(log), "-f", "json"]
    )
    doc = json.loads(proc.stdout)
    assert doc["format"] == "envprint-shadow" and doc["freshness"]["likely_cause"] == "last_click_ts"
    top = doc["freshness"]["features"][0]
    assert (top["feature"], top["degraded_rate"], top["fresh_rate"]) == ("last_click_ts", 1.0, 0.0)
    assert doc["freshness"]["rule"]["breached"] is True


def test_shadow_requests_needs_request_ids(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros(4))
    write_jsonl(tmp_path / "log.jsonl", rows("f", 4, seed=1))
    proc = run_envprint(
        ["shadow", str(tmp_path / "a.npy"), str(tmp_path / "a.npy"), "--requests", str(tmp_path / "log.jsonl")]
    )
    assert proc.returncode == 2
    assert "pairs predictions by request_id" in proc.stderr
