"""Renders policy decisions as plain text: the body of `EnvironmentMismatch` and of `envprint check`."""

from __future__ import annotations

from envprint.policy import Decision, PolicyResult


def violations_text(result: PolicyResult, *, limit: int = 30) -> str:
    """Returns the violations (then waived and expired-waiver notes), each with why and how to fix it."""
    lines: list[str] = []
    for d in result.violations[:limit]:
        lines.extend(_decision_lines("✗", d))
    if len(result.violations) > limit:
        lines.append(f"  … and {len(result.violations) - limit} more violation(s)")
    lines.extend(f"  ~ waived: {d.finding.path}: {d.finding.title} ({d.rule})" for d in result.waived)
    return "\n".join(lines)


def _decision_lines(mark: str, d: Decision) -> list[str]:
    f = d.finding
    lines = [f"  {mark} [{f.severity.name}] {f.path}: {f.title}"]
    if f.cause:
        lines.append(f"      cause: {f.cause}")
    if d.note:
        lines.append(f"      policy: {d.rule} — {d.note}")
    else:
        lines.append(f"      policy: {d.rule}")
    if f.why:
        lines.append(f"      why: {f.why}")
    if f.remedy:
        lines.append(f"      fix: {f.remedy}")
    return lines
