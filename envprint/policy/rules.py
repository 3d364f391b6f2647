"""Policy rules: small objects that each decide one kind of question about a finding.

Every rule may also be narrowed by ``severity`` (a floor: the rule applies to findings at least that
severe) and ``kind`` (a glob over finding kinds, e.g. ``framework.imported``).

Every rule has the same shape: `decide(finding, serving)` returns an outcome, the rule as written
and a note, or None when the rule does not speak to that finding; `to_data()` returns the TOML table
it is written as. Globs are `fnmatch` patterns over finding paths that also match descendants
(``packages.numpy`` matches ``packages.numpy.version``); ``@numerics`` stands for every
numerics-driving package.
"""

from __future__ import annotations

import dataclasses
import datetime
import fnmatch
import functools
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from envprint._base import Record, record
from envprint.collect.packages import normalise
from envprint.diffing.packages import NUMERICS_PACKAGES
from envprint.model import Fingerprint, Unavailable
from envprint.report import Finding, Severity

__all__ = [
    "SEVERITIES",
    "Exact",
    "Ignore",
    "Outcome",
    "PackageVersion",
    "ProbeTolerance",
    "Rule",
    "SameRelease",
    "Verdict",
    "Waiver",
    "Warn",
    "matches",
    "serving_version",
    "version_note",
]

Outcome = Literal["violation", "waived", "allowed", "ignored", "warning", "info"]
#: what a rule decided: (outcome, the rule as written, a note such as "2.3.5 does not satisfy ~=2.4.0")
Verdict = tuple[Outcome, str, str | None]
SEVERITIES: Mapping[str, Severity] = {s.name: s for s in Severity}


@record
class Rule(Record):
    """What every rule shares: an optional severity floor and the reason it was written."""

    #: the TOML key that names this kind of rule ("exact", "warn", ...)
    action: ClassVar[str] = ""

    def decide(self, finding: Finding, serving: Fingerprint | None) -> Verdict | None:
        """Returns what this rule decides about `finding`, or None when it does not apply."""
        raise NotImplementedError

    def to_data(self) -> dict[str, Any]:
        """Returns the rule as the TOML table it is written as (None fields left out)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def describe(self) -> str:
        """Returns the rule as written in a policy file, e.g. ``exact = 'determinism.variables.*'``."""
        return ", ".join(f"{k} = {v!r}" for k, v in self.to_data().items())

    def applies_to(self, finding: Finding) -> bool:
        """Returns whether the finding passes the rule's filters: its `severity` floor and `kind` glob (if any)."""
        floor: str | None = getattr(self, "severity", None)
        kinds: str | None = getattr(self, "kind", None)
        if floor is not None and finding.severity < SEVERITIES[floor]:
            return False
        return kinds is None or fnmatch.fnmatchcase(finding.kind, kinds)


@record
class Exact(Rule):
    """A finding at a matching path refuses."""

    exact: str
    reason: str | None = None
    severity: str | None = None
    kind: str | None = None
    action: ClassVar[str] = "exact"

    def decide(self, finding: Finding, serving: Fingerprint | None) -> Verdict | None:
        if matches(self.exact, finding.path):
            return "violation", f"exact = {self.exact!r}", self.reason
        return None


@record
class Warn(Rule):
    """A finding at a matching path is only a warning."""

    warn: str
    reason: str | None = None
    severity: str | None = None
    kind: str | None = None
    action: ClassVar[str] = "warn"

    def decide(self, finding: Finding, serving: Fingerprint | None) -> Verdict | None:
        if matches(self.warn, finding.path):
            return "warning", f"warn = {self.warn!r}", self.reason
        return None


@record
class Ignore(Rule):
    """A finding at a matching path is dropped (before any other rule, descriptive or not)."""

    ignore: str
    reason: str | None = None
    severity: str | None = None
    kind: str | None = None
    action: ClassVar[str] = "ignore"

    def decide(self, finding: Finding, serving: Fingerprint | None) -> Verdict | None:
        if matches(self.ignore, finding.path):
            return "ignored", f"ignore = {self.ignore!r}", self.reason
        return None


@record
class SameRelease(Rule):
    """Equal up to the first `parts` release components (3.11.7 ~ 3.11.9 with parts = 2) is allowed."""

    same_release: str
    parts: int = 2
    reason: str | None = None
    severity: str | None = None
    kind: str | None = None
    action: ClassVar[str] = "same_release"

    def decide(self, finding: Finding, serving: Fingerprint | None) -> Verdict | None:
        if not matches(self.same_release, finding.path):
            return None
        label = f"same_release = {self.same_release!r}, parts = {self.parts}"
        if _release(finding.old, self.parts) == _release(finding.new, self.parts):
            return "allowed", label, None
        note = f"{finding.old} and {finding.new} differ in their first {self.parts} release component(s)"
        return "violation", label, note


@record
class PackageVersion(Rule):
    """The serving version of `package` must satisfy `version` (a PEP 440 specifier), changed or not."""

    package: str
    version: str
    reason: str | None = None
    severity: str | None = None
    kind: str | None = None
    action: ClassVar[str] = "package"

    def decide(self, finding: Finding, serving: Fingerprint | None) -> Verdict | None:
        if finding.path.split(".")[:2] != ["packages", normalise(self.package)]:
            return None
        note = version_note(serving_version(serving, self.package), self.version)
        label = f"package = {self.package!r}, version = {self.version!r}"
        return ("violation" if note else "allowed"), label, note


@record
class ProbeTolerance(Rule):
    """Float probe differences within the limits are allowed; categorical ones always refuse."""

    probe: str | None = None  # glob over probe names
    group: str | None = None  # probe group
    max_ulp: int | None = None
    max_normwise: float | None = None
    max_fraction: float | None = None
    reason: str | None = None
    severity: str | None = None
    kind: str | None = None
    action: ClassVar[str] = "probe"

    def decide(self, finding: Finding, serving: Fingerprint | None) -> Verdict | None:
        if not finding.path.startswith("probes."):
            return None
        name = finding.path.split(".", 2)[1]
        if self.probe is not None and not fnmatch.fnmatchcase(name, self.probe):
            return None
        if self.group is not None and not _in_group(finding, self.group):
            return None
        m = finding.magnitude
        if finding.kind != "probe.differs" or m is None:
            return None  # missing/skipped/unstable probes fall through to the threshold
        label = self.describe()
        if m.categorical:  # diff decides: ULP-level flags (batch invariance) are not categorical
            return "violation", label, "categorical difference (flags, order or text): tolerances do not apply"
        limits = (
            ("max_ulp", m.max_ulp, self.max_ulp),
            ("max_normwise", m.normwise, self.max_normwise),
            ("max_fraction", m.fraction, self.max_fraction),
        )
        for what, value, limit in limits:
            if limit is None:
                continue
            if value is None:
                return "violation", label, f"{what} could not be measured"
            if value > limit:
                return "violation", label, f"{what} {value:g} exceeds {limit:g}"
        return "allowed", label, None


@record
class Waiver(Record):
    """A violation accepted on purpose, with a reason and an expiry date."""

    reason: str
    expires: datetime.date
    path: str | None = None  # glob over finding paths
    kind: str | None = None  # glob over finding kinds

    def matches(self, finding: Finding) -> bool:
        """Returns whether this waiver names `finding` (by path and/or kind)."""
        if self.path is not None and not matches(self.path, finding.path):
            return False
        return not (self.kind is not None and not fnmatch.fnmatchcase(finding.kind, self.kind))

    def to_data(self) -> dict[str, Any]:
        """Returns the waiver as its TOML table."""
        return {
            k: (v.isoformat() if isinstance(v, datetime.date) else v)
            for k, v in dataclasses.asdict(self).items()
            if v is not None
        }


def serving_version(serving: Fingerprint | None, name: str) -> str | None:
    """Returns the version of distribution `name` installed on the serving side, None when absent or unknown."""
    if serving is None or isinstance(serving.packages, Unavailable):
        return None
    pkg = serving.packages.get(normalise(name))
    return pkg.version if pkg is not None and isinstance(pkg.version, str) else None


def version_note(version: str | None, spec: str) -> str | None:
    """Returns why `version` does not satisfy `spec`, None when it does."""
    if version is None:
        return f"not installed on the serving side (required {spec})"
    from packaging.specifiers import SpecifierSet  # ~6 ms with packaging.version: only a package rule pays it
    from packaging.version import InvalidVersion, Version

    try:
        ok = SpecifierSet(spec).contains(Version(version), prereleases=True)
    except InvalidVersion:
        return f"{version!r} is not a PEP 440 version (required {spec})"
    return None if ok else f"{version} does not satisfy {spec}"


def matches(glob: str, path: str) -> bool:
    """Returns whether `glob` names `path` or an ancestor of it (``packages.numpy`` matches its fields)."""
    return _compiled(glob).match(path) is not None


def _in_group(finding: Finding, group: str) -> bool:
    for side in (finding.old, finding.new):
        if isinstance(side, Mapping) and side.get("group") == group:
            return True
    return finding.path.split(".", 2)[1].startswith(group)


def _release(value: Any, parts: int) -> tuple[str, ...] | None:
    if not isinstance(value, str):
        return None
    return tuple(re.split(r"[.+-]", value)[:parts])


@functools.lru_cache(maxsize=1024)
def _compiled(glob: str) -> re.Pattern[str]:
    """Returns a regex for `glob` (fnmatch syntax, ``@numerics`` expanded) that also matches descendants."""
    if "@numerics" in glob:
        head, _, tail = glob.partition("@numerics")
        names = "|".join(_body(name) for name in NUMERICS_PACKAGES)
        body = f"{_body(head)}(?:{names}){_body(tail)}"
    else:
        body = _body(glob)
    # a glob naming a field also names every field below it: "packages.numpy" matches "packages.numpy.version"
    return re.compile(rf"(?s:{body})(?:\..*)?\Z")


def _body(glob: str) -> str:
    """Returns fnmatch's translation of `glob` without its anchors, to splice into a larger regex."""
    translated = fnmatch.translate(glob)  # "(?s:BODY)\\Z"
    return translated[4:-3] if translated.startswith("(?s:") and translated.endswith(")\\Z") else translated
