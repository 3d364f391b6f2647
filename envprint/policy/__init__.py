"""Policies: which differences between training and serving refuse to serve, and which are allowed.

A policy is a list of small rules plus a severity threshold. `evaluate(policy, report, serving)` is
pure: it decides, finding by finding, one outcome:

* ``violation`` — refuses (the guard raises, `envprint check` exits 1);
* ``waived`` — would be a violation, but a waiver with a reason and an unexpired date covers it;
* ``allowed`` — a rule accepts it (a version specifier is met, a probe is within tolerance);
* ``ignored`` — an ignore rule drops it;
* ``warning`` / ``info`` — reported, never refuses.

Rules (first match wins, in the order given; ignores and waivers apply across all rules):

Each kind of rule is one class in `envprint.policy.rules` (``exact`` → `Exact`, ``warn`` → `Warn`,
``ignore`` → `Ignore`, ``same_release`` → `SameRelease`, ``package`` → `PackageVersion`, ``probe`` /
``group`` → `ProbeTolerance`), each deciding its own question (`Rule.decide`):

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

from envprint.policy.evaluate import Decision, Policy, PolicyResult, combine, evaluate
from envprint.policy.load import effective_policy, from_data, load_policy, resolve_policy
from envprint.policy.presets import DEFAULT_MAX_ULP, PRESETS
from envprint.policy.rules import (
    Exact,
    Ignore,
    Outcome,
    PackageVersion,
    ProbeTolerance,
    Rule,
    SameRelease,
    Waiver,
    Warn,
)

__all__ = [
    "DEFAULT_MAX_ULP",
    "PRESETS",
    "Decision",
    "Exact",
    "Ignore",
    "Outcome",
    "PackageVersion",
    "Policy",
    "PolicyResult",
    "ProbeTolerance",
    "Rule",
    "SameRelease",
    "Waiver",
    "Warn",
    "combine",
    "effective_policy",
    "evaluate",
    "from_data",
    "load_policy",
    "resolve_policy",
]
