"""`diff(a, b)`: a pure comparison of two fingerprints into a `DiffReport` of `Finding`s.

No I/O, no printing: renderers (`envprint.render`) and the policy engine (`envprint.policy`) consume
the report. The report carries its own counts and verdict so no caller recomputes them.

Paths name the field in the plain data of the fingerprint (`Fingerprint.to_data()`), dotted:
``packages.numpy.version``, ``determinism.variables.OPENBLAS_NUM_THREADS``,
``blas.libraries.numpy/openblas.num_threads``, ``gpu.devices.0.name``, ``probes.blas_gemm_f32``.
A finding about a whole entry (a package added or removed) has the entry's path (``packages.numpy``).

How `diff` decides (docs/diff.md has the reader's version):

* Every section is walked in both directions: an entry on one side only and a value measured on
  one side but `Unavailable` on the other are findings, never skipped.
* Each difference gets a stable `kind` from the explanation catalogue (`envprint.explain`), a
  severity from the table `_RULES` (what the field does to a model's numbers), and a title that
  says what changed and by how much.
* Descriptive fields (hostnames, timestamps, paths, UUIDs; `envprint.model.descriptive`) and
  fields derived from another compared field are ``info`` with ``identity=False``. Bookkeeping
  that differs between any two captures by construction (`BOOKKEEPING`) is not compared at all.
* Probe results are compared with `envprint.probes.compare` (imported only when two digests
  differ): categorical differences are critical, float differences up to `NORMWISE_CRITICAL` are
  warnings. Each probe finding names its likely cause among the other findings (`ATTRIBUTION`).
* `identity_projection` keeps exactly the fields whose differences are identity findings, so
  two fingerprints have equal `identity_digest`s exactly when their diff has no identity finding.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeAlias

from envprint.model import Fingerprint, Package, ProbeResult, Unavailable

if TYPE_CHECKING:
    from envprint.probes.compare import ProbeComparison

__all__ = [
    "ATTRIBUTION",
    "BOOKKEEPING",
    "NORMWISE_CRITICAL",
    "NUMERICS_PACKAGES",
    "TOOLING_PACKAGES",
    "ULP_LEVEL_FLAGS",
    "DiffReport",
    "Finding",
    "Magnitude",
    "PackageRole",
    "Severity",
    "VersionChange",
    "diff",
    "identity_digest",
    "identity_projection",
    "package_role",
    "version_change",
]


class Severity(enum.IntEnum):
    """How much a finding matters. Ordered: info < warning < critical."""

    info = 0  # descriptive or harmless: shown, never fails a check
    warning = 1  # can change numbers at the ULP level, or a non-numerics package changed
    critical = 2  # changes numbers or decisions materially (numerics package, TF32, FTZ, hash order...)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Magnitude:
    """How far a probe's outputs moved (from `envprint.probes.compare`)."""

    max_ulp: int | None = None  # max ULP distance over non-cancelling sampled elements
    normwise: float | None = None  # max|a-b| / max|a| over samples
    fraction: float | None = None  # fraction of blocks that differ (estimate of elements differing)
    changed_flags: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()  # names of the probe outputs that differ
    categorical: bool = False  # text / index / flag difference (tie order, hash order, tz lines)

    def describe(self) -> str:
        """Returns the magnitude in one line, e.g. "max 18 ULP · normwise 5.9e-07 · 9% of blocks"."""
        parts = ["categorical"] if self.categorical else []
        if self.max_ulp is not None:
            parts.append(f"max {self.max_ulp} ULP")
        if self.normwise is not None:
            parts.append(f"normwise {self.normwise:.2g}")
        if self.fraction is not None:
            parts.append(f"{self.fraction:.0%} of blocks")
        if self.changed_flags:
            parts.append("flags " + ", ".join(k for k, _ in _flags_in_order(self.changed_flags)))
        return " · ".join(parts) if parts else "magnitude unknown (differs outside the samples)"


@dataclass(frozen=True)
class Finding:
    """One difference between fingerprint `a` (old, e.g. training) and `b` (new, e.g. serving)."""

    kind: str  # stable id from the explain catalogue, e.g. "package.version", "probe.differs"
    path: str  # dotted path of the field in Fingerprint.to_data()
    severity: Severity
    old: Any  # plain data (None when added); Unavailable markers as {"$unavailable": reason}
    new: Any  # plain data (None when removed)
    title: str  # one line: what differs and how much, e.g. "numpy 2.3.5 → 2.4.6 (minor)"
    why: str = ""  # why it matters for training-serving skew (explain catalogue)
    remedy: str = ""  # the setting, pin or env var that restores parity
    magnitude: Magnitude | None = None  # probes only
    cause: str | None = None  # attribution: the captured difference that likely explains a probe difference
    identity: bool = True  # False when the field is descriptive (hostname, timestamps, UUIDs)


@dataclass(frozen=True)
class DiffReport:
    """Every finding between two fingerprints, with its own summary."""

    a_label: str  # how to name side a, e.g. "train.fp (VERIFIED)"
    b_label: str
    findings: tuple[Finding, ...]
    a_trust: str = "unsigned"  # "verified", "unverified", "unsigned" (see codec.Loaded)
    b_trust: str = "unsigned"

    @property
    def counts(self) -> dict[str, int]:
        """Returns the number of findings per severity name."""
        out = {s.name: 0 for s in Severity}
        for f in self.findings:
            out[f.severity.name] += 1
        return out

    @property
    def worst(self) -> Severity | None:
        """Returns the highest severity found, None when there is no finding."""
        return max((f.severity for f in self.findings), default=None)

    @property
    def equivalent(self) -> bool:
        """Returns whether no finding is above info (the environments compute alike)."""
        return all(f.severity is Severity.info for f in self.findings)

    @property
    def exit_code(self) -> int:
        """Returns the CLI exit status: 0 when equivalent, 1 otherwise."""
        return 0 if self.equivalent else 1

    def exit_status(self, fail_on: Severity = Severity.warning) -> int:
        """Returns 1 when some finding is at or above `fail_on`, else 0 (`envprint diff --fail-on`)."""
        return 1 if any(f.severity >= fail_on for f in self.findings) else 0

    def at(self, severity: Severity) -> tuple[Finding, ...]:
        """Returns the findings of exactly `severity`, in report order."""
        return tuple(f for f in self.findings if f.severity is severity)

    @property
    def verdict(self) -> str:
        """Returns a one-line verdict, e.g. "DIFFERENT: 2 critical, 3 warning, 5 info"."""
        c = self.counts
        summary = ", ".join(f"{c[s.name]} {s.name}" for s in sorted(Severity, reverse=True) if c[s.name])
        if not self.findings:
            return "EQUIVALENT: no differences"
        head = "EQUIVALENT" if self.equivalent else "DIFFERENT"
        return f"{head}: {summary}"


# ------------------------------------------------------------------------------------------ packages

PackageRole: TypeAlias = Literal["numerics", "library", "tooling"]

#: distributions that compute or shape a model's numbers (names or fnmatch globs, PEP 503-normalised):
#: a version or build change of one of these is critical. The policy's ``@numerics`` expands to these.
NUMERICS_PACKAGES: tuple[str, ...] = (
    "numpy", "scipy", "pandas", "polars", "pyarrow", "numexpr", "bottleneck", "numba", "llvmlite",
    "scikit-learn", "statsmodels", "xgboost", "lightgbm", "catboost",
    "tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tensorflow-macos",
    "tensorflow-metal", "tf-nightly", "tf-keras", "keras", "ml-dtypes", "tensorflow-probability",
    "torch", "torchvision", "torchaudio", "triton", "jax", "jaxlib", "jax-cuda*", "flax", "optax",
    "onnx", "onnxruntime", "onnxruntime-gpu", "openvino", "tensorrt*",
    "transformers", "tokenizers", "sentencepiece", "safetensors",
    "pillow", "opencv-python", "opencv-python-headless", "opencv-contrib-python", "scikit-image",
    "tzdata", "pytz", "python-dateutil",
    "mkl", "mkl-*", "intel-openmp", "tbb", "scipy-openblas*", "nvidia-cu*", "nvidia-nccl*", "nvidia-nvjitlink*",
)  # fmt: skip

#: build, test and packaging tools: they never run inside a model, so their changes are info
TOOLING_PACKAGES: tuple[str, ...] = (
    "pip", "setuptools", "wheel", "uv", "pipx", "virtualenv", "build", "twine", "hatchling", "hatch",
    "flit", "flit-core", "poetry", "poetry-core", "pdm", "pdm-backend", "setuptools-scm", "packaging",
    "pytest", "pytest-*", "hypothesis", "coverage", "tox", "nox", "ruff", "black", "isort", "flake8",
    "pylint", "mypy", "mypy-extensions", "types-*", "*-stubs", "pre-commit", "pipdeptree", "ipython",
    "ipykernel", "jupyter*", "notebook",
)  # fmt: skip


def _glob_matcher(globs: Iterable[str]) -> Callable[[str], bool]:
    """Returns a test of whether a name equals one of `globs` or matches one with a "*"."""
    import fnmatch

    exact = frozenset(g for g in globs if "*" not in g)
    pattern = re.compile("|".join(fnmatch.translate(g) for g in globs if "*" in g) or "(?!)")
    return lambda name: name in exact or pattern.match(name) is not None


_is_numerics = _glob_matcher(NUMERICS_PACKAGES)
_is_tooling = _glob_matcher(TOOLING_PACKAGES)


def package_role(name: str) -> PackageRole:
    """Returns how a distribution bears on a model's numbers: "numerics", "library" or "tooling"."""
    from envprint.collect.packages import normalise

    canonical = normalise(name)
    if _is_numerics(canonical):
        return "numerics"
    if _is_tooling(canonical):
        return "tooling"
    return "library"


VersionChange: TypeAlias = Literal["major", "minor", "patch", "suffix", "build", "equivalent", "unparsed"]


def version_change(old: str, new: str) -> VersionChange:
    """Returns the most significant PEP 440 component that differs between two version strings.

    "suffix" is a pre-, post- or dev-release change, "build" a local label change (``+cu121`` →
    ``+cpu``), "equivalent" two spellings of one version (``1.0`` and ``1.0.0``), "unparsed" when
    either string is not a PEP 440 version (the strings simply differ).
    """
    from packaging.version import InvalidVersion, Version

    try:
        va, vb = Version(old), Version(new)
    except InvalidVersion:
        return "unparsed"
    n = max(len(va.release), len(vb.release), 2)
    ra = (va.epoch, *va.release, *(0,) * (n - len(va.release)))
    rb = (vb.epoch, *vb.release, *(0,) * (n - len(vb.release)))
    if ra[:2] != rb[:2]:
        return "major"
    if ra[2] != rb[2]:
        return "minor"
    if ra[3:] != rb[3:]:
        return "patch"
    if (va.pre, va.post, va.dev) != (vb.pre, vb.post, vb.dev):
        return "suffix"
    if va.local != vb.local:
        return "build"
    return "equivalent"


# ------------------------------------------------------------------------------------ probe severity

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


# -------------------------------------------------------------------------------------------- rules


class _Absent:
    """The value of a mapping entry on the side that lacks it."""

    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Any = _Absent()
_UNAVAILABLE_KEY = "$unavailable"

SeverityRule: TypeAlias = "Severity | Callable[[Any, Any], Severity]"


class _Rule(NamedTuple):
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


def _blas_library(old: Any, new: Any) -> Severity:
    entry = old if isinstance(old, Mapping) else new
    return Severity.critical if isinstance(entry, Mapping) and entry.get("user_api") == "blas" else Severity.warning


_CRIT, _WARN, _INFO = Severity.critical, Severity.warning, Severity.info

#: determinism.variables: name -> (kind, severity); THREAD_VARIABLES and unknown names follow below
_VARIABLES: dict[str, tuple[str, Severity]] = {
    "PYTHONHASHSEED": ("determinism.hash_seed", _CRIT),
    "NPY_DISABLE_CPU_FEATURES": ("determinism.kernel", _CRIT),  # moves argsort tie order
    "NPY_ENABLE_CPU_FEATURES": ("determinism.kernel", _CRIT),
    "OPENBLAS_CORETYPE": ("determinism.kernel", _WARN),
    "OPENBLAS_L2_SIZE": ("determinism.kernel", _WARN),
    "MKL_CBWR": ("determinism.kernel", _WARN),
    "MKL_ENABLE_INSTRUCTIONS": ("determinism.kernel", _WARN),
    "MKL_DEBUG_CPU_TYPE": ("determinism.kernel", _WARN),
    "ONEDNN_MAX_CPU_ISA": ("determinism.kernel", _WARN),
    "DNNL_MAX_CPU_ISA": ("determinism.kernel", _WARN),
    "ATEN_CPU_CAPABILITY": ("determinism.kernel", _WARN),
    "TF_ENABLE_ONEDNN_OPTS": ("determinism.kernel", _WARN),
    "NVIDIA_TF32_OVERRIDE": ("determinism.precision", _CRIT),
    "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE": ("determinism.precision", _CRIT),
    "ONEDNN_DEFAULT_FPMATH_MODE": ("determinism.precision", _CRIT),
    "JAX_DEFAULT_MATMUL_PRECISION": ("determinism.precision", _CRIT),
    "TF_DETERMINISTIC_OPS": ("determinism.flag", _WARN),
    "TF_CUDNN_DETERMINISTIC": ("determinism.flag", _WARN),
    "TF_CUDNN_USE_AUTOTUNE": ("determinism.flag", _WARN),
    "CUBLAS_WORKSPACE_CONFIG": ("determinism.flag", _WARN),
    "TF_XLA_FLAGS": ("determinism.flag", _WARN),
    "XLA_FLAGS": ("determinism.flag", _WARN),
    "CUDA_LAUNCH_BLOCKING": ("determinism.flag", _INFO),
    "KMP_DUPLICATE_LIB_OK": ("determinism.flag", _INFO),
    "KERAS_BACKEND": ("determinism.backend", _CRIT),
    "JAX_ENABLE_X64": ("determinism.backend", _CRIT),
    "TF_USE_LEGACY_KERAS": ("determinism.backend", _WARN),
    "CUDA_VISIBLE_DEVICES": ("determinism.backend", _WARN),
}

#: determinism.frameworks.<framework>.<field>: field -> (kind, severity)
_FRAMEWORK_FIELDS: dict[str, tuple[str, Severity]] = {
    "version": ("framework.version", _INFO),  # the package finding carries the severity
    "keras_version": ("framework.version", _INFO),
    "op_determinism": ("framework.determinism", _WARN),
    "deterministic_algorithms": ("framework.determinism", _WARN),
    "deterministic_warn_only": ("framework.determinism", _WARN),
    "cudnn_deterministic": ("framework.determinism", _WARN),
    "cudnn_benchmark": ("framework.determinism", _WARN),
    "tensor_float_32": ("framework.precision", _CRIT),
    "cudnn_allow_tf32": ("framework.precision", _CRIT),
    "matmul_allow_tf32": ("framework.precision", _CRIT),
    "float32_matmul_precision": ("framework.precision", _CRIT),
    "mixed_precision_policy": ("framework.precision", _CRIT),
    "default_matmul_precision": ("framework.precision", _CRIT),
    "enable_x64": ("framework.precision", _CRIT),
    "onednn_enabled": ("framework.kernel", _WARN),
    "mkldnn_enabled": ("framework.kernel", _WARN),
    "cpu_capability": ("framework.kernel", _WARN),
    "intra_op_threads": ("framework.threads", _WARN),
    "inter_op_threads": ("framework.threads", _WARN),
    "num_threads": ("framework.threads", _WARN),
    "num_interop_threads": ("framework.threads", _WARN),
    "cuda_version": ("framework.cuda", _CRIT),
    "cudnn_version": ("framework.cuda", _CRIT),
    "is_cuda_build": ("framework.cuda", _CRIT),
    "is_rocm_build": ("framework.cuda", _CRIT),
    "is_tensorrt_build": ("framework.cuda", _CRIT),
    "global_seed": ("determinism.seed", _WARN),
    "visible_devices": ("framework.devices", _WARN),
    "cuda_initialized": ("framework.devices", _INFO),
}

#: locale categories whose change moves parsing, formatting or collation; LC_CTYPE and LC_MESSAGES below
_LOCALE_SEVERITY = {"LC_CTYPE": _WARN, "LC_MESSAGES": _INFO}

#: version fields whose titles name the level of the change ("(minor)")
_VERSIONED = frozenset({"python.version", "gpu.driver_version", "gpu.cuda_driver_version", "platform.libc_version"})

#: fields derived from another compared field: info, identity=False, left out of identity_projection
_DERIVED = frozenset({"cpu.numpy_simd.not_found", "locale_time.tzname", "locale_time.std_offset_seconds"})

# First match wins: specific globs before the entry-level ones they would also match.
_RULES: tuple[_Rule, ...] = (
    _Rule("meta.schema_version", "meta.schema", _INFO, "schema version"),
    # python
    _Rule("python.version", "python.version", _by_level(_CRIT, _CRIT, _WARN), "Python"),
    _Rule("python.implementation", "python.implementation", _CRIT, "Python implementation"),
    _Rule("python.hash_algorithm", "python.hash_algorithm", _CRIT, "str/bytes hash algorithm"),
    _Rule("python.unicode_version", "python.unicode", _WARN, "Unicode database"),
    _Rule("python.byteorder", "platform.machine", _CRIT, "byte order"),
    _Rule("python.float_repr_style", "python.build", _CRIT, "float repr style"),
    _Rule("python.build", "python.build", _INFO, "Python build"),
    _Rule("python.*", "python.build", _WARN, "Python {0}"),
    _Rule("imported.*", "module.imported", _INFO, "module {0}", none="no __version__"),
    # platform
    _Rule("platform.system", "platform.machine", _CRIT, "OS family"),
    _Rule("platform.machine", "platform.machine", _CRIT, "machine architecture"),
    _Rule("platform.libc", "platform.libc", _CRIT, "C library"),
    _Rule("platform.libc_version", "platform.libc", _by_level(_WARN, _WARN, _WARN), "C library version"),
    _Rule("platform.kernel", "platform.kernel", _INFO, "kernel"),
    _Rule("platform.*", "platform.os", _INFO, "OS {0}"),
    # cpu
    _Rule("cpu.machine", "platform.machine", _CRIT, "CPU architecture"),
    _Rule("cpu.stepping", "cpu.model", _INFO, "CPU stepping"),
    _Rule("cpu.vendor", "cpu.model", _WARN, "CPU vendor"),
    _Rule("cpu.model_name", "cpu.model", _WARN, "CPU model"),
    _Rule("cpu.family", "cpu.model", _WARN, "CPU family"),
    _Rule("cpu.model", "cpu.model", _WARN, "CPU model number"),
    _Rule("cpu.microarchitecture", "cpu.model", _WARN, "CPU microarchitecture"),
    _Rule("cpu.isa_level", "cpu.isa", _WARN, "ISA level"),
    _Rule("cpu.flags", "cpu.isa", _WARN, "CPU ISA flags"),
    _Rule("cpu.numpy_simd.found", "cpu.numpy_simd", _CRIT, "numpy SIMD targets found"),
    _Rule("cpu.numpy_simd.not_found", "cpu.numpy_simd", _INFO, "numpy SIMD targets not found"),
    _Rule("cpu.numpy_simd.*", "cpu.numpy_simd", _WARN, "numpy SIMD {0}"),
    _Rule("cpu.physical_cores", "cpu.cores", _INFO, "physical cores"),
    _Rule("cpu.logical_cores", "cpu.cores", _WARN, "logical CPUs"),
    _Rule("cpu.affinity", "cpu.cores", _WARN, "CPUs in the affinity mask"),
    _Rule("cpu.cgroup_quota", "cpu.cores", _WARN, "cgroup CPU quota", none="unlimited"),
    _Rule("cpu.hypervisor", "cpu.hypervisor", _INFO, "hypervisor"),
    _Rule("cpu.cache.*", "cpu.cache", _INFO, "CPU {0} cache"),
    # gpu
    _Rule("gpu.driver_version", "gpu.driver", _by_level(_CRIT, _WARN, _WARN), "GPU driver"),
    _Rule("gpu.cuda_driver_version", "gpu.cuda", _by_level(_CRIT, _WARN, _WARN), "CUDA driver API"),
    _Rule("gpu.nvml_version", "gpu.nvml", _INFO, "NVML"),
    _Rule("gpu.devices.*.mig_devices.*", "gpu.mig", _WARN, "GPU {0} MIG instance {1}"),
    _Rule("gpu.devices.*.name", "gpu.model", _CRIT, "GPU {0} model"),
    _Rule("gpu.devices.*.compute_capability", "gpu.model", _CRIT, "GPU {0} compute capability"),
    _Rule("gpu.devices.*.mig_mode", "gpu.mig", _WARN, "GPU {0} MIG mode"),
    _Rule("gpu.devices.*.ecc_mode", "gpu.ecc", _INFO, "GPU {0} ECC"),
    _Rule("gpu.devices.*.memory_total_bytes", "gpu.memory", _INFO, "GPU {0} memory"),
    _Rule("gpu.devices.*", "gpu.device", _WARN, "GPU {0}"),
    # blas
    _Rule("blas.libraries.*.architecture", "blas.kernel", _WARN, "BLAS {0} kernel"),
    _Rule("blas.libraries.*.num_threads", "blas.threads", _WARN, "BLAS {0} threads"),
    _Rule("blas.libraries.*.threading_layer", "blas.threads", _WARN, "BLAS {0} threading layer"),
    _Rule("blas.libraries.*.version", "blas.version", _WARN, "BLAS {0} version"),
    _Rule("blas.libraries.*", "blas.library", _blas_library, "BLAS library {0}"),
    # determinism (variables and framework fields are classified by name, see _classify)
    _Rule("determinism.hash_randomization", "determinism.hash_randomization", _CRIT, "hash randomization"),
    _Rule("determinism.seeds.*", "determinism.seed", _WARN, "{0} seed", none="unseeded"),
    _Rule("determinism.frameworks.*", "framework.imported", _INFO, "framework {0}", none="not imported"),
    # env, locale, time
    _Rule("env.*", "env.variable", _WARN, "{0}", none="unset"),
    _Rule("locale_time.tz_env", "time.tz_variable", _WARN, "TZ", none="unset"),
    _Rule("locale_time.local_zone", "time.zone", _CRIT, "local time zone"),
    _Rule("locale_time.tzname", "time.zone", _INFO, "time zone abbreviations"),
    _Rule("locale_time.std_offset_seconds", "time.zone", _INFO, "standard UTC offset (s)"),
    _Rule("locale_time.tzdata_system", "time.tzdata", _WARN, "system tzdata"),
    _Rule("locale_time.tzdata_package", "time.tzdata", _WARN, "tzdata package", none="not installed"),
    _Rule("locale_time.locale.*", "locale.category", _CRIT, "locale {0}", none="unset"),
    _Rule("locale_time.locale_env.*", "locale.env", _WARN, "{0}", none="unset"),
    _Rule("locale_time.preferred_encoding", "locale.encoding", _CRIT, "preferred encoding"),
    _Rule("locale_time.utf8_mode", "locale.encoding", _CRIT, "UTF-8 mode"),
    _Rule("locale_time.filesystem_encoding", "locale.encoding", _WARN, "filesystem encoding"),
    # bound to the fingerprint rather than measured
    _Rule("custom.*", "custom.differs", _INFO, "custom {0}"),
    _Rule("*", "field.differs", _WARN, "{0}"),
)


@functools.cache
def _compiled(glob: str) -> re.Pattern[str]:
    return re.compile("^" + ".+".join(re.escape(p) for p in glob.split("*")).replace(".+", "(.+)") + "$")


def _rule_for(path: str) -> tuple[_Rule, tuple[str, ...]]:
    """Returns the first rule whose glob matches `path`, with the glob's captures."""
    for rule in _RULES:
        m = _compiled(rule.glob).match(path)
        if m is not None:
            return rule, m.groups()
    raise AssertionError(f"no rule for {path}")  # the last rule matches every path


# ------------------------------------------------------------------------------------- value display


def _plain(value: Any) -> Any:
    """Returns a field value as plain data (to_data's shape); an absent entry is None."""
    if value is _ABSENT:
        return None
    from envprint._serde import to_data

    return to_data(value)


def _show(value: Any, none: str = "none") -> str:
    """Returns a short human rendering of a plain value for titles."""
    if value is _ABSENT:
        return "absent"
    if value is None:
        return none
    if isinstance(value, Unavailable) or (isinstance(value, Mapping) and _UNAVAILABLE_KEY in value):
        return "unavailable"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(_show(v) for v in value) if value else "none"
    if dataclasses.is_dataclass(value) or isinstance(value, Mapping):
        data = _plain(value) if dataclasses.is_dataclass(value) else value
        for key in ("version", "name", "digest"):
            if isinstance(data.get(key), str):
                return str(data[key])
        return "present"
    text = str(value)
    return text if len(text) <= 48 else text[:47] + "…"


def _arrow(old: Any, new: Any, none: str = "none") -> str:
    return f"{_show(old, none)} → {_show(new, none)}"


# ---------------------------------------------------------------------------------------- the walk


class _Context(NamedTuple):
    """The two fingerprints and their labels, for findings that name a side or look across fields."""

    a: Fingerprint
    b: Fingerprint
    a_label: str
    b_label: str

    def side(self, present_in_a: bool) -> str:
        """Returns the label of side a when `present_in_a`, else of side b."""
        return self.a_label if present_in_a else self.b_label


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, bool], ...]:
    return tuple((f.name, bool(f.metadata.get("descriptive"))) for f in dataclasses.fields(cls))


def _walk(out: list[Finding], ctx: _Context, path: str, a: Any, b: Any, descriptive: bool) -> None:
    """Appends a finding for every difference between `a` and `b` at or below `path`."""
    if a is not _ABSENT and b is not _ABSENT and type(a) is type(b) and a == b:
        return
    if path in BOOKKEEPING:
        return
    if descriptive:
        change = _arrow(a, b)
        title = f"{path} differs" if change == "present → present" else f"{path} {change}"
        out.append(_finding(path, "descriptive", _INFO, a, b, title, identity=False))
        return
    if isinstance(a, Unavailable) or isinstance(b, Unavailable):
        out.append(_unavailable(ctx, path, a, b))
        return
    if dataclasses.is_dataclass(a) and type(a) is type(b):
        cls: type = type(a)
        for name, desc in _fields(cls):
            _walk(out, ctx, f"{path}.{name}", getattr(a, name), getattr(b, name), desc)
        return
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(a.keys() | b.keys(), key=str):
            _walk(out, ctx, f"{path}.{key}", a.get(key, _ABSENT), b.get(key, _ABSENT), False)
        return
    out.append(_classify(ctx, path, a, b))


def _unavailable(ctx: _Context, path: str, a: Any, b: Any) -> Finding:
    """Returns the finding for a value Unavailable on one side (a warning) or both (info, not identity)."""
    both = isinstance(a, Unavailable) and isinstance(b, Unavailable)
    if both:
        title = f"{path}: unavailable on both sides, for different reasons"
    else:
        missing = ctx.a_label if isinstance(a, Unavailable) else ctx.b_label
        reason = (a if isinstance(a, Unavailable) else b).reason
        title = f"{path}: measured → unavailable in {missing} ({reason})"
        if isinstance(a, Unavailable):
            title = f"{path}: unavailable in {missing} ({reason}) → measured"
    # both unknown is not a difference of the environments, only of what could be measured
    return _finding(path, "measured.unavailable", _INFO if both else _WARN, a, b, title, identity=not both)


def _classify(ctx: _Context, path: str, a: Any, b: Any) -> Finding:
    """Returns the finding for one differing leaf, or one entry present on one side only."""
    section, _, rest = path.partition(".")
    if path.startswith("determinism.variables."):
        name = rest.partition(".")[2]
        kind, severity = _variable_kind(name)
        return _finding(path, kind, severity, a, b, f"{name} {_arrow(a, b, 'unset')}")
    if path.startswith("determinism.frameworks.") and path.count(".") >= 3:
        framework, _, fieldname = path.split(".", 2)[2].partition(".")
        kind, severity = _FRAMEWORK_FIELDS.get(fieldname, ("framework.setting", _WARN))
        return _finding(path, kind, severity, a, b, f"{framework} {fieldname} {_arrow(a, b)}")
    rule, captures = _rule_for(path)
    severity = rule.severity(_plain(a), _plain(b)) if callable(rule.severity) else rule.severity
    what = rule.what.format(*captures) if captures else rule.what
    if rule.glob == "*":
        what = path
    identity = path not in _DERIVED and section not in ("custom", "meta")
    title = f"{what} {_arrow(a, b, rule.none)}"
    if a is _ABSENT or b is _ABSENT:
        title = f"{what}: only in {ctx.side(b is _ABSENT)}" + _present_detail(a if b is _ABSENT else b)
    elif path in ("cpu.flags", "cpu.numpy_simd.found", "cpu.numpy_simd.not_found"):
        title = f"{what}: {_set_change(a, b)}"
    elif path in _VERSIONED and isinstance(a, str) and isinstance(b, str) and version_change(a, b) != "unparsed":
        title += f" ({version_change(a, b)})"
    elif path in ("locale_time.tz_env", "locale_time.local_zone") and _same_zone(ctx):
        identity = False
        title += f" (both resolve to {_show(_zone(ctx.a))})"
    if not identity:
        severity = _INFO
    return _finding(path, rule.kind, severity, a, b, title, identity=identity)


def _present_detail(value: Any) -> str:
    shown = _show(value)
    return "" if shown in ("present", "none") else f" ({shown})"


def _set_change(a: Any, b: Any) -> str:
    sa = set(a) if isinstance(a, (tuple, list)) else set()
    sb = set(b) if isinstance(b, (tuple, list)) else set()
    parts = []
    if sa - sb:
        parts.append("lost " + " ".join(sorted(sa - sb)))
    if sb - sa:
        parts.append("gained " + " ".join(sorted(sb - sa)))
    return f"{_arrow(a, b)} ({'; '.join(parts)})" if parts else _arrow(a, b)


def _variable_kind(name: str) -> tuple[str, Severity]:
    from envprint.collect.determinism import THREAD_VARIABLES

    if name in _VARIABLES:
        return _VARIABLES[name]
    if name in THREAD_VARIABLES:
        return "determinism.threads", _WARN
    return "determinism.flag", _WARN


_UTC_ALIASES = frozenset(
    {"UTC", "UCT", "Universal", "Zulu", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich"}
    | {f"Etc/{z}" for z in ("UTC", "UCT", "Universal", "Zulu", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich")}
)


def _same_zone(ctx: _Context) -> bool:
    return bool(_project("", _zone(ctx.a)) == _project("", _zone(ctx.b)))


def _zone(fp: Fingerprint) -> Any:
    """Returns the local zone with the names of UTC merged into "UTC" (they compute alike)."""
    if isinstance(fp.locale_time, Unavailable):
        return fp.locale_time
    zone = fp.locale_time.local_zone
    return "UTC" if zone in _UTC_ALIASES else zone


def _finding(
    path: str,
    kind: str,
    severity: Severity,
    a: Any,
    b: Any,
    title: str,
    *,
    identity: bool = True,
) -> Finding:
    """Returns a finding with the values as plain data (an absent side as None)."""
    return Finding(kind, path, severity, _plain(a), _plain(b), title, identity=identity)


# ------------------------------------------------------------------------------------------ packages


def _packages(out: list[Finding], ctx: _Context, a: Any, b: Any) -> None:
    """Appends the findings of the packages section: one per package added, removed or changed."""
    if isinstance(a, Unavailable) or isinstance(b, Unavailable):
        if a != b:
            out.append(_unavailable(ctx, "packages", a, b))
        return
    for name in sorted(a.keys() | b.keys()):
        pa, pb = a.get(name), b.get(name)
        if pa == pb:
            continue
        if pa is None or pb is None:
            present = pa or pb
            kind = "package.added" if pa is None else "package.removed"
            version = _show(present.version)
            side = ctx.side(pb is None)
            title = f"{name} {version} installed only in {side} ({package_role(name)})"
            out.append(
                _finding(f"packages.{name}", kind, _presence_severity(name), pa or _ABSENT, pb or _ABSENT, title)
            )
        else:
            _package_change(out, ctx, name, pa, pb)


def _presence_severity(name: str) -> Severity:
    role = package_role(name)
    return _WARN if role == "numerics" else _INFO


def _change_severity(name: str) -> Severity:
    return {"numerics": _CRIT, "library": _WARN, "tooling": _INFO}[package_role(name)]


def _package_change(out: list[Finding], ctx: _Context, name: str, pa: Package, pb: Package) -> None:
    """Appends what differs in one package: unreadable, version (or build), installer, location."""
    path = f"packages.{name}"
    role = package_role(name)
    if pa.unreadable != pb.unreadable:
        title = f"{name}: metadata unreadable in {ctx.side(pa.unreadable is not None)}"
        if pa.unreadable is not None and pb.unreadable is not None:
            title = f"{name}: metadata unreadable on both sides, for different reasons"
        out.append(_finding(f"{path}.unreadable", "package.unreadable", _WARN, pa.unreadable, pb.unreadable, title))
        return
    severity = _change_severity(name)
    version_reported = False
    if pa.version != pb.version:
        if isinstance(pa.version, Unavailable) or isinstance(pb.version, Unavailable):
            out.append(_unavailable(ctx, f"{path}.version", pa.version, pb.version))
        else:
            level = version_change(pa.version, pb.version)
            kind = "package.build" if level == "build" else "package.version"
            sev = _INFO if level == "equivalent" else severity
            title = f"{name} {pa.version} → {pb.version} ({role if level == 'unparsed' else f'{level}; {role}'})"
            out.append(_finding(f"{path}.version", kind, sev, pa.version, pb.version, title))
        version_reported = True
    if not version_reported:
        for fieldname in ("local", "wheel_tags"):
            old, new = getattr(pa, fieldname), getattr(pb, fieldname)
            if old != new:
                what = "local version label" if fieldname == "local" else "wheel tags"
                title = f"{name} {pa.version} build: {what} {_arrow(old, new)} ({role})"
                out.append(_finding(f"{path}.{fieldname}", "package.build", severity, old, new, title))
    if pa.installer != pb.installer:
        old, new = pa.installer, pb.installer
        if isinstance(old, Unavailable) or isinstance(new, Unavailable):
            out.append(_unavailable(ctx, f"{path}.installer", old, new))
        else:
            title = f"{name} installer {_arrow(old, new, 'not recorded')}"
            out.append(_finding(f"{path}.installer", "package.installer", _INFO, old, new, title))
    if pa.location != pb.location:
        title = f"{path}.location {_arrow(pa.location, pb.location)}"
        out.append(_finding(f"{path}.location", "descriptive", _INFO, pa.location, pb.location, title, identity=False))


# ----------------------------------------------------------------------------------------- artifact


def _artifact(out: list[Finding], ctx: _Context, a: Any, b: Any) -> None:
    """Appends the artifact finding: bound on one side only, other content, or the same content renamed."""
    if a == b:
        return
    if a is None or b is None:
        present = a or b
        title = f"model artifact {present.name} bound only in {ctx.side(b is None)}"
        out.append(_finding("artifact", "artifact.unbound", _INFO, a, b, title))
        return
    if a.digest != b.digest or a.hash_algorithm != b.hash_algorithm:
        changed = _changed_files(a.files, b.files)
        title = f"model artifact differs: {a.hash_algorithm} {a.digest[:12]} → {b.digest[:12]} ({changed})"
        out.append(_finding("artifact.digest", "artifact.differs", _CRIT, a.digest, b.digest, title))
        return
    if a.name != b.name:
        title = f"model artifact renamed {a.name} → {b.name} (same content)"
        out.append(_finding("artifact.name", "artifact.differs", _INFO, a.name, b.name, title, identity=False))
    else:
        title = f"model artifact {a.name}: same digest, manifest details differ"
        out.append(_finding("artifact", "artifact.differs", _INFO, a, b, title, identity=False))


def _changed_files(fa: Iterable[Any], fb: Iterable[Any]) -> str:
    ma, mb = {f.path: f.sha256 for f in fa}, {f.path: f.sha256 for f in fb}
    changed = sum(1 for p in ma.keys() & mb.keys() if ma[p] != mb[p])
    return f"{changed} changed, {len(mb.keys() - ma.keys())} added, {len(ma.keys() - mb.keys())} removed file(s)"


def _policy(out: list[Finding], ctx: _Context, a: Any, b: Any) -> None:
    """Appends one info finding when the embedded policies differ."""
    if a != b:
        title = "embedded serving policy " + ("differs" if a and b else f"only in {ctx.side(b is None)}")
        out.append(_finding("policy", "policy.differs", _INFO, a, b, title, identity=False))


def _freshness(out: list[Finding], ctx: _Context, a: Any, b: Any) -> None:
    """Appends one info finding when the training freshness profiles differ (data, not environment)."""
    if a != b:
        title = "feature freshness profile " + ("differs" if a and b else f"only in {ctx.side(b is None)}")
        out.append(_finding("freshness", "freshness.profile", _INFO, a, b, title, identity=False))


# ------------------------------------------------------------------------------------------- probes


def _probe_token(r: ProbeResult) -> str:
    """Returns what identifies a probe result: its version and digest when it ran cleanly, else its state."""
    if r.status != "ok":
        return r.status
    if r.random_per_process:
        return "random"
    return f"v{r.version}:" + (r.digest if r.stable else "unstable")


def _probe_summary(r: ProbeResult) -> dict[str, Any]:
    return {
        "group": r.group,
        "status": r.status,
        "version": r.version,
        "digest": r.digest,
        "stable": r.stable,
        "random_per_process": r.random_per_process,
        "flags": _plain(dict(r.flags)),
        "reason": r.reason,
    }


def _probes(out: list[Finding], ctx: _Context, a: Any, b: Any) -> None:
    """Appends one finding per probe whose results differ, or that ran on one side only."""
    if isinstance(a, Unavailable) or isinstance(b, Unavailable):
        if a != b:
            out.append(_unavailable(ctx, "probes", a, b))
        return
    for name in sorted(a.keys() | b.keys()):
        ra, rb = a.get(name), b.get(name)
        if "parity" in (getattr(ra, "group", None), getattr(rb, "group", None)):
            continue  # user transform probes compare within their own tolerance (envprint.parity)
        finding = _probe(ctx, name, ra, rb)
        if finding is not None:
            out.append(finding)
    if any(r.group == "parity" for r in (*a.values(), *b.values())):
        from envprint.parity import findings

        out.extend(findings(a, b))


def _probe(ctx: _Context, name: str, ra: ProbeResult | None, rb: ProbeResult | None) -> Finding | None:
    """Returns the finding for one probe (missing, skipped, failed, incomparable, unstable, differs) or None."""
    path = f"probes.{name}"
    if ra is None or rb is None:
        present = ra or rb
        assert present is not None
        title = f"probe {name} recorded only in {ctx.side(rb is None)} ({present.status})"
        return _probe_finding(path, "probe.missing", _INFO, ra, rb, title)
    ta, tb = _probe_token(ra), _probe_token(rb)
    if ta == tb and ra.digest == rb.digest:
        return None
    if ra.status != "ok" or rb.status != "ok":
        if ra.status == rb.status:
            return None  # neither ran: nothing to compare, whatever the reasons
        failed = "failed" in (ra.status, rb.status)
        kind, severity = ("probe.failed", _WARN) if failed else ("probe.skipped", _INFO)
        not_ok = ra if ra.status != "ok" else rb
        title = f"probe {name}: {ra.status} → {rb.status}" + (f" ({not_ok.reason})" if not_ok.reason else "")
        return _probe_finding(path, kind, severity, ra, rb, title)
    if ra.random_per_process or rb.random_per_process:
        if ra.random_per_process and rb.random_per_process:
            return None  # a per-process random hash seed on both sides: never comparable, never a finding
        random_side = ctx.side(ra.random_per_process)
        title = f"probe {name}: not comparable, random per process in {random_side} (PYTHONHASHSEED unset)"
        return _probe_finding(path, "probe.incomparable", _INFO, ra, rb, title)
    if ra.version != rb.version:
        title = f"probe {name}: definition version {ra.version} → {rb.version}, results not comparable"
        return _probe_finding(path, "probe.incomparable", _INFO, ra, rb, title)
    if not ra.stable or not rb.stable:
        both = not ra.stable and not rb.stable
        where = "both sides" if both else ctx.side(not ra.stable)
        reason = (ra if not ra.stable else rb).reason or "two runs differed"
        title = f"probe {name} unstable in {where}: {reason}"
        return _probe_finding(path, "probe.unstable", _INFO if both else _WARN, ra, rb, title, identity=not both)
    return _probe_differs(name, ra, rb)


def _probe_finding(
    path: str,
    kind: str,
    severity: Severity,
    ra: ProbeResult | None,
    rb: ProbeResult | None,
    title: str,
    *,
    identity: bool = True,
    magnitude: Magnitude | None = None,
) -> Finding:
    old = _probe_summary(ra) if ra is not None else None
    new = _probe_summary(rb) if rb is not None else None
    return Finding(kind, path, severity, old, new, title, magnitude=magnitude, identity=identity)


def _probe_differs(name: str, ra: ProbeResult, rb: ProbeResult) -> Finding:
    """Returns the probe.differs finding, its magnitude from `envprint.probes.compare` and its severity."""
    from envprint.probes.compare import compare

    c = compare(ra, rb)
    flags = {k: (_plain(old), _plain(new)) for k, (old, new) in c.changed_flags.items()}
    categorical = any(o.categorical for o in c.outputs.values()) or bool(set(flags) - ULP_LEVEL_FLAGS)
    normwise = c.normwise if c.normwise is None or math.isfinite(c.normwise) else None
    if c.normwise is not None and not math.isfinite(c.normwise):
        categorical = True
    magnitude = Magnitude(
        max_ulp=c.max_ulp,
        normwise=normwise,
        fraction=c.fraction,
        changed_flags=flags,
        outputs=c.differing_outputs,
        categorical=categorical,
    )
    severity = _CRIT if categorical or (normwise is not None and normwise > NORMWISE_CRITICAL) else _WARN
    title = f"probe {name} differs: {_probe_detail(c, magnitude)}"
    return _probe_finding(f"probes.{name}", "probe.differs", severity, ra, rb, title, magnitude=magnitude)


def _probe_detail(c: ProbeComparison, m: Magnitude) -> str:
    """Returns the "how much" part of a probe title: flags, ULP, normwise, blocks, the outputs that differ."""
    parts = []
    flags = [f"{k} {_arrow(old, new)}" for k, (old, new) in _flags_in_order(m.changed_flags)]
    if flags:
        parts.append("flag " + ", ".join(flags[:3]) + (f" (+{len(flags) - 3} more)" if len(flags) > 3 else ""))
    if m.max_ulp is not None and m.max_ulp > 0:
        parts.append(f"max {m.max_ulp} ULP")
    if m.normwise is not None and m.normwise > 0:
        parts.append(f"normwise {m.normwise:.2g}")
    if m.fraction:
        parts.append(f"{m.fraction:.0%} of blocks")
    outputs = []
    for name in c.differing_outputs:
        rows = c.outputs[name].differing_blocks if name in c.outputs else ()
        labelled = [r for r in rows if not r.isdigit()]
        if labelled:
            shown = ", ".join(labelled[:4]) + (f" +{len(labelled) - 4}" if len(labelled) > 4 else "")
            outputs.append(f"{name}[{shown}]")
        else:
            outputs.append(name)
    if outputs:
        parts.append("in " + ", ".join(outputs[:4]) + (f" +{len(outputs) - 4}" if len(outputs) > 4 else ""))
    if c.unsampled_outputs:
        parts.append("magnitude unknown: differs outside the samples")
    if m.categorical:
        parts.append("categorical")
    return "; ".join(parts) if parts else "digest differs"


# -------------------------------------------------------------------------------------- attribution

_THREADS = (
    "determinism.variables.OPENBLAS_NUM_THREADS", "determinism.variables.OMP_NUM_THREADS",
    "determinism.variables.MKL_NUM_THREADS", "determinism.variables.GOTO_NUM_THREADS",
    "determinism.variables.BLIS_NUM_THREADS", "determinism.variables.*_DYNAMIC",
)  # fmt: skip
_KERNEL = (
    "determinism.variables.OPENBLAS_CORETYPE", "determinism.variables.MKL_CBWR",
    "determinism.variables.MKL_ENABLE_INSTRUCTIONS", "determinism.variables.MKL_DEBUG_CPU_TYPE",
    "determinism.variables.OPENBLAS_L2_SIZE",
)  # fmt: skip
_BLAS_FACTS = (
    "blas.libraries.*.architecture", "blas.libraries.*.num_threads", "blas.libraries.*.threading_layer",
    "blas.libraries.*.version", "blas.libraries.*",
)  # fmt: skip
_HARDWARE = (
    "cpu.model_name", "cpu.microarchitecture", "cpu.flags", "cpu.isa_level", "cpu.vendor", "cpu.cache.*",
    "cpu.affinity", "cpu.cgroup_quota", "cpu.logical_cores", "platform.machine", "cpu.machine",
)  # fmt: skip
_SIMD = (
    "determinism.variables.NPY_DISABLE_CPU_FEATURES", "determinism.variables.NPY_ENABLE_CPU_FEATURES",
    "cpu.numpy_simd.found", "cpu.numpy_simd.*",
)  # fmt: skip
_PRECISION = (
    "determinism.variables.NVIDIA_TF32_OVERRIDE", "determinism.variables.TORCH_ALLOW_TF32_CUBLAS_OVERRIDE",
    "determinism.variables.ONEDNN_DEFAULT_FPMATH_MODE", "determinism.variables.JAX_DEFAULT_MATMUL_PRECISION",
    "determinism.frameworks.*.tensor_float_32", "determinism.frameworks.*.matmul_allow_tf32",
    "determinism.frameworks.*.cudnn_allow_tf32", "determinism.frameworks.*.float32_matmul_precision",
    "determinism.frameworks.*.mixed_precision_policy", "determinism.frameworks.*.default_matmul_precision",
)  # fmt: skip
_ONEDNN = (
    "determinism.variables.TF_ENABLE_ONEDNN_OPTS", "determinism.frameworks.tensorflow.onednn_enabled",
    "determinism.variables.ONEDNN_MAX_CPU_ISA", "determinism.variables.DNNL_MAX_CPU_ISA",
)  # fmt: skip
_GPU = (
    "gpu.devices.*.name", "gpu.devices.*.compute_capability", "gpu.driver_version", "gpu.cuda_driver_version",
    "determinism.frameworks.*.cuda_version", "determinism.frameworks.*.cudnn_version", "gpu.devices.*",
)  # fmt: skip
_NUMPY = ("packages.numpy.version", "packages.numpy.*", "packages.numpy")
_TIME = (
    "locale_time.tz_env", "locale_time.local_zone", "locale_time.tzdata_system", "locale_time.tzdata_package",
    "packages.tzdata.version", "packages.tzdata",
)  # fmt: skip
_LOCALE = ("locale_time.locale.*", "locale_time.locale_env.*", "locale_time.preferred_encoding")
_ENCODING = (
    "locale_time.preferred_encoding", "locale_time.utf8_mode", "locale_time.locale.LC_CTYPE",
    "locale_time.locale_env.*", "python.unicode_version",
)  # fmt: skip
_TF = ("packages.tensorflow*.version", "packages.tf-keras.version", "packages.keras.version")
_TORCH = ("packages.torch.version",)

#: probe name or group -> the finding paths that can explain its difference, strongest first (fnmatch
#: globs). A probe difference names the first that differs as its likely cause and the next as
#: corroboration; then the numerics package versions, the Python version and the CPU are tried.
ATTRIBUTION: Mapping[str, tuple[str, ...]] = {
    "blas_fma": (*_KERNEL, "blas.libraries.*.architecture", "blas.libraries.*.version", "blas.libraries.*",
                 *_HARDWARE[:6]),
    "matmul_precision": (*_PRECISION, *_KERNEL, *_BLAS_FACTS),
    "blas": (*_THREADS, *_KERNEL, *_BLAS_FACTS, *_HARDWARE),
    "linalg": (*_THREADS, *_KERNEL, *_BLAS_FACTS, *_HARDWARE),
    "sum_python": ("python.version",),
    "reductions": (*_NUMPY, *_SIMD),
    "ufunc": (*_SIMD, *_NUMPY, *_HARDWARE[:6]),
    "activations": (*_SIMD, *_NUMPY, *_HARDWARE[:6]),
    "sort": (*_SIMD, *_NUMPY, *_HARDWARE[:6]),
    "libm": ("platform.libc_version", "platform.libc", "platform.os_id", "platform.os_version", *_SIMD),
    "fft": (*_NUMPY, *_SIMD),
    "rng": (*_NUMPY, "python.version"),
    "casts": ("platform.machine", "cpu.machine", *_NUMPY, *_SIMD),
    "unicode_text": (*_ENCODING, "python.version"),
    "text": (*_LOCALE, *_NUMPY, "python.version", "probes.fpenv"),
    "locale": _LOCALE,
    "time": _TIME,
    "hash": ("determinism.variables.PYTHONHASHSEED", "determinism.hash_randomization", "python.hash_algorithm",
             "python.version"),
    "tf_precision": (*_PRECISION, *_ONEDNN),
    "tensorflow": (*_ONEDNN, "determinism.variables.ONEDNN_DEFAULT_FPMATH_MODE", "determinism.variables.TF_XLA_FLAGS",
                   "determinism.variables.XLA_FLAGS", *_PRECISION, "determinism.frameworks.tensorflow.*",
                   "determinism.variables.TF_NUM_INTRAOP_THREADS", *_TF, *_GPU, *_HARDWARE[:6]),
    "torch_precision": (*_PRECISION,),
    "torch": ("determinism.variables.MKL_CBWR", "determinism.variables.ATEN_CPU_CAPABILITY",
              "determinism.frameworks.torch.cpu_capability", "determinism.variables.ONEDNN_MAX_CPU_ISA",
              *_PRECISION, "determinism.frameworks.torch.*", "determinism.variables.OMP_NUM_THREADS",
              "determinism.variables.MKL_NUM_THREADS", *_TORCH, *_GPU, *_HARDWARE[:6]),
}  # fmt: skip

#: tried after a probe's own entries: any numerics package version, then the interpreter
_FALLBACK_CAUSES = ("packages.*.version", "packages.*", "python.version")

_UNEXPLAINED = (
    "no captured difference explains this; the stacks compute differently for a reason envprint does "
    "not record — compare library builds (pip freeze, conda list, ldd) of both images"
)


def _attribute(findings: list[Finding], ctx: _Context) -> list[Finding]:
    """Returns the findings with a likely cause (and its remedy) on every probe.differs finding."""
    candidates = [f for f in findings if f.identity and f.severity > _INFO and f.kind != "probe.differs"]
    candidates += [f for f in findings if f.path == "probes.fpenv" and f.kind == "probe.differs"]
    out = []
    for f in findings:
        if f.kind != "probe.differs":
            out.append(f)
            continue
        name = f.path.split(".", 1)[1]
        group = str((f.old or {}).get("group", ""))
        if group == "fpenv":
            out.append(dataclasses.replace(f, cause=_fpenv_cause(f, ctx)))
            continue
        own = ATTRIBUTION.get(name, ()) + ATTRIBUTION.get(group, ())
        pool = [c for c in candidates if c is not f]
        # the numerics package versions and the interpreter explain a probe only when nothing closer does
        matched = _matching(pool, own) or _matching(
            [c for c in pool if not c.path.startswith("packages.") or _is_numerics_path(c.path)], _FALLBACK_CAUSES
        )
        if not matched:
            out.append(dataclasses.replace(f, cause=_UNEXPLAINED))
            continue
        primary, *rest = matched
        cause = f"likely cause: {_as_cause(primary)}"
        if rest:
            cause += " (" + "; ".join(_as_cause(r) for r in rest[:2]) + ")"
        out.append(dataclasses.replace(f, cause=cause, remedy=primary.remedy or f.remedy))
    return out


def _as_cause(f: Finding) -> str:
    """Returns how a finding reads as the cause of another: its title (probes: what changed)."""
    if f.kind == "probe.differs" and f.magnitude is not None and f.magnitude.changed_flags:
        flags = ", ".join(f"{k} {_arrow(o, n)}" for k, (o, n) in _flags_in_order(f.magnitude.changed_flags)[:2])
        return f"probe {f.path.split('.', 1)[1]}: {flags}"
    return f.title


def _flags_in_order(flags: Mapping[str, tuple[Any, Any]]) -> list[tuple[str, tuple[Any, Any]]]:
    """Returns changed flags, summary flags (short names like "ftz") before their details ("ftz_f32")."""
    return sorted(flags.items(), key=lambda kv: (kv[0].count("_"), kv[0]))


def _matching(pool: list[Finding], globs: tuple[str, ...], limit: int = 3) -> list[Finding]:
    """Returns up to `limit` findings of `pool` whose path matches a glob, in glob order, each once."""
    matched: list[Finding] = []
    taken: set[int] = set()
    for glob in globs:
        pattern = _compiled(glob)
        for i, f in enumerate(pool):
            if i not in taken and pattern.match(f.path) is not None:
                taken.add(i)
                matched.append(f)
                if len(matched) == limit:
                    return matched
    return matched


def _is_numerics_path(path: str) -> bool:
    return package_role(path.split(".")[1]) == "numerics"


def _fpenv_cause(f: Finding, ctx: _Context) -> str:
    """Returns the cause of an FTZ/DAZ difference: the mechanisms, with what only that side loaded as evidence."""
    flags = f.magnitude.changed_flags if f.magnitude else {}
    on = [new is True for k, (_, new) in flags.items() if k in ("ftz", "daz")]
    if not on:
        return "likely cause: the rounding mode was changed (fesetround) by a library or the application"
    side, other = (ctx.b, ctx.a) if on[0] else (ctx.a, ctx.b)
    label = ctx.b_label if on[0] else ctx.a_label
    cause = (
        f"likely cause: FTZ/DAZ switched on in {label} by a library compiled with -ffast-math (its "
        "crtfastmath constructor sets them when it loads), or by torch.set_flush_denormal(True)"
    )
    evidence = []
    for section, what in (("imported", "modules imported"), ("packages", "packages installed")):
        mine, theirs = getattr(side, section), getattr(other, section)
        if isinstance(mine, Mapping) and isinstance(theirs, Mapping) and mine.keys() - theirs.keys():
            evidence.append(f"{what} only in {label}: {', '.join(sorted(mine.keys() - theirs.keys())[:5])}")
    if not isinstance(side.determinism, Unavailable) and "torch" in side.determinism.frameworks:
        evidence.append(f"torch is imported in {label}")
    return cause + (f" ({'; '.join(evidence)})" if evidence else "")


# ---------------------------------------------------------------------------------------------- diff

_SECTION_ORDER = {f.name: i for i, f in enumerate(dataclasses.fields(Fingerprint))}


def diff(
    a: Fingerprint,
    b: Fingerprint,
    *,
    a_label: str = "a",
    b_label: str = "b",
    a_trust: str = "unsigned",
    b_trust: str = "unsigned",
) -> DiffReport:
    """Returns every difference between fingerprint `a` (reference, e.g. training) and `b` (e.g. serving).

    Pure: no I/O. Findings are ordered by severity (critical first), then by section and path; each
    carries its explanation and remedy from `envprint.explain`, and probe findings their likely cause.
    """
    from envprint.explain import explain

    ctx = _Context(a, b, a_label, b_label)
    raw: list[Finding] = []
    for name, descriptive in _fields(Fingerprint):
        va, vb = getattr(a, name), getattr(b, name)
        special = _SPECIAL.get(name)
        if special is not None:
            special(raw, ctx, va, vb)
        else:
            _walk(raw, ctx, name, va, vb, descriptive)
    explained = []
    for f in raw:
        why, remedy = explain(f)
        identity = f.identity and f.kind not in _CONTEXT_KINDS
        explained.append(dataclasses.replace(f, why=why, remedy=remedy, identity=identity))
    findings = _attribute(explained, ctx)
    findings.sort(key=lambda f: (-f.severity, _SECTION_ORDER.get(f.path.split(".", 1)[0], 99), f.path))
    return DiffReport(a_label, b_label, tuple(findings), a_trust, b_trust)


_SPECIAL: dict[str, Callable[[list[Finding], _Context, Any, Any], None]] = {
    "packages": _packages,
    "probes": _probes,
    "artifact": _artifact,
    "policy": _policy,
    "freshness": _freshness,
}


# ----------------------------------------------------------------------------------------- identity

#: top-level fields that describe the fingerprint rather than the environment
_NOT_IDENTITY = frozenset({"meta", "custom", "policy", "imported", "freshness"})
#: kinds reported for context only: never identity (imported modules: see Fingerprint.imported)
_CONTEXT_KINDS = frozenset({"module.imported"})


def identity_projection(fp: Fingerprint) -> dict[str, Any]:
    """Returns the identity fields of a fingerprint as plain data: what `diff` reports as identity findings.

    Descriptive fields, bookkeeping, meta, custom metadata, the embedded policy and derived fields
    are left out; `Unavailable` keeps its place without its reason; the local zone is merged over
    the names of UTC (and TZ, which only selects it, is left out); probes become one token each:
    ``v<version>:<digest>`` when they ran cleanly, else "skipped", "failed", "unstable" or "random".
    """
    out: dict[str, Any] = {}
    for name, _ in _fields(Fingerprint):
        if name in _NOT_IDENTITY:
            continue
        value = getattr(fp, name)
        if name == "probes":
            out[name] = (
                _project(name, value)
                if isinstance(value, Unavailable)
                else {k: _probe_token(r) for k, r in value.items()}
            )
        elif name == "artifact":
            out[name] = None if value is None else [value.hash_algorithm, value.digest]
        else:
            out[name] = _project(name, value)
    lt = out.get("locale_time")
    if isinstance(lt, dict):
        lt.pop("tz_env", None)
        lt["local_zone"] = _project("", _zone(fp))
    return out


def _project(path: str, value: Any) -> Any:
    """Returns the identity fields of `value` as plain data (see identity_projection)."""
    if isinstance(value, Unavailable):
        return {_UNAVAILABLE_KEY: True}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            name: _project(f"{path}.{name}", getattr(value, name))
            for name, desc in _fields(type(value))
            if not desc and f"{path}.{name}" not in _DERIVED
        }
    if isinstance(value, Mapping):
        return {str(k): _project(f"{path}.{k}", value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (tuple, list)):
        return [_project(path, v) for v in value]
    return value


def identity_digest(fp: Fingerprint) -> str:
    """Returns the sha256 (hex) of the canonical JSON of `identity_projection(fp)`.

    Two captures of one environment have the same digest; fingerprints whose diff has an identity
    finding have different ones. Fleet grouping groups by it.
    """
    text = json.dumps(identity_projection(fp), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
