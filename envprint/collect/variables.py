"""The environment variables envprint records: exact names read by numeric libraries, and what each does.

Variables are recorded by exact name only, never by prefix: ``TF_*`` would also match Terraform's
``TF_VAR_db_pass``. Each known variable says who reads it and what it can change:

* ``results`` — selects kernels, precision, determinism or backends: it can change a model's numbers;
* ``threads`` — thread counts: reductions may be split differently, so float results can move at the
  ULP level in some libraries;
* ``placement`` — where threads run, how they wait, how memory is allocated: speed only;
* ``devices`` — which accelerators are visible: the devices themselves are compared in the gpu section;
* ``diagnostics`` — logging and debugging switches: never numbers.

`ALWAYS` are recorded whether set or not (unset is a setting too) in ``determinism.variables``; the
other known names are recorded in ``env`` when set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from envprint._base import Record, record

__all__ = ["ALWAYS", "KNOWN", "SPEED_ONLY", "THREAD_VARIABLES", "Effect", "Variable", "effect_of"]

Effect = Literal["results", "threads", "placement", "devices", "diagnostics"]


@record
class Variable(Record):
    """One environment variable a numeric library reads."""

    name: str
    reader: str  # who reads it: "OpenBLAS", "TensorFlow", ...
    effect: Effect
    note: str  # what it does, in a few words
    always: bool = False  # recorded even when unset (determinism.variables)


def _v(name: str, reader: str, effect: Effect, note: str, *, always: bool = False) -> Variable:
    return Variable(name, reader, effect, note, always)


_VARIABLES: tuple[Variable, ...] = (
    # determinism switches
    _v("TF_DETERMINISTIC_OPS", "TensorFlow", "results", "deterministic GPU kernels and reductions", always=True),
    _v("TF_CUDNN_DETERMINISTIC", "TensorFlow", "results", "deterministic cuDNN algorithms", always=True),
    _v("TF_CUDNN_USE_AUTOTUNE", "TensorFlow", "results", "cuDNN algorithm autotuning", always=True),
    _v("TF_ENABLE_ONEDNN_OPTS", "TensorFlow", "results", "oneDNN CPU kernels (other rounding)", always=True),
    _v("TF_XLA_FLAGS", "TensorFlow", "results", "XLA compilation and fusion", always=True),
    _v("XLA_FLAGS", "XLA", "results", "XLA compilation and fusion", always=True),
    _v("NVIDIA_TF32_OVERRIDE", "CUDA libraries", "results", "TF32 tensor-core math for float32", always=True),
    _v("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE", "torch", "results", "TF32 for cuBLAS float32 matmuls", always=True),
    _v("CUBLAS_WORKSPACE_CONFIG", "cuBLAS", "results", "deterministic cuBLAS workspaces", always=True),
    _v("CUDA_LAUNCH_BLOCKING", "CUDA runtime", "diagnostics", "synchronous kernel launches (debugging)", always=True),
    _v("PYTHONHASHSEED", "Python", "results", "str/bytes hash seed: set and dict iteration order", always=True),
    # thread counts
    _v("OMP_NUM_THREADS", "OpenMP runtimes", "threads", "OpenMP thread count", always=True),
    _v("MKL_NUM_THREADS", "MKL", "threads", "MKL thread count", always=True),
    _v("OPENBLAS_NUM_THREADS", "OpenBLAS", "threads", "OpenBLAS thread count", always=True),
    _v("GOTO_NUM_THREADS", "OpenBLAS", "threads", "OpenBLAS thread count (legacy name)", always=True),
    _v("BLIS_NUM_THREADS", "BLIS", "threads", "BLIS thread count", always=True),
    _v("VECLIB_MAXIMUM_THREADS", "Accelerate", "threads", "Accelerate thread count", always=True),
    _v("NUMEXPR_NUM_THREADS", "numexpr", "threads", "numexpr thread count", always=True),
    _v("NUMEXPR_MAX_THREADS", "numexpr", "threads", "numexpr thread pool size", always=True),
    _v("TF_NUM_INTRAOP_THREADS", "TensorFlow", "threads", "TensorFlow intra-op threads", always=True),
    _v("TF_NUM_INTEROP_THREADS", "TensorFlow", "threads", "TensorFlow inter-op threads", always=True),
    _v("OMP_DYNAMIC", "OpenMP runtimes", "threads", "dynamic adjustment of the thread count", always=True),
    _v("MKL_DYNAMIC", "MKL", "threads", "dynamic adjustment of MKL's thread count", always=True),
    # kernel and ISA selection
    _v("OPENBLAS_CORETYPE", "OpenBLAS", "results", "forces OpenBLAS's kernel (core type)", always=True),
    _v("OPENBLAS_L2_SIZE", "OpenBLAS", "results", "OpenBLAS's blocking (L2 size)", always=True),
    _v("MKL_CBWR", "MKL", "results", "MKL conditional numerical reproducibility (code path)", always=True),
    _v("MKL_ENABLE_INSTRUCTIONS", "MKL", "results", "caps MKL's instruction set", always=True),
    _v("MKL_DEBUG_CPU_TYPE", "MKL", "results", "forces MKL's CPU dispatch", always=True),
    _v("NPY_DISABLE_CPU_FEATURES", "numpy", "results", "disables numpy SIMD targets", always=True),
    _v("NPY_ENABLE_CPU_FEATURES", "numpy", "results", "limits numpy SIMD targets", always=True),
    _v("ONEDNN_MAX_CPU_ISA", "oneDNN", "results", "caps oneDNN's instruction set", always=True),
    _v("DNNL_MAX_CPU_ISA", "oneDNN", "results", "caps oneDNN's instruction set (legacy name)", always=True),
    _v("ONEDNN_DEFAULT_FPMATH_MODE", "oneDNN", "results", "implicit down-conversion (bf16, tf32)", always=True),
    _v("ATEN_CPU_CAPABILITY", "torch", "results", "caps torch's CPU kernels (AVX2, AVX512)", always=True),
    _v("KMP_DUPLICATE_LIB_OK", "Intel OpenMP", "diagnostics", "tolerates two OpenMP runtimes", always=True),
    # devices and framework selection
    _v("CUDA_VISIBLE_DEVICES", "CUDA runtime", "devices", "which GPUs the process sees", always=True),
    _v("KERAS_BACKEND", "Keras", "results", "Keras backend (TensorFlow, JAX, torch)", always=True),
    _v("TF_USE_LEGACY_KERAS", "TensorFlow", "results", "Keras 2 (tf-keras) instead of Keras 3", always=True),
    _v("JAX_ENABLE_X64", "JAX", "results", "64-bit floats in JAX", always=True),
    _v("JAX_DEFAULT_MATMUL_PRECISION", "JAX", "results", "JAX matmul precision", always=True),
    # recorded when set: numerics
    _v("ONEDNN_CPU_ISA_HINTS", "oneDNN", "results", "oneDNN ISA preferences"),
    _v("DNNL_DEFAULT_FPMATH_MODE", "oneDNN", "results", "implicit down-conversion (legacy name)"),
    _v("MKL_THREADING_LAYER", "MKL", "threads", "MKL's threading runtime"),
    _v("MKL_NUM_STRIPES", "MKL", "threads", "how MKL splits a matrix product"),
    _v("OMP_SCHEDULE", "OpenMP runtimes", "threads", "loop scheduling (partial-sum order)"),
    _v("OMP_THREAD_LIMIT", "OpenMP runtimes", "threads", "upper bound on OpenMP threads"),
    _v("OMP_MAX_ACTIVE_LEVELS", "OpenMP runtimes", "threads", "nested OpenMP parallelism"),
    _v("FLEXIBLAS", "FlexiBLAS", "results", "which BLAS FlexiBLAS loads"),
    _v("NPY_PROMOTION_STATE", "numpy 1.x", "results", "dtype promotion rules (NEP 50)"),
    _v("TF_ENABLE_AUTO_MIXED_PRECISION", "TensorFlow", "results", "automatic float16/bfloat16 rewrite"),
    _v("TF_ENABLE_AUTO_MIXED_PRECISION_GRAPH_REWRITE", "TensorFlow", "results", "automatic mixed precision"),
    _v("TF_ENABLE_CUBLAS_TENSOR_OP_MATH_FP32", "TensorFlow", "results", "tensor-core float32 matmuls"),
    _v("TF_ENABLE_CUDNN_TENSOR_OP_MATH_FP32", "TensorFlow", "results", "tensor-core float32 convolutions"),
    _v("TF_DISABLE_MKL", "TensorFlow", "results", "disables the MKL/oneDNN kernels"),
    _v("JAX_DEFAULT_DTYPE_BITS", "JAX", "results", "default float width"),
    _v("JAX_DISABLE_JIT", "JAX", "results", "eager execution (no fusion)"),
    _v("JAX_THREEFRY_PARTITIONABLE", "JAX", "results", "random-number stream layout"),
    _v("TORCH_CUDNN_V8_API_DISABLED", "torch", "results", "cuDNN v7 algorithm selection"),
    _v("PYTORCH_ENABLE_MPS_FALLBACK", "torch", "results", "CPU fallback for Apple GPU ops"),
    _v("NCCL_ALGO", "NCCL", "results", "all-reduce algorithm (summation order)"),
    _v("NCCL_PROTO", "NCCL", "results", "all-reduce protocol"),
    _v("LD_PRELOAD", "dynamic loader", "results", "libraries loaded first (-ffast-math libraries set FTZ)"),
    _v("PYTHONUTF8", "Python", "results", "UTF-8 mode: text encoding of files and pipes"),
    _v("PYTHONIOENCODING", "Python", "results", "encoding of stdin/stdout/stderr"),
    _v("PYTHONOPTIMIZE", "Python", "results", "removes asserts and __debug__ code"),
    _v("PYTHONINTMAXSTRDIGITS", "Python", "results", "limit of int/str conversions"),
    # recorded when set: devices
    _v("CUDA_DEVICE_ORDER", "CUDA runtime", "devices", "how GPUs are numbered"),
    _v("NVIDIA_VISIBLE_DEVICES", "NVIDIA container runtime", "devices", "which GPUs the container sees"),
    _v("JAX_PLATFORMS", "JAX", "devices", "which backends JAX uses"),
    _v("JAX_PLATFORM_NAME", "JAX", "devices", "JAX backend (legacy name)"),
    # recorded when set: placement (speed only)
    _v("OMP_PROC_BIND", "OpenMP runtimes", "placement", "pins threads to cores"),
    _v("OMP_PLACES", "OpenMP runtimes", "placement", "where threads may run"),
    _v("OMP_WAIT_POLICY", "OpenMP runtimes", "placement", "spin or sleep while waiting"),
    _v("OMP_STACKSIZE", "OpenMP runtimes", "placement", "thread stack size"),
    _v("KMP_AFFINITY", "Intel OpenMP", "placement", "pins threads to cores"),
    _v("KMP_BLOCKTIME", "Intel OpenMP", "placement", "spin time before a thread sleeps"),
    _v("KMP_HW_SUBSET", "Intel OpenMP", "placement", "which cores and threads to use"),
    _v("KMP_INIT_AT_FORK", "Intel OpenMP", "placement", "re-initialisation after fork"),
    _v("GOMP_CPU_AFFINITY", "GNU OpenMP", "placement", "pins threads to cores"),
    _v("GOMP_SPINCOUNT", "GNU OpenMP", "placement", "spin count before sleeping"),
    _v("OPENBLAS_MAIN_FREE", "OpenBLAS", "placement", "keeps the main thread free of pinning"),
    _v("TF_GPU_ALLOCATOR", "TensorFlow", "placement", "GPU memory allocator"),
    _v("TF_FORCE_GPU_ALLOW_GROWTH", "TensorFlow", "placement", "grow GPU memory on demand"),
    _v("TF_GPU_THREAD_MODE", "TensorFlow", "placement", "GPU launch threads"),
    _v("TF_GPU_THREAD_COUNT", "TensorFlow", "placement", "GPU launch threads"),
    _v("PYTORCH_CUDA_ALLOC_CONF", "torch", "placement", "CUDA caching allocator"),
    _v("PYTORCH_NO_CUDA_MEMORY_CACHING", "torch", "placement", "disables the CUDA caching allocator"),
    _v("CUDA_MODULE_LOADING", "CUDA runtime", "placement", "lazy module loading"),
    _v("XLA_PYTHON_CLIENT_PREALLOCATE", "JAX", "placement", "GPU memory preallocation"),
    _v("XLA_PYTHON_CLIENT_MEM_FRACTION", "JAX", "placement", "GPU memory fraction"),
    _v("XLA_PYTHON_CLIENT_ALLOCATOR", "JAX", "placement", "GPU memory allocator"),
    _v("NCCL_P2P_DISABLE", "NCCL", "placement", "peer-to-peer transport"),
    _v("NCCL_IB_DISABLE", "NCCL", "placement", "InfiniBand transport"),
    _v("NCCL_SOCKET_IFNAME", "NCCL", "placement", "network interface"),
    _v("CUDA_CACHE_PATH", "CUDA driver", "placement", "where JIT-compiled kernels are cached"),
    _v("CUDA_CACHE_DISABLE", "CUDA driver", "placement", "disables the JIT kernel cache"),
    _v("CUDA_CACHE_MAXSIZE", "CUDA driver", "placement", "size of the JIT kernel cache"),
    _v("TOKENIZERS_PARALLELISM", "Hugging Face tokenizers", "placement", "parallel tokenization"),
    # recorded when set: diagnostics (never numbers)
    _v("TF_CPP_MIN_LOG_LEVEL", "TensorFlow", "diagnostics", "C++ log verbosity"),
    _v("TF_CPP_MAX_VLOG_LEVEL", "TensorFlow", "diagnostics", "C++ log verbosity"),
    _v("TF_CPP_VMODULE", "TensorFlow", "diagnostics", "per-module log verbosity"),
    _v("ONEDNN_VERBOSE", "oneDNN", "diagnostics", "kernel logging"),
    _v("DNNL_VERBOSE", "oneDNN", "diagnostics", "kernel logging (legacy name)"),
    _v("MKL_VERBOSE", "MKL", "diagnostics", "call logging"),
    _v("OPENBLAS_VERBOSE", "OpenBLAS", "diagnostics", "kernel selection logging"),
    _v("OMP_DISPLAY_ENV", "OpenMP runtimes", "diagnostics", "prints the OpenMP settings"),
    _v("KMP_SETTINGS", "Intel OpenMP", "diagnostics", "prints the OpenMP settings"),
    _v("KMP_WARNINGS", "Intel OpenMP", "diagnostics", "runtime warnings"),
    _v("NCCL_DEBUG", "NCCL", "diagnostics", "logging"),
    _v("TORCH_SHOW_CPP_STACKTRACES", "torch", "diagnostics", "C++ stack traces"),
    _v("TORCH_LOGS", "torch", "diagnostics", "logging"),
    _v("TORCH_USE_CUDA_DSA", "torch", "diagnostics", "device-side assertions"),
    _v("JAX_TRACEBACK_FILTERING", "JAX", "diagnostics", "traceback filtering"),
    _v("PYTHONWARNINGS", "Python", "diagnostics", "warning filters"),
    _v("PYTHONFAULTHANDLER", "Python", "diagnostics", "fault handler"),
    # Hugging Face: where model files come from (the artifact binding checks what they are), and the
    # transformers switches that pick other kernels
    _v("HF_HUB_OFFLINE", "huggingface_hub", "placement", "no Hub calls: model files come from the local cache"),
    _v("TRANSFORMERS_OFFLINE", "transformers", "placement", "no Hub calls (the older name of HF_HUB_OFFLINE)"),
    _v("TRANSFORMERS_SDPA_FORCE_GQA", "transformers", "results", "grouped-query attention forced in SDPA"),
    _v("TRANSFORMERS_DISABLE_DEEPGEMM_LINEAR", "transformers", "results", "FP8 linear layers without DeepGEMM"),
    _v("USE_TORCH_XLA", "transformers", "results", "PyTorch models run through torch_xla when it is installed"),
)

#: every recorded variable, by name
KNOWN: Mapping[str, Variable] = {v.name: v for v in _VARIABLES}
#: the variables recorded whether set or not, in determinism.variables
ALWAYS: tuple[str, ...] = tuple(v.name for v in _VARIABLES if v.always)
#: the variables that set thread counts
THREAD_VARIABLES = frozenset(v.name for v in _VARIABLES if v.effect == "threads")
#: effects that change speed or messages, never a model's numbers
SPEED_ONLY: frozenset[Effect] = frozenset({"placement", "diagnostics"})


def effect_of(name: str) -> Effect | None:
    """Returns what variable `name` can change, None when envprint does not record it."""
    known = KNOWN.get(name)
    return None if known is None else known.effect
