"""Package findings: how a distribution bears on a model's numbers (its role), and what changed in it."""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeAlias

from envprint.collect.packages import normalise
from envprint.diffing.values import (
    ABSENT,
    CRIT,
    INFO,
    WARN,
    Context,
    arrow,
    effective_tzdata,
    finding,
    same_tzdata,
    show,
    unavailable_finding,
)
from envprint.model import Package, PackageOrigin, Unavailable
from envprint.report import Finding, Severity

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

    exact = frozenset(g for g in globs if "*" not in g)
    pattern = re.compile("|".join(fnmatch.translate(g) for g in globs if "*" in g) or "(?!)")
    return lambda name: name in exact or pattern.match(name) is not None


is_numerics = _glob_matcher(NUMERICS_PACKAGES)
_is_tooling = _glob_matcher(TOOLING_PACKAGES)


def package_role(name: str) -> PackageRole:
    """Returns how a distribution bears on a model's numbers: "numerics", "library" or "tooling"."""

    canonical = normalise(name)
    if is_numerics(canonical):
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
    # packaging (~3 ms) is imported by the first version change there is: a guard where nothing moved skips it
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


def package_findings(out: list[Finding], ctx: Context, a: Any, b: Any) -> None:
    """Appends the findings of the packages section: one per package added, removed or changed."""
    if isinstance(a, Unavailable) or isinstance(b, Unavailable):
        if a != b:
            out.append(unavailable_finding(ctx, "packages", a, b))
        return
    for name in sorted(a.keys() | b.keys()):
        pa, pb = a.get(name), b.get(name)
        if pa == pb:
            continue
        if unused_by_reference(pa):
            out.extend(_as_unused(one_package(ctx, name, pa, pb)))
        elif name == "tzdata" and same_tzdata(ctx):
            out.extend(_not_read(one_package(ctx, name, pa, pb), effective_tzdata(ctx.a)))
        else:
            out.extend(one_package(ctx, name, pa, pb))


def one_package(ctx: Context, name: str, pa: Package | None, pb: Package | None) -> list[Finding]:
    """Returns the findings of one package added, removed or changed."""
    out: list[Finding] = []
    if pa is None or pb is None:
        present = pa or pb
        assert present is not None
        kind = "package.added" if pa is None else "package.removed"
        title = f"{name} {show(present.version)} installed only in {ctx.side(pb is None)} ({_role(name, pa)})"
        out.append(finding(f"packages.{name}", kind, _presence_severity(name), pa or ABSENT, pb or ABSENT, title))
    else:
        _package_change(out, ctx, name, pa, pb)
    return out


def _not_read(findings: list[Finding], database: str | None) -> list[Finding]:
    """Returns the tzdata package's findings as info: both sides read another (the same) tz database."""
    note = f" (not read: both sides use the {database} tz database)"
    return [dataclasses.replace(f, severity=Severity.info, title=f.title + note) if f.identity else f for f in findings]


def _as_unused(findings: list[Finding]) -> list[Finding]:
    """Returns the findings of a package the reference never imported (nor needed) as `package.unused`.

    It shaped nothing the reference computed, so its change is at most a warning and its presence
    or absence information only; descriptive findings stay as they are.
    """
    out = []
    for f in findings:
        if not f.identity:
            out.append(f)
            continue
        severity = Severity.info if f.kind in ("package.added", "package.removed") else min(f.severity, WARN)
        out.append(dataclasses.replace(f, kind="package.unused", severity=severity))
    return out


def unused_by_reference(pa: Package | None) -> bool:
    """Returns whether the reference recorded that its process never imported this distribution (nor needed it)."""
    return pa is not None and pa.used is False


def _role(name: str, pa: Package | None) -> str:
    """Returns how a package reads in a title: its role, and that the reference never used it when so."""
    return package_role(name) + (", not imported by the reference" if unused_by_reference(pa) else "")


def _presence_severity(name: str) -> Severity:
    return WARN if package_role(name) == "numerics" else INFO


def _change_severity(name: str) -> Severity:
    return {"numerics": CRIT, "library": WARN, "tooling": INFO}[package_role(name)]


def _package_change(out: list[Finding], ctx: Context, name: str, pa: Package, pb: Package) -> None:
    """Appends what differs in one package: unreadable, version (or build), installer, location."""
    path = f"packages.{name}"
    role = _role(name, pa)
    if pa.unreadable != pb.unreadable:
        title = f"{name}: metadata unreadable in {ctx.side(pa.unreadable is not None)}"
        if pa.unreadable is not None and pb.unreadable is not None:
            title = f"{name}: metadata unreadable on both sides, for different reasons"
        out.append(finding(f"{path}.unreadable", "package.unreadable", WARN, pa.unreadable, pb.unreadable, title))
        return
    severity = _change_severity(name)
    version_reported = False
    if pa.version != pb.version:
        if isinstance(pa.version, Unavailable) or isinstance(pb.version, Unavailable):
            out.append(unavailable_finding(ctx, f"{path}.version", pa.version, pb.version))
        else:
            level = version_change(pa.version, pb.version)
            kind = "package.build" if level == "build" else "package.version"
            sev = INFO if level == "equivalent" else severity
            title = f"{name} {pa.version} → {pb.version} ({role if level == 'unparsed' else f'{level}; {role}'})"
            out.append(finding(f"{path}.version", kind, sev, pa.version, pb.version, title))
        version_reported = True
    if not version_reported:
        for fieldname in ("local", "wheel_tags"):
            old, new = getattr(pa, fieldname), getattr(pb, fieldname)
            if old != new:
                what = "local version label" if fieldname == "local" else "wheel tags"
                title = f"{name} {pa.version} build: {what} {arrow(old, new)} ({role})"
                out.append(finding(f"{path}.{fieldname}", "package.build", severity, old, new, title))
    if pa.installer != pb.installer:
        old, new = pa.installer, pb.installer
        if isinstance(old, Unavailable) or isinstance(new, Unavailable):
            out.append(unavailable_finding(ctx, f"{path}.installer", old, new))
        else:
            title = f"{name} installer {arrow(old, new, 'not recorded')}"
            out.append(finding(f"{path}.installer", "package.installer", INFO, old, new, title))
    if pa.location != pb.location:
        title = f"{path}.location {arrow(pa.location, pb.location)}"
        out.append(finding(f"{path}.location", "descriptive", INFO, pa.location, pb.location, title, identity=False))
    origin_findings(out, name, pa, pb)


def origin_findings(out: list[Finding], name: str, pa: Package, pb: Package) -> None:
    """Appends the finding of a change in where a package was installed from: index, editable, VCS, local.

    Only what can change the code counts (kind, VCS commit, archive hash, subdirectory), never the
    host-specific URL of a checkout. An editable install runs its source tree as it is now, and a
    VCS or archive install may be any build: one of those against another origin is as severe as a
    version change of that package; an index against a local build of the same release is a notch
    below (a warning for numerics packages, info otherwise).
    """
    a, b = pa.origin, pb.origin
    key_a, key_b = _origin_key(a), _origin_key(b)
    if key_a == key_b:
        return
    kinds = {key_a[0] if key_a else "index", key_b[0] if key_b else "index"}
    code_may_differ = bool(kinds & {"editable", "vcs", "unknown"}) or (key_a is not None and key_b is not None)
    local_build = WARN if package_role(name) == "numerics" else INFO
    severity = _change_severity(name) if code_may_differ else local_build
    version = show(pb.version)
    title = f"{name} {version} installed from {describe_origin(a)} → {describe_origin(b)} ({package_role(name)})"
    out.append(finding(f"packages.{name}.origin", "package.origin", severity, a, b, title))


def _origin_key(origin: PackageOrigin | None) -> tuple[str, str | None, str | None, str | None, str | None] | None:
    if origin is None:
        return None
    return (origin.kind, origin.vcs, origin.commit, origin.archive_hash, origin.subdirectory)


def describe_origin(origin: PackageOrigin | None) -> str:
    """Returns where a package was installed from, in a few words ("an index", "editable source tree", ...)."""
    if origin is None:
        return "an index"
    if origin.kind == "editable":
        return "an editable source tree"
    if origin.kind == "vcs":
        commit = f" commit {origin.commit[:12]}" if origin.commit else ""
        return f"{origin.vcs or 'VCS'}{commit}"
    if origin.kind == "directory":
        return "a local source tree"
    if origin.kind == "archive":
        digest = f" ({origin.archive_hash[:19]}…)" if origin.archive_hash else ""
        return f"an archive {'file' if origin.url.startswith('file:') else 'URL'}{digest}"
    return f"an unrecognised direct URL ({origin.url})" if origin.url else "an unrecognised direct URL"
