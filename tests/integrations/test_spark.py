"""Fleet capture on a real Spark local-cluster (two executor JVMs), all traffic on loopback.

One session serves the module: starting Spark costs tens of seconds. Skipped only when pyspark
(the test extra) or Java is missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envprint.fleet import group
from envprint.model import Fingerprint, Unavailable
from tests.spark_session import SPARK_TESTS, local_cluster

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'envprint[spark]')")
pytestmark = SPARK_TESTS

#: thread and hash-seed variables the driver (this process) must not inherit from the caller's shell
_DRIVER_UNSET = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONHASHSEED")


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """Yields a SparkSession on a local-cluster of two one-core executors, bound to 127.0.0.1 only."""
    with local_cluster("envprint-test", unset=_DRIVER_UNSET) as session:
        yield session


@pytest.fixture(scope="module")
def captured(spark: Any) -> list[Fingerprint]:
    """Returns driver and executor fingerprints with the BLAS probes only (cheap, and thread-sensitive)."""
    from envprint.integrations.spark import capture_executors

    return capture_executors(spark, probes=True, probe_groups=["blas"])


def test_driver_and_each_executor_are_captured_and_tagged(captured: list[Fingerprint]) -> None:
    tags = [dict(fp.meta.tags) for fp in captured]
    assert [(t["role"], t["executor_id"]) for t in tags] == [("driver", "driver"), ("executor", "0"), ("executor", "1")]
    assert {t["host"] for t in tags} == {"127.0.0.1"}
    assert len({t["spark_app_id"] for t in tags}) == 1
    assert len({fp.meta.pid for fp in captured}) == 3  # three processes: the driver and one worker per executor
    assert [fp.meta.label for fp in captured] == ["spark driver", "spark executor 0", "spark executor 1"]


def test_executors_group_together_and_the_driver_differs_by_threads(captured: list[Fingerprint]) -> None:
    report = group(captured)
    assert [[m.name for m in g.members] for g in report.groups] == [["executor 0", "executor 1"], ["driver"]]
    assert report.reference_source == "largest group" and report.exit_code == 1
    driver = report.groups[1].diff
    assert driver is not None and not driver.equivalent
    omp = next(f for f in driver.findings if f.path == "determinism.variables.OMP_NUM_THREADS")
    # Spark sets OMP_NUM_THREADS=spark.task.cpus in its Python workers; the driver leaves it unset
    assert (omp.old, omp.new, omp.kind) == ("1", None, "determinism.threads")
    assert "thread" in omp.why and "OMP_NUM_THREADS" in omp.remedy
    seed = next(f for f in driver.findings if f.path == "determinism.variables.PYTHONHASHSEED")
    assert (seed.old, seed.new) == ("0", None)  # PySpark pins PYTHONHASHSEED=0 in workers when the driver has none
    executor_blas = captured[1].blas
    assert not isinstance(executor_blas, Unavailable)
    assert {lib.num_threads for lib in executor_blas.libraries.values() if lib.user_api == "blas"} == {1}


def test_barrier_mode_reaches_every_executor(spark: Any) -> None:
    from envprint.integrations.spark import capture_executors

    fps = capture_executors(spark, probes=False, barrier=True)
    assert [fp.meta.tags["executor_id"] for fp in fps] == ["driver", "0", "1"]


def test_a_failing_capture_names_the_executor(spark: Any) -> None:
    from envprint.integrations.spark import SparkCaptureError, capture_executors

    with pytest.raises(SparkCaptureError, match=r"capture failed on executor \d \(127\.0\.0\.1\): UsageError"):
        capture_executors(spark, probes=False, imports=["envprint_test_no_such_module"])


def test_cli_fleet_spark_attaches_to_the_active_session(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from envprint.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["fleet", "spark", "-o", str(tmp_path), "--no-probes", "--format", "json"])
    assert exit_info.value.code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["driver.fp", "executor-0.fp", "executor-1.fp"]
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert [[m["name"] for m in g["members"]] for g in doc["groups"]] == [["executor 0", "executor 1"], ["driver"]]
    assert f"wrote 3 fingerprints to {tmp_path}: driver and executor(s) 0, 1" in err
    assert not spark.sparkContext._jsc.sc().isStopped()  # an attached session is left running
