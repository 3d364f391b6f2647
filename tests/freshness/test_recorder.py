"""`Recorder`: counts, windows, the request log, thread safety, Prometheus metrics parsed by prometheus_client."""

from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from envprint.errors import UsageError
from envprint.freshness import Recorder, read_log


class Clock:
    """A settable clock, so windows expire without waiting."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_snapshot_counts_hits_and_ages_per_feature() -> None:
    with Recorder(clock=Clock()) as rec:
        for i in range(100):
            rec.observe("a", hit=i % 4 != 0, age_s=float(i) if i % 4 else None, fetch_ms=1.0)
        rec.observe("b", hit=True, age_s=3.0, fetch_ms=2.5)
        snap = rec.snapshot()
    a, b = snap.features["a"], snap.features["b"]
    assert (a.total.requests, a.total.hits, a.total.age.count, a.total.fetch.count) == (100, 75, 75, 100)
    assert a.total.hit_rate == 0.75
    assert a.total.age.total == sum(i for i in range(100) if i % 4)
    assert a.window.requests == 100 and a.window.hits == 75
    assert b.total.fetch.quantile(0.5) == pytest.approx(2.5, rel=0.01)


def test_a_miss_that_served_a_fallback_value_counts_its_age() -> None:
    with Recorder(clock=Clock()) as rec:
        rec.observe("a", hit=False, age_s=86400.0, fetch_ms=30.0)
        snap = rec.snapshot()
    assert snap.features["a"].total.hits == 0
    assert snap.features["a"].total.age.quantile(0.5) == pytest.approx(86400.0, rel=0.01)


def test_the_window_forgets_old_slots_and_keeps_all_time_totals() -> None:
    clock = Clock()
    with Recorder(clock=clock, window_s=60, window_slots=3) as rec:
        rec.observe("a", hit=True, age_s=1000.0, fetch_ms=1.0)
        clock.now += 30
        rec.observe("a", hit=True, age_s=1.0, fetch_ms=1.0)
        assert rec.snapshot().features["a"].window.requests == 2
        clock.now += 45  # the first observation's slot left the 60 s window, the second's did not
        snap = rec.snapshot().features["a"]
        assert snap.window.requests == 1
        assert snap.window.age.quantile(1.0) == pytest.approx(1.0, rel=0.01)
        assert snap.total.requests == 2
        clock.now += 600
        snap = rec.snapshot().features["a"]
        assert (snap.window.requests, snap.window.hit_rate, snap.total.requests) == (0, None, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hit": True, "age_s": -1.0, "fetch_ms": 1.0}, "must be finite numbers >= 0"),
        ({"hit": True, "age_s": math.nan, "fetch_ms": 1.0}, "must be finite numbers >= 0"),
        ({"hit": True, "age_s": 1.0, "fetch_ms": math.inf}, "must be finite numbers >= 0"),
        ({"hit": True, "age_s": "3", "fetch_ms": 1.0}, "must be finite numbers >= 0"),
        ({"hit": True, "age_s": None, "fetch_ms": 1.0}, "a hit needs the age"),
    ],
)
def test_invalid_observations_raise_usage_error_and_record_nothing(kwargs: dict, message: str) -> None:
    with Recorder() as rec:
        with pytest.raises(UsageError, match=message):
            rec.observe("a", **kwargs)
        assert rec.snapshot().features == {}


def test_a_feature_must_be_named_by_a_non_empty_string() -> None:
    with Recorder() as rec, pytest.raises(UsageError, match="non-empty string"):
        rec.observe("", hit=True, age_s=1.0, fetch_ms=1.0)


def test_a_closed_recorder_refuses_observations() -> None:
    rec = Recorder()
    rec.close()
    with pytest.raises(UsageError, match="closed"):
        rec.observe("a", hit=True, age_s=1.0, fetch_ms=1.0)


def test_the_request_log_holds_one_row_per_fetch_and_reads_back(tmp_path: Path) -> None:
    log = tmp_path / "fetches.jsonl"
    with Recorder(log, clock=Clock(1_700_000_000.25)) as rec:
        rec.observe("last_click_ts", hit=True, age_s=4.5, fetch_ms=0.75, request_id="r-1")
        rec.observe('user "emb"', hit=False, age_s=None, fetch_ms=12.0, request_id=7)
        rec.observe("last_click_ts", hit=True, age_s=0.0, fetch_ms=0.5)
    lines = log.read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "request_id": "r-1",
            "feature": "last_click_ts",
            "hit": True,
            "age_s": 4.5,
            "fetch_ms": 0.75,
            "ts": 1700000000.25,
        },
        {
            "request_id": "7",
            "feature": 'user "emb"',
            "hit": False,
            "age_s": None,
            "fetch_ms": 12.0,
            "ts": 1700000000.25,
        },
        {
            "request_id": None,
            "feature": "last_click_ts",
            "hit": True,
            "age_s": 0.0,
            "fetch_ms": 0.5,
            "ts": 1700000000.25,
        },
    ]
    (batch,) = list(read_log(log))
    assert batch.feature == ["last_click_ts", 'user "emb"', "last_click_ts"]
    assert batch.request_id == ["r-1", "7", None]


def test_a_log_in_a_missing_directory_fails_when_the_recorder_is_made(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot open the request log"):
        Recorder(tmp_path / "no" / "such" / "dir" / "log.jsonl")


def test_concurrent_observers_lose_nothing(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    threads, per_thread = 8, 5_000
    with Recorder(log, flush_interval_s=0.001, max_pending=997) as rec:

        def work(t: int) -> None:
            for i in range(per_thread):
                rec.observe(f"f{t % 3}", hit=i % 2 == 0, age_s=float(i % 50), fetch_ms=1.0, request_id=f"{t}-{i}")

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        snap = rec.snapshot()
    assert sum(f.total.requests for f in snap.features.values()) == threads * per_thread
    assert sum(f.total.hits for f in snap.features.values()) == threads * per_thread // 2
    assert snap.features["f0"].total.requests == 3 * per_thread  # threads 0, 3, 6
    ids = [json.loads(line)["request_id"] for line in log.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == threads * per_thread


def test_memory_is_fixed_per_feature_whatever_the_number_of_observations() -> None:
    with Recorder() as rec:
        rec.observe("a", hit=True, age_s=1.0, fetch_ms=1.0)
        rec.flush()
        one = rec.memory_bytes()
        for i in range(20_000):
            rec.observe("a", hit=True, age_s=float(i), fetch_ms=float(i % 100))
        rec.flush()
        assert rec.memory_bytes() == one
        rec.observe("b", hit=True, age_s=1.0, fetch_ms=1.0)
        rec.flush()
        assert rec.memory_bytes() == 2 * one
    assert one < 80 * 1024


def test_fetch_context_times_the_block_and_derives_hit_and_age() -> None:
    clock = Clock(1000.0)
    with Recorder(clock=clock) as rec:
        with rec.fetch("a", request_id="r") as f:
            f.value_time = 990.0
        with rec.fetch("b"):
            pass  # no value: a miss
        with rec.fetch("c") as f:
            f.value_time = 1005.0  # clock skew: the value is "from the future"
        with pytest.raises(KeyError), rec.fetch("d") as f:
            f.value_time = 999.0
            raise KeyError("cache down")
        snap = rec.snapshot().features
    assert (snap["a"].total.hits, snap["a"].total.age.quantile(0.5)) == (1, pytest.approx(10.0, rel=0.01))
    assert (snap["b"].total.hits, snap["b"].total.age.count) == (0, 0)
    assert snap["c"].total.age.quantile(0.5) == 0
    assert (snap["d"].total.hits, snap["d"].total.age.count) == (0, 0)
    assert all(0 <= s.total.fetch.total < 1000 for s in snap.values())


def _families(rec: Recorder) -> dict[str, list]:
    registry = CollectorRegistry()
    rec.register(registry)
    text = generate_latest(registry).decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_prometheus_output_parses_with_prometheus_clients_own_parser() -> None:
    with Recorder(clock=Clock()) as rec:
        for i in range(1000):
            rec.observe("last_click_ts", hit=i % 10 != 0, age_s=(i % 100) + 1.0, fetch_ms=2.0, request_id=str(i))
        rec.observe("user_embedding", hit=True, age_s=3.0, fetch_ms=0.5)
        families = _families(rec)
    by = {(s.name, s.labels.get("feature"), s.labels.get("quantile")): s.value for v in families.values() for s in v}
    assert by[("envprint_feature_requests_total", "last_click_ts", None)] == 1000
    assert by[("envprint_feature_hits_total", "last_click_ts", None)] == 900
    assert by[("envprint_feature_hit_ratio", "last_click_ts", None)] == 0.9
    ages = np.array([(i % 100) + 1.0 for i in range(1000)])
    for q in (0.5, 0.95, 0.99):
        exact = float(np.quantile(ages, q, method="lower"))
        assert by[("envprint_feature_staleness_seconds", "last_click_ts", f"{q:g}")] == pytest.approx(exact, rel=0.01)
    assert by[("envprint_feature_staleness_seconds_count", "last_click_ts", None)] == 1000
    assert by[("envprint_feature_staleness_seconds_sum", "last_click_ts", None)] == float(ages.sum())
    assert by[("envprint_feature_fetch_seconds", "last_click_ts", "0.99")] == pytest.approx(0.002, rel=0.01)
    assert by[("envprint_feature_fetch_seconds_sum", "user_embedding", None)] == pytest.approx(0.0005)
    assert by[("envprint_freshness_log_rows_lost_total", None, None)] == 0
    assert families["envprint_feature_staleness_seconds"][0].labels["feature"] == "last_click_ts"


def test_prometheus_export_skips_quantiles_of_an_empty_window() -> None:
    clock = Clock()
    with Recorder(clock=clock, window_s=10) as rec:
        rec.observe("a", hit=True, age_s=1.0, fetch_ms=1.0)
        clock.now += 100
        families = _families(rec)
    quantiles = [s for s in families["envprint_feature_staleness_seconds"] if "quantile" in s.labels]
    assert quantiles == []
    counts = [s.value for s in families["envprint_feature_staleness_seconds"] if s.name.endswith("_count")]
    assert counts == [1]


def test_a_forked_child_records_with_its_own_thread_and_lock(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    with Recorder(log, clock=Clock()) as rec:
        rec.observe("parent", hit=True, age_s=1.0, fetch_ms=1.0)
        pid = os.fork()
        if pid == 0:  # the child: record, flush, report through the exit status
            try:
                rec.observe("child", hit=True, age_s=2.0, fetch_ms=1.0, request_id="c")
                snap = rec.snapshot()
                os._exit(0 if snap.features["child"].total.requests == 1 else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert "child" not in rec.snapshot().features
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(r["feature"] for r in rows) == ["child", "parent"]
