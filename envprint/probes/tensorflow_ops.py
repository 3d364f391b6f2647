"""TensorFlow probes: run only when the application has already imported TensorFlow.

They see TensorFlow's own kernels (Eigen, oneDNN with TF_ENABLE_ONEDNN_OPTS, XLA when opted in),
which differ from numpy's on the same inputs. TensorFlow is never imported here: the probes use
the module already in sys.modules.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import numpy as np
import numpy.typing as npt

from envprint.probes._base import Raw, builtin
from envprint.probes._inputs import f32_bits, uniform
from envprint.probes.blas import batch_flags, first_lost_bit, precision_inputs

__all__ = ["tf_conv", "tf_denormal", "tf_elementwise", "tf_matmul", "tf_precision", "tf_reduce", "tf_xla"]


def _tf() -> Any:
    return sys.modules["tensorflow"]


def _np(t: Any) -> npt.NDArray[Any]:
    return np.asarray(t.numpy())


def _matrix(seed: int, rows: int, cols: int) -> npt.NDArray[np.float32]:
    return uniform(seed, rows * cols, np.float32, -1.0, 2.0).reshape(rows, cols)


@builtin(
    "tf_matmul",
    "tensorflow",
    "TensorFlow MatMul (oneDNN or Eigen) and whether its rows are batch-invariant",
    heavy=True,
    requires="tensorflow",
)
def tf_matmul() -> Raw:
    tf = _tf()
    c = tf.matmul(tf.constant(_matrix(11, 256, 256)), tf.constant(_matrix(12, 256, 256)))
    w, x = tf.constant(_matrix(31, 256, 128)), tf.constant(_matrix(32, 64, 256))
    rows = {f"batch{n}": _np(tf.matmul(x[:n], w)[0]) for n in (1, 7, 64)}
    return Raw({"c": _np(c), "row0": rows}, batch_flags(rows))


@builtin(
    "tf_reduce",
    "tensorflow",
    "TensorFlow reduce_sum of 10^5 float32 (its own reduction tree)",
    heavy=True,
    requires="tensorflow",
)
def tf_reduce() -> Raw:
    tf = _tf()
    x = tf.constant(uniform(41, 100_000, np.float32, 0.0, 2.0))
    m = tf.reshape(x, (250, 400))
    return Raw({"sum": _np(tf.reduce_sum(x)), "axis0": _np(tf.reduce_sum(m, axis=0))})


@builtin(
    "tf_conv",
    "tensorflow",
    "TensorFlow conv2d 3×3 NHWC (oneDNN or Eigen convolution)",
    heavy=True,
    requires="tensorflow",
)
def tf_conv() -> Raw:
    tf = _tf()
    image = uniform(131, 16 * 16 * 8, np.float32, -1.0, 2.0).reshape(1, 16, 16, 8)
    kernel = uniform(132, 3 * 3 * 8 * 8, np.float32, -1.0, 2.0).reshape(3, 3, 8, 8)
    return Raw({"out": _np(tf.nn.conv2d(image, kernel, strides=1, padding="SAME"))})


def elementwise_inputs() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Returns 1024 float32 inputs in [-8, 8), in (0, 64] and in [-128, 128) for framework elementwise probes."""
    return (
        uniform(141, 1024, np.float32, -8.0, 16.0),
        uniform(142, 1024, np.float32, 64.0 * 2.0**-24, 64.0),
        uniform(143, 1024, np.float32, -128.0, 256.0),
    )


def _tf_elementwise(tf: Any, g: Any, pos: Any, wide: Any) -> dict[str, Any]:
    return {
        "exp": tf.exp(g),
        "log": tf.math.log(pos),
        "tanh": tf.tanh(g),
        "sigmoid": tf.sigmoid(g),
        "erf": tf.math.erf(g),
        "gelu": tf.nn.gelu(g, approximate=False),
        "gelu_tanh": tf.nn.gelu(g, approximate=True),
        "sin": tf.sin(wide),
        "softmax": tf.reshape(tf.nn.softmax(tf.reshape(g, (8, 128))), (-1,)),
    }


@builtin(
    "tf_elementwise",
    "tensorflow",
    "TensorFlow exp/log/tanh/sigmoid/erf/gelu/sin/softmax (oneDNN, ONEDNN_MAX_CPU_ISA, Eigen vectorization)",
    heavy=True,
    requires="tensorflow",
)
def tf_elementwise() -> Raw:
    tf = _tf()
    values = _tf_elementwise(tf, *(tf.constant(a) for a in elementwise_inputs()))
    return Raw({"values": {k: _np(v) for k, v in values.items()}})


@builtin(
    "tf_denormal",
    "tensorflow",
    "whether TensorFlow ops flush subnormals (they do on CPU, whatever the caller's thread does) and parse text",
    heavy=True,
    requires="tensorflow",
)
def tf_denormal() -> Raw:
    tf = _tf()
    half = _np(tf.constant(f32_bits(0x00800000)) * tf.constant(np.float32(0.5))).view(np.uint32)
    scaled = _np(tf.constant(f32_bits(1)) * tf.constant(np.float32(2.0**30))).view(np.uint32)
    parsed = _np(tf.strings.to_number(["1.00000005960464477539062500001", "1e-45", "0.1"], tf.float32))
    return Raw(
        {"bits": np.concatenate([half, scaled]), "parsed": parsed},
        {"ftz": bool(half[0] == 0), "daz": bool(scaled[0] == 0)},
    )


@builtin(
    "tf_precision",
    "tensorflow",
    "TensorFlow float32 matmul in reduced precision (TF32 on Ampere+, oneDNN bf16): first mantissa bit lost",
    heavy=True,
    requires="tensorflow",
)
def tf_precision() -> Raw:
    tf = _tf()
    a, b = precision_inputs()
    column = _np(tf.matmul(tf.constant(a), tf.constant(b)))[:23, 0]
    return Raw({"column": column}, {"first_lost_bit": first_lost_bit(column)})


@functools.cache
def _xla_function(tf: Any) -> Any:
    """Returns the XLA-compiled probe function, traced and compiled once per process (~0.5 s)."""

    # inputs are arguments, not constants: constants would be folded by TF's own kernels
    @tf.function(jit_compile=True)  # type: ignore[untyped-decorator]
    def compiled(g: Any, pos: Any, wide: Any, x: Any, a: Any, b: Any) -> tuple[dict[str, Any], Any, Any]:
        return _tf_elementwise(tf, g, pos, wide), tf.reduce_sum(x), tf.matmul(a, b)

    return compiled


@builtin(
    "tf_xla",
    "tensorflow",
    "XLA-compiled kernels (jit_compile=True): own exp/tanh/erf approximations and reductions (150-450 ms)",
    heavy=True,
    requires="tensorflow",
    opt_in=True,
)
def tf_xla() -> Raw:
    tf = _tf()
    x = tf.constant(uniform(41, 100_000, np.float32, 0.0, 2.0))
    a, b = tf.constant(_matrix(11, 256, 256)), tf.constant(_matrix(12, 256, 256))
    values, total, c = _xla_function(tf)(*(tf.constant(v) for v in elementwise_inputs()), x, a, b)
    return Raw({"values": {k: _np(v) for k, v in values.items()}, "sum": _np(total), "c": _np(c)})
