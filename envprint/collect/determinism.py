"""Collects determinism flags, thread settings, seeds and the numeric state of imported frameworks.

Framework state is read only from frameworks already imported by the application (or imported on
request with ``envprint capture --import``): importing TensorFlow or torch here would cost seconds
and change the process being measured. Nothing is set, only read.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import sys
from collections.abc import Callable, Mapping
from typing import Any

from envprint._base import pending
from envprint.collect.variables import ALWAYS
from envprint.model import DeterminismInfo, Scalar, Unavailable
from envprint.privacy import redact_path, safe_value
from envprint.seeding import recorded_seeds


def collect(environ: Mapping[str, str] | None = None) -> DeterminismInfo:
    """Returns the determinism-relevant state of this process."""
    env = os.environ if environ is None else environ
    frameworks: dict[str, Mapping[str, Scalar]] = {}
    for name, reader in _FRAMEWORKS.items():
        if name in sys.modules:
            frameworks[name] = _read_framework(reader, sys.modules[name])
    return DeterminismInfo(
        variables={v: (safe_value(env[v]) if v in env else None) for v in ALWAYS},
        hash_randomization=bool(sys.flags.hash_randomization),
        seeds=recorded_seeds(),
        frameworks=frameworks,
        rng_state=_rng_digests(),
    )


def _rng_digests() -> dict[str, str]:
    out = {"random": hashlib.sha256(repr(random.getstate()).encode()).hexdigest()}
    np = sys.modules.get("numpy")
    if np is not None:
        try:
            _, keys, pos, has_gauss, cached = np.random.get_state()
            h = hashlib.sha256(keys.tobytes())
            h.update(repr((pos, has_gauss, cached)).encode())
            out["numpy"] = h.hexdigest()
        except Exception as e:  # a numpy without the legacy global RNG
            out["numpy"] = f"unavailable: {type(e).__name__}"
    return out


def _read_framework(reader: Callable[[Any], dict[str, Scalar]], module: Any) -> dict[str, Scalar]:
    try:
        return reader(module)
    except Exception as e:  # a framework version with different APIs must not break capture
        return {"error": Unavailable(redact_path(f"reading {module.__name__} state failed: {type(e).__name__}: {e}"))}


class _NotYet(RuntimeError):
    """The framework can answer only later in the process's life (its runtime is not initialised yet)."""


def _get(fn: Callable[[], Any], what: str) -> Scalar:
    """Returns fn() as a scalar, or Unavailable naming `what` when the framework cannot answer."""
    try:
        value = fn()
    except _NotYet as e:
        return pending(f"{what}: {e}")
    except Exception as e:  # framework APIs differ between versions
        return Unavailable(redact_path(f"{what}: {type(e).__name__}: {e}"))
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _tensorflow(tf: Any) -> dict[str, Scalar]:
    out: dict[str, Scalar] = {
        "version": _get(lambda: tf.__version__, "version"),
        "op_determinism": _get(_tf_op_determinism, "op determinism"),
        "tensor_float_32": _get(lambda: tf.config.experimental.tensor_float_32_execution_enabled(), "TF32"),
        "intra_op_threads": _get(lambda: tf.config.threading.get_intra_op_parallelism_threads(), "intra-op threads"),
        "inter_op_threads": _get(lambda: tf.config.threading.get_inter_op_parallelism_threads(), "inter-op threads"),
        "onednn_enabled": _get(_tf_onednn, "oneDNN state"),
        "global_seed": _get(_tf_global_seed, "global seed"),
        "visible_devices": _get(_tf_devices(tf), "visible devices"),
    }
    try:
        build: dict[str, Any] = dict(tf.sysconfig.get_build_info())
    except Exception as e:  # not every TF build ships build info
        build = {"error": Unavailable(f"build info: {type(e).__name__}: {e}")}
    for key in ("cuda_version", "cudnn_version", "is_cuda_build", "is_rocm_build", "is_tensorrt_build"):
        out[key] = build.get("error") or _get(functools.partial(build.get, key), key)
    keras = sys.modules.get("keras")
    if keras is not None:
        out["keras_version"] = _get(lambda: keras.__version__, "keras version")
        out["mixed_precision_policy"] = _get(lambda: keras.mixed_precision.global_policy().name, "policy")
    return out


def _tf_op_determinism() -> bool:
    # public only as a setter (tf.config.experimental.enable_op_determinism); the getter is internal
    from tensorflow.python.framework import config

    return bool(config.is_op_determinism_enabled())


def _tf_onednn() -> bool:
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def _tf_global_seed() -> int | None:
    from tensorflow.python.eager import context

    seed = context.global_seed()
    return None if seed is None else int(seed)


def _tf_devices(tf: Any) -> Callable[[], str]:
    def read() -> str:
        from tensorflow.python.eager import context

        # listing devices initialises the runtime (and GPU contexts); only read what already exists
        if not context.context()._context_handle:
            # envprint does not initialise it: the remedy of measured.pending says how to measure it
            raise _NotYet("TensorFlow runtime not initialised")
        return ",".join(sorted(d.name for d in tf.config.get_visible_devices()))

    return read


def _torch(torch: Any) -> dict[str, Scalar]:
    backends = torch.backends
    # every read sits in a lambda: attribute lookups themselves fail on some torch builds
    out: dict[str, Scalar] = {
        "version": _get(lambda: torch.__version__, "version"),
        "cuda_version": _get(lambda: torch.version.cuda, "CUDA version"),
        "cudnn_version": _get(lambda: backends.cudnn.version(), "cuDNN version"),
        "deterministic_algorithms": _get(lambda: torch.are_deterministic_algorithms_enabled(), "deterministic"),
        "deterministic_warn_only": _get(lambda: torch.is_deterministic_algorithms_warn_only_enabled(), "warn only"),
        "cudnn_deterministic": _get(lambda: backends.cudnn.deterministic, "cudnn.deterministic"),
        "cudnn_benchmark": _get(lambda: backends.cudnn.benchmark, "cudnn.benchmark"),
        "cudnn_allow_tf32": _get(lambda: backends.cudnn.allow_tf32, "cudnn.allow_tf32"),
        "matmul_allow_tf32": _get(lambda: backends.cuda.matmul.allow_tf32, "matmul.allow_tf32"),
        "float32_matmul_precision": _get(lambda: torch.get_float32_matmul_precision(), "float32 matmul precision"),
        "num_threads": _get(lambda: torch.get_num_threads(), "threads"),
        "num_interop_threads": _get(lambda: torch.get_num_interop_threads(), "inter-op threads"),
        "cpu_capability": _get(lambda: backends.cpu.get_cpu_capability(), "CPU capability"),
        "mkldnn_enabled": _get(lambda: backends.mkldnn.enabled, "mkldnn"),
        "cuda_initialized": _get(lambda: torch.cuda.is_initialized(), "CUDA initialised"),
    }
    return out


def _jax(jax: Any) -> dict[str, Scalar]:
    return {
        "version": _get(lambda: jax.__version__, "version"),
        "enable_x64": _get(lambda: jax.config.jax_enable_x64, "x64"),
        "default_matmul_precision": _get(lambda: jax.config.jax_default_matmul_precision, "matmul precision"),
    }


_FRAMEWORKS: dict[str, Callable[[Any], dict[str, Scalar]]] = {
    "tensorflow": _tensorflow,
    "torch": _torch,
    "jax": _jax,
}
