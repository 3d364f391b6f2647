"""Renders policy decisions as plain text: the body of `EnvironmentMismatch` and of `envprint check`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from envprint.render.safe_json import dumps

if TYPE_CHECKING:
    from envprint.policy import Decision, PolicyResult
    from envprint.serving import GuardResult


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


def policy_text(result: PolicyResult, *, markdown: bool = False) -> str:
    """Returns the policy section appended to `envprint diff --policy`: summary line, then violations."""
    verdict = "PASS" if result.passed else "REFUSED"
    body = violations_text(result)
    if markdown:
        return f"**Policy {verdict}** — {result.summary()}\n\n```\n{body or 'no violations'}\n```"
    return f"POLICY {verdict}: {result.summary()}" + (f"\n{body}" if body else "")


def policy_data(result: PolicyResult) -> dict[str, object]:
    """Returns the policy decisions as plain data (the "policy" key of `envprint diff --policy -f json`)."""
    return {
        "name": result.policy,
        "passed": result.passed,
        "counts": {
            "violations": len(result.violations),
            "waived": len(result.waived),
            "allowed": len(result.allowed),
            "informational": len(result.informational),
        },
        "decisions": [_decision_data(d) for d in result.decisions],
    }


def guard_json(result: GuardResult) -> str:
    """Returns the JSON document `envprint check --format json` prints (schema in docs/serving.md)."""
    doc = {
        "format": "envprint-check",
        "version": 1,
        "passed": result.passed,
        "overridden": result.overridden,
        "override": result.override,
        "fingerprint": str(result.fingerprint_path),
        "artifact": str(result.artifact_path) if result.artifact_path else None,
        "env_only": result.env_only,
        "trust": result.trust,
        "keyids": list(result.keyids),
        "policy": result.policy,
        "seconds": round(result.seconds, 4),
        **{k: v for k, v in policy_data(result.result).items() if k in ("counts", "decisions")},
    }
    return dumps(doc)


def guard_text(result: GuardResult) -> str:
    """Returns the human report of `envprint check`: the summary line, then violations and waivers."""
    body = violations_text(result.result)
    line = f"envprint {result.summary()}"  # a command's own output names the tool; the log line does not
    return f"{line}\n{body}" if body else line


def _decision_data(d: Decision) -> dict[str, object]:
    f = d.finding
    return {
        "outcome": d.outcome,
        "rule": d.rule,
        "note": d.note,
        "kind": f.kind,
        "path": f.path,
        "severity": f.severity.name,
        "old": f.old,
        "new": f.new,
        "title": f.title,
        "cause": f.cause,
        "why": f.why,
        "remedy": f.remedy,
    }
