"""The errors of feature-freshness work: malformed fetch logs, bad SLOs, a missing optional extra.

All are `UsageError`s (exit 2): the input cannot be read as given, and the message names the place.
"""

from __future__ import annotations

from envprint.errors import UsageError

__all__ = ["FetchLogError", "SloError", "missing_extra"]

#: what to install for the features that need optional packages (ddsketch, prometheus_client)
EXTRA_HINT = "pip install 'envprint[freshness]'"


class FetchLogError(UsageError):
    """A fetch log (JSON Lines, CSV, Parquet) that cannot be read: the message names the file and line or row."""

    hint = (
        "each row needs feature (text), hit (true/false), age_s (seconds >= 0; empty only for a miss) and "
        "fetch_ms (milliseconds >= 0), optionally request_id and ts; see docs/freshness.md"
    )

    def __init__(self, source: str, where: str, problem: str, *, hint: str | None = None) -> None:
        super().__init__(f"{source}: {where}: {problem}" if where else f"{source}: {problem}", hint=hint)
        self.source = source
        #: "line 7" (JSON Lines, CSV), "row 7" (Parquet) or "" for the whole file
        self.where = where


class SloError(UsageError):
    """An SLO that cannot be parsed, from --slo or an SLO file."""

    hint = (
        "write an SLO as METRIC OP VALUE, e.g. hit_rate>=0.95, staleness_p95<=10s, fetch_p99<=5ms, "
        "stale_rate<=5%, age_skew_p95<=3x; prefix FEATURE: for one feature; see docs/freshness.md"
    )


def missing_extra(package: str, what: str) -> UsageError:
    """Returns the error to raise when `what` needs the optional `package`, which is not installed."""
    return UsageError(f"{what} needs {package}, which is not installed in this environment", hint=EXTRA_HINT)
