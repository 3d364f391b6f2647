"""The sketch: DDSketch's buckets in fixed arrays, quantiles answered by ddsketch within ±1 %."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ddsketch.mapping import LogarithmicMapping

from envprint.freshness.sketch import AGE, FETCH, RELATIVE_ACCURACY

QUANTILES = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999)


@pytest.fixture(scope="module")
def ages() -> np.ndarray:
    """Returns 1M ages in seconds spanning milliseconds to days (log-normal around 5 s)."""
    return np.random.default_rng(16).lognormal(mean=math.log(5.0), sigma=2.5, size=1_000_000).clip(2e-3, 3e6)


@pytest.mark.parametrize("q", QUANTILES)
def test_age_quantiles_are_within_the_stated_relative_error_of_numpy_on_1m_values(ages: np.ndarray, q: float) -> None:
    exact = float(np.quantile(ages, q, method="lower"))  # DDSketch's rank: floor(q·(n−1))
    estimate = AGE.sketch(ages).quantile(q)
    assert estimate is not None
    assert abs(estimate - exact) <= RELATIVE_ACCURACY * exact * (1 + 1e-9)


def test_fetch_quantiles_are_within_the_stated_relative_error_of_numpy_on_1m_values() -> None:
    latencies = np.random.default_rng(7).gamma(shape=2.0, scale=0.6, size=1_000_000) + 0.05
    sketch = FETCH.sketch(latencies)
    for q, estimate in zip(QUANTILES, sketch.quantiles(QUANTILES), strict=True):
        exact = float(np.quantile(latencies, q, method="lower"))
        assert estimate is not None
        assert abs(estimate - exact) <= RELATIVE_ACCURACY * exact * (1 + 1e-9), q


def test_bucket_keys_are_the_ddsketch_library_keys(ages: np.ndarray) -> None:
    mapping = LogarithmicMapping(RELATIVE_ACCURACY)
    sample = ages[:50_000]
    keys = [AGE.key(int(i)) for i in AGE.index(sample)]
    assert keys == [mapping.key(float(v)) for v in sample]


def test_bucket_boundaries_map_to_the_key_ddsketch_gives_them() -> None:
    mapping = LogarithmicMapping(RELATIVE_ACCURACY)
    for key in range(AGE.min_key + 1, AGE.min_key + 400):
        value = mapping.value(key)
        assert AGE.key(int(AGE.index(np.array([value]))[0])) == key


def test_merging_two_sketches_equals_the_sketch_of_all_values(ages: np.ndarray) -> None:
    a, b = AGE.sketch(ages[:300_000]), AGE.sketch(ages[300_000:])
    merged = a.merge(b)
    whole = AGE.sketch(ages)
    assert np.array_equal(merged.counts, whole.counts)
    assert merged.count == 1_000_000
    assert merged.total == pytest.approx(float(ages.sum()), rel=1e-12)
    assert merged.quantiles(QUANTILES) == whole.quantiles(QUANTILES)


def test_merging_sketches_of_different_layouts_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot merge"):
        AGE.sketch([1.0]).merge(FETCH.sketch([1.0]))


def test_values_at_or_below_the_low_end_read_as_zero() -> None:
    sketch = AGE.sketch([0.0, 0.0005, 0.001, 5.0])
    assert sketch.counts[0] == 3
    assert sketch.quantile(0.5) == 0
    assert sketch.quantile(1.0) == pytest.approx(5.0, rel=RELATIVE_ACCURACY)


def test_values_above_the_high_end_are_clamped_into_the_last_bucket_and_counted() -> None:
    sketch = AGE.sketch([1.0, 1e12])
    assert sketch.clamped == 1
    assert sketch.quantile(1.0) == pytest.approx(AGE.high, rel=2 * RELATIVE_ACCURACY)


def test_an_empty_sketch_has_no_quantiles_and_no_mean() -> None:
    sketch = AGE.empty()
    assert sketch.count == 0
    assert sketch.quantiles((0.5, 0.99)) == (None, None)
    assert sketch.mean is None


def test_memory_is_fixed_per_layout() -> None:
    assert AGE.size == 1384 and FETCH.size == 1038
    assert AGE.sketch(np.arange(1, 100_000, dtype=float)).counts.shape == (AGE.size,)


def test_quantiles_outside_0_and_1_are_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        AGE.sketch([1.0]).quantile(1.5)
