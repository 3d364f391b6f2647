"""Probe findings: one per probe whose bits differ, with the magnitude of the difference (`envprint.probes.compare`)."""

from __future__ import annotations

import math
from typing import Any

from envprint.diffing.rules import NORMWISE_CRITICAL, ULP_LEVEL_FLAGS
from envprint.diffing.values import CRIT, INFO, WARN, Context, arrow, plain, unavailable_finding
from envprint.model import ProbeResult, Unavailable
from envprint.probes.compare import ProbeComparison, compare
from envprint.report import Finding, Magnitude, Severity, flags_in_order


def probe_token(r: ProbeResult) -> str:
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
        "flags": plain(dict(r.flags)),
        "reason": r.reason,
    }


def probe_findings(out: list[Finding], ctx: Context, a: Any, b: Any) -> None:
    """Appends one finding per probe whose results differ, or that ran on one side only."""
    if isinstance(a, Unavailable) or isinstance(b, Unavailable):
        if a != b:
            out.append(unavailable_finding(ctx, "probes", a, b))
        return
    for name in sorted(a.keys() | b.keys()):
        ra, rb = a.get(name), b.get(name)
        if "parity" in (getattr(ra, "group", None), getattr(rb, "group", None)):
            continue  # user transform probes compare within their own tolerance (envprint.parity)
        finding = _probe(ctx, name, ra, rb)
        if finding is not None:
            out.append(finding)
    if any(r.group == "parity" for r in (*a.values(), *b.values())):
        # deferred: transform probes hold user values that need numpy to compare; most diffs have none
        from envprint.diffing.transforms import transform_findings

        out.extend(transform_findings(a, b))


def _probe(ctx: Context, name: str, ra: ProbeResult | None, rb: ProbeResult | None) -> Finding | None:
    """Returns the finding for one probe (missing, skipped, failed, incomparable, unstable, differs) or None."""
    path = f"probes.{name}"
    if ra is None or rb is None:
        present = ra or rb
        assert present is not None
        title = f"probe {name} recorded only in {ctx.side(rb is None)} ({present.status})"
        return _probe_finding(path, "probe.missing", INFO, ra, rb, title)
    ta, tb = probe_token(ra), probe_token(rb)
    if ta == tb and ra.digest == rb.digest:
        return None
    if ra.status != "ok" or rb.status != "ok":
        if ra.status == rb.status:
            return None  # neither ran: nothing to compare, whatever the reasons
        failed = "failed" in (ra.status, rb.status)
        # a probe the reference measured and the other side skipped (time budget, framework not imported)
        # left those bits unchecked: a warning, never info, so a pass says so and `strict` refuses
        unchecked = ra.status == "ok"
        kind, severity = ("probe.failed", WARN) if failed else ("probe.skipped", WARN if unchecked else INFO)
        not_ok = ra if ra.status != "ok" else rb
        title = f"probe {name}: {ra.status} → {rb.status}" + (f" ({not_ok.reason})" if not_ok.reason else "")
        return _probe_finding(path, kind, severity, ra, rb, title)
    if ra.random_per_process or rb.random_per_process:
        if ra.random_per_process and rb.random_per_process:
            return None  # a per-process random hash seed on both sides: never comparable, never a finding
        random_side = ctx.side(ra.random_per_process)
        title = f"probe {name}: not comparable, random per process in {random_side} (PYTHONHASHSEED unset)"
        return _probe_finding(path, "probe.incomparable", INFO, ra, rb, title)
    if ra.version != rb.version:
        title = f"probe {name}: definition version {ra.version} → {rb.version}, results not comparable"
        return _probe_finding(path, "probe.incomparable", INFO, ra, rb, title)
    if not ra.stable or not rb.stable:
        both = not ra.stable and not rb.stable
        where = "both sides" if both else ctx.side(not ra.stable)
        reason = (ra if not ra.stable else rb).reason or "two runs differed"
        title = f"probe {name} unstable in {where}: {reason}"
        return _probe_finding(path, "probe.unstable", INFO if both else WARN, ra, rb, title, identity=not both)
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

    c = compare(ra, rb)
    flags = {k: (plain(old), plain(new)) for k, (old, new) in c.changed_flags.items()}
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
    severity = CRIT if categorical or (normwise is not None and normwise > NORMWISE_CRITICAL) else WARN
    title = f"probe {name} differs: {_probe_detail(c, magnitude)}"
    return _probe_finding(f"probes.{name}", "probe.differs", severity, ra, rb, title, magnitude=magnitude)


def _probe_detail(c: ProbeComparison, m: Magnitude) -> str:
    """Returns the "how much" part of a probe title: flags, ULP, normwise, blocks, the outputs that differ."""
    parts = []
    flags = [f"{k} {arrow(old, new)}" for k, (old, new) in flags_in_order(m.changed_flags)]
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
        parts.append("outside the samples")
    if m.categorical:
        parts.append("categorical")
    return "; ".join(parts) if parts else "digest differs"
