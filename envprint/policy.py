"""Policies: which differences between training and serving refuse to serve, and which are allowed.

A policy is a list of small rules plus a severity threshold. `evaluate(policy, report, serving)` is
pure: it decides, finding by finding, one outcome:

* ``violation`` — refuses (the guard raises, `envprint check` exits 1);
* ``waived`` — would be a violation, but a waiver with a reason and an unexpired date covers it;
* ``allowed`` — a rule accepts it (a version specifier is met, a probe is within tolerance);
* ``ignored`` — an ignore rule drops it;
* ``warning`` / ``info`` — reported, never refuses.

Rules (first match wins, in the order given; ignores and waivers apply across all rules):

* ``exact = "GLOB"`` — a finding at a matching path is a violation;
* ``same_release = "GLOB", parts = N`` — equal up to the first N release components (3.11.7 ~ 3.11.9);
* ``package = "NAME", version = "SPECIFIER"`` — the serving version must satisfy the specifier
  (`packaging.specifiers.SpecifierSet`, e.g. ``~=2.4.0``), checked even when nothing differs;
* ``probe = "GLOB"`` (or ``group = "NAME"``), ``max_ulp``, ``max_normwise``, ``max_fraction`` —
  float probe differences within tolerance are allowed; categorical differences always violate;
* ``warn = "GLOB"`` — a matching finding is only a warning;
* ``ignore = "GLOB"`` — a matching finding is dropped;
* ``[[waivers]] path = "GLOB", reason = "...", expires = 2026-12-31`` — an expired waiver stops
  waiving and says so.

Globs are `fnmatch` patterns over finding paths (``packages.numpy``, ``determinism.variables.*``);
``@numerics`` stands for every numerics-driving package (``packages.@numerics`` matches
``packages.numpy`` and ``packages.numpy.version``). Presets: ``strict``, ``default``, ``lenient``
(see `PRESETS` and docs/policy.md). Policies load from TOML (``[policy]`` in a policy file or
``[tool.envprint.policy]`` in pyproject.toml); unknown keys or bad values raise `PolicyError`
naming the line.
"""

from __future__ import annotations

import dataclasses
import datetime
import fnmatch
import functools
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from envprint._files import read_regular
from envprint.collect.packages import normalise
from envprint.diffing.packages import NUMERICS_PACKAGES
from envprint.errors import PolicyError
from envprint.model import Fingerprint, Unavailable
from envprint.report import DiffReport, Finding, Severity

__all__ = [
    "PRESETS",
    "Decision",
    "Outcome",
    "Policy",
    "PolicyResult",
    "Rule",
    "Waiver",
    "combine",
    "effective_policy",
    "evaluate",
    "from_data",
    "load_policy",
    "resolve_policy",
]

Outcome = Literal["violation", "waived", "allowed", "ignored", "warning", "info"]
_SEVERITIES = {s.name: s for s in Severity}
_RULE_ACTIONS = ("exact", "same_release", "package", "probe", "group", "warn", "ignore")
_RULE_KEYS = frozenset(
    {*_RULE_ACTIONS, "parts", "version", "max_ulp", "max_normwise", "max_fraction", "reason", "severity"}
)
_POLICY_KEYS = frozenset({"extends", "fail_on", "allow_unsigned", "rules", "waivers", "override_embedded", "name"})
_WAIVER_KEYS = frozenset({"path", "kind", "reason", "expires"})


# ------------------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Rule:
    """One rule. Exactly one of the action fields is set (see the module docstring)."""

    exact: str | None = None
    same_release: str | None = None
    parts: int = 2
    package: str | None = None
    version: str | None = None
    probe: str | None = None
    group: str | None = None
    max_ulp: int | None = None
    max_normwise: float | None = None
    max_fraction: float | None = None
    warn: str | None = None
    ignore: str | None = None
    reason: str | None = None
    #: the rule applies only to findings at least this severe ("info", "warning", "critical")
    severity: str | None = None

    def describe(self) -> str:
        """Returns the rule as written in a policy file, e.g. ``exact = "determinism.variables.*"``."""
        return ", ".join(f"{k} = {v!r}" for k, v in _rule_data(self).items())


@dataclass(frozen=True)
class Waiver:
    """A violation accepted on purpose, with a reason and an expiry date."""

    reason: str
    expires: datetime.date
    path: str | None = None  # glob over finding paths
    kind: str | None = None  # glob over finding kinds

    def matches(self, finding: Finding) -> bool:
        """Returns whether this waiver names `finding` (by path and/or kind)."""
        if self.path is not None and not _match(self.path, finding.path):
            return False
        return not (self.kind is not None and not fnmatch.fnmatchcase(finding.kind, self.kind))


@dataclass(frozen=True)
class Policy:
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

    def to_data(self) -> dict[str, Any]:
        """Returns the policy as plain data (the TOML table's shape), to embed in a fingerprint."""
        return {
            "name": self.name,
            "extends": "none",  # self-contained: every rule is listed
            "fail_on": self.fail_on.name,
            "identity_exact": self.identity_exact,
            "allow_unsigned": self.allow_unsigned,
            "rules": [_rule_data(r) for r in self.rules],
            "waivers": [
                {
                    k: (v.isoformat() if isinstance(v, datetime.date) else v)
                    for k, v in dataclasses.asdict(w).items()
                    if v is not None
                }
                for w in self.waivers
            ],
        }


def _rule_data(rule: Rule) -> dict[str, Any]:
    data = {k: v for k, v in dataclasses.asdict(rule).items() if v is not None and k != "parts"}
    if rule.same_release is not None:
        data["parts"] = rule.parts
    return data


@dataclass(frozen=True)
class Decision:
    """What the policy decided about one finding, and which rule decided it."""

    finding: Finding
    outcome: Outcome
    rule: str  # human-readable: the rule, the preset threshold, or the waiver
    note: str | None = None  # e.g. "waiver expired on 2026-01-31", "numpy 2.3.5 does not satisfy ~=2.4.0"


@dataclass(frozen=True)
class PolicyResult:
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

    def summary(self) -> str:
        """Returns one line, e.g. "policy default: 2 violations, 1 waived, 3 allowed, 7 informational"."""
        return (
            f"policy {self.policy}: {len(self.violations)} violation(s), {len(self.waived)} waived, "
            f"{len(self.allowed)} allowed, {len(self.informational)} informational"
        )


# -------------------------------------------------------------------------------------- evaluation


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
    decisions = []
    for finding in findings:
        outcome, rule, note = _decide(policy, finding, serving)
        if outcome == "violation":
            outcome, rule, note = _apply_waivers(policy, finding, today, rule, note)
        decisions.append(Decision(finding, outcome, rule, note))
    return PolicyResult(policy.name, tuple(decisions))


def _decide(policy: Policy, finding: Finding, serving: Fingerprint | None) -> tuple[Outcome, str, str | None]:
    for rule in policy.rules:
        if rule.ignore is not None and _match(rule.ignore, finding.path):
            return "ignored", f"ignore = {rule.ignore!r}", rule.reason
    if not finding.identity:
        return "info", "descriptive field", None
    for rule in policy.rules:
        decided = _apply_rule(rule, finding, serving)
        if decided is not None:
            return decided
    if policy.identity_exact:
        return "violation", f"{policy.name}: every identity field must be equal", None
    if finding.severity >= policy.fail_on:
        return "violation", f"{policy.name}: fail_on = {policy.fail_on.name}", None
    return ("warning" if finding.severity is Severity.warning else "info"), f"{policy.name}: below fail_on", None


def _apply_rule(rule: Rule, finding: Finding, serving: Fingerprint | None) -> tuple[Outcome, str, str | None] | None:
    if rule.severity is not None and finding.severity < _SEVERITIES[rule.severity]:
        return None
    if finding.kind == "measured.unavailable" and _is_unavailable(finding.old) and rule.package is None:
        # training could not measure this field: there is nothing to hold serving to (the
        # reverse — measured in training, unavailable here — still fails closed)
        return "warning", "not measured in the reference fingerprint", None
    if rule.exact is not None and _match(rule.exact, finding.path):
        return "violation", f"exact = {rule.exact!r}", rule.reason
    if rule.warn is not None and _match(rule.warn, finding.path):
        return "warning", f"warn = {rule.warn!r}", rule.reason
    if rule.same_release is not None and _match(rule.same_release, finding.path):
        same = _release(finding.old, rule.parts) == _release(finding.new, rule.parts)
        label = f"same_release = {rule.same_release!r}, parts = {rule.parts}"
        return ("allowed" if same else "violation"), label, None if same else _release_note(finding, rule.parts)
    if rule.package is not None and finding.path.split(".")[:2] == ["packages", _normalise(rule.package)]:
        version = _serving_version(serving, rule.package)
        ok, note = _satisfies(version, rule.version or "")
        return ("allowed" if ok else "violation"), f"package = {rule.package!r}, version = {rule.version!r}", note
    if (rule.probe is not None or rule.group is not None) and finding.path.startswith("probes."):
        return _probe_tolerance(rule, finding)
    return None


def _is_unavailable(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"$unavailable"}


def _probe_tolerance(rule: Rule, finding: Finding) -> tuple[Outcome, str, str | None] | None:
    name = finding.path.split(".", 2)[1]
    if rule.probe is not None and not fnmatch.fnmatchcase(name, rule.probe):
        return None
    if rule.group is not None and not _probe_in_group(finding, rule.group):
        return None
    label = rule.describe()
    m = finding.magnitude
    if finding.kind != "probe.differs" or m is None:
        return None  # missing/skipped/unstable probes fall through to the threshold
    if m.categorical:  # diff decides: ULP-level flags (batch invariance) are not categorical
        return "violation", label, "categorical difference (flags, order or text): tolerances do not apply"
    limits = (
        ("max_ulp", m.max_ulp, rule.max_ulp),
        ("max_normwise", m.normwise, rule.max_normwise),
        ("max_fraction", m.fraction, rule.max_fraction),
    )
    for what, value, limit in limits:
        if limit is None:
            continue
        if value is None:
            return "violation", label, f"{what} could not be measured"
        if value > limit:
            return "violation", label, f"{what} {value:g} exceeds {limit:g}"
    return "allowed", label, None


def _probe_in_group(finding: Finding, group: str) -> bool:
    old, new = finding.old, finding.new
    for side in (old, new):
        if isinstance(side, Mapping) and side.get("group") == group:
            return True
    return finding.path.split(".", 2)[1].startswith(group)


def _apply_waivers(
    policy: Policy, finding: Finding, today: datetime.date, rule: str, note: str | None
) -> tuple[Outcome, str, str | None]:
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
        if rule.package is None or serving is None:
            continue
        name = _normalise(rule.package)
        if name in seen:
            continue
        version = _serving_version(serving, name)
        ok, note = _satisfies(version, rule.version or "")
        if not ok:
            out.append(
                Finding(
                    kind="policy.version",
                    path=f"packages.{name}",
                    severity=Severity.critical,
                    old=rule.version,
                    new=version,
                    title=note or f"{name} does not satisfy {rule.version}",
                    why="The policy requires this version range on the serving side.",
                    remedy=f"install {name}{rule.version} in the serving image",
                )
            )
    return out


def _serving_version(serving: Fingerprint | None, name: str) -> str | None:
    if serving is None or isinstance(serving.packages, Unavailable):
        return None
    pkg = serving.packages.get(_normalise(name))
    return pkg.version if pkg is not None and isinstance(pkg.version, str) else None


def _satisfies(version: str | None, spec: str) -> tuple[bool, str | None]:
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    if version is None:
        return False, f"not installed on the serving side (required {spec})"
    try:
        ok = SpecifierSet(spec).contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False, f"{version!r} is not a PEP 440 version (required {spec})"
    return ok, None if ok else f"{version} does not satisfy {spec}"


def _release(value: Any, parts: int) -> tuple[str, ...] | None:
    if not isinstance(value, str):
        return None
    return tuple(re.split(r"[.+-]", value)[:parts])


def _release_note(finding: Finding, parts: int) -> str:
    return f"{finding.old} and {finding.new} differ in their first {parts} release component(s)"


def _normalise(name: str) -> str:
    return normalise(name)


def _match(glob: str, path: str) -> bool:
    """Returns whether `glob` names `path` or an ancestor of it (``packages.numpy`` matches its fields)."""
    return _compiled(glob).match(path) is not None


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


# ------------------------------------------------------------------------------------------ presets

#: ULP tolerance of the default preset for float probe differences (f32 BLAS/ufunc noise is 1-4 ULP).
#: Its exact rules apply to warning and critical findings: info findings (an installer name, whether
#: CUDA is initialised yet) are reported, never refused.
DEFAULT_MAX_ULP = 8

_DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(exact="packages.@numerics", severity="warning"),
    Rule(warn="packages.*"),
    Rule(same_release="python.version", parts=2),
    Rule(exact="python.implementation", severity="warning"),
    Rule(exact="python.hash_algorithm", severity="warning"),
    Rule(exact="gpu.devices.*.name", severity="warning"),
    Rule(exact="gpu.devices.*.compute_capability", severity="warning"),
    Rule(same_release="gpu.driver_version", parts=1),
    Rule(same_release="gpu.nvml_version", parts=2),  # "12.550.54.15": moves with the driver
    Rule(exact="gpu.cuda_driver_version", severity="warning"),
    Rule(exact="gpu", severity="warning"),
    Rule(exact="determinism.frameworks.*.cuda_version", severity="warning"),
    Rule(exact="determinism.frameworks.*.cudnn_version", severity="warning"),
    Rule(exact="determinism.variables.*", severity="warning"),
    Rule(exact="determinism.hash_randomization", severity="warning"),
    Rule(exact="determinism.frameworks.*", severity="warning"),
    Rule(exact="blas.libraries.*.architecture", severity="warning"),
    Rule(exact="blas.libraries.*.num_threads", severity="warning"),
    Rule(exact="blas.libraries.*.internal_api", severity="warning"),
    Rule(exact="blas.libraries.*", severity="warning"),
    Rule(exact="locale_time.tz_env", severity="warning"),
    Rule(exact="locale_time.local_zone", severity="warning"),
    Rule(exact="locale_time.std_offset_seconds", severity="warning"),
    Rule(exact="locale_time.tzdata_*", severity="warning"),
    Rule(exact="locale_time.locale.*", severity="warning"),
    Rule(exact="locale_time.preferred_encoding", severity="warning"),
    Rule(exact="locale_time.utf8_mode", severity="warning"),
    Rule(probe="*", max_ulp=DEFAULT_MAX_ULP),
)

_NOTHING = Policy(name="none")

PRESETS: dict[str, Policy] = {
    "strict": Policy(name="strict", rules=(), fail_on=Severity.info, identity_exact=True),
    "default": Policy(name="default", rules=_DEFAULT_RULES, fail_on=Severity.critical),
    "lenient": Policy(name="lenient", rules=(Rule(probe="*", max_ulp=2**62),), fail_on=Severity.critical),
}


# ------------------------------------------------------------------------------------------ loading


def resolve_policy(policy: str | os.PathLike[str] | Policy | Mapping[str, Any] | None) -> Policy:
    """Returns a `Policy` from a preset name, a TOML file path, plain data, or a Policy (None = default)."""
    if policy is None:
        return PRESETS["default"]
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, Mapping):
        return from_data(policy, source="<policy data>")
    text = str(policy)
    if text in PRESETS:
        return PRESETS[text]
    path = Path(text)
    if path.suffix == ".toml" or path.exists():
        return load_policy(path)
    raise PolicyError(f"unknown policy {text!r}: use a preset ({', '.join(PRESETS)}) or a TOML file path")


def load_policy(path: str | Path) -> Policy:
    """Returns the policy in a TOML file: its ``[policy]`` table, or ``[tool.envprint.policy]`` of pyproject.toml."""
    p = Path(path)
    data = read_regular(p, 4 * 1024 * 1024, "policy", error=PolicyError)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PolicyError(f"{p}: not UTF-8 text ({e})") from None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: the backport
        import tomli as tomllib
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as e:
        raise PolicyError(f"{p}: invalid TOML: {type(e).__name__}: {e}") from None
    table, prefix = _policy_table(doc, p)
    return from_data(table, source=str(p), text=text, prefix=prefix)


def _policy_table(doc: Mapping[str, Any], path: Path) -> tuple[Mapping[str, Any], str]:
    tool = doc.get("tool")
    if isinstance(tool, Mapping) and isinstance(tool.get("envprint"), Mapping):
        table = tool["envprint"].get("policy")
        if isinstance(table, Mapping):
            return table, "tool.envprint.policy"
    if isinstance(doc.get("policy"), Mapping):
        return doc["policy"], "policy"
    raise PolicyError(f"{path}: no [policy] table (or [tool.envprint.policy] in pyproject.toml)")


def from_data(data: Mapping[str, Any], *, source: str, text: str | None = None, prefix: str = "policy") -> Policy:
    """Returns the policy described by plain data; raises PolicyError naming the offending key and line."""
    locate = _Locator(source, text, prefix)
    for key in data:
        if key not in _POLICY_KEYS and key != "identity_exact":
            raise locate.error(key, None, f"unknown key {key!r} (known: {', '.join(sorted(_POLICY_KEYS))})")
    base_name = data.get("extends", "default")
    if not isinstance(base_name, str) or (base_name != "none" and base_name not in PRESETS):
        raise locate.error("extends", None, f'extends = {base_name!r}: not a preset ({", ".join(PRESETS)}) or "none"')
    base = _NOTHING if base_name == "none" else PRESETS[base_name]
    fail_on = base.fail_on
    if "fail_on" in data:
        if not isinstance(data["fail_on"], str) or data["fail_on"] not in _SEVERITIES:
            raise locate.error("fail_on", None, f"fail_on = {data['fail_on']!r}: use one of {', '.join(_SEVERITIES)}")
        fail_on = _SEVERITIES[data["fail_on"]]
    flags = {}
    for key in ("allow_unsigned", "override_embedded", "identity_exact"):
        if key in data:
            if not isinstance(data[key], bool):
                raise locate.error(key, None, f"{key} must be true or false")
            flags[key] = data[key]
    rules = _list(data, "rules", locate)
    waivers = _list(data, "waivers", locate)
    own_rules = tuple(_rule(r, i, locate) for i, r in enumerate(rules))
    return Policy(
        name=str(data.get("name") or (Path(source).name if source != "<policy data>" else base.name)),
        # own rules first: they refine the preset's, which still apply to everything else
        rules=own_rules + base.rules,
        waivers=tuple(_waiver(w, i, locate) for i, w in enumerate(waivers)) + base.waivers,
        fail_on=fail_on,
        identity_exact=flags.get("identity_exact", base.identity_exact),
        allow_unsigned=flags.get("allow_unsigned", base.allow_unsigned),
        override_embedded=flags.get("override_embedded", False),
    )


def _list(data: Mapping[str, Any], key: str, locate: _Locator) -> Sequence[Any]:
    value = data.get(key, [])
    # a list in TOML; a tuple when the policy comes back from a fingerprint
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, Mapping) for v in value):
        raise locate.error(key, None, f"{key} must be an array of tables ([[{locate.prefix}.{key}]])")
    return value


def _rule(data: Mapping[str, Any], index: int, locate: _Locator) -> Rule:
    where = ("rules", index)
    for key in data:
        if key not in _RULE_KEYS:
            raise locate.error(key, where, f"unknown rule key {key!r} (known: {', '.join(sorted(_RULE_KEYS))})")
    actions = [a for a in _RULE_ACTIONS if a in data]
    if "probe" in actions and "group" in actions:
        actions.remove("group")
    if len(actions) != 1:
        found = ", ".join(actions) or "none"
        raise locate.error(
            actions[1] if len(actions) > 1 else None,
            where,
            f"a rule needs exactly one of {', '.join(_RULE_ACTIONS)}; found {found}",
        )
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key == "severity":
            if value not in _SEVERITIES:
                raise locate.error(key, where, f"severity = {value!r}: use one of {', '.join(_SEVERITIES)}")
            kwargs[key] = value
        elif key in ("exact", "same_release", "package", "probe", "group", "warn", "ignore", "reason", "version"):
            if not isinstance(value, str) or not value:
                raise locate.error(key, where, f"{key} must be a non-empty string")
            kwargs[key] = value
        elif key in ("parts", "max_ulp"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise locate.error(key, where, f"{key} must be a non-negative integer")
            kwargs[key] = value
        elif key in ("max_normwise", "max_fraction"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise locate.error(key, where, f"{key} must be a non-negative number")
            kwargs[key] = float(value)
    if "package" in kwargs:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        if "version" not in kwargs:
            raise locate.error("package", where, 'a package rule needs version = "SPECIFIER"')
        try:
            SpecifierSet(kwargs["version"])
        except InvalidSpecifier:
            raise locate.error(
                "version", where, f"version = {kwargs['version']!r} is not a PEP 440 specifier"
            ) from None
    elif "version" in kwargs:
        raise locate.error("version", where, 'version only goes with package = "NAME"')
    tolerances = ("max_ulp", "max_normwise", "max_fraction")
    if ("probe" in kwargs or "group" in kwargs) and not any(k in kwargs for k in tolerances):
        raise locate.error(
            "probe" if "probe" in kwargs else "group",
            where,
            "a probe rule needs at least one of " + ", ".join(tolerances),
        )
    return Rule(**kwargs)


def _waiver(data: Mapping[str, Any], index: int, locate: _Locator) -> Waiver:
    where = ("waivers", index)
    for key in data:
        if key not in _WAIVER_KEYS:
            raise locate.error(key, where, f"unknown waiver key {key!r} (known: {', '.join(sorted(_WAIVER_KEYS))})")
    if "path" not in data and "kind" not in data:
        raise locate.error(None, where, 'a waiver needs path = "GLOB" and/or kind = "GLOB"')
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise locate.error("reason", where, "a waiver needs a reason (who accepted this difference, and why)")
    expires = data.get("expires")
    if isinstance(expires, str):
        try:
            expires = datetime.date.fromisoformat(expires)
        except ValueError:
            raise locate.error("expires", where, f"expires = {expires!r} is not a date (YYYY-MM-DD)") from None
    if isinstance(expires, datetime.datetime):
        expires = expires.date()
    if not isinstance(expires, datetime.date):
        raise locate.error("expires", where, "a waiver needs expires = YYYY-MM-DD")
    for key in ("path", "kind"):
        if key in data and (not isinstance(data[key], str) or not data[key]):
            raise locate.error(key, where, f"{key} must be a non-empty string")
    return Waiver(reason=reason, expires=expires, path=data.get("path"), kind=data.get("kind"))


class _Locator:
    """Finds the line of a key in the TOML text so errors can name it."""

    def __init__(self, source: str, text: str | None, prefix: str) -> None:
        self.source, self.text, self.prefix = source, text, prefix

    def error(self, key: str | None, where: tuple[str, int] | None, message: str) -> PolicyError:
        line = self._line(key, where)
        place = f"{self.source}:{line}" if line else self.source
        table = f"[[{self.prefix}.{where[0]}]] #{where[1] + 1}: " if where else ""
        return PolicyError(f"{place}: {table}{message}")

    def _line(self, key: str | None, where: tuple[str, int] | None) -> int | None:
        if self.text is None:
            return None
        lines = self.text.splitlines()
        header = f"[{self.prefix}]" if where is None else f"[[{self.prefix}.{where[0]}]]"
        seen, start = -1, None
        for i, line in enumerate(lines):
            if line.strip().replace(" ", "") == header.replace(" ", ""):
                seen += 1
                if where is None or seen == where[1]:
                    start = i
                    break
        if start is None:
            return None
        if key is None:
            return start + 1
        for i in range(start + 1, len(lines)):
            stripped = lines[i].strip()
            if stripped.startswith("["):
                break
            if re.match(rf"{re.escape(key)}\s*=", stripped):
                return i + 1
        return start + 1


# ------------------------------------------------------------------------------- embedded policies


def effective_policy(
    embedded: Mapping[str, Any] | None, local: Policy | None, *, log: Any = None
) -> tuple[list[Policy], str]:
    """Returns the policies that must all pass, and a description, given the signed and the local one.

    The policy signed into the fingerprint (what training requires) always applies; a local policy
    can only tighten it (both must pass) unless the local policy sets ``override_embedded = true``,
    which replaces it — a loosening that is logged as a warning.
    """
    if embedded is None:
        chosen = local or PRESETS["default"]
        return [chosen], chosen.name
    signed = from_data(embedded, source="<policy signed into the fingerprint>")
    if local is None:
        return [signed], f"{signed.name} (signed)"
    if local.override_embedded:
        if log is not None:
            log.warning(
                "envprint: serving policy %r overrides the policy signed into the fingerprint (%r): "
                "requirements are loosened on purpose",
                local.name,
                signed.name,
            )
        return [local], f"{local.name} (overrides signed {signed.name})"
    return [signed, local], f"{signed.name} (signed) + {local.name}"


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
