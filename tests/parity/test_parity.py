"""Transform probes: recorded in one process, re-run in another, compared within tolerance."""

from __future__ import annotations

import datetime
import json
import math
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import envprint
from envprint import parity
from envprint.codec import read
from envprint.diffing.transforms import transform_findings
from envprint.errors import UsageError
from envprint.explain import explain
from envprint.model import ProbeResult
from envprint.policy import PRESETS, evaluate
from envprint.probes import transforms
from envprint.report import DiffReport, Severity
from tests.conftest import host_env, run_envprint

# the function, bound before anything imports the submodule of the same name (which would shadow it)
capture = envprint.capture

# the training side: mean fill for age, unseen colours mapped to the out-of-vocabulary id 0
TRAIN = """
import math

import envprint
from envprint.parity import edge_cases

CASES = edge_cases(columns={"age": 40.0}, categories={"color": ["red", "green", "blue"]})
MEAN_AGE = 37.5
VOCAB = {"red": 1, "green": 2, "blue": 3}


def missing(v):
    return v is None or v == "" or (isinstance(v, float) and math.isnan(v))


@envprint.probe("fill_age", inputs=CASES)
def fill_age(rows):
    return {"age": [MEAN_AGE if missing(r.get("age")) else float(r["age"]) for r in rows]}


@envprint.probe("encode_color", inputs=CASES)
def encode_color(rows):
    return {"color_id": [VOCAB.get(r.get("color"), 0) for r in rows]}
"""

# the serving side, deliberately different: zero fill, and rows with an unseen colour dropped
SERVE = TRAIN.replace("MEAN_AGE if missing", "0.0 if missing").replace(
    '[VOCAB.get(r.get("color"), 0) for r in rows]', '[VOCAB[r["color"]] for r in rows if r.get("color") in VOCAB]'
)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Gives each test an empty transform registry, restored afterwards."""
    monkeypatch.setattr(transforms, "_TRANSFORMS", {})
    yield


def _module(root: Path, side: str, source: str) -> Path:
    folder = root / side
    folder.mkdir()
    (folder / "feat.py").write_text(textwrap.dedent(source))
    return folder


@pytest.fixture
def train_fp(tmp_path: Path) -> Path:
    """Returns a real .fp captured in a subprocess with the training transforms registered."""
    out = tmp_path / "train.fp"
    folder = _module(tmp_path, "train", TRAIN)
    proc = run_envprint(
        ["capture", "-q", "-o", str(out), "--probes", "fpenv", "--probes-from", "feat"],
        env=host_env(PYTHONPATH=str(folder)),
    )
    assert proc.returncode == 0, proc.stderr
    return out


# ------------------------------------------------------------------------------- across processes


def test_capture_records_transform_probes_in_full(train_fp: Path) -> None:
    probes = read(train_fp).fingerprint.probes
    assert not isinstance(probes, envprint.Unavailable)
    fill = probes["fill_age"]
    assert (fill.group, fill.status, fill.stable) == ("parity", "ok", True)
    assert fill.flags["rtol"] == 1e-6 and fill.flags["atol"] == 0.0
    age = fill.outputs["age"]
    assert age.shape == (21,) and age.sample_index == tuple(range(21))  # every value, not a sample
    assert float.fromhex(age.samples[1]) == 37.5  # row 1 is age=None, mean-filled
    assert json.loads(str(fill.flags["row_labels"]))[1] == "age=None"


def test_same_implementation_in_another_process_passes(tmp_path: Path, train_fp: Path) -> None:
    folder = tmp_path / "train"
    proc = run_envprint(["parity", str(train_fp), "--probes-from", "feat"], env=host_env(PYTHONPATH=str(folder)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[0] == f"PARITY: 2 pass (baseline {train_fp} (UNSIGNED))"
    assert "PASS    fill_age: 21 value(s) within rtol 1e-06, atol 0" in proc.stdout


def test_zero_fill_instead_of_mean_fill_is_caught_with_row_and_column(tmp_path: Path, train_fp: Path) -> None:
    folder = _module(tmp_path, "serve", SERVE)
    proc = run_envprint(["parity", str(train_fp), "--probes-from", "feat"], env=host_env(PYTHONPATH=str(folder)))
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("MISMATCH: 2 fail")
    assert (
        "FAIL    fill_age: 4 of 21 value(s) outside rtol 1e-06, atol 0; "
        "worst: row 1 (age=None), column 'age': 37.5 → 0.0 (|Δ| 37.5 > allowed 3.75e-05)"
    ) in proc.stdout
    for row in ("row 2 (age=absent)", "row 3 (age=NaN)", "row 13 (age='')"):
        assert f"{row}, column 'age': 37.5 → 0.0" in proc.stdout


def test_unknown_category_dropped_is_caught_with_row_and_column(tmp_path: Path, train_fp: Path) -> None:
    folder = _module(tmp_path, "serve", SERVE)
    proc = run_envprint(["parity", str(train_fp), "--probes-from", "feat"], env=host_env(PYTHONPATH=str(folder)))
    assert proc.returncode == 1
    assert "worst: row 14 (color=<unseen>), column 'color_id': 0 → (row missing)" in proc.stdout
    assert "output 'color_id' has 14 row(s), the baseline 21: 7 row(s) missing from row 14" in proc.stdout


def test_unknown_category_mapped_elsewhere_names_the_row(tmp_path: Path, train_fp: Path) -> None:
    serve = TRAIN.replace('VOCAB.get(r.get("color"), 0)', 'VOCAB.get(r.get("color"), -1)')
    folder = _module(tmp_path, "serve", serve)
    proc = run_envprint(
        ["parity", str(train_fp), "--probes-from", "feat", "--format", "json"], env=host_env(PYTHONPATH=str(folder))
    )
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["format"] == "envprint-parity" and doc["counts"] == {"pass": 1, "fail": 1, "missing": 0, "error": 0}
    color = next(r for r in doc["results"] if r["name"] == "encode_color")
    worst = color["mismatches"][0]
    assert (worst["row"], worst["row_label"], worst["column"], worst["old"], worst["new"]) == (
        14,
        "color=<unseen>",
        "color_id",
        "0",
        "-1",
    )


def test_probes_not_registered_here_are_missing_and_fail(train_fp: Path) -> None:
    proc = run_envprint(["parity", str(train_fp), "--no-entry-points"])
    assert proc.returncode == 1
    assert "MISSING fill_age: recorded in the baseline but not registered in this process" in proc.stdout


def test_entry_point_registers_probes_without_probes_from(tmp_path: Path, train_fp: Path) -> None:
    folder = tmp_path / "train"
    dist = folder / "feat_probes-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: feat-probes\nVersion: 1.0\n\n")
    (dist / "entry_points.txt").write_text("[envprint.probes]\nfeat = feat\n")
    proc = run_envprint(["parity", str(train_fp)], env=host_env(PYTHONPATH=str(folder)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PARITY: 2 pass" in proc.stdout


def test_baseline_without_transform_probes_is_a_usage_error(tmp_path: Path) -> None:
    out = tmp_path / "plain.fp"
    assert run_envprint(["capture", "-q", "--no-probes", "-o", str(out)]).returncode == 0
    proc = run_envprint(["parity", str(out)])
    assert proc.returncode == 2
    assert "records no transform (parity) probe" in proc.stderr


def test_unimportable_probes_module_is_a_usage_error(tmp_path: Path) -> None:
    out = tmp_path / "plain.fp"
    proc = run_envprint(["capture", "-q", "-o", str(out), "--probes-from", "no_such_module_here"])
    assert proc.returncode == 2
    assert "--probes-from no_such_module_here: cannot import it" in proc.stderr
    assert "Traceback" not in proc.stderr


# -------------------------------------------------------------------------------------- in process


def _fp_with(results: dict[str, ProbeResult]) -> envprint.Fingerprint:
    return capture(probes=False).replace(probes=results)


def test_tolerance_boundary_rtol(registry: None) -> None:
    base = np.array([1.0, 2.0, 4.0])
    baseline = parity.register_transform(lambda x: x, name="t", inputs=base).record()
    within = parity.Transform("t", lambda x: x * (1 + 5e-7), base).record()
    outside = parity.Transform("t", lambda x: x + np.array([3e-6, 8e-6, 2e-4]), base).record()
    assert parity.compare(baseline, within, name="t").passed
    result = parity.compare(baseline, outside, name="t")
    assert result.status == "fail" and result.mismatched == 3
    assert [m.row for m in result.mismatches] == [2, 1, 0]  # the furthest outside the tolerance first


def test_atol_and_exact_boundary(registry: None) -> None:
    baseline = parity.Transform("t", lambda x: x, np.array([0.0, 1.0]), rtol=0.0, atol=0.25).record()
    at_limit = parity.Transform("t", lambda x: x + 0.25, np.array([0.0, 1.0])).record()
    beyond = parity.Transform("t", lambda x: x + 0.5, np.array([0.0, 1.0])).record()
    assert parity.compare(baseline, at_limit, name="t").passed  # |Δ| == atol passes
    assert parity.compare(baseline, beyond, name="t").mismatched == 2


def test_nan_matches_nan_but_not_a_number(registry: None) -> None:
    inputs = np.array([np.nan, 1.0, np.inf])
    baseline = parity.Transform("t", lambda x: x, inputs).record()
    assert parity.compare(baseline, parity.Transform("t", lambda x: x, inputs).record(), name="t").passed
    filled = parity.Transform("t", lambda x: np.nan_to_num(x, nan=0.0, posinf=np.inf), inputs).record()
    result = parity.compare(baseline, filled, name="t")
    assert [m.describe() for m in result.mismatches] == ["row 0, column 'output': nan → 0.0"]


def test_two_dimensional_output_names_row_and_column_index(registry: None) -> None:
    rows = np.arange(6.0).reshape(3, 2)
    baseline = parity.Transform("proba", lambda x: x / 10, rows).record()
    changed = parity.Transform("proba", lambda x: np.where(x == 3.0, 0.0, x / 10), rows).record()
    result = parity.compare(baseline, changed, name="proba")
    assert result.mismatches[0].where() == "row 1, column 'output[1]'"


def test_text_and_timestamp_columns_compare_exactly(registry: None) -> None:
    moments = [datetime.datetime(2024, 3, 10, 7, 0, tzinfo=datetime.timezone.utc)]

    def hour_local(xs: list[datetime.datetime]) -> dict[str, Any]:
        import zoneinfo

        local = [x.astimezone(zoneinfo.ZoneInfo("America/New_York")) for x in xs]
        return {"when": local, "bucket": [f"h{t.hour}" for t in local]}

    def hour_utc(xs: list[datetime.datetime]) -> dict[str, Any]:
        return {"when": xs, "bucket": [f"h{t.hour}" for t in xs]}

    baseline = parity.Transform("t", hour_local, moments).record()
    assert baseline.outputs["when"].dtype == "datetime" and baseline.outputs["bucket"].kind == "text"
    result = parity.compare(baseline, parity.Transform("t", hour_utc, moments).record(), name="t")
    described = [m.describe() for m in result.mismatches]
    assert "row 0, column 'bucket': 'h3' → 'h7'" in described
    assert "row 0, column 'when': '2024-03-10T03:00:00-04:00' → '2024-03-10T07:00:00+00:00'" in described


def test_dtype_change_fails_even_when_values_agree(registry: None) -> None:
    baseline = parity.Transform("t", lambda x: x.astype(np.float64), np.array([1.0, 2.0])).record()
    narrowed = parity.Transform("t", lambda x: x.astype(np.float32), np.array([1.0, 2.0])).record()
    result = parity.compare(baseline, narrowed, name="t")
    assert result.status == "fail" and result.problems == ("output 'output' changed dtype float64 → float32",)


def test_large_outputs_are_sampled_and_noted(registry: None) -> None:
    big = np.linspace(0.0, 1.0, parity.FULL_VALUES + 1)
    baseline = parity.Transform("t", lambda x: x, big).record()
    out = baseline.outputs["output"]
    assert len(out.samples) < parity.FULL_VALUES and out.blocks  # samples and digests, like the core probes
    nudged = big.copy()
    nudged[1] = np.nextafter(nudged[1], 2.0)  # index 1 is not a sample
    result = parity.compare(baseline, parity.Transform("t", lambda x: nudged, big).record(), name="t")
    assert result.passed and "differs outside its" in result.notes[0]


def test_function_that_raises_is_recorded_failed_and_compares_as_error(registry: None) -> None:
    def broken(rows: Any) -> Any:
        raise KeyError("color")

    baseline = parity.Transform("t", lambda x: x, [1.0]).record()
    failed = parity.Transform("t", broken, [1.0]).record()
    assert (failed.status, failed.reason) == ("failed", "KeyError: 'color'")
    result = parity.compare(baseline, failed, name="t")
    assert result.status == "error" and result.problems == ("the re-run failed: KeyError: 'color'",)


def test_changed_inputs_are_an_error_not_a_mismatch(registry: None) -> None:
    baseline = parity.Transform("t", lambda x: x, [1.0, 2.0]).record()
    other = parity.Transform("t", lambda x: x, [1.0, 3.0]).record()
    result = parity.compare(baseline, other, name="t")
    assert result.status == "error" and "inputs differ" in result.problems[0]


def test_each_run_gets_a_fresh_copy_of_the_inputs(registry: None) -> None:
    rows = [{"age": None}]

    def fill_in_place(rs: list[dict[str, Any]]) -> list[float]:
        for r in rs:
            r["age"] = 1.0 if r["age"] is None else r["age"] + 1
        return [r["age"] for r in rs]

    result = parity.Transform("t", fill_in_place, rows).record()
    assert result.stable and rows == [{"age": None}]


def test_nondeterministic_function_is_recorded_unstable(registry: None) -> None:
    calls = iter(range(10))
    result = parity.Transform("t", lambda x: [float(next(calls))], [0]).record()
    assert not result.stable and result.reason == "unstable: the second run differed in output"


def test_pandas_dataframe_outputs_become_columns(registry: None) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"age": [1.0, None], "color": ["red", None]})
    result = parity.Transform("t", lambda df: df.fillna({"age": 0.0}), frame).record()
    assert set(result.outputs) == {"age", "color"} and result.outputs["color"].dtype == "object"


def test_registration_rules(registry: None) -> None:
    def f(x: Any) -> Any:
        return x

    parity.register_transform(f, name="t", inputs=[1])
    parity.register_transform(f, name="t", inputs=[2])  # the same function again: a re-import
    with pytest.raises(UsageError, match="already registered"):
        parity.register_transform(lambda x: x, name="t", inputs=[1])
    with pytest.raises(UsageError, match="letters, digits"):
        parity.register_transform(f, name="a.b", inputs=[1])
    with pytest.raises(UsageError, match="built-in probe"):
        parity.register_transform(f, name="blas_gemm_f32", inputs=[1])
    with pytest.raises(UsageError, match="rtol must be"):
        parity.register_transform(f, name="u", inputs=[1], rtol=-1.0)
    assert [t.name for t in parity.registered()] == ["t"]


def test_decorator_returns_the_function_and_registers_it(registry: None) -> None:
    @envprint.probe("double", inputs=np.array([1.0, 2.0]), rtol=1e-3)
    def double(x: Any) -> Any:
        return x * 2

    assert double(np.array([3.0]))[0] == 6.0
    t = parity.get("double")
    assert t is not None and t.fn is double and t.rtol == 1e-3


def test_vocabulary_probe_catches_an_unknown_token_mapped_differently(registry: None) -> None:
    vocab = {"cat": 1, "dog": 2}
    train = parity.vocabulary_probe("vocab", lambda t: vocab.get(t, 0), tokens=["cat", "dog"]).record()
    assert train.outputs["id"].samples == ("1", "2", "0")
    serve = parity.vocabulary_probe("vocab", lambda t: vocab[t], tokens=["cat", "dog"], replace=True).record()
    result = parity.compare(train, serve, name="vocab")
    assert [m.describe() for m in result.mismatches] == [
        "row 2 (token '<unseen>'), column 'id': '0' → '<raises KeyError>'"
    ]


def test_edge_cases_cover_the_classic_skews() -> None:
    cases = parity.edge_cases(
        columns=["x"], categories={"color": ["red"]}, timestamps=["ts"], text=["name"], zones=["America/New_York"]
    )
    assert len(cases) == len(cases.labels) == len(set(cases.labels))
    assert cases.labels[0] == "typical" and cases[0]["color"] == "red"
    by_label = dict(zip(cases.labels, cases, strict=True))
    assert math.isnan(by_label["x=NaN"]["x"]) and by_label["x=-inf"]["x"] == -math.inf
    assert "x" not in by_label["x=absent"] and by_label["x=''"]["x"] == ""
    assert by_label["color=<unseen>"]["color"] == "<unseen>" and by_label["color='RED'"]["color"] == "RED"
    start = by_label["ts=America/New_York DST start"]["ts"]
    assert start.isoformat() == "2024-03-10T03:00:00-04:00"
    assert by_label["ts=America/New_York DST start -1s"]["ts"].isoformat() == "2024-03-10T01:59:59-05:00"
    repeated = by_label["ts=America/New_York repeated hour"]["ts"]
    assert (repeated.hour, repeated.fold) == (1, 1)
    assert by_label["ts=naive midnight"]["ts"].tzinfo is None
    assert by_label["name=NFC 'café'"]["name"] != by_label["name=NFD 'café'"]["name"]


def test_edge_cases_unknown_zone_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="Mars/Olympus"):
        parity.edge_cases(timestamps=["ts"], zones=["Mars/Olympus"])


def test_findings_kinds_severities_and_policy(registry: None) -> None:
    inputs = [1.0, 2.0]
    a = {
        "same": parity.Transform("same", lambda x: x, inputs).record(),
        "moved": parity.Transform("moved", lambda x: x, inputs).record(),
        "gone": parity.Transform("gone", lambda x: x, inputs).record(),
    }
    b = {
        "same": a["same"],
        "moved": parity.Transform("moved", lambda x: [v + 1 for v in x], inputs).record(),
        "new": parity.Transform("new", lambda x: x, inputs).record(),
    }
    found = {f.path: f for f in transform_findings(a, b)}
    assert set(found) == {"probes.moved", "probes.gone", "probes.new"}
    moved = found["probes.moved"]
    assert (moved.kind, moved.severity, moved.old, moved.new) == ("parity.differs", Severity.critical, "1.0", "2.0")
    assert "row 0, column 'output'" in moved.title
    assert all(explain(f)[0] and explain(f)[1] for f in found.values())  # diff fills why and remedy from these
    assert (found["probes.gone"].kind, found["probes.gone"].severity) == ("parity.missing", Severity.warning)
    assert (found["probes.new"].kind, found["probes.new"].severity) == ("parity.added", Severity.info)
    result = evaluate(PRESETS["default"], DiffReport("a", "b", tuple(found.values())))
    assert [d.finding.path for d in result.violations] == ["probes.moved"]


def test_attach_and_check_in_memory(registry: None) -> None:
    parity.register_transform(lambda x: [v * 2 for v in x], name="double", inputs=[1.0, 2.0])
    fp = parity.attach(capture(probes=False))
    assert not isinstance(fp.probes, envprint.Unavailable) and fp.probes["double"].group == "parity"
    assert parity.check(fp, entry_points=False).passed
    parity.register_transform(lambda x: [v * 3 for v in x], name="double", inputs=[1.0, 2.0], replace=True)
    report = parity.check(fp, entry_points=False)
    assert (report.passed, report.exit_code, report.counts["fail"]) == (False, 1, 1)


def test_discover_imports_a_python_file(registry: None, tmp_path: Path) -> None:
    source = tmp_path / "my_parity_probes.py"
    source.write_text("import envprint\nenvprint.probe('from_file', inputs=[1])(lambda x: x)\n")
    assert parity.discover([str(source)], entry_points=False) == ("from_file",)
    with pytest.raises(UsageError, match="no such file"):
        parity.discover([str(tmp_path / "absent.py")], entry_points=False)


def test_synthetic_profiles_are_part_of_the_parity_api() -> None:
    from envprint.golden import synthetic as from_golden

    assert parity.synthetic is from_golden
    rows = parity.synthetic(50, columns={"age": 40.0}, seed=3)
    assert len(rows) == 50 and rows == parity.synthetic(50, columns={"age": 40.0}, seed=3)
