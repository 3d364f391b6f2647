"""Renders a `FleetReport` (``envprint fleet``) as text, JSON or Markdown; each group's diff through `render`.

JSON shape, version 1 (docs/fleet.md)::

    {"format": "envprint-fleet", "version": 1, "verdict": ..., "equivalent": bool, "exit_code": 0|1,
     "counts": {"fingerprints", "groups", "matching", "differing", "differing_groups", "skipped"},
     "reference": {"source": "given|largest group", "note": ..., "identity": DIGEST, "member": MEMBER},
     "groups": [{"index": 1, "identity": DIGEST, "size": N, "reference": bool, "equivalent": bool,
                 "members": [MEMBER], "diff": <envprint-diff document> | null}],
     "skipped": [{"file", "error", "exit_code"}]}
    MEMBER = {"name", "file", "host", "label", "tags", "trust"}

A new field is added without a version change; a renamed or removed field bumps "version".
"""

from __future__ import annotations

import io
from typing import Any

from envprint.envelope import Trust
from envprint.fleet import FleetGroup, FleetReport, Member
from envprint.render import Format, render
from envprint.render.formats import assert_never
from envprint.render.json import report_data
from envprint.render.safe_json import dumps

__all__ = ["FLEET_JSON_VERSION", "fleet_data", "render_fleet"]

FLEET_JSON_VERSION = 1
#: characters of the identity digest shown to people
SHORT = 12
#: members named in the summary table of a group
_LISTED = 3
#: members listed in a group's section before "… and N more"
_DETAILED = 50


def render_fleet(report: FleetReport, format: Format, *, width: int = 100, color: bool = False) -> str:
    """Returns `report` rendered in `format`; `width` and `color` apply to text only."""
    if format is Format.text:
        return _text(report, width=width, color=color)
    if format is Format.json:
        return dumps(fleet_data(report)) + "\n"
    if format is Format.markdown:
        return _markdown(report)
    assert_never(format)


def fleet_data(report: FleetReport) -> dict[str, Any]:
    """Returns the JSON document of a fleet report as plain data."""
    return {
        "format": "envprint-fleet",
        "version": FLEET_JSON_VERSION,
        "verdict": report.verdict,
        "equivalent": report.equivalent,
        "exit_code": report.exit_code,
        "counts": report.counts,
        "reference": {
            "source": report.reference_source,
            "note": report.reference_note,
            "identity": report.reference_digest,
            "member": _member_data(report.reference),
        },
        "groups": [
            {
                "index": i,
                "identity": g.digest,
                "size": len(g.members),
                "reference": g.reference,
                "equivalent": g.equivalent,
                "members": [_member_data(m) for m in g.members],
                "diff": None if g.diff is None else report_data(g.diff),
            }
            for i, g in enumerate(report.groups, 1)
        ],
        "skipped": [{"file": u.file, "error": u.error, "exit_code": u.exit_code} for u in report.skipped],
    }


def _member_data(m: Member) -> dict[str, Any]:
    return {"name": m.name, "file": m.file, "host": m.host, "label": m.label, "tags": dict(m.tags), "trust": m.trust}


# --------------------------------------------------------------------------------------------- text


def _text(report: FleetReport, *, width: int, color: bool) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    out = io.StringIO()
    console = Console(
        file=out, width=width, color_system="standard" if color else None, force_terminal=color, highlight=False
    )
    style = "bold green" if report.equivalent else "bold red"
    console.print(Text.assemble(("envprint fleet: ", "bold"), (report.verdict, style)))
    console.print(
        f"reference ({report.reference_source}): {_who(report.reference)} "
        f"[{Trust(report.reference.trust).label}], identity {report.reference_digest[:SHORT]}",
        markup=False,
    )
    if report.reference_note:
        console.print(f"note: {report.reference_note}", markup=False)
    for u in report.skipped:
        console.print(f"skipped {u.file}: {u.error}", style="yellow", markup=False)

    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in ("group", "fingerprints", "identity", "vs reference", "members"):
        table.add_column(column, overflow="fold")
    for i, g in enumerate(report.groups, 1):
        table.add_row(
            str(i), str(len(g.members)), g.digest[:SHORT], Text(*_status(g)), Text(_listed(g.members, _LISTED))
        )
    console.print()
    console.print(table)

    for i, g in enumerate(report.groups, 1):
        if g.diff is None:
            continue
        console.print()
        head = "differs from" if not g.equivalent else "is equivalent to"
        console.print(
            Text(
                f"group {i} ({len(g.members)} fingerprint{'s' if len(g.members) != 1 else ''}) {head} the reference"
            ).append(f" — diff of {g.representative.name} against {report.reference.name}:", style="dim"),
            style="bold",
        )
        for m in g.members[:_DETAILED]:
            console.print(f"  {_who(m)}{_tags(m)}", markup=False)
        if len(g.members) > _DETAILED:
            console.print(f"  … and {len(g.members) - _DETAILED} more", markup=False)
        console.print(Text.from_ansi(render(g.diff, Format.text, width=width, color=color).rstrip("\n")))
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


def _status(g: FleetGroup) -> tuple[str, str]:
    if g.diff is None:
        return "reference", "green"
    return g.diff.verdict, "green" if g.equivalent else "red"


def _who(m: Member) -> str:
    return m.name if m.host in m.name else f"{m.name} ({m.host})"


def _tags(m: Member) -> str:
    shown = {k: v for k, v in m.tags.items() if k != "host"}
    return "  " + " ".join(f"{k}={v}" for k, v in sorted(shown.items())) if shown else ""


def _listed(members: tuple[Member, ...], limit: int) -> str:
    names = ", ".join(_who(m) for m in members[:limit])
    return names + (f", … +{len(members) - limit}" if len(members) > limit else "")


# ----------------------------------------------------------------------------------------- markdown


def _markdown(report: FleetReport) -> str:
    lines = [
        f"## envprint fleet: {report.verdict}",
        "",
        f"Reference ({report.reference_source}): {_code(_who(report.reference))} "
        f"({Trust(report.reference.trust).label}), identity `{report.reference_digest[:SHORT]}`",
    ]
    if report.reference_note:
        lines += ["", f"> {report.reference_note}"]
    if report.skipped:
        lines += ["", "Skipped (unreadable):", ""] + [f"- {_code(u.file)}: {_cell(u.error)}" for u in report.skipped]
    lines += ["", "| group | fingerprints | identity | vs reference | members |", "|---|---|---|---|---|"]
    for i, g in enumerate(report.groups, 1):
        names = ", ".join(_code(_who(m)) for m in g.members[:_LISTED])
        more = f", … +{len(g.members) - _LISTED}" if len(g.members) > _LISTED else ""
        lines.append(f"| {i} | {len(g.members)} | `{g.digest[:SHORT]}` | {_cell(_status(g)[0])} | {names}{more} |")
    for i, g in enumerate(report.groups, 1):
        if g.diff is None:
            continue
        head = "differs from" if not g.equivalent else "is equivalent to"
        n = len(g.members)
        lines += ["", f"### Group {i} ({n} fingerprint{'s' if n != 1 else ''}) {head} the reference", ""]
        lines += [f"- {_code(_who(m))}{_cell(_tags(m))}" for m in g.members[:_DETAILED]]
        if len(g.members) > _DETAILED:
            lines.append(f"- … and {len(g.members) - _DETAILED} more")
        lines += ["", render(g.diff, Format.markdown).rstrip("\n")]
    return "\n".join(lines) + "\n"


def _code(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
