"""Loading policies: presets by name, TOML files (``[policy]`` or ``[tool.envprint.policy]``), plain data.

Unknown keys or bad values raise `PolicyError` naming the file, the table and the line. A policy's
own rules come first and refine its base preset's (``extends``), which still apply to the rest.
"""

from __future__ import annotations

import datetime
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from envprint._files import read_regular
from envprint.errors import PolicyError
from envprint.model import Fingerprint
from envprint.policy.evaluate import Policy, PolicyResult, combine, evaluate
from envprint.policy.presets import PRESETS
from envprint.policy.rules import (
    SEVERITIES,
    Exact,
    Ignore,
    PackageVersion,
    ProbeTolerance,
    Rule,
    SameRelease,
    Waiver,
    Warn,
)
from envprint.report import DiffReport

__all__ = ["effective_policy", "from_data", "judge", "load_policy", "resolve_policy"]

_RULE_ACTIONS = ("exact", "same_release", "package", "probe", "group", "warn", "ignore")
_RULE_KEYS = frozenset(
    {*_RULE_ACTIONS, "parts", "version", "max_ulp", "max_normwise", "max_fraction", "reason", "severity", "kind"}
)
_POLICY_KEYS = frozenset(
    {"extends", "fail_on", "allow_unsigned", "rules", "waivers", "override_embedded", "name", "golden_clears"}
)
_WAIVER_KEYS = frozenset({"path", "kind", "reason", "expires"})
_TOLERANCES = frozenset({"probe", "group", "max_ulp", "max_normwise", "max_fraction"})
#: the action key of a rule -> the keys that go with it, and the class it builds
_ACTION_KEYS: Mapping[str, frozenset[str]] = {
    "exact": frozenset({"exact"}),
    "warn": frozenset({"warn"}),
    "ignore": frozenset({"ignore"}),
    "same_release": frozenset({"same_release", "parts"}),
    "package": frozenset({"package", "version"}),
    "probe": _TOLERANCES,
    "group": _TOLERANCES,
}
_RULE_CLASSES: Mapping[str, type[Rule]] = {
    "exact": Exact,
    "warn": Warn,
    "ignore": Ignore,
    "same_release": SameRelease,
    "package": PackageVersion,
    "probe": ProbeTolerance,
    "group": ProbeTolerance,
}
_NOTHING = Policy(name="none")


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
        if not isinstance(data["fail_on"], str) or data["fail_on"] not in SEVERITIES:
            raise locate.error("fail_on", None, f"fail_on = {data['fail_on']!r}: use one of {', '.join(SEVERITIES)}")
        fail_on = SEVERITIES[data["fail_on"]]
    flags = {}
    for key in ("allow_unsigned", "override_embedded", "identity_exact", "golden_clears"):
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
        golden_clears=flags.get("golden_clears", base.golden_clears),
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
            if not isinstance(value, str) or value not in SEVERITIES:  # a list or table is unhashable
                raise locate.error(key, where, f"severity = {value!r}: use one of {', '.join(SEVERITIES)}")
            kwargs[key] = value
        elif key in (
            "exact",
            "same_release",
            "package",
            "probe",
            "group",
            "warn",
            "ignore",
            "reason",
            "version",
            "kind",
        ):
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
        if "version" not in kwargs:
            raise locate.error("package", where, 'a package rule needs version = "SPECIFIER"')
        from packaging.specifiers import InvalidSpecifier, SpecifierSet  # only a policy with a package rule pays it

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
    misplaced = sorted(set(kwargs) - _ACTION_KEYS[actions[0]] - {"reason", "severity", "kind"})
    if misplaced:
        raise locate.error(misplaced[0], where, f"{misplaced[0]} does not go with {actions[0]} = ...")
    return _RULE_CLASSES[actions[0]](**kwargs)


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


def judge(
    embedded: Mapping[str, Any] | None,
    local: Policy | None,
    report: DiffReport,
    candidate: Fingerprint | None,
    *,
    log: Any = None,
) -> tuple[PolicyResult, str]:
    """Returns the verdict on `report` of the signed policy tightened by `local`, and the policies' description.

    The one verdict of a reference fingerprint against a candidate: `guard()`, `envprint check` and
    `envprint diff --policy` all judge through it, so they cannot disagree on the same pair.
    """
    policies, description = effective_policy(embedded, local, log=log)
    return combine(evaluate(p, report, candidate) for p in policies), description
