"""compare_rows() and compare_bundle(): tolerances, kinds, dropped and added rows, unreadable inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import envprint
from envprint.errors import UsageError
from envprint.golden import GoldenFormatError, compare_bundle, compare_rows, encode_rows, export_bundle, read_rows
from envprint.golden.manifest import Column
from tests.golden_bundle.conftest import encode_color, fill_age, small_cases

FLOAT = {"x": Column("float", rtol=1e-6, atol=0.0)}


def verdict(expected: object, got: object, column: Column = FLOAT["x"]) -> bool:
    """Returns whether one value `got` matches `expected` in a column `column`."""
    e_row = {} if expected is ... else {"x": expected}
    g_row = {} if got is ... else {"x": got}
    return compare_rows([e_row], [g_row], {"x": column}, name="p").passed


@pytest.mark.parametrize(
    ("expected", "got", "same"),
    [
        (100.0, 100.00009, True),  # |Δ| 9e-5 <= 1e-6 · 100
        (100.0, 100.00011, False),
        (0.0, -0.0, True),
        (0.0, 5e-324, False),  # rtol alone allows nothing around zero
        (math.nan, math.nan, True),
        (math.nan, None, True),  # None in a numeric column is a missing value, as envprint parity records it
        (None, math.nan, True),
        (None, 0.0, False),
        (37.5, None, False),
        (math.inf, math.inf, True),
        (math.inf, 1.7976931348623157e308, False),
        (-math.inf, math.inf, False),
        (math.nan, "NaN", False),  # the string is not the float: the $float rule keeps them apart
        (2.5, 2, False),
        (3.0, 3, True),
        (37.5, ..., False),  # absent from the output row
    ],
)
def test_float_columns(expected: object, got: object, same: bool) -> None:
    assert verdict(expected, got) is same


@pytest.mark.parametrize(
    ("kind", "expected", "got", "same"),
    [
        ("int", 3, 3.0, True),  # JSON does not tell the integer 3 from 3.0
        ("int", 3, 4, False),
        ("int", 0, False, False),  # a boolean is never a number
        ("bool", True, 1, False),
        ("bool", False, False, True),
        ("str", "red", "red", True),
        ("str", "red", " red", False),
        ("str", None, "", False),
        ("datetime", "2024-03-10T07:00:00+00:00", "2024-03-10T07:00Z", True),
        ("datetime", "2024-03-10T07:00:00+00:00", "2024-03-10T02:00:00-05:00", False),  # offset differs
        ("datetime", "2024-01-01T00:00:00", "2024-01-01T00:00:00+00:00", False),
        ("datetime", "n/a", "n/a", True),
    ],
)
def test_exact_columns(kind: str, expected: object, got: object, same: bool) -> None:
    assert verdict(expected, got, Column(kind)) is same


def test_atol_and_the_allowed_value_reported() -> None:
    column = Column("float", rtol=1e-3, atol=0.5)
    result = compare_rows([{"x": 10.0}, {"x": 10.0}], [{"x": 10.51}, {"x": 10.52}], {"x": column}, name="p")
    assert (result.values_mismatched, result.rows_mismatched) == (1, 1)
    m = result.mismatches[0]
    assert (m.row, m.column, m.expected, m.got, m.allowed) == (1, "x", "10.0", "10.52", 0.51)
    assert m.describe() == "row 1, column 'x': expected 10.0, got 10.52 (|Δ| 0.52 > allowed 0.51)"


def test_mismatches_are_ranked_worst_first_and_counted_per_column() -> None:
    expected = [{"a": 1.0, "b": "x"} for _ in range(30)]
    got = [{"a": 1.0 + (0.5 if i % 3 == 0 else 0.0) + (i == 7) * 9.0, "b": "y" if i == 20 else "x"} for i in range(30)]
    spec = {"a": Column("float", 1e-6, 0.0), "b": Column("str")}
    result = compare_rows(expected, got, spec, name="p", labels=[f"case {i}" for i in range(30)], shown=3)
    assert result.status == "fail"
    assert result.by_column == (("a", 11), ("b", 1))
    assert (result.values_compared, result.values_mismatched, result.rows_mismatched) == (60, 12, 12)
    assert [(m.row, m.column) for m in result.mismatches] == [(20, "b"), (7, "a"), (0, "a")]  # text first, then |Δ|
    assert result.mismatches[0].where() == "row 20 (case 20), column 'b'"


def test_rows_dropped_in_the_middle_are_named_missing_and_the_rest_still_pair() -> None:
    expected = [{"id": i % 4} for i in range(40)]
    dropped = {5, 6, 17, 33}
    got = [row for i, row in enumerate(expected) if i not in dropped]
    labels = [f"label {i}" for i in range(40)]
    result = compare_rows(expected, got, {"id": Column("int")}, name="encode", labels=labels)
    assert [r.row for r in result.missing_rows] == sorted(dropped)
    assert result.missing_rows[0].describe() == "row 5 (label 5)"
    assert (result.missing_count, result.values_mismatched, result.rows_compared) == (4, 0, 36)
    assert result.summary().startswith("4 row(s) missing from the outputs (36 row(s), the bundle 40); first: row 5")


def test_rows_added_and_a_truncated_output() -> None:
    expected = [{"v": float(i)} for i in range(10)]
    added = [*expected[:4], {"v": 99.0}, *expected[4:]]
    result = compare_rows(expected, added, FLOAT | {"v": FLOAT["x"]}, name="p")
    assert (result.extra_count, [r.row for r in result.extra_rows], result.missing_count) == (1, [5], 0)
    truncated = compare_rows(expected, expected[:7], {"v": FLOAT["x"]}, name="p")
    assert [r.row for r in truncated.missing_rows] == [7, 8, 9] and truncated.values_mismatched == 0


def test_values_and_row_count_differing_at_once() -> None:
    expected = [{"v": float(i)} for i in range(10)]
    got = [{"v": float(i) + (100.0 if i == 2 else 0.0)} for i in range(10) if i != 6]
    result = compare_rows(expected, got, {"v": FLOAT["x"]}, name="p")
    assert [r.row for r in result.missing_rows] == [6]
    assert [(m.row, m.got) for m in result.mismatches] == [(2, "102.0")]


def test_columns_the_bundle_does_not_know_are_a_note_not_a_failure() -> None:
    result = compare_rows([{"x": 1.0}], [{"x": 1.0, "debug": "t"}], FLOAT, name="p")
    assert result.passed and result.unknown_columns == ("debug",)
    assert result.notes() == ["column(s) not in the bundle, not compared: debug"]


# ------------------------------------------------------------------------------------ whole bundles


@pytest.fixture
def bundle(tmp_path: Path, registry: None) -> Path:
    """Returns a bundle of the docs example's fill_age and encode_color on the small edge cases."""
    envprint.probe("fill_age", inputs=small_cases(), rtol=1e-5)(fill_age)
    envprint.probe("encode_color", inputs=small_cases())(encode_color)
    export_bundle(tmp_path / "golden")
    return tmp_path / "golden"


def _outputs(bundle: Path, out: Path, *, fill: float = 37.5) -> Path:
    """Writes outputs for both probes, filling missing ages with `fill`, and returns `out`."""
    out.mkdir(exist_ok=True)
    ages = read_rows(bundle / "fill_age.expected.jsonl")
    filled = [{"age": fill if r["age"] == 37.5 else r["age"]} for r in ages]
    (out / "fill_age.outputs.jsonl").write_bytes(encode_rows(filled))
    (out / "encode_color.outputs.jsonl").write_bytes((bundle / "encode_color.expected.jsonl").read_bytes())
    return out


def test_identical_outputs_pass(bundle: Path, tmp_path: Path) -> None:
    report = compare_bundle(bundle, _outputs(bundle, tmp_path / "out"))
    assert report.passed and report.exit_code == 0
    assert report.verdict == "PARITY: 2 pass"
    rows = len(small_cases())
    assert [(r.name, r.rows_compared) for r in report.results] == [("fill_age", rows), ("encode_color", rows)]


def test_a_zero_fill_fails_naming_rows_labels_and_column(bundle: Path, tmp_path: Path) -> None:
    report = compare_bundle(bundle, _outputs(bundle, tmp_path / "out", fill=0.0))
    fill = report.results[0]
    assert (report.exit_code, report.verdict, fill.status) == (1, "MISMATCH: 1 fail, 1 pass", "fail")
    assert [m.describe() for m in fill.mismatches] == [
        f"row {i} (age={case}), column 'age': expected 37.5, got 0.0 (|Δ| 37.5 > allowed 0.000375)"
        for i, case in ((small_cases().labels.index(f"age={c}"), c) for c in ("None", "absent", "NaN", "''"))
    ]


def test_a_missing_outputs_file_fails_and_other_files_are_noted(bundle: Path, tmp_path: Path) -> None:
    out = _outputs(bundle, tmp_path / "out")
    (out / "encode_color.outputs.jsonl").unlink()
    (out / "other.outputs.jsonl").write_text("{}\n")
    report = compare_bundle(bundle, out)
    missing = report.results[1]
    assert (missing.status, report.exit_code, report.counts) == ("missing", 1, {"fail": 0, "missing": 1, "pass": 1})
    path = out / "encode_color.outputs.jsonl"
    assert missing.summary() == f"no outputs: {path} does not exist ({len(small_cases())} row(s) expected)"
    assert report.unexpected == ("other.outputs.jsonl",)
    only = compare_bundle(bundle, out, names=["fill_age"])
    assert only.passed and [r.name for r in only.results] == ["fill_age"]


def test_unreadable_outputs_name_the_file_and_line(bundle: Path, tmp_path: Path) -> None:
    out = _outputs(bundle, tmp_path / "out")
    lines = (out / "fill_age.outputs.jsonl").read_text().splitlines()
    lines[4] = '{"age": NaN}'
    (out / "fill_age.outputs.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(GoldenFormatError, match=r"fill_age\.outputs\.jsonl line 5: NaN is not JSON") as info:
        compare_bundle(bundle, out)
    assert info.value.exit_code == 2


def test_a_bundle_edited_after_export_is_refused(bundle: Path, tmp_path: Path) -> None:
    out = _outputs(bundle, tmp_path / "out")
    expected = bundle / "fill_age.expected.jsonl"
    expected.write_text(expected.read_text().replace("37.5", "0.0"))
    with pytest.raises(GoldenFormatError, match=r"fill_age\.expected\.jsonl: changed since the bundle was exported"):
        compare_bundle(bundle, out)


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda d: d.update(version=2), "bundle version 2 is newer than this envprint reads"),
        (lambda d: d.update(format="other"), "not a golden bundle manifest"),
        (lambda d: d["probes"]["fill_age"].update(inputs="../etc/passwd"), r"fill_age\.inputs: '\.\./etc/passwd'"),
        (lambda d: d["probes"]["fill_age"]["columns"]["age"].update(kind="real"), r"age\.kind: 'real' is not"),
        (lambda d: d["probes"]["fill_age"]["columns"]["age"].update(rtol=-1), r"age\.rtol: -1 is not a finite"),
        (lambda d: d["probes"]["fill_age"].update(rows="21"), r"probes\.fill_age\.rows: must be a JSON integer"),
        (lambda d: d.update(probes={}), "the bundle holds no probe, so there is nothing to compare"),
    ],
)
def test_a_malformed_manifest_names_the_field(bundle: Path, tmp_path: Path, edit: object, problem: str) -> None:
    out = _outputs(bundle, tmp_path / "out")
    path = bundle / "manifest.json"
    doc = json.loads(path.read_text())
    edit(doc)  # type: ignore[operator]
    path.write_text(json.dumps(doc))
    with pytest.raises(GoldenFormatError, match=problem):
        compare_bundle(bundle, out)


def test_no_such_bundle_or_outputs_directory(bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(GoldenFormatError, match="no such bundle directory"):
        compare_bundle(tmp_path / "nope", tmp_path)
    with pytest.raises(UsageError, match="no such outputs directory"):
        compare_bundle(bundle, tmp_path / "nope")
    with pytest.raises(UsageError, match=r"the bundle holds no probe 'x'; it holds fill_age, encode_color"):
        compare_bundle(bundle, tmp_path, names=["x"])
