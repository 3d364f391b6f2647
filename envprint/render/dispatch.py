"""`render(report, format)`: a diff report in each `Format`, with the policy's decisions when given."""

from __future__ import annotations

from typing import TYPE_CHECKING

from envprint.render.formats import Format, assert_never
from envprint.render.json import render_json
from envprint.render.markdown import render_markdown
from envprint.render.policy import policy_data, policy_text
from envprint.render.text import render_text
from envprint.report import DiffReport

if TYPE_CHECKING:  # types only: rendering a fingerprint or a diff does not load the policy rules
    from envprint.policy import PolicyResult

__all__ = ["render"]


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
