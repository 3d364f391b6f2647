"""Renders a diff report for people: a one-line verdict, the two inputs with their trust, then the
findings by severity (critical first), each with its magnitude, likely cause, why and remedy.
Info findings take one line each. Plain text (no color, no control codes) unless `color` is set.
"""

from __future__ import annotations

import io
from typing import Any

from envprint.envelope import Trust
from envprint.report import DiffReport, Finding, Severity

__all__ = ["render_text"]

_SEVERITY_STYLE = {Severity.critical: "bold red", Severity.warning: "bold yellow", Severity.info: "dim"}
_MARK = {Severity.critical: "✗", Severity.warning: "!", Severity.info: "·"}
_TRUST_STYLE = {"verified": "bold green", "live": "bold cyan", "unsigned": "bold yellow"}


def render_text(report: DiffReport, *, width: int = 100, color: bool = False) -> str:
    """Returns the report as text `width` columns wide, with ANSI colors only when `color`."""
    from rich.console import Console

    console = Console(
        file=io.StringIO(),
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
        markup=False,
        legacy_windows=False,
        soft_wrap=False,
    )
    for renderable in _renderables(report):
        console.print(renderable)
    out: str = console.file.getvalue()  # type: ignore[attr-defined]  # the StringIO given above
    if color:
        return out
    return "".join(line.rstrip() + "\n" for line in out.splitlines())  # grid cells pad to the width


def _renderables(report: DiffReport) -> list[Any]:
    from rich.text import Text

    seen_why: set[str] = set()  # a why shown once is not repeated for the next finding of its kind
    head_style = "bold green" if report.equivalent else "bold red"
    parts: list[Any] = [Text(report.verdict, style=head_style)]
    for side, label, trust in (("a", report.a_label, report.a_trust), ("b", report.b_label, report.b_trust)):
        parts.append(
            Text.assemble(
                (f"  {side}  ", "dim"), label, "  ", (Trust(trust).label, _TRUST_STYLE.get(trust, "bold red"))
            )
        )
    for severity in sorted(Severity, reverse=True):
        findings = report.at(severity)
        if not findings:
            continue
        parts.append(Text(""))
        parts.append(Text(f"{severity.name.upper()} ({len(findings)})", style=_SEVERITY_STYLE[severity]))
        for f in findings:
            parts.extend(_info_line(f) if severity is Severity.info else _detailed(f, seen_why))
            seen_why.add(f.why)
    return parts


def _info_line(f: Finding) -> list[Any]:
    from rich.table import Table
    from rich.text import Text

    line = Table.grid(padding=(0, 1))
    line.add_column(no_wrap=True)
    line.add_column(overflow="fold")
    line.add_row(f"  {_MARK[f.severity]}", Text.assemble(f.title, (f"  [{f.kind}]", "dim")))
    return [line]


def _detailed(f: Finding, seen_why: set[str]) -> list[Any]:
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    head = Table.grid(padding=(0, 1))
    head.add_column(no_wrap=True, style=_SEVERITY_STYLE[f.severity])
    head.add_column(overflow="fold", style="bold")
    head.add_row(f"  {_MARK[f.severity]}", f.title)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("path", Text.assemble(f.path, (f"  [{f.kind}]", "dim")))
    if f.magnitude is not None:
        grid.add_row("magnitude", f.magnitude.describe())
    if f.cause:
        grid.add_row("cause", f.cause)
    if f.why:
        grid.add_row("why", Text("same as above", style="dim") if f.why in seen_why else f.why)
    if f.remedy:
        grid.add_row("remedy", Text(f.remedy, style="green"))
    return [head, Padding(grid, (0, 0, 0, 6))]
