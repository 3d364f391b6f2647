"""Renderers: turn reports and fingerprints into text (rich), JSON and Markdown.

A diff report renders through `render(report, format)`; `Format` is the one registry of formats
(``envprint diff --format``) and `render` ends in `assert_never`, so a format without a renderer
fails type checking and the exhaustiveness test. `envprint.render.fingerprint` renders
`envprint show`.
"""

from __future__ import annotations

import enum
import sys
from typing import TYPE_CHECKING

from envprint.render.json import render_json
from envprint.render.markdown import render_markdown
from envprint.render.policy import policy_data, policy_text
from envprint.render.text import render_text
from envprint.report import DiffReport

if TYPE_CHECKING:  # types only: rendering a fingerprint or a diff does not load the policy rules
    from envprint.policy import PolicyResult

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


def render(
    report: DiffReport,
    format: Format,
    *,
    width: int = 100,
    color: bool = False,
    policy: PolicyResult | None = None,
    verbose: bool = False,
) -> str:
    """Returns `report` rendered in `format`, with the policy's decisions when given.

    `width`, `color` and `verbose` (list info findings) apply to text only. The policy is a section
    after the findings (text, Markdown) or the "policy" key of the document (JSON).
    """
    if format is Format.json:
        return render_json(report, policy=policy_data(policy) if policy is not None else None)
    if format is Format.text:
        text = render_text(report, width=width, color=color, verbose=verbose)
    elif format is Format.markdown:
        text = render_markdown(report)
    else:
        assert_never(format)
    if policy is None:
        return text
    return f"{text.rstrip()}\n\n{policy_text(policy, markdown=format is Format.markdown)}\n"
