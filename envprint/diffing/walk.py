"""The walk: every section compared field by field in both directions, each difference classified by the rules."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from envprint.collect.packages import normalise
from envprint.collect.variables import SPEED_ONLY, effect_of
from envprint.diffing.packages import version_change
from envprint.diffing.rules import BOOKKEEPING, DERIVED, FRAMEWORK_FIELDS, VERSIONED, rule_for, variable_kind
from envprint.diffing.simd import usable_features
from envprint.diffing.values import (
    ABSENT,
    CRIT,
    INFO,
    WARN,
    Context,
    arrow,
    effective_tzdata,
    fields_of,
    finding,
    plain,
    present_detail,
    same_tzdata,
    same_zone,
    show,
    unavailable_finding,
    zone_of,
)
from envprint.model import Fingerprint, Unavailable
from envprint.report import Finding


def walk(out: list[Finding], ctx: Context, path: str, a: Any, b: Any, descriptive: bool) -> None:
    """Appends a finding for every difference between `a` and `b` at or below `path`."""
    if a is not ABSENT and b is not ABSENT and type(a) is type(b) and a == b:
        return
    if path in BOOKKEEPING:
        return
    if descriptive:
        change = arrow(a, b)
        title = f"{path} differs" if change == "present → present" else f"{path} {change}"
        out.append(finding(path, "descriptive", INFO, a, b, title, identity=False))
        return
    if isinstance(a, Unavailable) or isinstance(b, Unavailable):
        out.append(unavailable_finding(ctx, path, a, b))
        return
    if dataclasses.is_dataclass(a) and type(a) is type(b):
        cls: type = type(a)
        for name, desc in fields_of(cls):
            walk(out, ctx, f"{path}.{name}", getattr(a, name), getattr(b, name), desc)
        return
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(a.keys() | b.keys(), key=str):
            walk(out, ctx, f"{path}.{key}", a.get(key, ABSENT), b.get(key, ABSENT), False)
        return
    out.append(_classify(ctx, path, a, b))


def _classify(ctx: Context, path: str, a: Any, b: Any) -> Finding:
    """Returns the finding for one differing leaf, or one entry present on one side only."""
    section, _, rest = path.partition(".")
    if section == "blas" and b is ABSENT and (owner := _not_loaded_yet(ctx, path)):
        title = (
            f"BLAS library {rest.partition('.')[2]}: loaded in {ctx.a_label}, not loaded yet in {ctx.b_label} "
            f"({owner} is installed; its library loads when the code that uses it is imported)"
        )
        return finding(path, "measured.pending", WARN, a, b, title)
    if path.startswith("determinism.variables."):
        name = rest.partition(".")[2]
        kind, severity = variable_kind(name)
        identity = effect_of(name) not in SPEED_ONLY
        return finding(path, kind, severity, a, b, f"{name} {arrow(a, b, 'unset')}", identity=identity)
    if section == "env" and effect_of(rest) in SPEED_ONLY:
        # placement, waiting, allocation, logging: speed and messages, never numbers
        return finding(path, "env.placement", INFO, a, b, f"{rest} {arrow(a, b, 'unset')}", identity=False)
    if path.startswith("determinism.frameworks.") and path.count(".") >= 3:
        framework, _, fieldname = path.split(".", 2)[2].partition(".")
        kind, severity = FRAMEWORK_FIELDS.get(fieldname, ("framework.setting", WARN))
        return finding(path, kind, severity, a, b, f"{framework} {fieldname} {arrow(a, b)}")
    if path == "cpu.numpy_simd.found":
        return _simd_found(ctx, a, b)
    rule, captures = rule_for(path)
    severity = rule.severity(plain(a), plain(b)) if callable(rule.severity) else rule.severity
    what = rule.what.format(*captures) if captures else rule.what
    if rule.glob == "*":
        what = path
    identity = path not in DERIVED and section not in ("custom", "meta")
    title = f"{what} {arrow(a, b, rule.none)}"
    if a is ABSENT or b is ABSENT:
        title = f"{what}: only in {ctx.side(b is ABSENT)}" + present_detail(a if b is ABSENT else b)
    elif path in ("cpu.flags", "cpu.numpy_simd.not_found"):
        title = f"{what}: {_set_change(a, b)}"
    elif path in VERSIONED and isinstance(a, str) and isinstance(b, str) and version_change(a, b) != "unparsed":
        title += f" ({version_change(a, b)})"
    elif path in ("locale_time.tz_env", "locale_time.local_zone") and same_zone(ctx):
        identity = False
        title += f" (both resolve to {show(zone_of(ctx.a))})"
    elif path in ("locale_time.tzdata_system", "locale_time.tzdata_package") and same_tzdata(ctx):
        identity = False  # not the database either side reads
        title += f" (not used: both sides read the {effective_tzdata(ctx.a)} tz database)"
    elif path in ("locale_time.tzdata_system", "locale_time.tzdata_package"):
        title = f"tz database read {effective_tzdata(ctx.a) or 'none'} → {effective_tzdata(ctx.b) or 'none'}"
    if not identity:
        severity = INFO
    return finding(path, rule.kind, severity, a, b, title, identity=identity)


def _simd_found(ctx: Context, a: Any, b: Any) -> Finding:
    """Returns the numpy SIMD finding: critical when dispatch uses other CPU features, info when only names differ."""
    simd_a, simd_b = _simd(ctx.a), _simd(ctx.b)
    used_a, used_b = usable_features(simd_a, simd_b), usable_features(simd_b, simd_a)
    path = "cpu.numpy_simd.found"
    if used_a == used_b:
        title = f"numpy SIMD targets named differently ({arrow(a, b)}); the same {len(used_a)} CPU features are used"
        return finding(path, "cpu.numpy_simd", INFO, a, b, title, identity=False)
    title = f"numpy SIMD dispatch uses other CPU features: {_set_change(sorted(used_a), sorted(used_b), what='')}"
    return finding(path, "cpu.numpy_simd", CRIT, a, b, title)


def _simd(fp: Fingerprint) -> dict[str, Any]:
    cpu = fp.cpu
    simd = None if isinstance(cpu, Unavailable) else cpu.numpy_simd
    return {} if simd is None or isinstance(simd, Unavailable) else dict(plain(simd))


def _set_change(a: Any, b: Any, what: str | None = None) -> str:
    sa = set(a) if isinstance(a, (tuple, list)) else set()
    sb = set(b) if isinstance(b, (tuple, list)) else set()
    parts = []
    if sa - sb:
        parts.append("lost " + " ".join(sorted(sa - sb)))
    if sb - sa:
        parts.append("gained " + " ".join(sorted(sb - sa)))
    if what == "":
        return "; ".join(parts)
    return f"{arrow(a, b)} ({'; '.join(parts)})" if parts else arrow(a, b)


def artifact_findings(out: list[Finding], ctx: Context, a: Any, b: Any) -> None:
    """Appends the artifact finding: bound on one side only, other content, or the same content renamed."""
    if a == b:
        return
    if a is None or b is None:
        present = a or b
        title = f"model artifact {present.name} bound only in {ctx.side(b is None)}"
        out.append(finding("artifact", "artifact.unbound", INFO, a, b, title))
        return
    if a.digest != b.digest or a.hash_algorithm != b.hash_algorithm:
        changed = _changed_files(a.files, b.files)
        title = f"model artifact differs: {a.hash_algorithm} {a.digest[:12]} → {b.digest[:12]} ({changed})"
        out.append(finding("artifact.digest", "artifact.differs", CRIT, a.digest, b.digest, title))
        return
    if a.name != b.name:
        title = f"model artifact renamed {a.name} → {b.name} (same content)"
        out.append(finding("artifact.name", "artifact.differs", INFO, a.name, b.name, title, identity=False))
    else:
        title = f"model artifact {a.name}: same digest, manifest details differ"
        out.append(finding("artifact", "artifact.differs", INFO, a, b, title, identity=False))


def _changed_files(fa: Iterable[Any], fb: Iterable[Any]) -> str:
    ma, mb = {f.path: f.sha256 for f in fa}, {f.path: f.sha256 for f in fb}
    changed = sum(1 for p in ma.keys() & mb.keys() if ma[p] != mb[p])
    return f"{changed} changed, {len(mb.keys() - ma.keys())} added, {len(ma.keys() - mb.keys())} removed file(s)"


def policy_findings(out: list[Finding], ctx: Context, a: Any, b: Any) -> None:
    """Appends one info finding when the embedded policies differ."""
    if a != b:
        title = "embedded serving policy " + ("differs" if a and b else f"only in {ctx.side(b is None)}")
        out.append(finding("policy", "policy.differs", INFO, a, b, title, identity=False))


def golden_inputs_findings(out: list[Finding], ctx: Context, a: Any, b: Any) -> None:
    """Appends one info finding when the stored golden inputs differ (what is re-run, not the environment)."""
    if a != b:
        title = "golden prediction inputs " + ("differ" if a and b else f"stored only in {ctx.side(b is None)}")
        old, new = (sorted(a) if a else None), (sorted(b) if b else None)
        out.append(finding("golden_inputs", "golden.inputs", INFO, old, new, title, identity=False))


def freshness_findings(out: list[Finding], ctx: Context, a: Any, b: Any) -> None:
    """Appends one info finding when the training freshness profiles differ (data, not environment)."""
    if a != b:
        title = "feature freshness profile " + ("differs" if a and b else f"only in {ctx.side(b is None)}")
        out.append(finding("freshness", "freshness.profile", INFO, a, b, title, identity=False))


def _not_loaded_yet(ctx: Context, path: str) -> str | None:
    """Returns the distribution shipping a BLAS/OpenMP library the reference loaded and b has not loaded yet.

    threadpoolctl sees a library once some import has loaded it: a serving process that guards before
    importing the model's libraries (scikit-learn's OpenMP, scipy's OpenBLAS) has not loaded them yet.
    That is not a mismatch while the owning distribution is installed there and none of its libraries
    is loaded; a different library of the same owner is a real difference.
    """
    parts = path.split(".")
    libraries, packages = ctx.b.blas, ctx.b.packages
    if len(parts) != 3 or parts[1] != "libraries" or isinstance(libraries, Unavailable):
        return None
    owner = parts[2].partition("/")[0]
    if isinstance(packages, Unavailable) or normalise(owner) not in packages:
        return None
    if any(key.partition("/")[0] == owner for key in libraries.libraries):
        return None
    return normalise(owner)
