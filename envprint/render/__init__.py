"""Renderers: turn reports and fingerprints into text (rich), JSON and Markdown.

A diff report renders through `render(report, format)`; `Format` is the one registry of formats
(``envprint diff --format``) and `render` ends in `assert_never`, so a format without a renderer
fails type checking and the exhaustiveness test. `envprint.render.fingerprint` renders
`envprint show`.
"""

from __future__ import annotations

import enum
import sys

from envprint.render.json import render_json
from envprint.render.markdown import render_markdown
from envprint.render.text import render_text
from envprint.report import DiffReport

if sys.version_info >= (3, 11):
    from typing import assert_never
else:  # pragma: no cover - Python 3.10
    from typing import NoReturn

    def assert_never(value: NoReturn) -> NoReturn:
        """Raises: a value the type checker proved impossible reached this point."""
        raise AssertionError(f"unhandled value {value!r}")


__all__ = ["Format", "render"]


class Format(str, enum.Enum):
    """Output formats of a diff report (``envprint diff --format``)."""

    text = "text"  # for people: a verdict line, then findings by severity (rich; plain when not a terminal)
    json = "json"  # for machines: the versioned schema of docs/diff.md
    markdown = "markdown"  # for PR comments and CI job summaries


def render(report: DiffReport, format: Format, *, width: int = 100, color: bool = False) -> str:
    """Returns `report` rendered in `format`; `width` and `color` apply to text only."""
    if format is Format.text:
        return render_text(report, width=width, color=color)
    if format is Format.json:
        return render_json(report)
    if format is Format.markdown:
        return render_markdown(report)
    assert_never(format)
