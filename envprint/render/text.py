"""Renders a diff report for people: a one-line verdict, the two inputs with their trust, then the
critical and warning findings, most consequential first, each with its likely cause, why and fix —
each paragraph said once. Info findings are counted (``--verbose`` lists them, one line each).
Plain text (no color, no control codes) unless `color` is set.
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


def render_text(report: DiffReport, *, width: int = 100, color: bool = False, verbose: bool = False) -> str:
    """Returns the report as text `width` columns wide, with ANSI colors only when `color`.

    Critical and warning findings are shown, each paragraph once; info findings are counted, and
    listed one per line with `verbose` (which also shows each finding's path and kind).
    """
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
    for renderable in _renderables(report, verbose=verbose):
        console.print(renderable)
    out: str = console.file.getvalue()  # type: ignore[attr-defined]  # the StringIO given above
    if color:
        return out
    return "".join(line.rstrip() + "\n" for line in out.splitlines())  # grid cells pad to the width


def _renderables(report: DiffReport, *, verbose: bool) -> list[Any]:
    from rich.text import Text

    said: set[str] = set()  # a why or a fix already shown is not repeated
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
        if severity is Severity.info and not verbose:
            parts.append(Text(""))
            parts.append(
                Text(
                    f"{len(findings)} info finding(s) not shown: descriptive, or no effect on numbers "
                    "(--verbose lists them)",
                    style="dim",
                )
            )
            continue
        parts.append(Text(""))
        parts.append(Text(f"{severity.name.upper()} ({len(findings)})", style=_SEVERITY_STYLE[severity]))
        for f in findings:
            parts.extend(_info_line(f) if severity is Severity.info else _detailed(f, said, verbose=verbose))
    return parts


def _info_line(f: Finding) -> list[Any]:
    from rich.table import Table
    from rich.text import Text

    line = Table.grid(padding=(0, 1))
    line.add_column(no_wrap=True)
    line.add_column(overflow="fold")
    line.add_row(f"  {_MARK[f.severity]}", Text.assemble(f.title, (f"  [{f.kind}]", "dim")))
    return [line]


def _detailed(f: Finding, said: set[str], *, verbose: bool) -> list[Any]:
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
    if verbose:
        grid.add_row("path", Text.assemble(f.path, (f"  [{f.kind}]", "dim")))
    if f.magnitude is not None and verbose:
        grid.add_row("magnitude", f.magnitude.describe())
    if f.cause:
        grid.add_row("cause", f.cause)
    if f.why and f.why not in said:
        grid.add_row("why", f.why)
        said.add(f.why)
    if f.remedy:
        seen = f.remedy in said
        grid.add_row("fix", Text("same as above", style="dim") if seen else Text(f.remedy, style="green"))
        said.add(f.remedy)
    return [head, Padding(grid, (0, 0, 0, 6))] if grid.row_count else [head]
