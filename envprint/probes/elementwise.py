"""Elementwise math: numpy's SIMD ufuncs, the C library's scalar functions, model activations."""

from __future__ import annotations

import ctypes
import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from envprint.probes._base import Raw, builtin
from envprint.probes._inputs import uniform
from envprint.probes.fpenv import libm

__all__ = ["activations", "libm_scalar", "ufunc_f32", "ufunc_f64"]

_N_UFUNC = 1024

Array = npt.NDArray[Any]


def _domains(dtype: Any, n: int, seed: int) -> dict[str, Array]:
    """Returns the input ranges: general [-8, 8), positive (0, 64], unit [-1, 1), wide [-128, 128), small (0, 4]."""
    step = 2.0 ** -(24 if dtype == np.float32 else 53)
    return {
        "g": uniform(seed, n, dtype, -8.0, 16.0),
        "g2": uniform(seed + 1, n, dtype, -8.0, 16.0),
        # grids shifted by one step: (0, 64] has no zero, so log stays finite; (0, 4] misses gamma's poles
        "pos": uniform(seed + 2, n, dtype, 64.0 * step, 64.0),
        "unit": uniform(seed + 3, n, dtype, -1.0, 2.0),
        "wide": uniform(seed + 4, n, dtype, -128.0, 256.0),
        "small": uniform(seed + 5, n, dtype, 4.0 * step, 4.0),
    }


# (label, function, argument domains); sqrt and reciprocal are correctly rounded: controls
_UFUNCS: tuple[tuple[str, Callable[..., Array], tuple[str, ...]], ...] = (
    ("exp", np.exp, ("g",)),
    ("log", np.log, ("pos",)),
    ("expm1", np.expm1, ("g",)),
    ("log1p", np.log1p, ("pos",)),
    ("sin", np.sin, ("wide",)),
    ("cos", np.cos, ("wide",)),
    ("tan", np.tan, ("g",)),
    ("tanh", np.tanh, ("g",)),
    ("arctan", np.arctan, ("g",)),
    ("arcsin", np.arcsin, ("unit",)),
    ("sinh", np.sinh, ("g",)),
    ("power", np.power, ("pos", "g")),
    ("cbrt", np.cbrt, ("g",)),
    ("exp2", np.exp2, ("g",)),
    ("log2", np.log2, ("pos",)),
    ("log10", np.log10, ("pos",)),
    ("arctan2", np.arctan2, ("g", "g2")),
    ("sqrt", np.sqrt, ("pos",)),
    ("reciprocal", np.reciprocal, ("g",)),
)


def _ufuncs(dtype: Any, seed: int) -> Raw:
    d = _domains(dtype, _N_UFUNC, seed)
    values = {label: fn(*(d[a] for a in args)) for label, fn, args in _UFUNCS}
    return Raw({"values": values}, elementwise=frozenset({"values"}))


@builtin(
    "ufunc_f32",
    "ufunc",
    "numpy's SIMD dispatch (AVX-512/AVX2/baseline, NPY_DISABLE_CPU_FEATURES) in float32 transcendental ufuncs",
    repeat=False,
)
def ufunc_f32() -> Raw:
    return _ufuncs(np.float32, 51)


@builtin(
    "ufunc_f64",
    "ufunc",
    "numpy's SIMD dispatch and version in float64 transcendental ufuncs (SVML, libm fallbacks)",
    repeat=False,
)
def ufunc_f64() -> Raw:
    return _ufuncs(np.float64, 61)


# math.* functions and their argument domains
_MATH: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("exp", ("g",)),
    ("log", ("pos",)),
    ("sin", ("wide",)),
    ("cos", ("wide",)),
    ("tan", ("g",)),
    ("tanh", ("g",)),
    ("atan", ("g",)),
    ("asin", ("unit",)),
    ("sinh", ("g",)),
    ("expm1", ("g",)),
    ("log1p", ("pos",)),
    ("erf", ("g",)),
    ("erfc", ("g",)),
    ("lgamma", ("pos",)),
    ("gamma", ("small",)),
    ("pow", ("pos", "g")),
    ("log2", ("pos",)),
    ("log10", ("pos",)),
)
_LIBM_F32 = ("expf", "logf", "sinf", "cosf", "tanf", "tanhf", "erff", "atanf", "log1pf", "expm1f", "cbrtf", "sinhf")
_LIBM_F32_DOMAIN = {"logf": "pos", "log1pf": "pos", "sinf": "wide", "cosf": "wide"}


@functools.cache
def _libm_f32() -> tuple[tuple[str, Callable[[float], float]], ...]:
    lib = libm()
    if lib is None:
        return ()
    functions = []
    for name in _LIBM_F32:
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
        functions.append((name, fn))
    return tuple(functions)


@builtin(
    "libm_scalar",
    "libm",
    "the C math library (glibc, musl, macOS; their versions) under math.* and numpy's scalar fallbacks",
    heavy=True,
    repeat=False,
)
def libm_scalar() -> Raw:
    d64 = {k: v.tolist() for k, v in _domains(np.float64, 64, 71).items()}
    table64 = {
        name: np.array([getattr(math, name)(*args) for args in zip(*(d64[a] for a in domains), strict=True)])
        for name, domains in _MATH
    }
    outputs: dict[str, Any] = {"math": table64}
    f32 = _libm_f32()
    if f32:
        d32 = {k: v.tolist() for k, v in _domains(np.float32, 32, 81).items()}
        outputs["libm_f32"] = {
            name: np.array([fn(x) for x in d32[_LIBM_F32_DOMAIN.get(name, "g")]], np.float32) for name, fn in f32
        }
    return Raw(outputs, {"libm_f32": bool(f32)}, elementwise=frozenset(outputs))


@builtin(
    "activations",
    "activations",
    "model-like float32 math: softmax, log-softmax, sigmoid, tanh-gelu, layernorm, argmax, top-5",
    heavy=True,
    repeat=False,
)
def activations() -> Raw:
    x = uniform(91, 8 * 256, np.float32, -8.0, 16.0).reshape(8, 256)
    f = np.float32
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    softmax = e / total
    log_softmax = shifted - np.log(total)
    sigmoid = f(1) / (f(1) + np.exp(-x))
    gelu = f(0.5) * x * (f(1) + np.tanh(f(math.sqrt(2 / math.pi)) * (x + f(0.044715) * x * x * x)))
    mean = x.mean(axis=1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
    layernorm = (x - mean) / np.sqrt(var + f(1e-5))
    floats = {"softmax": softmax, "log_softmax": log_softmax, "sigmoid": sigmoid, "gelu": gelu, "layernorm": layernorm}
    top5 = np.argsort(-softmax, axis=1, kind="stable")[:, :5]
    return Raw(
        {
            "values": {k: v.reshape(-1) for k, v in floats.items()},
            "indices": {"argmax": softmax.argmax(axis=1), "top5": top5.reshape(-1)},
        }
    )
