"""PyTorch probes: run only when the application has already imported torch.

They see ATen's kernels (MKL or OpenBLAS GEMM, SLEEF vector math at ATEN_CPU_CAPABILITY, oneDNN)
and torch's own switches (threads, set_flush_denormal, set_float32_matmul_precision). torch is
never imported here, and the probes compute on the CPU.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import numpy.typing as npt

from envprint.probes._base import Raw, builtin
from envprint.probes._inputs import f32_bits, uniform
from envprint.probes.blas import batch_flags, first_lost_bit, precision_inputs
from envprint.probes.tensorflow_ops import elementwise_inputs

__all__ = ["torch_conv", "torch_denormal", "torch_elementwise", "torch_matmul", "torch_precision", "torch_reduce"]


def _torch() -> Any:
    return sys.modules["torch"]


def _t(a: npt.NDArray[Any]) -> Any:
    # a writable copy: torch warns about (and may write to) read-only numpy buffers
    return _torch().from_numpy(np.array(a))


def _np(t: Any) -> npt.NDArray[Any]:
    return np.asarray(t.numpy())


def _matrix(seed: int, rows: int, cols: int, dtype: Any = np.float32) -> Any:
    return _t(uniform(seed, rows * cols, dtype, -1.0, 2.0).reshape(rows, cols))


@builtin(
    "torch_matmul",
    "torch",
    "torch matmul f32 256³ / f64 128³ (MKL_CBWR, threads, float32 matmul precision) and batch invariance",
    heavy=True,
    requires="torch",
)
def torch_matmul() -> Raw:
    c32 = _matrix(11, 256, 256) @ _matrix(12, 256, 256)
    c64 = _matrix(13, 128, 128, np.float64) @ _matrix(14, 128, 128, np.float64)
    w, x = _matrix(31, 256, 128), _matrix(32, 64, 256)
    rows = {"vector": _np(x[0] @ w)} | {f"batch{n}": _np((x[:n] @ w)[0]) for n in (1, 7, 64)}
    return Raw({"c_f32": _np(c32), "c_f64": _np(c64), "row0": rows}, batch_flags(rows))


@builtin(
    "torch_reduce", "torch", "torch.sum of 10^5 float32: intra-op threads split the sum", heavy=True, requires="torch"
)
def torch_reduce() -> Raw:
    x = _t(uniform(41, 100_000, np.float32, 0.0, 2.0))
    return Raw({"sum": _np(x.sum()), "axis0": _np(x.reshape(250, 400).sum(dim=0))})


@builtin("torch_conv", "torch", "torch conv2d 3×3 (oneDNN, MKL_CBWR)", heavy=True, requires="torch")
def torch_conv() -> Raw:
    image = _t(uniform(131, 8 * 16 * 16, np.float32, -1.0, 2.0).reshape(1, 8, 16, 16))
    kernel = _t(uniform(132, 8 * 8 * 3 * 3, np.float32, -1.0, 2.0).reshape(8, 8, 3, 3))
    return Raw({"out": _np(_torch().nn.functional.conv2d(image, kernel, padding=1))})


@builtin(
    "torch_elementwise",
    "torch",
    "torch exp/log/tanh/sigmoid/erf/gelu/sin/softmax (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA)",
    heavy=True,
    requires="torch",
)
def torch_elementwise() -> Raw:
    torch = _torch()
    g, pos, wide = (_t(a) for a in elementwise_inputs())
    gelu = torch.nn.functional.gelu
    values = {
        "exp": torch.exp(g),
        "log": torch.log(pos),
        "tanh": torch.tanh(g),
        "sigmoid": torch.sigmoid(g),
        "erf": torch.erf(g),
        "gelu": gelu(g),
        "gelu_tanh": gelu(g, approximate="tanh"),
        "sin": torch.sin(wide),
        "softmax": torch.softmax(g.reshape(8, 128), dim=1).reshape(-1),
    }
    return Raw({"values": {k: _np(v) for k, v in values.items()}})


@builtin(
    "torch_denormal",
    "torch",
    "whether torch ops flush subnormals (torch.set_flush_denormal(True) sets FTZ/DAZ for the whole thread)",
    heavy=True,
    requires="torch",
)
def torch_denormal() -> Raw:
    half = _np(_t(f32_bits(0x00800000)) * 0.5).view(np.uint32)
    scaled = _np(_t(f32_bits(1)) * 2.0**30).view(np.uint32)
    return Raw({"bits": np.concatenate([half, scaled])}, {"ftz": bool(half[0] == 0), "daz": bool(scaled[0] == 0)})


@builtin(
    "torch_precision",
    "torch",
    "torch float32 matmul in reduced precision (set_float32_matmul_precision, TF32, bf16): first bit lost",
    heavy=True,
    requires="torch",
)
def torch_precision() -> Raw:
    a, b = precision_inputs()
    column = _np(_t(a) @ _t(b))[:23, 0]
    return Raw({"column": column}, {"first_lost_bit": first_lost_bit(column)})
