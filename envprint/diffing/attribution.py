"""Attribution: which captured difference likely explains each probe difference, strongest first."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from envprint.diffing.packages import package_role
from envprint.diffing.rules import compiled_glob
from envprint.diffing.values import INFO, Context, arrow
from envprint.model import Unavailable
from envprint.report import Finding, flags_in_order

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


def attribute(findings: list[Finding], ctx: Context) -> list[Finding]:
    """Returns the findings with a likely cause (and its remedy) on every probe.differs finding."""
    candidates = [f for f in findings if f.identity and f.severity > INFO and f.kind != "probe.differs"]
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
        flags = ", ".join(f"{k} {arrow(o, n)}" for k, (o, n) in flags_in_order(f.magnitude.changed_flags)[:2])
        return f"probe {f.path.split('.', 1)[1]}: {flags}"
    return f.title


def _matching(pool: list[Finding], globs: tuple[str, ...], limit: int = 3) -> list[Finding]:
    """Returns up to `limit` findings of `pool` whose path matches a glob, in glob order, each once."""
    matched: list[Finding] = []
    taken: set[int] = set()
    for glob in globs:
        pattern = compiled_glob(glob)
        for i, f in enumerate(pool):
            if i not in taken and pattern.match(f.path) is not None:
                taken.add(i)
                matched.append(f)
                if len(matched) == limit:
                    return matched
    return matched


def _is_numerics_path(path: str) -> bool:
    return package_role(path.split(".")[1]) == "numerics"


def _fpenv_cause(f: Finding, ctx: Context) -> str:
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
