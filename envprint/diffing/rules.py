"""The rule table: for every field path, the finding kind, its severity and how its title names it.

First match wins: specific globs come before the entry-level ones they would also match. Variables
and framework fields are classified by name (`VARIABLES`, `FRAMEWORK_FIELDS`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeAlias

from envprint.collect.variables import THREAD_VARIABLES
from envprint.diffing.packages import version_change
from envprint.diffing.values import CRIT, INFO, WARN
from envprint.report import Severity

#: a float probe difference whose normwise relative difference (max |a-b| / max |x|) exceeds this is
#: more than rounding and is critical: reordered float32 sums and other kernels measured 1e-7..6e-7,
#: float64 ones 1e-16..2e-14, while TF32 or fp16 (2^-11 ≈ 4.9e-4) and bf16 (2^-8 ≈ 3.9e-3) exceed it.
#: At or below it (or when only ULP counts are known) a float difference is a warning.
NORMWISE_CRITICAL = 1e-4

#: probe flags whose change is a ULP-level effect, not a categorical one: which batch sizes give a
#: row bit-identical results moves with the kernel and thread count (the rows differ by ~1e-7)
ULP_LEVEL_FLAGS = frozenset({"batch_classes", "batch_invariant"})

#: descriptive fields that differ between any two captures by construction; never compared
BOOKKEEPING = frozenset({"meta.created", "meta.pid", "meta.timings", "memory.available_bytes"})

SeverityRule: TypeAlias = "Severity | Callable[[Any, Any], Severity]"


class Rule(NamedTuple):
    """How to report a difference at a path: its kind, severity and how to name it in a title."""

    glob: str  # dotted path; "*" matches one or more characters (dots included) and is captured
    kind: str
    severity: SeverityRule
    what: str  # title label; "{0}", "{1}" are the glob's captures
    none: str = "none"  # how None reads in a title ("unset" for variables)


def _by_level(major: Severity, minor: Severity, rest: Severity) -> Callable[[Any, Any], Severity]:
    """Returns a severity rule for version strings: `major` for a major (or unparsable) change, and so on."""

    def severity(old: Any, new: Any) -> Severity:
        if not (isinstance(old, str) and isinstance(new, str)):
            return major
        level = version_change(old, new)
        if level in ("major", "unparsed"):
            return major
        if level == "minor":
            return minor
        return Severity.info if level == "equivalent" else rest

    return severity


def _blind_spot(old: Any, new: Any) -> Severity:
    """A framework the reference imported and the other side did not capture is a warning (a blind spot)."""
    return WARN if old is not None and new is None else INFO


def _blas_library(old: Any, new: Any) -> Severity:
    entry = old if isinstance(old, Mapping) else new
    return Severity.critical if isinstance(entry, Mapping) and entry.get("user_api") == "blas" else Severity.warning


#: determinism.variables: name -> (kind, severity); THREAD_VARIABLES and unknown names follow below
VARIABLES: dict[str, tuple[str, Severity]] = {
    "PYTHONHASHSEED": ("determinism.hash_seed", CRIT),
    "NPY_DISABLE_CPU_FEATURES": ("determinism.kernel", CRIT),  # moves argsort tie order
    "NPY_ENABLE_CPU_FEATURES": ("determinism.kernel", CRIT),
    "OPENBLAS_CORETYPE": ("determinism.kernel", WARN),
    "OPENBLAS_L2_SIZE": ("determinism.kernel", WARN),
    "MKL_CBWR": ("determinism.kernel", WARN),
    "MKL_ENABLE_INSTRUCTIONS": ("determinism.kernel", WARN),
    "MKL_DEBUG_CPU_TYPE": ("determinism.kernel", WARN),
    "ONEDNN_MAX_CPU_ISA": ("determinism.kernel", WARN),
    "DNNL_MAX_CPU_ISA": ("determinism.kernel", WARN),
    "ATEN_CPU_CAPABILITY": ("determinism.kernel", WARN),
    "TF_ENABLE_ONEDNN_OPTS": ("determinism.kernel", WARN),
    "NVIDIA_TF32_OVERRIDE": ("determinism.precision", CRIT),
    "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE": ("determinism.precision", CRIT),
    "ONEDNN_DEFAULT_FPMATH_MODE": ("determinism.precision", CRIT),
    "JAX_DEFAULT_MATMUL_PRECISION": ("determinism.precision", CRIT),
    "TF_DETERMINISTIC_OPS": ("determinism.flag", WARN),
    "TF_CUDNN_DETERMINISTIC": ("determinism.flag", WARN),
    "TF_CUDNN_USE_AUTOTUNE": ("determinism.flag", WARN),
    "CUBLAS_WORKSPACE_CONFIG": ("determinism.flag", WARN),
    "TF_XLA_FLAGS": ("determinism.flag", WARN),
    "XLA_FLAGS": ("determinism.flag", WARN),
    "CUDA_LAUNCH_BLOCKING": ("determinism.flag", INFO),
    "KMP_DUPLICATE_LIB_OK": ("determinism.flag", INFO),
    "KERAS_BACKEND": ("determinism.backend", CRIT),
    "JAX_ENABLE_X64": ("determinism.backend", CRIT),
    "TF_USE_LEGACY_KERAS": ("determinism.backend", WARN),
    "CUDA_VISIBLE_DEVICES": ("determinism.backend", WARN),
}

#: determinism.frameworks.<framework>.<field>: field -> (kind, severity)
FRAMEWORK_FIELDS: dict[str, tuple[str, Severity]] = {
    "version": ("framework.version", INFO),  # the package finding carries the severity
    "keras_version": ("framework.version", INFO),
    "op_determinism": ("framework.determinism", WARN),
    "deterministic_algorithms": ("framework.determinism", WARN),
    "deterministic_warn_only": ("framework.determinism", WARN),
    "cudnn_deterministic": ("framework.determinism", WARN),
    "cudnn_benchmark": ("framework.determinism", WARN),
    "tensor_float_32": ("framework.precision", CRIT),
    "cudnn_allow_tf32": ("framework.precision", CRIT),
    "matmul_allow_tf32": ("framework.precision", CRIT),
    "float32_matmul_precision": ("framework.precision", CRIT),
    "mixed_precision_policy": ("framework.precision", CRIT),
    "default_matmul_precision": ("framework.precision", CRIT),
    "enable_x64": ("framework.precision", CRIT),
    "onednn_enabled": ("framework.kernel", WARN),
    "mkldnn_enabled": ("framework.kernel", WARN),
    "cpu_capability": ("framework.kernel", WARN),
    "intra_op_threads": ("framework.threads", WARN),
    "inter_op_threads": ("framework.threads", WARN),
    "num_threads": ("framework.threads", WARN),
    "num_interop_threads": ("framework.threads", WARN),
    "cuda_version": ("framework.cuda", CRIT),
    "cudnn_version": ("framework.cuda", CRIT),
    "is_cuda_build": ("framework.cuda", CRIT),
    "is_rocm_build": ("framework.cuda", CRIT),
    "is_tensorrt_build": ("framework.cuda", CRIT),
    "global_seed": ("determinism.seed", WARN),
    "visible_devices": ("framework.devices", WARN),
    "cuda_initialized": ("framework.devices", INFO),
}

#: locale categories whose change moves parsing, formatting or collation; LC_CTYPE and LC_MESSAGES below
LOCALE_SEVERITY = {"LC_CTYPE": WARN, "LC_MESSAGES": INFO}

#: version fields whose titles name the level of the change ("(minor)")
VERSIONED = frozenset({"python.version", "gpu.driver_version", "gpu.cuda_driver_version", "platform.libc_version"})

#: fields derived from another compared field: info, identity=False, left out of identity_projection
DERIVED = frozenset(
    {
        "cpu.numpy_simd.not_found",
        "cpu.numpy_simd.dispatch",  # properties of the numpy build: its package finding carries them
        "cpu.numpy_simd.baseline",
        "locale_time.tzname",
        "locale_time.std_offset_seconds",
    }
)

# First match wins: specific globs before the entry-level ones they would also match.
RULES: tuple[Rule, ...] = (
    Rule("meta.schema_version", "meta.schema", INFO, "schema version"),
    # python
    Rule("python.version", "python.version", _by_level(CRIT, CRIT, WARN), "Python"),
    Rule("python.implementation", "python.implementation", CRIT, "Python implementation"),
    Rule("python.hash_algorithm", "python.hash_algorithm", CRIT, "str/bytes hash algorithm"),
    Rule("python.unicode_version", "python.unicode", WARN, "Unicode database"),
    Rule("python.byteorder", "platform.machine", CRIT, "byte order"),
    Rule("python.float_repr_style", "python.build", CRIT, "float repr style"),
    Rule("python.build", "python.build", INFO, "Python build"),
    Rule("python.*", "python.build", WARN, "Python {0}"),
    Rule("imported.*", "module.imported", INFO, "module {0}", none="no __version__"),
    # platform
    Rule("platform.system", "platform.machine", CRIT, "OS family"),
    Rule("platform.machine", "platform.machine", CRIT, "machine architecture"),
    Rule("platform.libc", "platform.libc", CRIT, "C library"),
    Rule("platform.libc_version", "platform.libc", _by_level(WARN, WARN, WARN), "C library version"),
    Rule("platform.kernel", "platform.kernel", INFO, "kernel"),
    Rule("platform.*", "platform.os", INFO, "OS {0}"),
    # cpu
    Rule("cpu.machine", "platform.machine", CRIT, "CPU architecture"),
    Rule("cpu.stepping", "cpu.model", INFO, "CPU stepping"),
    Rule("cpu.vendor", "cpu.model", WARN, "CPU vendor"),
    Rule("cpu.model_name", "cpu.model", WARN, "CPU model"),
    Rule("cpu.family", "cpu.model", WARN, "CPU family"),
    Rule("cpu.model", "cpu.model", WARN, "CPU model number"),
    Rule("cpu.microarchitecture", "cpu.model", WARN, "CPU microarchitecture"),
    Rule("cpu.isa_level", "cpu.isa", WARN, "ISA level"),
    Rule("cpu.flags", "cpu.isa", WARN, "CPU ISA flags"),
    Rule("cpu.numpy_simd.found", "cpu.numpy_simd", CRIT, "numpy SIMD targets found"),
    Rule("cpu.numpy_simd.not_found", "cpu.numpy_simd", INFO, "numpy SIMD targets not found"),
    Rule("cpu.numpy_simd.*", "cpu.numpy_simd", WARN, "numpy SIMD {0}"),
    Rule("cpu.physical_cores", "cpu.cores", INFO, "physical cores"),
    Rule("cpu.logical_cores", "cpu.cores", WARN, "logical CPUs"),
    Rule("cpu.affinity", "cpu.cores", WARN, "CPUs in the affinity mask"),
    Rule("cpu.cgroup_quota", "cpu.cores", WARN, "cgroup CPU quota", none="unlimited"),
    Rule("cpu.hypervisor", "cpu.hypervisor", INFO, "hypervisor"),
    Rule("cpu.cache.*", "cpu.cache", INFO, "CPU {0} cache"),
    # gpu
    Rule("gpu.driver_version", "gpu.driver", _by_level(CRIT, WARN, WARN), "GPU driver"),
    Rule("gpu.cuda_driver_version", "gpu.cuda", _by_level(CRIT, WARN, WARN), "CUDA driver API"),
    Rule("gpu.nvml_version", "gpu.nvml", INFO, "NVML"),
    Rule("gpu.devices.*.mig_devices.*", "gpu.mig", WARN, "GPU {0} MIG instance {1}"),
    Rule("gpu.devices.*.name", "gpu.model", CRIT, "GPU {0} model"),
    Rule("gpu.devices.*.compute_capability", "gpu.model", CRIT, "GPU {0} compute capability"),
    Rule("gpu.devices.*.mig_mode", "gpu.mig", WARN, "GPU {0} MIG mode"),
    Rule("gpu.devices.*.ecc_mode", "gpu.ecc", INFO, "GPU {0} ECC"),
    Rule("gpu.devices.*.memory_total_bytes", "gpu.memory", INFO, "GPU {0} memory"),
    Rule("gpu.devices.*", "gpu.device", WARN, "GPU {0}"),
    # blas
    Rule("blas.libraries.*.architecture", "blas.kernel", WARN, "BLAS {0} kernel"),
    Rule("blas.libraries.*.num_threads", "blas.threads", WARN, "BLAS {0} threads"),
    Rule("blas.libraries.*.threading_layer", "blas.threads", WARN, "BLAS {0} threading layer"),
    Rule("blas.libraries.*.version", "blas.version", WARN, "BLAS {0} version"),
    Rule("blas.libraries.*", "blas.library", _blas_library, "BLAS library {0}"),
    # determinism (variables and framework fields are classified by name, see _classify)
    Rule("determinism.hash_randomization", "determinism.hash_randomization", CRIT, "hash randomization"),
    Rule("determinism.seeds.*", "determinism.seed", WARN, "{0} seed", none="unseeded"),
    Rule("determinism.frameworks.*", "framework.imported", _blind_spot, "framework {0}", none="not imported"),
    # env, locale, time
    Rule("env.*", "env.variable", WARN, "{0}", none="unset"),  # placement and diagnostics: see walk
    Rule("locale_time.tz_env", "time.tz_variable", WARN, "TZ", none="unset"),
    Rule("locale_time.local_zone", "time.zone", CRIT, "local time zone"),
    Rule("locale_time.tzname", "time.zone", INFO, "time zone abbreviations"),
    Rule("locale_time.std_offset_seconds", "time.zone", INFO, "standard UTC offset (s)"),
    Rule("locale_time.tzdata_system", "time.tzdata", WARN, "system tzdata"),
    Rule("locale_time.tzdata_package", "time.tzdata", WARN, "tzdata package", none="not installed"),
    Rule("locale_time.locale.*", "locale.category", CRIT, "locale {0}", none="unset"),
    Rule("locale_time.locale_env.LC_MESSAGES", "locale.env", INFO, "LC_MESSAGES", none="unset"),  # message language
    Rule("locale_time.locale_env.LANGUAGE", "locale.env", INFO, "LANGUAGE", none="unset"),
    Rule("locale_time.locale_env.*", "locale.env", WARN, "{0}", none="unset"),
    Rule("locale_time.preferred_encoding", "locale.encoding", CRIT, "preferred encoding"),
    Rule("locale_time.utf8_mode", "locale.encoding", CRIT, "UTF-8 mode"),
    Rule("locale_time.filesystem_encoding", "locale.encoding", WARN, "filesystem encoding"),
    # bound to the fingerprint rather than measured
    Rule("custom.*", "custom.differs", INFO, "custom {0}"),
    Rule("*", "field.differs", WARN, "{0}"),
)


@functools.cache
def compiled_glob(glob: str) -> re.Pattern[str]:
    # DOTALL: a path holds whatever a fingerprint's keys hold, newlines included (a hostile module name)
    return re.compile("^" + ".+".join(re.escape(p) for p in glob.split("*")).replace(".+", "(.+)") + r"\Z", re.DOTALL)


def rule_for(path: str) -> tuple[Rule, tuple[str, ...]]:
    """Returns the first rule whose glob matches `path`, with the glob's captures."""
    for rule in RULES:
        m = compiled_glob(rule.glob).match(path)
        if m is not None:
            return rule, m.groups()
    raise AssertionError(f"no rule for {path}")  # the last rule matches every path


def variable_kind(name: str) -> tuple[str, Severity]:

    if name in VARIABLES:
        return VARIABLES[name]
    if name in THREAD_VARIABLES:
        return "determinism.threads", WARN
    return "determinism.flag", WARN
