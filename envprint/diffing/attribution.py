"""Attribution from a causal model: which captured differences can explain a measured one, most likely first.

A measured difference (a probe's bits, the model's golden predictions) is explained by the factors
that can change it (`CAUSES`): thread counts, BLAS kernels, framework versions, CPU features, time
zone... Each factor is recognised by the findings that show it (`_FACTORS`). One factor that fits is
the likely cause, and its remedy is the finding's; several are candidates, and the cause says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from envprint.diffing.packages import package_role
from envprint.diffing.rules import compiled_glob
from envprint.diffing.values import INFO, Context, arrow
from envprint.model import Unavailable
from envprint.report import Finding, flags_in_order

#: A factor is one thing about an environment that can change numbers, and the finding paths that
#: show it changed (fnmatch globs); several findings of one factor are one cause, corroborated.
_FACTORS: Mapping[str, tuple[str, ...]] = {
    "thread count": (
        "determinism.variables.OPENBLAS_NUM_THREADS", "determinism.variables.OMP_NUM_THREADS",
        "determinism.variables.MKL_NUM_THREADS", "determinism.variables.GOTO_NUM_THREADS",
        "determinism.variables.BLIS_NUM_THREADS", "determinism.variables.*_DYNAMIC",
        "determinism.variables.TF_NUM_INTRAOP_THREADS", "determinism.variables.TF_NUM_INTEROP_THREADS",
        "blas.libraries.*.num_threads", "blas.libraries.*.threading_layer",
        "determinism.frameworks.*.intra_op_threads", "determinism.frameworks.*.inter_op_threads",
        "determinism.frameworks.*.num_threads", "determinism.frameworks.*.num_interop_threads",
        "cpu.affinity", "cpu.cgroup_quota", "cpu.logical_cores",
    ),
    "BLAS kernel": (
        "determinism.variables.OPENBLAS_CORETYPE", "determinism.variables.MKL_CBWR",
        "determinism.variables.MKL_ENABLE_INSTRUCTIONS", "determinism.variables.MKL_DEBUG_CPU_TYPE",
        "determinism.variables.OPENBLAS_L2_SIZE", "blas.libraries.*.architecture",
    ),
    "BLAS library": ("blas.libraries.*.version", "blas.libraries.*"),
    "numerics precision": (
        "determinism.variables.NVIDIA_TF32_OVERRIDE", "determinism.variables.TORCH_ALLOW_TF32_CUBLAS_OVERRIDE",
        "determinism.variables.ONEDNN_DEFAULT_FPMATH_MODE", "determinism.variables.JAX_DEFAULT_MATMUL_PRECISION",
        "determinism.frameworks.*.tensor_float_32", "determinism.frameworks.*.matmul_allow_tf32",
        "determinism.frameworks.*.cudnn_allow_tf32", "determinism.frameworks.*.float32_matmul_precision",
        "determinism.frameworks.*.mixed_precision_policy", "determinism.frameworks.*.default_matmul_precision",
    ),
    "oneDNN": (
        "determinism.variables.TF_ENABLE_ONEDNN_OPTS", "determinism.frameworks.tensorflow.onednn_enabled",
        "determinism.variables.ONEDNN_MAX_CPU_ISA", "determinism.variables.DNNL_MAX_CPU_ISA",
        "determinism.frameworks.torch.mkldnn_enabled",
    ),
    "XLA": ("determinism.variables.TF_XLA_FLAGS", "determinism.variables.XLA_FLAGS"),
    "framework kernels": (
        "determinism.variables.ATEN_CPU_CAPABILITY", "determinism.frameworks.torch.cpu_capability",
        "determinism.frameworks.*.op_determinism", "determinism.frameworks.*.deterministic_algorithms",
        "determinism.frameworks.*.cudnn_*",
    ),
    "TensorFlow version": (
        "packages.tensorflow*", "packages.tf-keras*", "packages.keras*", "packages.ml-dtypes*", "packages.tf-nightly*",
        "determinism.frameworks.tensorflow.version", "determinism.frameworks.tensorflow.keras_version",
    ),
    "torch version": ("packages.torch*", "packages.triton*", "determinism.frameworks.torch.version"),
    "JAX version": ("packages.jax*", "determinism.frameworks.jax.version"),
    "numpy version": ("packages.numpy*",),
    "numpy SIMD": (
        "determinism.variables.NPY_DISABLE_CPU_FEATURES", "determinism.variables.NPY_ENABLE_CPU_FEATURES",
        "cpu.numpy_simd.found",
    ),
    "CPU": (
        "cpu.model_name", "cpu.microarchitecture", "cpu.flags", "cpu.isa_level", "cpu.vendor", "cpu.cache.*",
        "platform.machine", "cpu.machine",
    ),
    "GPU": (
        "gpu.devices.*.name", "gpu.devices.*.compute_capability", "gpu.driver_version", "gpu.cuda_driver_version",
        "determinism.frameworks.*.cuda_version", "determinism.frameworks.*.cudnn_version", "gpu.devices.*", "gpu",
    ),
    "C library": ("platform.libc_version", "platform.libc", "platform.os_id", "platform.os_version"),
    "Python": ("python.version",),
    "time zone": (
        "locale_time.tz_env", "locale_time.local_zone", "locale_time.tzdata_system", "locale_time.tzdata_package",
        "packages.tzdata*",
    ),
    "locale": ("locale_time.locale.*", "locale_time.locale_env.*"),
    "text encoding": (
        "locale_time.preferred_encoding", "locale_time.utf8_mode", "locale_time.locale.LC_CTYPE",
        "python.unicode_version",
    ),
    "hash seed": (
        "determinism.variables.PYTHONHASHSEED", "determinism.hash_randomization", "python.hash_algorithm",
    ),
    "FTZ/DAZ": ("probes.fpenv",),
    "other numerics packages": ("packages.*",),
}  # fmt: skip

_MODEL = (
    "TensorFlow version", "torch version", "JAX version", "numpy version", "other numerics packages",
    "numerics precision", "oneDNN", "XLA", "framework kernels", "BLAS kernel", "BLAS library", "thread count",
    "numpy SIMD", "CPU", "GPU", "C library", "FTZ/DAZ", "Python",
)  # fmt: skip

#: probe name or group (or "model", the golden predictions) -> the factors that can change it, the most
#: likely first. What is not listed cannot: a seed never changes a deterministic elementwise op.
CAUSES: Mapping[str, tuple[str, ...]] = {
    "blas_fma": ("BLAS kernel", "BLAS library", "CPU"),
    "matmul_precision": ("numerics precision", "BLAS kernel", "BLAS library"),
    # numpy's version matters to a matrix product only through the BLAS it ships, compared on its own
    "blas": ("thread count", "BLAS kernel", "BLAS library", "CPU"),
    "linalg": ("thread count", "BLAS kernel", "BLAS library", "numpy version", "CPU"),
    "sum_python": ("Python",),
    "reductions": ("numpy version", "numpy SIMD", "CPU"),
    "ufunc": ("numpy SIMD", "numpy version", "CPU"),
    "activations": ("numpy SIMD", "numpy version", "CPU"),
    "sort": ("numpy SIMD", "numpy version", "CPU"),
    "libm": ("C library", "numpy SIMD"),
    "fft": ("numpy version", "numpy SIMD"),
    "rng": ("numpy version", "Python"),
    "casts": ("CPU", "numpy version", "numpy SIMD"),
    "unicode_text": ("text encoding", "Python"),
    "text": ("locale", "numpy version", "Python", "FTZ/DAZ"),
    "locale": ("locale",),
    "time": ("time zone",),
    "hash": ("hash seed", "Python"),
    "tf_precision": ("numerics precision", "oneDNN"),
    "tensorflow": ("TensorFlow version", "oneDNN", "XLA", "numerics precision", "framework kernels", "thread count",
                   "numpy version", "GPU", "CPU"),
    "torch_precision": ("numerics precision",),
    "torch": ("torch version", "numerics precision", "framework kernels", "oneDNN", "BLAS kernel", "thread count",
              "GPU", "CPU"),
    "model": _MODEL,
}  # fmt: skip

#: tried when none of a probe's own factors differs: the numerics packages, then the interpreter
_FALLBACK = ("numpy version", "other numerics packages", "Python")

_UNEXPLAINED = (
    "no captured difference explains this; the stacks compute differently for a reason envprint does "
    "not record — compare library builds (pip freeze, conda list, ldd) of both images"
)


#: a measured consequence -> the settings that determine it: when one of those differs too, it is the
#: cause, and its fix is the consequence's fix (one cause, one fix)
_SET_BY: Mapping[str, tuple[str, ...]] = {
    "blas.libraries.*.num_threads": (
        "determinism.variables.OPENBLAS_NUM_THREADS", "determinism.variables.OMP_NUM_THREADS",
        "determinism.variables.MKL_NUM_THREADS", "determinism.variables.GOTO_NUM_THREADS",
        "determinism.variables.BLIS_NUM_THREADS",
    ),
    "determinism.frameworks.*.intra_op_threads": (
        "determinism.variables.TF_NUM_INTRAOP_THREADS", "determinism.variables.OMP_NUM_THREADS",
    ),
    "determinism.frameworks.*.num_threads": ("determinism.variables.OMP_NUM_THREADS",),
    "locale_time.local_zone": ("locale_time.tz_env",),
    "blas.libraries.*.architecture": ("determinism.variables.OPENBLAS_CORETYPE",),
    "cpu.numpy_simd.found": (
        "determinism.variables.NPY_DISABLE_CPU_FEATURES", "determinism.variables.NPY_ENABLE_CPU_FEATURES",
    ),
    "determinism.frameworks.tensorflow.onednn_enabled": ("determinism.variables.TF_ENABLE_ONEDNN_OPTS",),
    "determinism.frameworks.tensorflow.op_determinism": ("determinism.variables.TF_DETERMINISTIC_OPS",),
}  # fmt: skip


def link_settings(findings: list[Finding]) -> list[Finding]:
    """Returns the findings with each measured consequence pointing at the setting that caused it.

    The thread pool size follows OPENBLAS_NUM_THREADS, the local zone follows TZ: the consequence
    names the setting as its cause and takes its fix, so one cause has one fix.
    """
    out = []
    for f in findings:
        settings = next((paths for glob, paths in _SET_BY.items() if compiled_glob(glob).match(f.path)), ())
        if f.path.startswith("blas.libraries.") and f.path.endswith(".version"):
            # a bundled BLAS's version follows the distribution that ships it ("numpy/openblas": numpy)
            settings = (f"packages.{f.path.split('.')[2].split('/')[0]}.version",)
        setting = next((s for p in settings for s in findings if s.path == p and s is not f), None)
        if setting is None or f.kind in _EFFECTS:
            out.append(f)
        else:
            out.append(dataclasses.replace(f, cause=f"set by {setting.title}", remedy=setting.remedy))
    return out


def attribute(findings: list[Finding], ctx: Context) -> list[Finding]:
    """Returns the findings with a likely cause (and its remedy) on every probe and golden-prediction difference.

    Causes come from the causal model (`CAUSES`): the factors that can change that probe, ranked by
    prior likelihood; each factor is one cause however many findings show it. When one factor fits,
    it is the likely cause; when several do, the cause says "unverified" and lists them.
    """
    candidates = [f for f in findings if f.identity and f.severity > INFO and f.kind not in _EFFECTS]
    candidates += [f for f in findings if f.path == "probes.fpenv" and f.kind == "probe.differs"]
    out = []
    for f in findings:
        if f.kind == "probe.differs" and str((f.old or {}).get("group", "")) == "fpenv":
            out.append(dataclasses.replace(f, cause=_fpenv_cause(f, ctx)))
            continue
        if f.kind not in _EFFECTS:
            out.append(f)
            continue
        pool = [c for c in candidates if c is not f]
        if f.kind == "model.predictions":
            factors = _ranked(pool, CAUSES["model"], evidence=findings)
        else:
            name = f.path.split(".", 1)[1]
            group = str((f.old or {}).get("group", ""))
            own = tuple(dict.fromkeys(CAUSES.get(name, ()) + CAUSES.get(group, ())))
            factors = _ranked(pool, own) or _ranked(pool, _FALLBACK, numerics_only=True)
        if not factors:
            out.append(dataclasses.replace(f, cause=_UNEXPLAINED))
            continue
        out.append(dataclasses.replace(f, cause=_cause_text(factors), remedy=factors[0][1][0].remedy or f.remedy))
    return out


#: findings that are effects (measured differences) rather than causes
_EFFECTS = frozenset({"probe.differs", "model.predictions"})


def _ranked(
    pool: list[Finding], factors: tuple[str, ...], *, evidence: list[Finding] | None = None, numerics_only: bool = False
) -> list[tuple[str, list[Finding]]]:
    """Returns the factors among `factors` that some finding of `pool` shows, with those findings, most likely first.

    With `evidence` (the whole report), factors already named as the cause of a differing probe
    come first: a measured effect outweighs a prior.
    """
    found: list[tuple[str, list[Finding]]] = []
    taken: set[int] = set()
    for factor in factors:
        shown: list[tuple[int, Finding]] = []
        for i, c in enumerate(pool):
            rank = next((n for n, g in enumerate(_FACTORS[factor]) if compiled_glob(g).match(c.path)), None)
            if i in taken or rank is None:
                continue
            numerics = numerics_only or factor == "other numerics packages"
            if numerics and c.path.startswith("packages.") and not _is_numerics_path(c.path):
                continue
            taken.add(i)
            shown.append((rank, c))
        if shown:
            # within a factor, the setting before its consequences (OPENBLAS_NUM_THREADS before the pool size)
            found.append((factor, [c for _, c in sorted(shown, key=lambda rc: rc[0])]))
    if evidence:
        explained = {
            e.cause.partition(": ")[2].split(" (")[0] for e in evidence if e.kind == "probe.differs" and e.cause
        }
        found.sort(key=lambda item: 0 if any(c.title in explained for c in item[1]) else 1)
    return found


def _cause_text(factors: list[tuple[str, list[Finding]]]) -> str:
    """Returns the cause line: the one factor with its corroboration, or the candidates, labelled unverified."""
    (_, first), rest = factors[0], factors[1:]
    if not rest:
        head, *corroboration = first
        text = f"likely cause: {_as_cause(head)}"
        return text + (" (" + "; ".join(_as_cause(c) for c in corroboration[:2]) + ")" if corroboration else "")
    listed = ", or ".join(_as_cause(shown[0]) for _, shown in factors[:3])
    more = f" (+{len(factors) - 3} more)" if len(factors) > 3 else ""
    return f"unverified, most likely first: {listed}{more}"


def _as_cause(f: Finding) -> str:
    """Returns how a finding reads as the cause of another: its title (probes: what changed)."""
    if f.kind == "probe.differs" and f.magnitude is not None and f.magnitude.changed_flags:
        flags = ", ".join(f"{k} {arrow(o, n)}" for k, (o, n) in flags_in_order(f.magnitude.changed_flags)[:2])
        return f"probe {f.path.split('.', 1)[1]}: {flags}"
    return f.title


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
