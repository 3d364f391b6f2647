"""The Spark path: the docs example's transforms over 10k synthetic profiles on a real local-cluster, on loopback.

One session serves the module (starting Spark costs tens of seconds). Skipped only when pyspark (the
test extra) or Java is missing.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envprint import parity
from envprint.golden import compare_bundle
from tests.conftest import run_envprint
from tests.golden_bundle.conftest import EXAMPLE, labels
from tests.spark_session import SPARK_TESTS, local_cluster

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'envprint[spark]')")
pytestmark = SPARK_TESTS

PROBES = ("fill_age", "encode_color", "signup_day")


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """Yields a SparkSession on a local-cluster of two one-core executors, bound to 127.0.0.1 only."""
    with local_cluster("envprint-golden-test") as session:
        try:
            yield session
        finally:
            for name in PROBES:  # the driver registered the example's probes: leave the registry as found
                if parity.get(name) is not None:
                    parity.unregister(name)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns the docs example's bundle (10,000 synthetic profiles), exported by the CLI."""
    out = tmp_path_factory.mktemp("bundle") / "golden"
    proc = run_envprint(["golden", "export", "--probes-from", str(EXAMPLE), "-o", str(out)])
    assert proc.returncode == 0, proc.stderr
    return out


def _module(directory: Path, name: str, source: str) -> Path:
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def _forget(*names: str) -> None:
    for name in names:
        if parity.get(name) is not None:
            parity.unregister(name)


def test_spark_outputs_equal_the_python_path_on_10k_profiles(spark: Any, bundle: Path, tmp_path: Path) -> None:
    from envprint.integrations.spark import golden_outputs

    _forget(*PROBES)
    written = golden_outputs(spark, bundle, tmp_path / "out", modules=[str(EXAMPLE)], partitions=4)
    assert sorted(written) == sorted(PROBES)
    report = compare_bundle(bundle, tmp_path / "out")
    assert report.passed and report.verdict == "PARITY: 3 pass"
    assert [(r.name, r.rows_compared, r.values_compared) for r in report.results] == [
        (name, 10_000, 10_000) for name in PROBES
    ]
    for name in PROBES:  # the same encoder on the executors: the very bytes of the Python path
        assert written[name].read_bytes() == (bundle / f"{name}.expected.jsonl").read_bytes()


def test_a_zero_fill_serving_module_run_on_spark_is_caught(spark: Any, bundle: Path, tmp_path: Path) -> None:
    from envprint.integrations.spark import golden_outputs

    _forget(*PROBES)
    # the serving rewrite registers the same probe name; its inputs do not matter: Spark runs the bundle's
    serve = _module(
        tmp_path,
        "serving_zero_fill",
        """
        import math
        import envprint

        def missing(v):
            return v is None or v == "" or (isinstance(v, float) and math.isnan(v))

        @envprint.probe("fill_age", inputs=[{"age": 1.0}], rtol=1e-5)
        def fill_age(rows):
            return {"age": [0.0 if missing(r.get("age")) else float(r["age"]) for r in rows]}
        """,
    )
    golden_outputs(spark, bundle, tmp_path / "out", names=["fill_age"], modules=[str(serve)], partitions=3)
    report = compare_bundle(bundle, tmp_path / "out", names=["fill_age"])
    fill = report.results[0]
    none = labels(bundle, "fill_age").index("age=None")
    assert report.exit_code == 1 and fill.status == "fail" and fill.rows_compared == 10_000
    assert fill.mismatches[0].describe() == (
        f"row {none} (age=None), column 'age': expected 37.5, got 0.0 (|Δ| 37.5 > allowed 0.000375)"
    )


def test_a_transform_that_is_not_row_wise_differs_by_batch(spark: Any, tmp_path: Path) -> None:
    """Spark hands the transform one Arrow batch at a time: a batch statistic is skew, and the compare says so."""
    from envprint.integrations.spark import golden_outputs

    _forget(*PROBES)
    batchy = _module(
        tmp_path,
        "batch_mean_fill",
        """
        import math
        import envprint
        from envprint.golden import synthetic

        PROFILES = synthetic(10_000, columns={"age": 40.0}, seed=5)

        def missing(v):
            return v is None or v == "" or (isinstance(v, float) and math.isnan(v))

        @envprint.probe("fill_age", inputs=PROFILES, rtol=1e-5)
        def fill_age(rows):
            known = [r["age"] for r in rows if isinstance(r.get("age"), float) and abs(r["age"]) < 1e3]
            mean = sum(known) / len(known)  # the mean of the rows at hand, not training's constant
            return {"age": [mean if missing(r.get("age")) else float(r["age"]) for r in rows]}
        """,
    )
    proc = run_envprint(["golden", "export", "--probes-from", str(batchy), "-o", str(tmp_path / "golden")])
    assert proc.returncode == 0, proc.stderr
    golden_outputs(spark, tmp_path / "golden", tmp_path / "out", modules=[str(batchy)], partitions=4)
    fill = compare_bundle(tmp_path / "golden", tmp_path / "out").results[0]
    assert fill.status == "fail"
    assert all(re.search(r"age=(None|absent|NaN|'')", m.label or "") for m in fill.mismatches)  # only filled rows
    assert fill.values_mismatched > 1000  # every filled age, in every batch: the batch means differ
    assert fill.by_column == (("age", fill.values_mismatched),)


def test_a_transform_failing_on_the_executors_names_the_probe(spark: Any, bundle: Path, tmp_path: Path) -> None:
    from envprint.integrations.spark import SparkGoldenError, golden_outputs

    _forget(*PROBES)
    failing = _module(
        tmp_path,
        "failing_fill",
        """
        import envprint

        @envprint.probe("fill_age", inputs=[{"age": 1.0}])
        def fill_age(rows):
            return {"age": [float(r["age"]) for r in rows]}
        """,
    )
    with pytest.raises(SparkGoldenError, match=r"transform probe 'fill_age' failed on the executors: .*Error") as info:
        golden_outputs(spark, bundle, tmp_path / "out", names=["fill_age"], modules=[str(failing)])
    assert not (tmp_path / "out" / "fill_age.outputs.jsonl").exists()
    assert "ship a package with --py-files" in info.value.diagnostics()


def test_cli_golden_spark_attaches_to_the_active_session(
    spark: Any, bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from envprint.cli import main

    _forget(*PROBES)
    args = ["golden", "spark", str(bundle), "-o", str(tmp_path / "out"), "--probes-from", str(EXAMPLE)]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--probe", "encode_color", "--no-entry-points"])
    assert exit_info.value.code == 0
    err = capsys.readouterr().err
    assert f"wrote 1 outputs file(s) to {tmp_path / 'out'}: encode_color.outputs.jsonl" in err
    assert compare_bundle(bundle, tmp_path / "out", names=["encode_color"]).passed
    assert not spark.sparkContext._jsc.sc().isStopped()  # an attached session is left running
