"""Renders a `GoldenReport` (``envprint golden compare``) as text, JSON or Markdown.

JSON shape, version 1 (docs/golden.md)::

    {"format": "envprint-golden-compare", "version": 1, "verdict": ..., "passed": bool, "exit_code": 0|1,
     "counts": {"fail", "missing", "pass"}, "bundle": DIR, "outputs": DIR, "baseline": "train.fp (VERIFIED)" | null,
     "unexpected": [FILE],
     "results": [{"name", "status", "summary", "outputs", "rows_expected", "rows_got", "rows_compared",
                  "values_compared", "values_mismatched", "rows_mismatched", "by_column": {COLUMN: N},
                  "mismatches": [{"row", "label", "column", "expected", "got", "abs_diff", "allowed"}],
                  "missing_rows": [{"row", "label"}], "missing_count",
                  "extra_rows": [{"line"}], "extra_count", "unknown_columns": [COLUMN], "notes": [TEXT]}]}

``expected`` and ``got`` are values as JSON text (``"NaN"`` for NaN, ``"(absent)"`` for a missing
field); ``abs_diff`` is a number, ``"inf"``, or null when the two values are not both numbers. A new
field is added without a version change; a renamed or removed field bumps "version".
"""

from __future__ import annotations

import io
import math
from typing import Any

from envprint.golden.report import GoldenReport, ProbeComparison
from envprint.render import Format
from envprint.render.formats import assert_never
from envprint.render.safe_json import dumps

__all__ = ["GOLDEN_JSON_VERSION", "golden_data", "render_golden"]

GOLDEN_JSON_VERSION = 1
#: mismatches (and missing rows) listed per probe for people; JSON carries all the report kept
_LISTED = 10


def render_golden(report: GoldenReport, format: Format, *, width: int = 100, color: bool = False) -> str:
    """Returns `report` rendered in `format`; `width` and `color` apply to text only."""
    if format is Format.text:
        return _text(report, width=width, color=color)
    if format is Format.json:
        return dumps(golden_data(report)) + "\n"
    if format is Format.markdown:
        return _markdown(report)
    assert_never(format)


def golden_data(report: GoldenReport) -> dict[str, Any]:
    """Returns the JSON document of a golden comparison as plain data."""
    return {
        "format": "envprint-golden-compare",
        "version": GOLDEN_JSON_VERSION,
        "verdict": report.verdict,
        "passed": report.passed,
        "exit_code": report.exit_code,
        "counts": report.counts,
        "bundle": report.bundle,
        "outputs": report.outputs,
        "baseline": report.baseline,
        "unexpected": list(report.unexpected),
        "results": [_result_data(r) for r in report.results],
    }


def _result_data(r: ProbeComparison) -> dict[str, Any]:
    return {
        "name": r.name,
        "status": r.status,
        "summary": r.summary(),
        "outputs": r.outputs,
        "rows_expected": r.rows_expected,
        "rows_got": r.rows_got,
        "rows_compared": r.rows_compared,
        "values_compared": r.values_compared,
        "values_mismatched": r.values_mismatched,
        "rows_mismatched": r.rows_mismatched,
        "by_column": dict(r.by_column),
        "mismatches": [
            {
                "row": m.row,
                "label": m.label,
                "column": m.column,
                "expected": m.expected,
                "got": m.got,
                "abs_diff": _number(m.abs_diff),
                "allowed": m.allowed,
            }
            for m in r.mismatches
        ],
        "missing_rows": [{"row": x.row, "label": x.label} for x in r.missing_rows],
        "missing_count": r.missing_count,
        "extra_rows": [{"line": x.row} for x in r.extra_rows],
        "extra_count": r.extra_count,
        "unknown_columns": list(r.unknown_columns),
        "notes": r.notes(),
    }


def _number(value: float | None) -> float | str | None:
    return value if value is None or math.isfinite(value) else repr(value)


def _header(report: GoldenReport) -> list[str]:
    checked = f" (expected outputs checked against {report.baseline})" if report.baseline else ""
    lines = [f"bundle {report.bundle}{checked}, outputs {report.outputs}"]
    if report.unexpected:
        lines.append(f"note: outputs for probes the bundle does not hold, not compared: {', '.join(report.unexpected)}")
    return lines


def _rest(r: ProbeComparison) -> list[str]:
    """Returns what a probe's listed mismatches leave out: their count, missing and extra rows, notes."""
    out = []
    hidden = r.values_mismatched - min(len(r.mismatches), _LISTED)
    if hidden > 0:
        out.append(f"… and {hidden} more value(s) outside tolerance")
    if r.missing_count:
        listed = ", ".join(x.describe() for x in r.missing_rows[:_LISTED])
        more = r.missing_count - min(len(r.missing_rows), _LISTED)
        out.append(f"missing: {listed}" + (f", … and {more} more" if more > 0 else ""))
    if r.extra_count:
        listed = ", ".join(str(x.row) for x in r.extra_rows[:_LISTED])
        more = r.extra_count - min(len(r.extra_rows), _LISTED)
        out.append(f"extra output line(s): {listed}" + (f", … and {more} more" if more > 0 else ""))
    out.extend(f"note: {n}" for n in r.notes())
    return out


# --------------------------------------------------------------------------------------------- text


def _text(report: GoldenReport, *, width: int, color: bool) -> str:
    from rich.console import Console  # rich costs ~30 ms: only text output pays it
    from rich.text import Text

    out = io.StringIO()
    console = Console(  # soft wrap: one line per mismatch, so logs stay greppable
        file=out,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        highlight=False,
        soft_wrap=True,
    )
    style = "bold green" if report.passed else "bold red"
    console.print(Text.assemble(("envprint golden compare: ", "bold"), (report.verdict, style)))
    for line in _header(report):
        console.print(line, markup=False)
    for r in report.results:
        status = Text(f"{r.status.upper():7}", style="green" if r.passed else "red")
        console.print(Text.assemble(status, " ", f"{r.name}: {r.summary()}"))
        for line in [m.describe() for m in r.mismatches[1:_LISTED]] + _rest(r):
            console.print(f"    {line}", markup=False)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


# ----------------------------------------------------------------------------------------- markdown


def _markdown(report: GoldenReport) -> str:
    lines = [f"## envprint golden compare: {report.verdict}", ""]
    lines += [_cell(line) for line in _header(report)]
    lines += [
        "",
        "| probe | status | rows (expected / got) | values compared | outside tolerance | rows missing | rows extra |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report.results:
        lines.append(
            f"| `{r.name}` | {r.status.upper()} | {r.rows_expected} / {r.rows_got} | {r.values_compared} | "
            f"{r.values_mismatched} | {r.missing_count} | {r.extra_count} |"
        )
    for r in report.results:
        if r.passed:
            continue
        lines += ["", f"### `{r.name}`: {r.status.upper()}", "", _cell(r.summary())]
        if r.mismatches:
            lines += ["", "| row | label | column | expected | got | allowed |", "|---|---|---|---|---|---|"]
            for m in r.mismatches[:_LISTED]:
                allowed = f"{m.allowed:.3g}" if m.allowed else "exact"
                lines.append(
                    f"| {m.row} | {_code(m.label or '')} | {_code(m.column)} | {_code(m.expected)} | "
                    f"{_code(m.got)} | {allowed} |"
                )
        rest = _rest(r)
        if rest:
            lines += ["", *(f"- {_cell(line)}" for line in rest)]
    return "\n".join(lines) + "\n"


def _code(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`" if text else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
