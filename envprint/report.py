"""The report types: what a comparison of two fingerprints found, and its own summary.

`envprint.diffing` produces a `DiffReport`; renderers (`envprint.render`), the policy engine
(`envprint.policy`), fleet grouping and the serving guard consume it. The report carries its counts
and verdict, so no caller recomputes them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from envprint.envelope import Trust

__all__ = ["DiffReport", "Finding", "Magnitude", "Severity", "flags_in_order"]


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
            parts.append("flags " + ", ".join(k for k, _ in flags_in_order(self.changed_flags)))
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
    a_trust: Trust = Trust.unsigned
    b_trust: Trust = Trust.unsigned

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


def flags_in_order(flags: Mapping[str, tuple[Any, Any]]) -> list[tuple[str, tuple[Any, Any]]]:
    """Returns changed flags, summary flags (short names like "ftz") before their details ("ftz_f32")."""
    return sorted(flags.items(), key=lambda kv: (kv[0].count("_"), kv[0]))
