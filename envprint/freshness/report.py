"""The freshness report: per-feature statistics, SLO results, age skew, verdict and exit code.

Built by `envprint.freshness.analyze`; rendered by `envprint.render.freshness`. Everything a
renderer or the CLI needs (counts, breaches, the verdict line, the exit code) is computed here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from envprint.freshness.slo import Slo, SloSet, format_age
from envprint.freshness.stats import FetchStats

__all__ = ["AgeSkew", "FeatureReport", "FreshnessReport", "SloResult", "Timeline"]

#: the quantiles shown for staleness and fetch latency
STALENESS_QUANTILES = (0.5, 0.95, 0.99)
FETCH_QUANTILES = (0.5, 0.99)
#: the quantile age skew is shown at
SKEW_QUANTILE = 0.95


@dataclass(frozen=True)
class SloResult:
    """One SLO of one feature, held against what the log shows."""

    slo: Slo
    observed: float | None  # None: nothing to measure (no ages, no baseline entry)
    #: why there was nothing to measure, shown instead of a value
    reason: str = ""

    @property
    def passed(self) -> bool:
        """Returns whether the SLO holds; an SLO with nothing to measure does not (fail closed)."""
        return self.observed is not None and self.slo.holds(self.observed)

    @property
    def status(self) -> str:
        """Returns "ok", "breach" or "no data"."""
        if self.observed is None:
            return "no data"
        return "ok" if self.passed else "breach"


@dataclass(frozen=True)
class AgeSkew:
    """A feature's serving age against its training age at one quantile, in seconds."""

    q: float
    training: float | None
    serving: float | None

    @property
    def ratio(self) -> float | None:
        """Returns serving ÷ training age; inf when training was 0 and serving is not; None when unknown."""
        if self.training is None or self.serving is None:
            return None
        if self.training == 0:
            return 1.0 if self.serving == 0 else math.inf
        return self.serving / self.training

    @property
    def text(self) -> str:
        """Returns e.g. "30 s in training → 2 h serving (×240)"."""
        if self.training is None or self.serving is None:
            return "no ages to compare"
        ratio = self.ratio
        times = "×∞" if ratio == math.inf else f"×{ratio:.3g}"
        return f"{format_age(self.training)} in training → {format_age(self.serving)} serving ({times})"


@dataclass(frozen=True)
class FeatureReport:
    """One feature's fetches: statistics, SLO results and, with a baseline, its age skew."""

    feature: str
    stats: FetchStats
    stale: int  # fetches that served a value older than `stale_after`
    stale_after: float
    slos: tuple[SloResult, ...]
    skew: AgeSkew | None = None  # None: no baseline, or the feature is not in it
    #: the training profile's counts for this feature, when it has one: (rows with an age, future, missing)
    training_counts: tuple[int, int, int] | None = None

    @property
    def requests(self) -> int:
        """Returns the number of fetches."""
        return self.stats.requests

    @property
    def hit_rate(self) -> float | None:
        """Returns hits ÷ fetches."""
        return self.stats.hit_rate

    @property
    def stale_rate(self) -> float | None:
        """Returns stale fetches ÷ fetches."""
        return self.stale / self.requests if self.requests else None

    def staleness(self, q: float) -> float | None:
        """Returns the age of the values served at quantile `q`, in seconds (±1 %)."""
        return self.stats.age.quantile(q)

    def fetch(self, q: float) -> float | None:
        """Returns the fetch latency at quantile `q`, in milliseconds (±1 %)."""
        return self.stats.fetch.quantile(q)

    @property
    def breaches(self) -> tuple[SloResult, ...]:
        """Returns the SLO results that did not pass (breaches and SLOs without data)."""
        return tuple(r for r in self.slos if not r.passed)

    @property
    def passed(self) -> bool:
        """Returns whether every SLO of the feature holds."""
        return not self.breaches


@dataclass(frozen=True, eq=False)
class Timeline:
    """Per-feature series over time bins, for the --plot figure."""

    #: left edge of each bin: epoch seconds, or the row number when the log has no ts column
    starts: npt.NDArray[np.float64] = field(repr=False)
    width: float
    by_time: bool
    #: feature → (fetches, hit rate, staleness p95 s, fetch p99 ms) per bin; NaN where a bin has none
    series: Mapping[str, tuple[npt.NDArray[np.float64], ...]] = field(repr=False)


@dataclass(frozen=True)
class FreshnessReport:
    """Every feature of one or more fetch logs against the SLOs, with its own counts and verdict."""

    sources: tuple[str, ...]
    rows: int
    features: tuple[FeatureReport, ...]
    slos: SloSet
    relative_accuracy: float
    baseline: str | None = None
    baseline_trust: str | None = None  # "verified", "unverified", "unsigned"
    #: features in the training profile that the logs never fetched
    not_served: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    timeline: Timeline | None = None

    @property
    def breaches(self) -> tuple[tuple[str, SloResult], ...]:
        """Returns (feature, result) for every SLO that did not pass, in feature order."""
        return tuple((f.feature, r) for f in self.features for r in f.breaches)

    @property
    def passed(self) -> bool:
        """Returns whether every SLO of every feature holds."""
        return not self.breaches

    @property
    def exit_code(self) -> int:
        """Returns the CLI exit status: 0 within SLOs, 1 any breach."""
        return 0 if self.passed else 1

    @property
    def counts(self) -> dict[str, int]:
        """Returns the totals: rows, features, features breaching, SLOs checked, SLOs breached."""
        return {
            "rows": self.rows,
            "features": len(self.features),
            "breaching_features": sum(not f.passed for f in self.features),
            "slos": sum(len(f.slos) for f in self.features),
            "breaches": len(self.breaches),
        }

    @property
    def verdict(self) -> str:
        """Returns one line, e.g. "BREACH: 2 of 3 features miss an SLO (3 breaches) over 12000 fetches"."""
        c = self.counts
        if self.passed:
            return f"OK: {c['features']} feature(s) within SLOs over {c['rows']} fetches"
        return (
            f"BREACH: {c['breaching_features']} of {c['features']} feature(s) miss an SLO "
            f"({c['breaches']} breach{'es' if c['breaches'] != 1 else ''}) over {c['rows']} fetches"
        )

    @property
    def skewed(self) -> tuple[FeatureReport, ...]:
        """Returns the features whose serving age at the skew quantile exceeds their training age, worst first."""
        rows = [f for f in self.features if f.skew is not None and (f.skew.ratio or 0) > 1]
        return tuple(sorted(rows, key=lambda f: -(f.skew.ratio or 0) if f.skew else 0))
