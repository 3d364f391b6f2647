"""The output formats of a diff report (`Format`), and the exhaustiveness check renderers end in.

Kept apart from the renderers so that a command naming a format (an option's type) loads no renderer.
"""

from __future__ import annotations

import enum
import sys

if sys.version_info >= (3, 11):
    from typing import assert_never
else:  # pragma: no cover - Python 3.10
    from typing import NoReturn

    def assert_never(value: NoReturn) -> NoReturn:
        """Raises: a value the type checker proved impossible reached this point."""
        raise AssertionError(f"unhandled value {value!r}")


__all__ = ["Format", "assert_never"]


class Format(str, enum.Enum):
    """Output formats of a diff report (``envprint diff --format``)."""

    text = "text"  # for people: a verdict line, then findings by severity (rich; plain when not a terminal)
    json = "json"  # for machines: the versioned schema of docs/diff.md
    markdown = "markdown"  # for PR comments and CI job summaries
