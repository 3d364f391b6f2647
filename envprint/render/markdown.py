"""Renders a diff report as GitHub-flavoured Markdown, for a PR comment or a CI job summary
(``envprint diff -f markdown train.fp serve.fp >> "$GITHUB_STEP_SUMMARY"``): the verdict, the
inputs with their trust, a table of critical and warning findings, why each matters, and the info
findings folded in a ``<details>`` block.
"""

from __future__ import annotations

from envprint.envelope import Trust
from envprint.report import DiffReport, Severity

__all__ = ["render_markdown"]


def render_markdown(report: DiffReport) -> str:
    """Returns the report as Markdown ending in a newline."""
    lines = [f"### envprint diff: {_cell(report.verdict)}", ""]
    for side, label, trust in (("a", report.a_label, report.a_trust), ("b", report.b_label, report.b_trust)):
        lines.append(f"- **{side}** `{_code(label)}` — **{Trust(trust).label}**")
    lines.append("")
    serious = [f for f in report.findings if f.severity > Severity.info]
    if serious:
        lines += ["| severity | finding | magnitude | likely cause | remedy |", "|---|---|---|---|---|"]
        for f in serious:
            what = f"{_cell(f.title)}<br>`{_code(f.path)}`"
            magnitude = _cell(f.magnitude.describe()) if f.magnitude is not None else ""
            lines.append(
                f"| **{f.severity.name}** | {what} | {magnitude} | {_cell(f.cause or '')} | {_cell(f.remedy)} |"
            )
        lines += ["", "<details><summary>Why these findings matter</summary>", ""]
        lines += [f"- **{_cell(f.title)}** ({f.kind}): {_cell(f.why)}" for f in serious]
        lines += ["", "</details>", ""]
    info = report.at(Severity.info)
    if info:
        lines += [f"<details><summary>{len(info)} info finding{'s' if len(info) != 1 else ''}</summary>", ""]
        lines += [f"- `{_code(f.path)}`: {_cell(f.title)}" for f in info]
        lines += ["", "</details>", ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Returns `text` safe inside a table cell or list item: one line, no HTML, no column breaks."""
    return " ".join(text.split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _code(text: str) -> str:
    return " ".join(text.split()).replace("`", "'").replace("|", "\\|")
