"""compare(): exact ULP distances, normwise and block fractions, and what counts as categorical."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from envprint.model import Unavailable
from envprint.probes import compare, ulp_distance
from tests.probes.conftest import make_result


def f32(*values: float) -> np.ndarray:
    return np.array(values, np.float32)


def up(x: float, n: int, dtype: type = np.float32) -> float:
    """Returns x moved n representable values toward +inf in `dtype`."""
    v = dtype(x)
    for _ in range(n):
        v = np.nextafter(v, dtype(np.inf))
    return float(v)


# ------------------------------------------------------------------------------------ ulp_distance


def test_ulp_distance_counts_float32_and_float64_steps() -> None:
    assert ulp_distance(1.0, up(1.0, 1), "float32") == 1
    assert ulp_distance(1.0, up(1.0, 7), "float32") == 7
    assert ulp_distance(1.0, 1.0 + 3 * 2.0**-52, "float64") == 3
    # the same gap is 2^29 float64 steps: one float32 step holds 29 more mantissa bits
    assert ulp_distance(1.0, 1.0 + 2.0**-23, "float64") == 2**29


def test_ulp_distance_of_signed_zeros_is_zero_and_across_zero_adds_up() -> None:
    assert ulp_distance(0.0, -0.0, "float32") == 0
    smallest = float(np.float32(2.0**-149))
    assert ulp_distance(smallest, -smallest, "float32") == 2
    assert ulp_distance(1.0, -1.0, "float32") == 2 * 0x3F800000


def test_ulp_distance_of_complex_dtypes_counts_component_steps() -> None:
    assert ulp_distance(1.0, up(1.0, 2), "complex64") == 2


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_ulp_distance_to_the_next_float32_is_one(x: float) -> None:
    with np.errstate(over="ignore"):
        nxt = float(np.nextafter(np.float32(x), np.float32(np.inf)))
    if math.isfinite(nxt):
        assert ulp_distance(x, nxt, "float32") == (0 if x == nxt else 1)


# ----------------------------------------------------------------------------------------- compare


def test_identical_results_compare_identical_with_zero_magnitudes() -> None:
    a = make_result({"x": f32(1, 2, 3)}, {"ftz": False})
    c = compare(a, make_result({"x": f32(1, 2, 3)}, {"ftz": False}))
    assert (c.identical, c.comparable, c.categorical) == (True, True, False)
    assert (c.max_ulp, c.normwise, c.fraction) == (0, 0.0, 0.0)
    assert c.differing_outputs == () and dict(c.changed_flags) == {}


def test_float32_difference_reports_exact_ulps_and_normwise() -> None:
    a = make_result({"x": f32(1.0, 2.0, 4.0)})
    b = make_result({"x": f32(1.0, up(2.0, 5), 4.0)})
    c = compare(a, b)
    assert (c.identical, c.categorical) == (False, False)
    assert c.max_ulp == 5
    assert c.normwise == pytest.approx(5 * 2.0**-22 / 4.0, rel=1e-12)
    assert c.differing_outputs == ("x",)
    assert c.fraction == pytest.approx(1 / 3) and c.sample_fraction == pytest.approx(1 / 3)


def test_float64_difference_counts_float64_ulps() -> None:
    c = compare(make_result({"x": np.array([1.0, 3.0])}), make_result({"x": np.array([1.0, up(3.0, 9, np.float64)])}))
    assert c.max_ulp == 9


def test_comparison_is_symmetric() -> None:
    a, b = make_result({"x": f32(1.0, -2.0, 8.0)}), make_result({"x": f32(up(1.0, 3), -2.0, up(8.0, 1))})
    ab, ba = compare(a, b), compare(b, a)
    assert (ab.max_ulp, ab.fraction) == (3, 2 / 3)
    assert (ab.max_ulp, ab.normwise, ab.fraction) == (ba.max_ulp, ba.normwise, ba.fraction)


def test_float64_to_float32_dtype_change_is_categorical_and_counted_in_float32_ulps() -> None:
    a = make_result({"x": np.array([1.0 + 2.0**-22, 2.0])})
    b = make_result({"x": f32(1.0, 2.0)})
    o = compare(a, b).outputs["x"]
    assert o.categorical and o.reason == "dtype float64 -> float32"
    assert o.max_ulp == 2  # 2^-22 is two float32 steps above 1


def test_signed_zero_differs_in_bits_by_zero_ulps() -> None:
    c = compare(make_result({"x": f32(0.0, 1.0)}), make_result({"x": f32(-0.0, 1.0)}))
    assert (c.identical, c.categorical) == (False, False)
    assert (c.max_ulp, c.normwise) == (0, 0.0)
    assert c.outputs["x"].differing_samples == 1


def test_sign_change_of_a_significant_element_is_a_huge_ulp_distance() -> None:
    c = compare(make_result({"x": f32(1.0, 2.0)}), make_result({"x": f32(-1.0, 2.0)}))
    assert c.max_ulp == 2 * 0x3F800000
    assert c.normwise == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("old", "new"),
    [(1.0, math.nan), (math.inf, 3.0e38), (math.inf, -math.inf), (math.nan, math.inf)],
)
def test_nan_or_infinity_on_one_side_is_categorical_not_ulps(old: float, new: float) -> None:
    c = compare(make_result({"x": f32(old, 1.0)}), make_result({"x": f32(new, 1.0)}))
    assert c.categorical and c.max_ulp is None


def test_nan_on_both_sides_and_equal_infinities_compare_identical() -> None:
    c = compare(make_result({"x": f32(math.nan, math.inf)}), make_result({"x": f32(math.nan, math.inf)}))
    assert c.identical and c.max_ulp == 0


def test_max_abs_ignores_non_finite_elements() -> None:
    assert make_result({"x": f32(math.nan, -math.inf, -3.0, 2.0)}).outputs["x"].max_abs == "0x1.8p+1"


def test_cancelling_elements_count_for_normwise_but_not_ulps() -> None:
    a = make_result({"x": np.array([1000.0, 1e-6])})
    b = make_result({"x": np.array([1000.0, up(1e-6, 4, np.float64)])})
    c = compare(a, b)
    assert c.max_ulp == 0  # 1e-6 < 1e-3 * 1000: a cancelled sum, its ULPs mean nothing
    assert c.normwise is not None and 0 < c.normwise < 1e-18


def test_elementwise_outputs_count_ulps_on_every_element() -> None:
    a = make_result({"x": np.array([1000.0, 1e-6])}, elementwise={"x"})
    b = make_result({"x": np.array([1000.0, up(1e-6, 4, np.float64)])}, elementwise={"x"})
    assert compare(a, b).max_ulp == 4


def test_table_rows_are_measured_against_their_own_scale() -> None:
    rows = {"big": np.array([1e12, 2e12]), "small": np.array([1.0, 2.0])}
    moved = {"big": rows["big"], "small": np.array([1.0, up(2.0, 3, np.float64)])}
    o = compare(make_result({"t": rows}), make_result({"t": moved})).outputs["t"]
    assert o.max_ulp == 3 and dict(o.row_ulp) == {"small": 3}
    assert o.differing_blocks == ("small",) and o.blocks == 2
    assert o.normwise == pytest.approx(3 * 2.0**-51 / 2.0, rel=1e-9)


def test_difference_outside_the_samples_is_unsampled_with_a_block_fraction() -> None:
    x = np.arange(1, 1025, dtype=np.float64)
    y = x.copy()
    y[1] = up(y[1], 1, np.float64)  # samples sit at multiples of 32
    c = compare(make_result({"x": x}), make_result({"x": y}))
    assert not c.identical
    assert (c.max_ulp, c.normwise) == (None, None)
    assert c.unsampled_outputs == ("x",)
    assert c.fraction == pytest.approx(1 / 16) and c.sample_fraction == 0.0


def test_max_abs_change_bounds_normwise_from_below_even_when_unsampled() -> None:
    x = np.arange(1, 1025, dtype=np.float64)
    y = x.copy()
    y[1023] = 2048.0  # the largest element, not a sample
    c = compare(make_result({"x": x}), make_result({"x": y}))
    assert c.normwise == pytest.approx(1024 / 2048)
    assert c.unsampled_outputs == ()


def test_changed_and_missing_flags_are_categorical() -> None:
    a = make_result({"x": f32(1)}, {"ftz": False, "rounding": "nearest"})
    b = make_result({"x": f32(1)}, {"ftz": True, "first_lost_bit": 11, "rounding": "nearest"})
    c = compare(a, b)
    assert (c.identical, c.categorical) == (False, True)
    assert dict(c.changed_flags) == {"ftz": (False, True), "first_lost_bit": (Unavailable("absent"), 11)}
    assert c.differing_outputs == ()


def test_text_and_int_differences_are_categorical_and_located() -> None:
    a = make_result({"lines": ("a", "b", "c"), "ids": np.array([3, 1, 2])})
    b = make_result({"lines": ("a", "B", "c"), "ids": np.array([1, 3, 2])})
    c = compare(a, b)
    assert c.categorical and c.max_ulp is None
    assert c.outputs["lines"].differing_blocks == ("1",)
    assert c.outputs["ids"].differing_blocks == ("0", "1")


def test_shape_change_and_missing_output_are_categorical() -> None:
    c = compare(make_result({"x": f32(1, 2), "y": f32(1)}), make_result({"x": f32(1, 2, 3)}))
    assert c.outputs["x"].categorical and c.outputs["x"].reason == "shape (2,) -> (3,)"
    assert c.outputs["y"].categorical and c.outputs["y"].reason == "only in a"
    assert c.differing_outputs == ("x", "y")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "skipped", "reason": "time budget 1 s spent"}, "skipped in b: time budget 1 s spent"),
        ({"status": "failed", "reason": "ValueError: boom"}, "failed in b: ValueError: boom"),
        ({"version": 2}, "probe definition changed (version 1 vs 2)"),
    ],
)
def test_results_that_cannot_be_compared_say_why(change: dict[str, object], reason: str) -> None:
    a = make_result({"x": f32(1)})
    c = compare(a, dataclasses.replace(a, **change))
    assert (c.comparable, c.identical, c.reason) == (False, False, reason)
    assert (c.max_ulp, c.normwise, c.fraction) == (None, None, None)


@given(
    st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1, max_size=32),
    st.lists(st.integers(-3, 3), min_size=32, max_size=32),
)
def test_compare_finds_the_largest_step_of_a_fully_sampled_output_both_ways(
    values: list[float], steps: list[int]
) -> None:
    a = np.array(values, np.float32)
    with np.errstate(over="ignore"):
        b = np.array(
            [up(v, s) if s >= 0 else -up(-v, -s) for v, s in zip(values, steps[: len(values)], strict=True)], np.float32
        )
    if not np.all(np.isfinite(b)):
        return  # stepped past the largest float32: that case is categorical, tested above
    ra, rb = make_result({"x": a}, elementwise={"x"}), make_result({"x": b}, elementwise={"x"})
    expected = max(ulp_distance(float(x), float(y), "float32") for x, y in zip(a, b, strict=True))
    assert compare(ra, rb).max_ulp == compare(rb, ra).max_ulp == expected


def test_results_random_per_process_are_never_comparable_even_when_equal() -> None:
    a = make_result({"order": np.array([2, 0, 1])}, random_per_process=True)
    b = make_result({"order": np.array([0, 2, 1])}, random_per_process=True)
    assert compare(a, a).identical and not compare(a, a).comparable
    c = compare(a, b)
    assert (c.identical, c.comparable, c.categorical, c.differing_outputs) == (False, False, False, ())
    assert c.reason == "depends on a per-process random hash seed (PYTHONHASHSEED unset)"
