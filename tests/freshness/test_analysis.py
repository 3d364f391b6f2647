"""`analyze`: per-feature statistics from real log files, SLO breaches, age skew against a training profile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from envprint.errors import UsageError
from envprint.freshness import analyze, build_slos, profile
from tests.freshness.synth import rows, write_csv, write_jsonl, write_parquet


@pytest.fixture
def breaching_log(tmp_path: Path) -> Path:
    """Returns a log where last_click_ts has 15 % stale reads and user_embedding a fetch p99 of 8 ms."""
    data = rows("last_click_ts", 2000, seed=1, stale_share=0.15)
    data += rows("user_embedding", 2000, seed=2, slow_share=0.02, slow_ms=8.0)
    data += rows("country", 1000, seed=3)
    return write_jsonl(tmp_path / "fetches.jsonl", data)


def test_known_breaches_are_found_and_named(breaching_log: Path) -> None:
    report = analyze([breaching_log])
    assert report.exit_code == 1
    assert [(f, r.slo.name) for f, r in report.breaches] == [
        ("last_click_ts", "staleness_p95"),
        ("user_embedding", "fetch_p99"),
    ]
    by = {f.feature: f for f in report.features}
    assert by["last_click_ts"].stale_rate == 0.15
    assert by["last_click_ts"].staleness(0.95) == pytest.approx(7200.5, rel=0.011)
    assert by["user_embedding"].fetch(0.99) == pytest.approx(8.0, rel=0.01)
    assert by["country"].passed
    assert report.counts == {"rows": 5000, "features": 3, "breaching_features": 2, "slos": 9, "breaches": 2}
    assert report.verdict == "BREACH: 2 of 3 feature(s) miss an SLO (2 breaches) over 5000 fetches"


def test_a_clean_log_passes(tmp_path: Path) -> None:
    data = rows("last_click_ts", 1000, seed=4, stale_share=0.01) + rows("user_embedding", 1000, seed=5, miss_share=0.04)
    report = analyze([write_csv(tmp_path / "clean.csv", data)])
    assert (report.passed, report.exit_code, report.breaches) == (True, 0, ())
    assert {f.feature: f.hit_rate for f in report.features} == {"last_click_ts": 1.0, "user_embedding": 0.96}


def test_several_logs_of_different_formats_add_up(tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", rows("f", 300, seed=6, miss_share=0.1))
    b = write_parquet(tmp_path / "b.parquet", rows("f", 700, seed=7, miss_share=0.0))
    (f,) = analyze([a, b]).features
    assert (f.requests, f.stats.hits) == (1000, 970)


def test_the_quantiles_match_numpy_within_the_stated_error(tmp_path: Path) -> None:
    data = rows("f", 5000, seed=8, age_range=(0.01, 600.0))
    (f,) = analyze([write_jsonl(tmp_path / "l.jsonl", data)]).features
    ages = np.array([r["age_s"] for r in data])
    for q in (0.5, 0.95, 0.99):
        assert f.staleness(q) == pytest.approx(float(np.quantile(ages, q, method="lower")), rel=0.01)


def test_per_feature_slos_change_the_verdict(breaching_log: Path) -> None:
    slos = build_slos(["last_click_ts:staleness_p95<=3h", "user_embedding:fetch_p99<=10ms"])
    assert analyze([breaching_log], slos=slos).passed


def test_stale_rate_slo_uses_the_stale_after_age(breaching_log: Path) -> None:
    report = analyze([breaching_log], slos=build_slos(["stale_rate<=10%"], defaults=False))
    assert [(f, r.observed) for f, r in report.breaches] == [("last_click_ts", 0.15)]


def test_a_feature_whose_every_fetch_missed_has_no_staleness_and_does_not_pass(tmp_path: Path) -> None:
    report = analyze([write_jsonl(tmp_path / "l.jsonl", rows("f", 10, seed=9, miss_share=1.0))])
    results = {r.slo.name: r.status for r in report.features[0].slos}
    assert results == {"hit_rate": "breach", "staleness_p95": "no data", "fetch_p99": "ok"}


def test_an_empty_log_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(UsageError, match="no fetch rows"):
        analyze([tmp_path / "empty.jsonl"])


def _training_profile():
    label = np.full(1000, 1_700_000_000.0)
    ages = np.linspace(1.0, 40.0, 1000)  # p95 ≈ 38 s
    return profile(
        {"label_ts": label, "clicked_at": label - ages, "embedded_at": label - 2.0},
        event_time="label_ts",
        feature_times={"last_click_ts": "clicked_at", "user_embedding": "embedded_at"},
    )


def test_age_skew_against_training_is_reported_per_feature(breaching_log: Path) -> None:
    report = analyze([breaching_log], baseline=_training_profile(), baseline_source="model/envprint.fp")
    by = {f.feature: f for f in report.features}
    skew = by["last_click_ts"].skew
    assert skew is not None
    assert skew.training == pytest.approx(38.05, rel=0.011)
    assert skew.serving == pytest.approx(7200.5, rel=0.011)
    assert skew.ratio == pytest.approx(7200.5 / 38.05, rel=0.03)
    assert by["country"].skew is None
    assert [f.feature for f in report.skewed] == ["last_click_ts", "user_embedding"]


def test_an_age_skew_slo_breaches_and_an_unprofiled_feature_has_no_data(breaching_log: Path) -> None:
    slos = build_slos(["age_skew_p95<=3x"], defaults=False)
    report = analyze([breaching_log], slos=slos, baseline=_training_profile())
    status = {f.feature: f.slos[0].status for f in report.features}
    assert status == {"country": "no data", "last_click_ts": "breach", "user_embedding": "ok"}


def test_an_age_skew_slo_without_a_baseline_is_a_usage_error(breaching_log: Path) -> None:
    with pytest.raises(UsageError, match="needs the training profile"):
        analyze([breaching_log], slos=build_slos(["age_skew_p95<=3x"]))


def test_the_timeline_bins_requests_over_time(breaching_log: Path) -> None:
    report = analyze([breaching_log], timeline=True)
    assert report.timeline is not None and report.timeline.by_time
    requests, _, age_p95, _ = report.timeline.series["last_click_ts"]
    assert requests.sum() == 2000
    assert np.nanmax(age_p95) == pytest.approx(7200.5, rel=0.011)
