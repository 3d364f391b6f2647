"""The explanation catalogue: for every kind of finding, why it matters for training-serving skew
and the setting, pin or variable that restores parity.

`diff` fills each finding's ``why`` and ``remedy`` from here (`explain`); docs/explanations.md is
generated from the same data (``python -m envprint.explain > docs/explanations.md``, or
``scripts/regen_golden.py``) and a test fails when the two drift apart.

Remedies are templates over the finding: ``{name}`` (the variable, package, probe or field),
``{old}`` / ``{new}`` (the values on side a, the reference, and side b), ``{set_old}`` (the shell
line that restores side a's value of a variable: ``export NAME=VALUE`` or ``unset NAME``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envprint._base import is_unavailable
from envprint.explain.catalogue import CATALOGUE, ENTRIES, KINDS, PROBE_GROUPS, PROBE_REMEDIES, Explanation
from envprint.report import Finding

__all__ = ["CATALOGUE", "KINDS", "PROBE_GROUPS", "PROBE_REMEDIES", "Explanation", "catalogue_markdown", "explain"]


class _Values(dict[str, str]):
    """Template values; unknown placeholders stay as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


#: fields that record an environment variable under another name
_VARIABLE_NAMES = {"locale_time.tz_env": "TZ"}


def _name(path: str) -> str:
    parts = path.split(".")
    if parts[0] in ("packages", "probes") and len(parts) > 1:
        return parts[1]
    if parts[0] == "determinism" and len(parts) > 3 and parts[1] == "frameworks":
        return ".".join(parts[2:])
    if parts[0] == "blas" and len(parts) > 2:
        return parts[2]
    return _VARIABLE_NAMES.get(path, parts[-1])


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, Mapping):
        if is_unavailable(value):
            return "unavailable"
        return str(value.get("version") or value.get("digest") or "…")
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _setting(name: str, value: Any) -> str:
    if value is None:
        return f"unset {name}"
    return f"export {name}={_show(value)}"


def explain(finding: Finding) -> tuple[str, str]:
    """Returns (why, remedy) for a finding from the catalogue, the remedy filled in with its values."""
    entry = CATALOGUE[finding.kind]
    name = _name(finding.path)
    values = _Values(name=name, old=_show(finding.old), new=_show(finding.new), set_old=_setting(name, finding.old))
    why, remedy = entry.why, entry.remedy
    if finding.kind == "probe.differs" and isinstance(finding.old, Mapping):
        group = str(finding.old.get("group"))
        why = f"{PROBE_GROUPS[group]} {why}" if group in PROBE_GROUPS else why
        remedy = PROBE_REMEDIES.get(group, remedy)
    return why, remedy.format_map(values)


def catalogue_markdown() -> str:
    """Returns docs/explanations.md: every finding kind with its why and remedy template."""
    lines = [
        "# Finding kinds and what to do about them",
        "",
        "<!-- generated from envprint/explain/catalogue.py by `python -m envprint.explain`; do not edit -->",
        "",
        "Every finding `envprint diff` reports has one of these kinds. Remedies are templates: "
        "`{name}` is the variable, package, probe or field; `{old}` and `{new}` are the values on side a "
        "(the reference, e.g. training) and side b (e.g. serving); `{set_old}` is the shell line that "
        "restores side a's value (`export NAME=VALUE` or `unset NAME`). A probe difference takes the "
        "remedy of its likely cause when one is named.",
        "",
    ]
    for e in ENTRIES:
        lines += [f"## `{e.kind}` — {e.title}", "", f"**Why it matters.** {e.why}", "", f"**Remedy.** {e.remedy}", ""]
    lines += ["## Probe groups", "", "What a `probe.differs` finding means, by probe group:", ""]
    lines += ["| group | effect on a model |", "|---|---|"]
    lines += [f"| `{g}` | {text} |" for g, text in PROBE_GROUPS.items()]
    lines += ["", "Remedies for probe groups whose difference no other finding explains:", ""]
    lines += [f"- `{g}`: {text}" for g, text in PROBE_REMEDIES.items()]
    return "\n".join(lines) + "\n"
