"""Rendering a golden comparison: every output format, the JSON document, text and Markdown layouts."""

from __future__ import annotations

import json
import math

import pytest

from envprint.golden.report import GoldenReport, ProbeComparison, RowRef, ValueMismatch
from envprint.render import Format
from envprint.render.golden import GOLDEN_JSON_VERSION, golden_data, render_golden

FILL = ProbeComparison(
    name="fill_age",
    status="fail",
    outputs="out/fill_age.outputs.jsonl",
    rows_expected=100,
    rows_got=100,
    rows_compared=100,
    values_compared=100,
    values_mismatched=12,
    rows_mismatched=12,
    by_column=(("age", 12),),
    mismatches=tuple(ValueMismatch(i, f"case {i}", "age", "37.5", "0.0", 37.5, 0.000375) for i in (1, 2, 3)),
)
COLOR = ProbeComparison(
    name="encode_color",
    status="fail",
    outputs="out/encode_color.outputs.jsonl",
    rows_expected=100,
    rows_got=97,
    rows_compared=97,
    values_compared=97,
    values_mismatched=1,
    rows_mismatched=1,
    by_column=(("color_id", 1),),
    mismatches=(ValueMismatch(40, None, "color_id", "0", "null", None, 0.0),),
    missing_rows=(RowRef(14, "color=<unseen>"), RowRef(15, "color=None"), RowRef(16, None)),
    missing_count=3,
    unknown_columns=("debug",),
)
DAY = ProbeComparison("signup_day", "pass", "out/signup_day.outputs.jsonl", 100, 100, 100, 100, 0, 0)
REPORT = GoldenReport("golden", "out", (FILL, COLOR, DAY), ("other.outputs.jsonl",), "train.fp (VERIFIED)")


def test_the_report_carries_counts_verdict_and_exit_code() -> None:
    assert REPORT.counts == {"fail": 2, "missing": 0, "pass": 1}
    assert (REPORT.verdict, REPORT.exit_code, REPORT.passed) == ("MISMATCH: 2 fail, 1 pass", 1, False)
    passing = GoldenReport("golden", "out", (DAY,))
    assert (passing.verdict, passing.exit_code) == ("PARITY: 1 pass", 0)


@pytest.mark.parametrize("format", list(Format))
def test_every_format_renders_the_verdict_and_every_probe(format: Format) -> None:
    text = render_golden(REPORT, format)
    assert text.endswith("\n")
    for word in ("fill_age", "encode_color", "signup_day"):
        assert word in text
    assert "MISMATCH: 2 fail, 1 pass" in text


def test_json_document() -> None:
    doc = json.loads(render_golden(REPORT, Format.json))
    assert doc == golden_data(REPORT)
    assert (doc["format"], doc["version"], doc["exit_code"], doc["passed"]) == (
        "envprint-golden-compare", GOLDEN_JSON_VERSION, 1, False,
    )  # fmt: skip
    assert doc["baseline"] == "train.fp (VERIFIED)" and doc["unexpected"] == ["other.outputs.jsonl"]
    fill, color = doc["results"][0], doc["results"][1]
    assert fill["mismatches"][0] == {
        "row": 1, "label": "case 1", "column": "age", "expected": "37.5", "got": "0.0",
        "abs_diff": 37.5, "allowed": 0.000375,
    }  # fmt: skip
    assert color["mismatches"][0]["abs_diff"] is None
    assert color["missing_rows"][:2] == [{"row": 14, "label": "color=<unseen>"}, {"row": 15, "label": "color=None"}]
    assert (color["missing_count"], color["by_column"], color["notes"]) == (
        3, {"color_id": 1}, ["column(s) not in the bundle, not compared: debug"],
    )  # fmt: skip
    assert fill["summary"].startswith(
        "12 value(s) in 12 of 100 row(s) outside tolerance (age 12); worst: row 1 (case 1)"
    )


def test_json_writes_an_infinite_difference_as_text() -> None:
    nan_row = ValueMismatch(5, None, "x", "1.0", "NaN", math.inf, 1e-6)
    report = GoldenReport("g", "o", (ProbeComparison("p", "fail", "o/p", 9, 9, 9, 9, 1, 1, (("x", 1),), (nan_row,)),))
    assert json.loads(render_golden(report, Format.json))["results"][0]["mismatches"][0]["abs_diff"] == "inf"


def test_text_layout() -> None:
    lines = render_golden(REPORT, Format.text, width=80).splitlines()
    assert lines[0] == "envprint golden compare: MISMATCH: 2 fail, 1 pass"
    assert lines[1] == "bundle golden (expected outputs checked against train.fp (VERIFIED)), outputs out"
    assert lines[2] == "note: outputs for probes the bundle does not hold, not compared: other.outputs.jsonl"
    assert lines[3].startswith("FAIL    fill_age: 12 value(s) in 12 of 100 row(s)")  # one line, never wrapped
    assert lines[4] == "    row 2 (case 2), column 'age': expected 37.5, got 0.0 (|Δ| 37.5 > allowed 0.000375)"
    assert lines[6] == "    … and 9 more value(s) outside tolerance"
    assert "    missing: row 14 (color=<unseen>), row 15 (color=None), row 16" in lines
    assert "    note: column(s) not in the bundle, not compared: debug" in lines
    assert lines[-1] == "PASS    signup_day: 100 row(s), 100 value(s) within tolerance"


def test_markdown_layout() -> None:
    text = render_golden(REPORT, Format.markdown)
    assert text.startswith("## envprint golden compare: MISMATCH: 2 fail, 1 pass\n")
    assert "| `fill_age` | FAIL | 100 / 100 | 100 | 12 | 0 | 0 |" in text
    assert "| `encode_color` | FAIL | 100 / 97 | 97 | 1 | 3 | 0 |" in text
    assert "| 1 | `case 1` | `age` | `37.5` | `0.0` | 0.000375 |" in text
    assert "| 40 |  | `color_id` | `0` | `null` | exact |" in text
    assert "- missing: row 14 (color=<unseen>), row 15 (color=None), row 16" in text
    assert "### `signup_day`" not in text  # passing probes get no section
