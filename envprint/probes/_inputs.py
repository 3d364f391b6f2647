"""Deterministic probe inputs: the same bits on every host, every numpy version and every run.

Inputs never come from `np.random` (its streams may change between versions). They come from
splitmix64 over an integer range, whose uint64 wrap-around arithmetic is exact everywhere, and
become floats only through exact operations: an integer below 2^24 (float32) or 2^53 (float64)
converted to float, times a power of two, plus an offset that keeps every value representable.
Tricky values (subnormals, FMA witnesses) are built from bit patterns.
"""

from __future__ import annotations

import functools
import struct
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["f32_bits", "f64_bits", "py_float_from_bits", "splitmix64", "uniform"]

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_MANTISSA_BITS = {np.dtype(np.float32): 24, np.dtype(np.float64): 53}


def splitmix64(seed: int, n: int) -> npt.NDArray[np.uint64]:
    """Returns the first `n` outputs of splitmix64 started at state `seed` (Steele et al., 2014)."""
    with np.errstate(over="ignore"):
        z = np.arange(1, n + 1, dtype=np.uint64) * _GAMMA + np.uint64(seed)
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@functools.lru_cache(maxsize=64)
def uniform(seed: int, n: int, dtype: Any, lo: float, width: float) -> npt.NDArray[Any]:
    """Returns `n` read-only values lo + k·width·2^-p (0 <= k < 2^p, p = 24 or 53 mantissa bits).

    Every value is computed exactly when `width` is a power of two, `lo` is a multiple of the
    step width·2^-p and no value exceeds `width` in magnitude (e.g. lo = -width/2, or lo = one
    step for (0, width]): then the grid fits the mantissa and neither scaling nor shifting
    rounds. Cached: probes run twice and the suite runs often, and building 10^5 values costs
    more than most probes.
    """
    dt = np.dtype(dtype)
    bits = _MANTISSA_BITS[dt]
    k = (splitmix64(seed, n) >> np.uint64(64 - bits)).astype(np.int64)
    scale = dt.type(width * 2.0**-bits)
    out: npt.NDArray[Any] = k.astype(dt) * scale + dt.type(lo)
    out.setflags(write=False)
    return out


def f64_bits(bits: int) -> npt.NDArray[np.float64]:
    """Returns a one-element float64 array holding the IEEE bit pattern `bits`."""
    return np.array([bits], dtype=np.uint64).view(np.float64)


def f32_bits(bits: int) -> npt.NDArray[np.float32]:
    """Returns a one-element float32 array holding the IEEE bit pattern `bits`."""
    return np.array([bits], dtype=np.uint32).view(np.float32)


def py_float_from_bits(bits: int) -> float:
    """Returns the Python float with IEEE binary64 bit pattern `bits`, built without arithmetic."""
    value: float = struct.unpack("<d", bits.to_bytes(8, "little"))[0]
    return value
