"""Errors of golden bundles: an unreadable bundle or outputs file, and an export that cannot be vouched for."""

from __future__ import annotations

from envprint.errors import EnvprintError

__all__ = ["GoldenExportError", "GoldenFormatError"]


class GoldenFormatError(EnvprintError):
    """A golden bundle or an outputs file is not readable as docs/golden.md describes (exit 2)."""

    hint = (
        "every line must be one JSON object encoded as docs/golden.md describes (NaN and infinities as "
        '{"$float": ...}); fix the writer of that file, or export the bundle again with `envprint golden export`'
    )


class GoldenExportError(EnvprintError):
    """The expected outputs cannot be vouched for: not the baseline's, unstable, or lost in the encoding (exit 1)."""

    exit_code = 1
    hint = (
        "a golden bundle must hold what training computes: fix the difference named above, or record the "
        "baseline again if the transform changed on purpose"
    )
