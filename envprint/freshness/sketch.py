"""Quantile sketches for feature ages and fetch latencies: DDSketch buckets in fixed arrays.

A value is recorded as one increment of a fixed array of DDSketch buckets (logarithmic mapping,
relative accuracy α = 1 %): bucket ``k`` holds the values in ``(γ^(k-1), γ^k]`` with
``γ = (1 + α) / (1 − α)``. Recording is a log, a ceil and an add — vectorised with numpy, so the
recorder and the log reader bin millions of values per second — and an array is merged with
another by adding it. Quantiles are answered by the ``ddsketch`` library (Datadog's reference
implementation) after it ingests the buckets through its public store API: a returned quantile is
within α of the exact value at rank ⌊q·(n−1)⌋ (numpy's ``method="lower"``). docs/freshness.md
compares DDSketch with HdrHistogram and t-digest and says why it was chosen.

Each `Layout` covers a fixed range; values at or below its low end count in a zero bucket (their
quantile reads 0) and values above its high end are clamped into the last bucket, so the memory
of a sketch is fixed: `Layout.size` counters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from envprint.freshness.errors import missing_extra

__all__ = ["AGE", "FETCH", "RELATIVE_ACCURACY", "Layout", "Sketch"]

#: the relative accuracy α of every sketch: a quantile is within ±1 % of the exact value
RELATIVE_ACCURACY = 0.01


@dataclass(frozen=True)
class Layout:
    """A fixed range of DDSketch buckets for one kind of value: index 0 is the zero bucket."""

    name: str
    unit: str
    relative_accuracy: float
    low: float  # values at or below count as 0
    high: float  # values above are clamped into the last bucket

    @cached_property
    def multiplier(self) -> float:
        """Returns 1 / log2(γ), the factor of ddsketch's LogarithmicMapping (its keys are ceil(log2(v) · this))."""
        a = self.relative_accuracy
        return math.log(2) / math.log1p(2 * a / (1 - a))

    @cached_property
    def min_key(self) -> int:
        """Returns the DDSketch key of the first bucket above the zero bucket."""
        return math.ceil(math.log(self.low, 2) * self.multiplier)

    @cached_property
    def size(self) -> int:
        """Returns the number of counters: the zero bucket plus one per key up to the key of `high`."""
        return math.ceil(math.log(self.high, 2) * self.multiplier) - self.min_key + 2

    def index(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
        """Returns the counter index of each value (finite, >= 0): 0 for values <= low, clamped at the top."""
        with np.errstate(divide="ignore"):  # log(0) = -inf lands in the zero bucket below
            keys = np.ceil(np.log(values) / math.log(2) * self.multiplier)
        index: npt.NDArray[np.intp] = np.clip(keys - (self.min_key - 1), 1, self.size - 1).astype(np.intp)
        index[values <= self.low] = 0
        return index

    def counts(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """Returns the bucket counts of `values` (finite, >= 0) in this layout."""
        return np.bincount(self.index(values), minlength=self.size).astype(np.int64)

    def key(self, index: int) -> int:
        """Returns the DDSketch key of counter `index` (>= 1)."""
        return index + self.min_key - 1

    def empty(self) -> Sketch:
        """Returns a sketch with no values."""
        return Sketch(self, np.zeros(self.size, np.int64), 0.0)

    def sketch(self, values: npt.ArrayLike) -> Sketch:
        """Returns the sketch of `values` (finite, >= 0)."""
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        return Sketch(self, self.counts(v), float(v.sum()))


#: feature ages in seconds: 1 ms to about 31 years (1384 counters)
AGE = Layout("age", "s", RELATIVE_ACCURACY, 1e-3, 1e9)
#: fetch latencies in milliseconds: 1 µs to about 16 minutes (1038 counters)
FETCH = Layout("fetch", "ms", RELATIVE_ACCURACY, 1e-3, 1e6)


@dataclass(frozen=True, eq=False)
class Sketch:
    """The bucket counts of some values in a `Layout`, with their exact count and sum."""

    layout: Layout
    counts: npt.NDArray[np.int64] = field(repr=False)
    total: float  # the exact sum of the values

    @cached_property
    def count(self) -> int:
        """Returns how many values the sketch holds."""
        return int(self.counts.sum())

    @property
    def mean(self) -> float | None:
        """Returns the exact mean of the values, None when there are none."""
        return self.total / self.count if self.count else None

    @property
    def clamped(self) -> int:
        """Returns how many values fell in the last bucket, which also holds every value above `layout.high`."""
        return int(self.counts[-1])

    def merge(self, other: Sketch) -> Sketch:
        """Returns the sketch of the values of both (same layout): exact, like merging two DDSketches."""
        if other.layout != self.layout:
            raise ValueError(f"cannot merge a {other.layout.name} sketch into a {self.layout.name} sketch")
        return Sketch(self.layout, self.counts + other.counts, self.total + other.total)

    def quantile(self, q: float) -> float | None:
        """Returns the value at quantile `q` (0..1) within the layout's relative accuracy; None when empty."""
        return self.quantiles((q,))[0]

    def quantiles(self, qs: Sequence[float]) -> tuple[float | None, ...]:
        """Returns the values at the quantiles `qs` (each 0..1), answered by ddsketch; Nones when empty."""
        if any(not 0.0 <= q <= 1.0 for q in qs):
            raise ValueError(f"quantiles must be between 0 and 1, not {list(qs)}")
        if self.count == 0:
            return tuple(None for _ in qs)
        sketch = self._ddsketch
        return tuple(float(sketch.get_quantile_value(q)) for q in qs)

    def to_ddsketch(self) -> Any:
        """Returns a ``ddsketch.BaseDDSketch`` holding these buckets (its count and quantiles; min/max/sum unknown)."""
        return self._ddsketch

    @cached_property
    def _ddsketch(self) -> Any:
        try:  # deferred: ddsketch is the optional [freshness] extra, needed only to answer quantiles
            from ddsketch.ddsketch import BaseDDSketch
            from ddsketch.mapping import LogarithmicMapping
            from ddsketch.store import DenseStore
        except ImportError:
            raise missing_extra("ddsketch", "computing quantiles of feature ages and fetch latencies") from None
        store = DenseStore()
        for index in np.flatnonzero(self.counts[1:]) + 1:
            store.add(self.layout.key(int(index)), float(self.counts[index]))
        mapping = LogarithmicMapping(self.layout.relative_accuracy)
        return BaseDDSketch(mapping=mapping, store=store, negative_store=DenseStore(), zero_count=float(self.counts[0]))
