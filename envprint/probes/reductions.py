"""Reductions: how numpy and Python add up many numbers (blocking, pairwise steps, compensation)."""

from __future__ import annotations

import functools
import math
import operator
import statistics

import numpy as np

from envprint.probes._base import Raw, builtin
from envprint.probes._inputs import splitmix64, uniform

__all__ = ["sum_numpy", "sum_python"]


@builtin(
    "sum_numpy",
    "reductions",
    "numpy's summation algorithm (pairwise blocking, buffered iteration): changed in numpy 2.3",
    heavy=True,
    repeat=False,
)
def sum_numpy() -> Raw:
    x = uniform(41, 100_000, np.float32, 0.0, 2.0)
    m = x.reshape(250, 400)
    return Raw(
        {
            "scalars": {"sum": np.sum(x), "mean": np.mean(x), "var": np.var(x)},
            "sum_f64": np.sum(x, dtype=np.float64),
            "axes": {"axis0": m.sum(axis=0), "axis1": m.sum(axis=1)},
        }
    )


@functools.cache
def _python_floats() -> tuple[float, ...]:
    # spread over 2^-16..2^15 so the order of additions matters; power-of-two scaling is exact
    mantissas = uniform(42, 2000, np.float64, -1.0, 2.0)
    exponents = (splitmix64(43, 2000) % np.uint64(32)).astype(np.int64) - 16
    return tuple(np.ldexp(mantissas, exponents).tolist())


@builtin(
    "sum_python",
    "reductions",
    "Python's float sum: sum() compensates from 3.12 on; fsum and fmean as references",
    repeat=False,
)
def sum_python() -> Raw:
    values = _python_floats()
    sums = {
        "sum": sum(values),
        "reduce_add": functools.reduce(operator.add, values),
        "fsum": math.fsum(values),
        "fmean": statistics.fmean(values),
    }
    return Raw({"sums": {k: np.array(v) for k, v in sums.items()}})
