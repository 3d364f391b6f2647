"""Renders a diff report as JSON: a stable, versioned document for CI and other tools.

Schema, version 1 (docs/diff.md documents every field)::

    {"format": "envprint-diff", "version": 1,
     "a": {"label": "train.fp", "trust": "unsigned|unverified|verified|live"}, "b": {...},
     "verdict": "DIFFERENT: 1 critical, 2 warning", "equivalent": false,
     "worst": "critical|warning|info|null", "counts": {"critical": 1, "warning": 2, "info": 0},
     "findings": [{"kind", "path", "severity", "identity", "title", "old", "new",
                   "magnitude": {"max_ulp", "normwise", "fraction", "changed_flags": {name: [old, new]},
                                 "outputs", "categorical"} | null,
                   "cause", "why", "remedy"}]}

Findings keep the report's order (critical first). The document never holds NaN or infinity:
non-finite numbers in old/new values become the strings "nan", "inf", "-inf".
A new field is added without a version change; a renamed or removed field bumps "version".
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from envprint.report import DiffReport, Finding, Magnitude

__all__ = ["DIFF_JSON_VERSION", "render_json", "report_data"]

DIFF_JSON_VERSION = 1


def report_data(report: DiffReport, *, policy: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Returns the JSON document of a report as plain data, with the policy's decisions under "policy"."""
    worst = report.worst
    doc = {
        "format": "envprint-diff",
        "version": DIFF_JSON_VERSION,
        "a": {"label": report.a_label, "trust": report.a_trust},
        "b": {"label": report.b_label, "trust": report.b_trust},
        "verdict": report.verdict,
        "equivalent": report.equivalent,
        "worst": worst.name if worst is not None else None,
        "counts": report.counts,
        "findings": [_finding(f) for f in report.findings],
    }
    if policy is not None:
        doc["policy"] = policy
    return doc


def render_json(report: DiffReport, *, policy: Mapping[str, Any] | None = None) -> str:
    """Returns the report as an indented JSON document followed by a newline."""
    return (
        json.dumps(report_data(report, policy=policy), indent=2, ensure_ascii=False, allow_nan=False, default=str)
        + "\n"
    )


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "path": f.path,
        "severity": f.severity.name,
        "identity": f.identity,
        "title": f.title,
        "old": _finite(f.old),
        "new": _finite(f.new),
        "magnitude": _magnitude(f.magnitude) if f.magnitude is not None else None,
        "cause": f.cause,
        "why": f.why,
        "remedy": f.remedy,
    }


def _magnitude(m: Magnitude) -> dict[str, Any]:
    return {
        "max_ulp": m.max_ulp,
        "normwise": m.normwise if m.normwise is None or math.isfinite(m.normwise) else None,
        "fraction": m.fraction,
        "changed_flags": {k: [_finite(old), _finite(new)] for k, (old, new) in m.changed_flags.items()},
        "outputs": list(m.outputs),
        "categorical": m.categorical,
    }


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
