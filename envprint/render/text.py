"""Renders a diff report for people: a one-line verdict, the two inputs with their trust, then the
critical and warning findings, most consequential first, each with its likely cause, why and fix —
each paragraph said once. Info findings are counted (``--verbose`` lists them, one line each).
Plain text (no color, no control codes) unless `color` is set.
"""

from __future__ import annotations

import io
import re
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

    said: set[str] = set()  # a why already shown is not repeated
    head_style = "bold green" if report.equivalent else "bold red"
    parts: list[Any] = [Text(report.verdict, style=head_style)]
    for side, label, trust in (("a", report.a_label, report.a_trust), ("b", report.b_label, report.b_trust)):
        parts.append(
            Text.assemble(
                (f"  {side}  ", "dim"), label, "  ", (Trust(trust).label, _TRUST_STYLE.get(trust, "bold red"))
            )
        )
    short = _Sides(report)
    # findings that share a fix are one group, shown once under the severity of its most severe member
    groups = _by_fix(tuple(f for f in report.findings if f.severity is not Severity.info))
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
        if severity is Severity.info:
            for f in findings:
                parts.extend(_info_line(f, short))
            continue
        for group in groups:
            if group[0].severity is severity:
                parts.extend(_detailed(group, said, short, verbose=verbose))
    return parts


class _Sides:
    """Names the two sides "a" and "b" in titles: the header line already says which file each is."""

    def __init__(self, report: DiffReport) -> None:
        self.labels = [(report.a_label, "a"), (report.b_label, "b")]

    def __call__(self, text: str) -> str:
        for label, side in self.labels:
            if label and label not in ("a", "b"):
                text = text.replace(label, side)
        return text


def _by_fix(findings: tuple[Finding, ...]) -> list[list[Finding]]:
    """Returns the findings grouped by their fix, in report order: one cause, one fix, said once.

    Warnings whose fix is one package pin join one group whose fix pins them all in one command.
    """
    groups: dict[str, list[Finding]] = {}
    for i, f in enumerate(findings):
        groups.setdefault(f.remedy or f"\0{i}", []).append(f)
    merged: list[list[Finding]] = []
    pins: list[Finding] = []
    for group in groups.values():
        first = group[0]
        if first.severity is Severity.warning and first.kind.startswith("package.") and _PIN.fullmatch(first.remedy):
            if not pins:
                merged.append(pins)  # the pins take the place of the first of them
            pins.extend(group)
        else:
            merged.append(group)
    return merged


#: a fix that is one package pin, e.g. pip install 'numpy==2.3.5'
_PIN = re.compile(r"pip install '[^']+'")


def _fix(group: list[Finding]) -> str:
    """Returns the group's fix: its one remedy, or the package pins of its members in one command."""
    if len(group) > 1 and all(_PIN.fullmatch(f.remedy) for f in group):
        return "pip install " + " ".join(dict.fromkeys(f.remedy.removeprefix("pip install ") for f in group))
    return group[0].remedy


def _info_line(f: Finding, short: _Sides) -> list[Any]:
    from rich.table import Table
    from rich.text import Text

    line = Table.grid(padding=(0, 1))
    line.add_column(no_wrap=True)
    line.add_column(overflow="fold")
    line.add_row(f"  {_MARK[f.severity]}", Text.assemble(short(f.title), (f"  [{f.kind}]", "dim")))
    return [line]


def _merge_alike(titles: list[str]) -> list[str]:
    """Returns `titles` with those differing only in their second word said once, in order.

    "BLAS numpy/openblas threads 2 → 1" and "BLAS scipy/openblas threads 2 → 1" become
    "BLAS numpy/openblas, scipy/openblas threads 2 → 1"; a title with no equal first and tail stays as it is.
    """
    order: list[str | tuple[str, str]] = []
    names: dict[tuple[str, str], list[str]] = {}
    for title in titles:
        first, _, rest = title.partition(" ")
        name, _, tail = rest.partition(" ")
        if not name or not tail:
            order.append(title)
            continue
        if (first, tail) not in names:
            names[(first, tail)] = []
            order.append((first, tail))
        names[(first, tail)].append(name)
    return [item if isinstance(item, str) else f"{item[0]} {', '.join(names[item])} {item[1]}" for item in order]


def _detailed(group: list[Finding], said: set[str], short: _Sides, *, verbose: bool) -> list[Any]:
    """Returns the lines of findings that share one fix: their titles, the first one's cause and why, the fix."""
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    f, *others = group
    head = Table.grid(padding=(0, 1))
    head.add_column(no_wrap=True, style=_SEVERITY_STYLE[f.severity])
    head.add_column(overflow="fold", style="bold")
    head.add_row(f"  {_MARK[f.severity]}", short(f.title))
    cause = f.cause or ""
    # the findings that share the fix, unless the cause line names them already
    members = [o.title for o in others if o.title not in cause]
    if members and verbose:
        for title in members:
            head.add_row("   ", short(title))
    elif members:
        head.add_row("   ", Text("+ " + "; ".join(short(t) for t in _merge_alike(members))))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    if verbose:
        grid.add_row("path", Text.assemble(", ".join(g.path for g in group), (f"  [{f.kind}]", "dim")))
    if f.magnitude is not None and verbose:
        grid.add_row("magnitude", f.magnitude.describe())
    if cause:
        grid.add_row("cause", short(cause))
    # a critical finding says why it matters (once per text); a warning's title and fix say enough
    if f.why and f.why not in said and (f.severity is Severity.critical or verbose):
        grid.add_row("why", f.why)
        said.add(f.why)
    if f.remedy:
        grid.add_row("fix", Text(_fix(group), style="green"))
    return [head, Padding(grid, (0, 0, 0, 6))] if grid.row_count else [head]
