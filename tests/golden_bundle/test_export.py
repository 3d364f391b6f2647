"""export_bundle(): what a bundle holds, the checks before it is written, and how it is written."""

from __future__ import annotations

import datetime
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import envprint
from envprint import parity
from envprint.errors import SignatureError, UsageError
from envprint.golden import GoldenExportError, export_bundle, read_rows
from envprint.golden.manifest import Column
from tests.golden_bundle.conftest import encode_color, fill_age, small_cases
from tests.signing_helpers import make_fingerprint, make_keys


@pytest.fixture
def docs_probes(registry: None) -> None:
    """Registers the docs example's fill_age and encode_color on the small edge cases."""
    envprint.probe("fill_age", inputs=small_cases(), rtol=1e-5)(fill_age)
    envprint.probe("encode_color", inputs=small_cases())(encode_color)


def test_the_bundle_holds_inputs_expected_outputs_labels_and_a_manifest(tmp_path: Path, docs_probes: None) -> None:
    out = tmp_path / "golden"
    manifest = export_bundle(out)
    cases = small_cases()
    assert sorted(p.name for p in out.iterdir()) == [
        "encode_color.expected.jsonl", "encode_color.inputs.jsonl", "encode_color.labels.jsonl",
        "fill_age.expected.jsonl", "fill_age.inputs.jsonl", "fill_age.labels.jsonl", "manifest.json",
    ]  # fmt: skip
    doc = json.loads((out / "manifest.json").read_text())
    entry = doc["probes"]["fill_age"]
    assert (doc["format"], doc["version"], doc["baseline"]) == ("envprint-golden", 1, None)
    assert list(doc["probes"]) == ["fill_age", "encode_color"]
    assert entry["rows"] == len(cases) and entry["input_form"] == "rows" and entry["probe_version"] == 1
    assert entry["columns"] == {"age": {"kind": "float", "rtol": 1e-5, "atol": 0.0}}
    assert doc["probes"]["encode_color"]["columns"] == {"color_id": {"kind": "int", "rtol": 0.0, "atol": 0.0}}
    kinds = {name: c["kind"] for name, c in entry["input_columns"].items()}
    assert kinds == {"age": "float", "color": "str", "signup_at": "datetime"}
    for name, digest in entry["sha256"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    assert manifest.probes["fill_age"].columns["age"] == Column("float", 1e-5, 0.0)

    inputs = read_rows(out / "fill_age.inputs.jsonl")
    age_nan = cases.labels.index("age=NaN")
    assert "age" not in inputs[cases.labels.index("age=absent")]
    assert inputs[cases.labels.index("age=None")]["age"] is None
    assert math.isnan(inputs[age_nan]["age"])
    assert (out / "fill_age.inputs.jsonl").read_text().splitlines()[age_nan].startswith('{"age":{"$float":"NaN"}')
    expected = [r["age"] for r in read_rows(out / "fill_age.expected.jsonl")]
    assert expected[age_nan] == 37.5 and expected[0] == 40.0
    labels = [json.loads(x) for x in (out / "fill_age.labels.jsonl").read_text().splitlines()]
    assert labels == list(cases.labels)


def test_the_same_code_exports_the_same_bytes(tmp_path: Path, docs_probes: None) -> None:
    export_bundle(tmp_path / "a")
    export_bundle(tmp_path / "b")
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


def test_an_earlier_bundle_is_replaced_whole(tmp_path: Path, registry: None) -> None:
    envprint.probe("fill_age", inputs=small_cases())(fill_age)
    envprint.probe("encode_color", inputs=small_cases())(encode_color)
    export_bundle(tmp_path / "golden")
    parity.unregister("encode_color")
    export_bundle(tmp_path / "golden")
    assert sorted(p.name for p in (tmp_path / "golden").iterdir()) == [
        "fill_age.expected.jsonl", "fill_age.inputs.jsonl", "fill_age.labels.jsonl", "manifest.json",
    ]  # fmt: skip
    assert [p.name for p in tmp_path.iterdir()] == ["golden"]  # no staging or retired directory left


def test_a_directory_with_other_files_is_never_replaced(tmp_path: Path, docs_probes: None) -> None:
    precious = tmp_path / "work" / "notes.txt"
    precious.parent.mkdir()
    precious.write_text("keep me")
    with pytest.raises(UsageError, match="a directory with other files in it; refusing to replace it"):
        export_bundle(tmp_path / "work")
    assert precious.read_text() == "keep me"
    export_bundle(tmp_path / "golden")
    (tmp_path / "golden" / "fill_age.outputs.jsonl").write_text("{}\n")
    with pytest.raises(UsageError, match=r"also holds fill_age\.outputs\.jsonl, which replacing it would delete"):
        export_bundle(tmp_path / "golden")
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="exists and is not a directory"):
        export_bundle(tmp_path / "file")


def test_a_failing_transform_leaves_no_bundle_and_no_temporary_files(tmp_path: Path, registry: None) -> None:
    def broken(rows: list[dict[str, Any]]) -> dict[str, list[float]]:
        return {"age": [float(r["age"]) for r in rows]}  # the age=None row breaks it

    envprint.probe("broken", inputs=small_cases())(broken)
    with pytest.raises(UsageError, match=r"transform probe 'broken' raised TypeError: float\(\) argument must be"):
        export_bundle(tmp_path / "golden")
    assert list(tmp_path.iterdir()) == []


def test_a_nondeterministic_transform_is_refused_naming_the_row(tmp_path: Path, registry: None) -> None:
    calls = iter(range(100))

    def drifting(rows: list[dict[str, Any]]) -> dict[str, list[float]]:
        shift = next(calls)
        return {"score": [1.0 + (shift if i == 3 else 0) for i in range(len(rows))]}

    envprint.probe("drifting", inputs=small_cases())(drifting)
    with pytest.raises(GoldenExportError, match="is not deterministic") as info:
        export_bundle(tmp_path / "golden")
    assert "row 3 (age=NaN), column 'score': first run 1.0, second run 2.0" in info.value.message
    assert info.value.exit_code == 1 and not (tmp_path / "golden").exists()


def test_a_transform_that_reads_the_zone_name_is_refused(tmp_path: Path, registry: None) -> None:
    """The bundle carries UTC offsets, not zone names: a transform that needs the name cannot be ported."""

    def zone_hours(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
        return {"zone": [str(r.get("signup_at").tzinfo) if r.get("signup_at") else "" for r in rows]}

    envprint.probe("zone_hours", inputs=small_cases())(zone_hours)
    with pytest.raises(GoldenExportError, match="depends on something the JSON encoding does not carry") as info:
        export_bundle(tmp_path / "golden")
    assert 'column \'zone\': registered inputs "America/New_York", bundle inputs "UTC-05:00"' in info.value.message


def test_inputs_that_do_not_survive_the_encoding_are_refused(tmp_path: Path, registry: None) -> None:
    rows = [{"at": datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)} for _ in range(3)]
    rows.append({"at": "2024-01-02T00:00:00+00:00"})  # a string that reads back as a datetime in a datetime column
    envprint.probe("times", inputs=rows, row_labels=["a", "b", "c", "text"])(lambda rs: {"n": [1] * len(rs)})
    with pytest.raises(GoldenExportError, match=r"1 input value\(s\) do not survive") as info:
        export_bundle(tmp_path / "golden")
    assert "row 3 (text), column 'at': '2024-01-02T00:00:00+00:00' is read back as datetime.datetime(2024, 1, 2" in (
        info.value.message
    )


@pytest.mark.parametrize(
    ("inputs", "fn", "problem"),
    [
        (small_cases(), lambda rows: {"age": [1.0] * (len(rows) - 1)}, r"output column 'age' has \d+ value\(s\) for"),
        (small_cases(), lambda rows: {"mean": 1.0}, "output 'mean' is a single value"),
        ({1, 2, 3}, lambda rows: rows, "set inputs cannot be written as a golden bundle's rows"),
        ([{"a": b"bytes"}], lambda rows: {"n": [1]}, "input row 0, column 'a': bytes values are not part of"),
        ([{1: 2.0}], lambda rows: {"n": [1]}, "input column 1 is not a string"),
    ],
)
def test_what_a_bundle_cannot_hold_is_a_usage_error(
    tmp_path: Path, registry: None, inputs: Any, fn: Any, problem: str
) -> None:
    parity.register_transform(fn, inputs=inputs, name="shape")
    with pytest.raises(UsageError, match=problem):
        export_bundle(tmp_path / "golden")


def test_dataframes_arrays_and_two_dimensional_outputs(tmp_path: Path, registry: None) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"x": [0.5, -0.0, np.nan], "name": ["a", None, "c"]})
    envprint.probe("frame", inputs=frame)(lambda df: pd.DataFrame({"y": df["x"] * 2, "upper": df["name"].str.upper()}))
    matrix = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    envprint.probe("proba", inputs=matrix)(lambda m: {"p": np.column_stack([m[:, 0] / 10, m[:, 1] / 10])})
    manifest = export_bundle(tmp_path / "golden")
    frame_entry, proba = manifest.probes["frame"], manifest.probes["proba"]
    assert (frame_entry.input_form, list(frame_entry.columns)) == ("dataframe", ["y", "upper"])
    rows = read_rows(tmp_path / "golden" / "frame.expected.jsonl")
    assert [r["y"] for r in rows][:2] == [1.0, -0.0] and math.isnan(rows[2]["y"])
    assert rows[0]["upper"] == "A" and math.isnan(rows[1]["upper"])  # pandas: None.upper() is NaN
    assert (proba.input_form, proba.input_dtype) == ("array", "float32")
    assert list(proba.input_columns) == ["input[0]", "input[1]"]
    assert list(proba.columns) == ["p[0]", "p[1]"]
    assert read_rows(tmp_path / "golden" / "proba.expected.jsonl")[1] == {
        "p[0]": float(np.float32(3.0) / np.float32(10)),
        "p[1]": float(np.float32(4.0) / np.float32(10)),
    }


def test_nothing_registered_or_an_unknown_probe_is_a_usage_error(tmp_path: Path, registry: None) -> None:
    for name in [t.name for t in parity.registered()]:
        parity.unregister(name)
    with pytest.raises(UsageError, match="no transform probe is registered"):
        export_bundle(tmp_path / "golden")
    envprint.probe("fill_age", inputs=small_cases())(fill_age)
    with pytest.raises(UsageError, match=r"no transform probe registered as 'nope'; registered: fill_age"):
        export_bundle(tmp_path / "golden", names=["nope"])


# --------------------------------------------------------------------------------------- baseline


def _baseline(tmp_path: Path, *, key: Path | None = None) -> Path:
    """Returns a fingerprint file recording the transform probes registered now (signed with `key` if given)."""
    fp = parity.attach(make_fingerprint())
    path = tmp_path / "train.fp"
    fp.save(path, key=key)
    return path


def test_a_baseline_that_records_the_same_outputs_is_named_in_the_manifest(tmp_path: Path, docs_probes: None) -> None:
    private, public = make_keys(tmp_path / "keys")
    baseline = _baseline(tmp_path, key=private)
    manifest = export_bundle(tmp_path / "golden", baseline=baseline, trusted_keys=[str(public)])
    assert manifest.baseline is not None
    assert (manifest.baseline.file, manifest.baseline.trust) == (str(baseline), "verified")
    assert len(manifest.baseline.keyids) == 1
    doc = json.loads((tmp_path / "golden" / "manifest.json").read_text())
    assert doc["baseline"]["trust"] == "verified"


def test_outputs_that_differ_from_the_baseline_are_refused_naming_the_row(tmp_path: Path, docs_probes: None) -> None:
    baseline = _baseline(tmp_path)

    envprint.probe("fill_age", inputs=small_cases(), rtol=1e-5, replace=True)(
        lambda rows: {"age": [0.0 if r.get("age") in (None, "") else fill_age([r])["age"][0] for r in rows]}
    )
    with pytest.raises(GoldenExportError, match=r"'fill_age': the outputs differ from .*train\.fp \(UNSIGNED\)") as e:
        export_bundle(tmp_path / "golden", baseline=baseline)
    assert f"row {small_cases().labels.index('age=None')} (age=None), column 'age': 37.5 → 0.0" in e.value.message
    assert e.value.exit_code == 1 and not (tmp_path / "golden").exists()


def test_a_baseline_must_cover_the_probes_and_the_probes_the_baseline(tmp_path: Path, docs_probes: None) -> None:
    baseline = _baseline(tmp_path)
    envprint.probe("extra", inputs=small_cases())(lambda rows: {"n": [1] * len(rows)})
    with pytest.raises(GoldenExportError, match=r"does not record extra: the bundle's expected outputs could not"):
        export_bundle(tmp_path / "golden", baseline=baseline)
    parity.unregister("extra")
    parity.unregister("encode_color")
    with pytest.raises(GoldenExportError, match=r"records encode_color, not registered here"):
        export_bundle(tmp_path / "golden", baseline=baseline)
    manifest = export_bundle(tmp_path / "golden", baseline=baseline, names=["fill_age"])  # chosen on purpose
    assert list(manifest.probes) == ["fill_age"]


def test_a_changed_tolerance_is_refused(tmp_path: Path, docs_probes: None) -> None:
    baseline = _baseline(tmp_path)
    envprint.probe("fill_age", inputs=small_cases(), rtol=1e-3, replace=True)(fill_age)
    with pytest.raises(GoldenExportError, match=r"registered with rtol 0\.001, atol 0, but .* recorded rtol 1e-05"):
        export_bundle(tmp_path / "golden", baseline=baseline)


def test_a_baseline_signed_by_another_key_is_untrusted(tmp_path: Path, docs_probes: None) -> None:
    private, _ = make_keys(tmp_path / "keys", "train")
    _, other = make_keys(tmp_path / "keys", "other")
    with pytest.raises(SignatureError) as info:
        export_bundle(tmp_path / "golden", baseline=_baseline(tmp_path, key=private), trusted_keys=[str(other)])
    assert info.value.exit_code == 3 and not (tmp_path / "golden").exists()
