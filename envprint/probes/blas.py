"""BLAS probes: which kernel family, whether BLAS threads split a sum, whether products are batch-invariant.

One product, and only one, runs on the BLAS thread pool: `blas_threads`' dot product of 2^15
float64 elements, which OpenBLAS splits across its threads above 10 000 elements, so the split
(the configured thread count) shows in its bits. Every other product stays below OpenBLAS's
threading thresholds (M·N·K under 2·4·65536 for a GEMM, 10 000 elements for a dot product) and
runs on the calling thread. On a busy machine each threaded call waits for a worker thread to get
a core (OpenBLAS workers spin with sched_yield); one threaded product, run after every other
probe, pays that wait once per capture instead of once per probe (docs/probes.md#contention).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from envprint.probes._base import Raw, builtin
from envprint.probes._inputs import f32_bits, f64_bits, uniform

__all__ = [
    "batch_invariance",
    "blas_dot",
    "blas_fma",
    "blas_gemm_f32",
    "blas_gemm_f64",
    "blas_gemm_small",
    "blas_gemv",
    "blas_threads",
    "matmul_precision",
]


def _matrix(seed: int, rows: int, cols: int, dtype: Any = np.float32) -> npt.NDArray[Any]:
    return uniform(seed, rows * cols, dtype, -1.0, 2.0).reshape(rows, cols)


# x = 1 + 2^-27 (f64) and 1 + 2^-13 (f32): x*x needs one bit more than the format holds, so
# x*x + (-x)*x is 0 with separate multiply and add, and -/+ the lost bit (2^-54, 2^-26) when
# the kernel fuses one product into the other's sum; the sign tells the accumulation order.
_WITNESS = {"f64": (f64_bits(0x3FF0000002000000)[0], 2.0**-54), "f32": (f32_bits(0x3F800400)[0], 2.0**-26)}


def _fma_values(x: np.floating[Any]) -> list[np.floating[Any]]:
    dt = x.dtype
    a = np.zeros((4, 16), dt)
    a[:, 0], a[:, 8] = x, -x
    b = np.zeros((16, 4), dt)
    b[0, :] = b[8, :] = x
    k2a, k2b = np.tile(np.array([x, -x], dt), (4, 1)), np.full((2, 4), x, dt)
    one_a, one_b = np.array([[x, -x]], dt), np.array([[x], [x]], dt)
    u, v = np.zeros(128, dt), np.zeros(128, dt)
    u[0], u[64], v[0], v[64] = x, -x, x, x
    return [(a @ b)[0, 0], (k2a @ k2b)[0, 0], (one_a @ one_b)[0, 0], np.dot(u, v)]


def _sign(value: float | np.floating[Any], lost: float) -> str:
    return {0.0: "0", lost: "+", -lost: "-"}.get(float(value), "?")


@builtin(
    "blas_fma",
    "blas",
    "the BLAS kernel family: whether GEMM/dot fuse multiply-add and in which order they accumulate",
)
def blas_fma() -> Raw:
    flags: dict[str, Any] = {}
    for name, (x, lost) in _WITNESS.items():
        flags[f"fma_signature_{name}"] = ",".join(_sign(v, lost) for v in _fma_values(x))
    x, lost = _WITNESS["f64"]
    pair, ones = np.array([x, -x]), np.array([x, x])
    # numpy's own loops never fuse: a non-zero control means the witness itself is broken
    flags["fma_control"] = ",".join(_sign(v, lost) for v in (np.einsum("i,i->", pair, ones), (pair * ones).sum()))
    flags["fma"] = any(s in flags[f"fma_signature_{n}"] for n in _WITNESS for s in "+-")
    # the witnesses are 0 or one lost bit: a category, not a magnitude, so the output is the signs
    signs = {k: v for k, v in flags.items() if k.startswith("fma_")}
    return Raw({"signs": tuple(f"{k} {v}" for k, v in signs.items())}, flags)


#: M = N = K of the GEMM probes: 64³ multiply-adds stay on the calling thread in OpenBLAS
_GEMM = 64


@builtin(
    "blas_gemm_f32",
    "blas",
    "SGEMM 64³ on the calling thread: the BLAS kernel (OpenBLAS core type, MKL branch, vendor)",
    heavy=True,
    version=2,
)
def blas_gemm_f32() -> Raw:
    return Raw({"c": _matrix(11, _GEMM, _GEMM) @ _matrix(12, _GEMM, _GEMM)})


@builtin(
    "blas_gemm_f64",
    "blas",
    "DGEMM 64³ on the calling thread: kernels without FMA, MKL reproducibility mode",
    heavy=True,
    version=2,
)
def blas_gemm_f64() -> Raw:
    return Raw({"c": _matrix(13, _GEMM, _GEMM, np.float64) @ _matrix(14, _GEMM, _GEMM, np.float64)})


@builtin("blas_gemm_small", "blas", "small-matrix GEMM kernels (8³, 16³, 5×3×7), which skip the blocked path")
def blas_gemm_small() -> Raw:
    table = {}
    for seed, (m, k, n) in enumerate(((8, 8, 8), (16, 16, 16), (5, 3, 7)), start=15):
        table[f"{m}x{k}x{n}"] = (_matrix(seed, m, k) @ _matrix(seed + 10, k, n)).reshape(-1)
    return Raw({"c": table})


@builtin(
    "blas_dot",
    "blas",
    "dot products of 8192 elements on the calling thread: the kernel's accumulators; misaligned input",
    heavy=True,
    version=2,
)
def blas_dot() -> Raw:
    n = 8192
    x32, y32 = uniform(21, n + 1, np.float32, -1.0, 2.0), uniform(22, n + 1, np.float32, -1.0, 2.0)
    x64, y64 = uniform(27, n, np.float64, -1.0, 2.0), uniform(28, n, np.float64, -1.0, 2.0)
    sdot = {"aligned": np.dot(x32[:n], y32[:n]), "offset1": np.dot(x32[1:], y32[1:])}
    return Raw({"sdot": sdot, "ddot": np.dot(x64, y64)})


@builtin(
    "blas_threads",
    "blas",
    "a float64 dot product of 2^15 elements that BLAS threads split: the configured thread count",
    heavy=True,
    threaded=True,
)
def blas_threads() -> Raw:
    n = 1 << 15
    return Raw({"ddot": np.dot(uniform(23, n, np.float64, -1.0, 2.0), uniform(24, n, np.float64, -1.0, 2.0))})


@builtin(
    "blas_gemv",
    "blas",
    "GEMV 64×128 (A@v and A.T@u) on the calling thread: the kernel family on matrix-vector products",
    heavy=True,
    version=2,
)
def blas_gemv() -> Raw:
    a, v, u = _matrix(25, 64, 128), uniform(26, 128, np.float32, -1.0, 2.0), uniform(29, 64, np.float32, -1.0, 2.0)
    return Raw({"gemv": {"a_v": a @ v, "at_u": a.T @ u}})


@builtin(
    "batch_invariance",
    "blas",
    "whether a row's result depends on the batch it is computed in (serving batch size alone changes bits)",
    version=2,
)
def batch_invariance() -> Raw:
    # the batch-64 GEMM is 64·128·32 multiply-adds: on the calling thread, like the smaller batches
    w, x = _matrix(31, 128, 32), _matrix(32, 64, 128)
    rows = {"vector": x[0] @ w, "batch1": (x[:1] @ w)[0], "batch7": (x[:7] @ w)[0], "batch64": (x @ w)[0]}
    return Raw({"row0": rows}, batch_flags(rows))


def batch_flags(rows: dict[str, npt.NDArray[Any]]) -> dict[str, bool | str]:
    """Returns `batch_invariant` and `batch_classes`: which ways of computing row 0 agree bit for bit."""
    seen: dict[bytes, str] = {}
    classes = []
    for name, row in rows.items():
        cls = seen.setdefault(np.ascontiguousarray(row).tobytes(), "abcdefgh"[len(seen)])
        classes.append(f"{name}={cls}")
    return {"batch_invariant": len(seen) == 1, "batch_classes": " ".join(classes)}


def precision_inputs() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Returns A, B (64×64 float32) with A[k-1, 0] = 1 + 2^-k (k = 1..23), B[0, :] = 1, so (A@B)[:, 0] = A[:, 0]."""
    a = np.zeros((64, 64), np.float32)
    a[:, 0] = 1.0
    a[:23, 0] = np.array([0x3F800000 | (1 << (23 - k)) for k in range(1, 24)], np.uint32).view(np.float32)
    b = np.zeros((64, 64), np.float32)
    b[0, :] = 1.0
    return a, b


def first_lost_bit(column: npt.NDArray[Any]) -> int | None:
    """Returns the first k (1..23) whose 1 + 2^-k did not survive a float32 matmul, or None.

    TF32 and fp16 keep 10 mantissa bits (first lost: 11), bf16 keeps 7 (first lost: 8).
    """
    bits = np.asarray(column, np.float32).view(np.uint32)
    for k in range(1, 24):
        if bits[k - 1] != 0x3F800000 | (1 << (23 - k)):
            return k
    return None


@builtin(
    "matmul_precision",
    "blas",
    "float32 matmul computed in reduced precision (TF32, bf16, fp16): the first mantissa bit lost",
)
def matmul_precision() -> Raw:
    a, b = precision_inputs()
    column = (a @ b)[:23, 0]
    return Raw({"column": column}, {"first_lost_bit": first_lost_bit(column)})
