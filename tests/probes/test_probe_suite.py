"""The registry and run_suite(): two runs, stability, budget, failures, and no side effects."""

from __future__ import annotations

import itertools
import locale
import os
import random
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator

import msgpack
import numpy as np
import pytest
import threadpoolctl

from envprint._serde import from_data, to_data
from envprint.errors import UsageError
from envprint.model import ProbeResult
from envprint.probes import GROUPS, Probe, Raw, compare, register, registry, run_suite, unregister
from envprint.probes.blas import first_lost_bit, precision_inputs

Register = Callable[..., Probe]


@pytest.fixture
def temporary_probe() -> Iterator[Register]:
    """Returns a function that registers a probe in group "test" for the duration of one test."""
    added: list[str] = []

    def add(name: str, run: Callable[[], Raw], **fields: object) -> Probe:
        probe = register(Probe(name, fields.pop("group", "test"), "a test probe", run, **fields))  # type: ignore[arg-type]
        added.append(name)
        return probe

    yield add
    for name in added:
        unregister(name)


@pytest.fixture(scope="module")
def suite() -> dict[str, ProbeResult]:
    """Returns one in-process run of the whole suite (it is read-only)."""
    return run_suite(budget_s=600.0)


def test_built_in_probes_have_unique_names_known_groups_and_a_description() -> None:
    probes = registry()
    assert len({p.name for p in probes}) == len(probes)
    assert {p.group for p in probes} == set(GROUPS)
    assert all(p.detects and p.version >= 1 for p in probes)
    assert {p.requires for p in probes} == {None, "tensorflow", "torch"}
    assert [p.name for p in probes if p.opt_in] == ["tf_xla"]


def test_every_probe_runs_ok_and_stable_in_process(suite: dict[str, ProbeResult]) -> None:
    # other tests may have imported a framework into this process: its probes run then too
    expected = {p.name for p in registry() if p.requires is None or p.requires in sys.modules}
    assert set(suite) == expected
    opt_in = {p.name for p in registry() if p.opt_in}
    assert {n: r.reason for n, r in suite.items() if (r.status != "ok" or not r.stable) and n not in opt_in} == {}
    ran = [r for r in suite.values() if r.status == "ok"]
    assert all(r.seconds > 0 and r.outputs and len(r.digest) == 64 for r in ran)


def test_running_the_suite_again_in_process_gives_the_same_bits(suite: dict[str, ProbeResult]) -> None:
    again = run_suite(budget_s=600.0)
    ran = [n for n, r in suite.items() if r.status == "ok"]
    assert {n for n in ran if not compare(suite[n], again[n]).identical} == set()


def test_results_round_trip_through_plain_data_and_msgpack(suite: dict[str, ProbeResult]) -> None:
    data = msgpack.unpackb(msgpack.packb(to_data(suite), use_bin_type=True), raw=False)
    assert from_data(dict[str, ProbeResult], data) == suite


def test_groups_select_probes() -> None:
    results = run_suite(["fpenv", "hash"])
    assert set(results) == {"fpenv", "hash_order"}
    assert results["fpenv"].flags["rounding"] == "nearest"


def test_unknown_group_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown probe group"):
        run_suite(["blas", "no-such-group"])


def test_fpenv_reports_the_default_environment_of_a_test_process(suite: dict[str, ProbeResult]) -> None:
    flags = suite["fpenv"].flags
    assert (flags["ftz"], flags["daz"], flags["new_thread_ftz"], flags["rounding"]) == (False, False, False, "nearest")
    assert suite["matmul_precision"].flags["first_lost_bit"] is None  # numpy keeps every float32 bit


def test_fma_control_never_fuses(suite: dict[str, ProbeResult]) -> None:
    assert suite["blas_fma"].flags["fma_control"] == "0,0"


def test_a_probe_that_raises_is_recorded_as_failed(temporary_probe: Register) -> None:
    def boom() -> Raw:
        raise ZeroDivisionError("no luck")

    temporary_probe("test_boom", boom)
    temporary_probe("test_fine", lambda: Raw({"x": 1.0}))
    results = run_suite(["test"])
    failed = results["test_boom"]
    assert (failed.status, failed.reason, failed.outputs, failed.digest) == (
        "failed",
        "ZeroDivisionError: no luck",
        {},
        "",
    )
    assert results["test_fine"].status == "ok"


def test_a_probe_whose_runs_differ_is_recorded_unstable(temporary_probe: Register) -> None:
    runs = itertools.count()
    temporary_probe("test_drift", lambda: Raw({"x": float(run := next(runs))}, {"parity": run % 2}))
    result = run_suite(["test"])["test_drift"]
    assert (result.status, result.stable) == ("ok", False)
    assert result.reason == "unstable: the second run differed in x, flag parity"
    assert result.outputs["x"].samples == ("0x0p+0",)  # the first run is what is recorded


def test_a_probe_failing_only_on_its_second_run_is_unstable(temporary_probe: Register) -> None:
    calls = itertools.count()

    def once() -> Raw:
        if next(calls):
            raise RuntimeError("second time")
        return Raw({"x": 1.0})

    temporary_probe("test_once", once)
    result = run_suite(["test"])["test_once"]
    assert (result.status, result.stable) == ("ok", False)
    assert result.reason == "the second run raised RuntimeError: second time"


def test_a_probe_that_cannot_vary_runs_once_and_one_that_can_runs_twice(temporary_probe: Register) -> None:
    calls = {"once": 0, "twice": 0}

    def counted(name: str) -> Callable[[], Raw]:
        def run() -> Raw:
            calls[name] += 1
            return Raw({"x": 1.0})

        return run

    temporary_probe("test_once", counted("once"), repeat=False)
    temporary_probe("test_twice", counted("twice"))
    results = run_suite(["test"])
    assert calls == {"once": 1, "twice": 2}
    assert (results["test_once"].stable, results["test_once"].reason) == (True, None)


def test_only_probes_whose_results_can_vary_in_a_process_repeat() -> None:
    # BLAS and LAPACK (threads, MKL's alignment-dependent kernels), sorts (a randomised pivot
    # reorders ties) and framework ops (GPU atomics) can differ between two calls of one process
    repeating = {p.group for p in registry() if p.repeat}
    assert repeating == {"blas", "linalg", "sort", "tensorflow", "torch"}
    assert not any(p.repeat for p in registry() if p.group in ("text", "ufunc", "libm", "time", "hash", "rng"))


def test_the_one_threaded_probe_runs_after_every_other(temporary_probe: Register) -> None:
    order: list[str] = []

    def tracked(name: str) -> Callable[[], Raw]:
        def run() -> Raw:
            order.append(name)
            return Raw({"x": 1.0})

        return run

    temporary_probe("test_threaded", tracked("threaded"), threaded=True, repeat=False)
    temporary_probe("test_plain", tracked("plain"), repeat=False)
    run_suite(["test"])
    assert order == ["plain", "threaded"]
    builtin = [p for p in registry() if p.group in GROUPS and p.requires is None]
    assert [p.name for p in builtin if p.threaded] == ["blas_threads"]
    assert builtin[-1].name == "blas_threads"


def test_a_probe_skipped_for_time_never_compares_as_the_same(temporary_probe: Register) -> None:
    def slow() -> Raw:
        time.sleep(0.02)
        return Raw({"x": 1.0})

    temporary_probe("test_slow_a", slow, heavy=True)
    temporary_probe("test_slow_b", slow, heavy=True)
    ran = run_suite(["test"], budget_s=600.0)["test_slow_b"]
    skipped = run_suite(["test"], budget_s=0.0)["test_slow_b"]
    assert (skipped.status, skipped.digest, skipped.outputs) == ("skipped", "", {})
    assert skipped.reason is not None and skipped.reason.startswith("time budget 0 s spent")
    for a, b in ((ran, skipped), (skipped, ran), (skipped, skipped)):
        c = compare(a, b)
        assert (c.identical, c.comparable) == (False, False)
        assert c.reason is not None and "skipped" in c.reason


def test_heavy_probes_after_the_budget_are_skipped_and_cheap_ones_still_run(temporary_probe: Register) -> None:
    def slow() -> Raw:
        time.sleep(0.02)
        return Raw({"x": 1.0})

    temporary_probe("test_slow_1", slow, heavy=True)
    temporary_probe("test_slow_2", slow, heavy=True)
    temporary_probe("test_cheap", lambda: Raw({"x": 2.0}))
    results = run_suite(["test"], budget_s=0.03)
    assert results["test_slow_1"].status == "ok"  # started within the budget
    skipped = results["test_slow_2"]
    assert skipped.status == "skipped" and skipped.reason is not None
    assert skipped.reason.startswith("time budget 0.03 s spent")
    assert results["test_cheap"].status == "ok"


def test_probes_needing_an_absent_module_are_left_out_unless_their_group_is_asked_for(
    temporary_probe: Register,
) -> None:
    temporary_probe("test_needs_absent", lambda: Raw({"x": 1.0}), requires="envprint_no_such_module")
    temporary_probe("test_needs_json", lambda: Raw({"x": 1.0}), requires="json")
    assert "test_needs_absent" not in run_suite()
    results = run_suite(["test"])
    assert (results["test_needs_absent"].status, results["test_needs_absent"].reason) == (
        "skipped",
        "envprint_no_such_module not imported",
    )
    assert results["test_needs_json"].status == "ok"


def test_opt_in_probes_run_only_when_asked(temporary_probe: Register) -> None:
    temporary_probe("test_opt_in", lambda: Raw({"x": 1.0}), opt_in=True)
    assert run_suite(["test"])["test_opt_in"].status == "skipped"
    assert run_suite(["test"], xla=True)["test_opt_in"].status == "ok"


def test_registering_a_taken_name_needs_replace(temporary_probe: Register) -> None:
    probe = temporary_probe("test_taken", lambda: Raw({"x": 1.0}))
    with pytest.raises(ValueError, match="already registered"):
        register(probe)
    assert register(probe, replace=True) is probe


def test_warnings_and_numpy_errors_inside_probes_stay_inside(temporary_probe: Register) -> None:
    def noisy() -> Raw:
        warnings.warn("from a probe", UserWarning, stacklevel=1)
        return Raw({"x": np.float64(1.0) / np.float64(0.0)})

    temporary_probe("test_noisy", noisy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            result = run_suite(["test"])["test_noisy"]
    assert result.status == "ok" and result.outputs["x"].samples == ("inf",)


def _state() -> dict[str, object]:
    return {
        "threads": [(i["internal_api"], i["num_threads"]) for i in threadpoolctl.threadpool_info()],
        "locale": locale.setlocale(locale.LC_ALL, None),
        "numpy_errors": np.geterr(),
        "numpy_random": np.random.get_state()[1].tobytes(),
        "random": random.getstate(),
        "warning_filters": list(warnings.filters),
        "threads_alive": threading.active_count(),
        "environ": dict(os.environ),
        "frameworks": {"tensorflow", "torch"} & set(sys.modules),
    }


def test_running_the_suite_changes_no_global_state() -> None:
    before = _state()
    run_suite(budget_s=600.0)
    assert _state() == before


def test_running_the_suite_imports_no_framework() -> None:
    script = (
        "import sys; from envprint.probes import run_suite; run_suite(); "
        "print(sorted({'tensorflow', 'torch', 'jax'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(("rounded_to", "lost"), [("float32", None), ("float16", 11), ("bfloat16", 8)])
def test_first_lost_bit_names_the_precision_a_matmul_ran_in(rounded_to: str, lost: int | None) -> None:
    a, b = precision_inputs()
    if rounded_to == "float16":
        a = a.astype(np.float16).astype(np.float32)
    elif rounded_to == "bfloat16":  # round to nearest even on the top 16 bits
        bits = a.view(np.uint32)
        a = ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)
    assert first_lost_bit((a @ b)[:23, 0]) == lost
