"""A policy, and its pure evaluation over a diff report: one decision per finding.

Order (first match wins): ignore rules drop a finding; a descriptive finding is info; a value the
reference could not measure is only a warning (there is nothing to hold serving to); then the rules
in order; then the policy's threshold. A violation a current waiver covers is waived; an expired
waiver says so and waives nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from envprint._base import Record, is_unavailable, record
from envprint.collect.packages import normalise
from envprint.explain.scope import scope_of
from envprint.model import Fingerprint
from envprint.policy.rules import (
    Ignore,
    Outcome,
    PackageVersion,
    Rule,
    Verdict,
    Waiver,
    serving_version,
    version_note,
)
from envprint.report import DiffReport, Finding, Severity

__all__ = ["CLEARED", "Decision", "Policy", "PolicyResult", "combine", "evaluate"]

#: the rule of a violation the model's matching golden predictions turned into a warning
CLEARED = "golden predictions match"


@record
class Policy(Record):
    """An ordered list of rules, waivers and the severity that refuses when no rule decides."""

    name: str
    rules: tuple[Rule, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    fail_on: Severity = Severity.critical
    #: strict mode: every identity finding that no rule allows is a violation
    identity_exact: bool = False
    allow_unsigned: bool = False
    #: a serving-side policy that replaces (loosens) the one signed into the fingerprint
    override_embedded: bool = False
    #: when the model's golden predictions match, violations that can act only through the model
    #: (versions, kernels, threads, CPU features) are warnings: they did not change its outputs
    golden_clears: bool = False

    def to_data(self) -> dict[str, Any]:
        """Returns the policy as plain data (the TOML table's shape), to embed in a fingerprint."""
        return {
            "name": self.name,
            "extends": "none",  # self-contained: every rule is listed
            "fail_on": self.fail_on.name,
            "identity_exact": self.identity_exact,
            "allow_unsigned": self.allow_unsigned,
            "golden_clears": self.golden_clears,
            "rules": [r.to_data() for r in self.rules],
            "waivers": [w.to_data() for w in self.waivers],
        }


@record
class Decision(Record):
    """What the policy decided about one finding, and which rule decided it."""

    finding: Finding
    outcome: Outcome
    rule: str  # human-readable: the rule, the preset threshold, or the waiver
    note: str | None = None  # e.g. "waiver expired on 2026-01-31", "numpy 2.3.5 does not satisfy ~=2.4.0"


@record
class PolicyResult(Record):
    """Every decision of a policy over a diff report."""

    policy: str
    decisions: tuple[Decision, ...]

    def _of(self, *outcomes: Outcome) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.outcome in outcomes)

    @property
    def violations(self) -> tuple[Decision, ...]:
        """Returns the decisions that refuse."""
        return self._of("violation")

    @property
    def waived(self) -> tuple[Decision, ...]:
        """Returns the violations covered by an unexpired waiver."""
        return self._of("waived")

    @property
    def allowed(self) -> tuple[Decision, ...]:
        """Returns the differences a rule explicitly accepts (and ignored ones)."""
        return self._of("allowed", "ignored")

    @property
    def informational(self) -> tuple[Decision, ...]:
        """Returns the differences reported as warnings or info only."""
        return self._of("warning", "info")

    @property
    def passed(self) -> bool:
        """Returns whether nothing refuses."""
        return not self.violations

    @property
    def exit_code(self) -> int:
        """Returns 0 when the policy passes, 1 on any violation."""
        return 0 if self.passed else 1

    @property
    def cleared(self) -> tuple[Decision, ...]:
        """Returns the differences that would refuse but did not change the model's golden predictions."""
        return tuple(d for d in self.decisions if d.rule.endswith(CLEARED))

    def consequence(self) -> str | None:
        """Returns why cleared differences pass: "numpy 2.4.6 → 2.3.5 differs; this model's ... are bit-identical"."""
        if not self.cleared:
            return None
        titles = [d.finding.title for d in self.cleared]
        shown = "; ".join(titles[:4]) + (f"; +{len(titles) - 4} more" if len(titles) > 4 else "")
        verb = "differs" if len(titles) == 1 else "differ"
        return f"{shown} {verb}; {self.cleared[0].note}"

    def summary(self) -> str:
        """Returns one line, e.g. "policy default: 2 violations, 1 waived, 3 allowed, 7 informational"."""
        return (
            f"policy {self.policy}: {len(self.violations)} violation(s), {len(self.waived)} waived, "
            f"{len(self.allowed)} allowed, {len(self.informational)} informational"
        )


def evaluate(
    policy: Policy,
    report: DiffReport,
    serving: Fingerprint | None = None,
    *,
    today: datetime.date | None = None,
) -> PolicyResult:
    """Returns the policy's decision for every finding of `report` (pure; no I/O).

    `serving` is side b's fingerprint: version-specifier rules check it even where nothing differs.
    """
    today = today or datetime.date.today()
    findings = list(report.findings) + _specifier_findings(policy, report, serving)
    cleared_by = _golden_match(report) if policy.golden_clears else None
    decisions = []
    for finding in findings:
        outcome, rule, note = _decide(policy, finding, serving)
        if outcome == "violation" and cleared_by is not None and scope_of(finding) == "model":
            outcome, rule, note = "warning", f"{policy.name}: {CLEARED}", cleared_by.title
        if outcome == "violation":
            outcome, rule, note = _apply_waivers(policy, finding, today, rule, note)
        decisions.append(Decision(finding, outcome, rule, note))
    return PolicyResult(policy.name, tuple(decisions))


def _golden_match(report: DiffReport) -> Finding | None:
    """Returns the finding that the model's golden predictions were reproduced, None when any differ or none ran."""
    kinds = {f.kind for f in report.findings}
    if "model.predictions" in kinds or "model.unchecked" in kinds:
        return None
    return next((f for f in report.findings if f.kind == "model.match"), None)


def _decide(policy: Policy, finding: Finding, serving: Fingerprint | None) -> Verdict:
    for rule in policy.rules:
        if isinstance(rule, Ignore) and rule.applies_to(finding):
            ignored = rule.decide(finding, serving)
            if ignored is not None:
                return ignored
    if not finding.identity:
        return "info", "descriptive field", None
    if finding.kind == "measured.pending":
        # the serving process can measure it only later in its life: said, with how, never refused for that
        return "warning", "not measured yet in this process", None
    unmeasured_in_reference = finding.kind == "measured.unavailable" and is_unavailable(finding.old)
    for rule in policy.rules:
        if isinstance(rule, Ignore) or not rule.applies_to(finding):
            continue
        if unmeasured_in_reference and not isinstance(rule, PackageVersion):
            # training could not measure this field: there is nothing to hold serving to (the
            # reverse — measured in training, unavailable here — still fails closed)
            return "warning", "not measured in the reference fingerprint", None
        decided = rule.decide(finding, serving)
        if decided is not None:
            return decided
    if policy.identity_exact:
        return "violation", f"{policy.name}: every identity field must be equal", None
    if finding.severity >= policy.fail_on:
        return "violation", f"{policy.name}: fail_on = {policy.fail_on.name}", None
    return ("warning" if finding.severity is Severity.warning else "info"), f"{policy.name}: below fail_on", None


def _apply_waivers(policy: Policy, finding: Finding, today: datetime.date, rule: str, note: str | None) -> Verdict:
    expired = None
    for w in policy.waivers:
        if not w.matches(finding):
            continue
        if today <= w.expires:
            return "waived", f"waiver until {w.expires.isoformat()}: {w.reason}", note
        expired = w
    if expired is not None:
        extra = f"waiver expired on {expired.expires.isoformat()} ({expired.reason}); it no longer waives"
        return "violation", rule, f"{note}; {extra}" if note else extra
    return "violation", rule, note


def _specifier_findings(policy: Policy, report: DiffReport, serving: Fingerprint | None) -> list[Finding]:
    """Returns synthetic findings for version rules the serving side breaks where diff saw no change."""
    out = []
    seen = {f.path.split(".")[1] for f in report.findings if f.path.startswith("packages.")}
    for rule in policy.rules:
        if not isinstance(rule, PackageVersion) or serving is None:
            continue
        name = normalise(rule.package)
        if name in seen:
            continue
        version = serving_version(serving, name)
        note = version_note(version, rule.version)
        if note is not None:
            out.append(
                Finding(
                    kind="policy.version",
                    path=f"packages.{name}",
                    severity=Severity.critical,
                    old=rule.version,
                    new=version,
                    title=note,
                    why="The policy requires this version range on the serving side.",
                    remedy=f"install {name}{rule.version} in the serving image",
                )
            )
    return out


def combine(results: Iterable[PolicyResult]) -> PolicyResult:
    """Returns one result whose decision per finding is the strictest of several policies' decisions."""
    order = {"violation": 5, "waived": 4, "warning": 3, "allowed": 2, "ignored": 1, "info": 0}
    results = list(results)
    if len(results) == 1:
        return results[0]
    by_key: dict[tuple[str, str], Decision] = {}
    for result in results:
        for d in result.decisions:
            key = (d.finding.kind, d.finding.path)
            if key not in by_key or order[d.outcome] > order[by_key[key].outcome]:
                by_key[key] = d
    return PolicyResult(" + ".join(r.policy for r in results), tuple(by_key.values()))
