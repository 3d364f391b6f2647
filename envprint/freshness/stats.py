"""`FetchStats`: what the fetches of one feature looked like, as recorded live or read from a log."""

from __future__ import annotations

from dataclasses import dataclass

from envprint.freshness.sketch import Sketch

__all__ = ["FetchStats"]


@dataclass(frozen=True)
class FetchStats:
    """What the fetches of one feature looked like: counts and the sketches of ages and fetch latencies."""

    requests: int
    hits: int
    age: Sketch  # seconds, over the fetches that served a value with a known age
    fetch: Sketch  # milliseconds, over every fetch

    @property
    def hit_rate(self) -> float | None:
        """Returns hits / requests, None when there were no requests."""
        return self.hits / self.requests if self.requests else None
