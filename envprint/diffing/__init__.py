"""`diff(a, b)`: a pure comparison of two fingerprints into a `DiffReport` of `Finding`s.

No I/O, no printing: renderers (`envprint.render`) and the policy engine (`envprint.policy`) consume
the report (`envprint.report`). The report carries its own counts and verdict so no caller recomputes them.

Paths name the field in the plain data of the fingerprint (`Fingerprint.to_data()`), dotted:
``packages.numpy.version``, ``determinism.variables.OPENBLAS_NUM_THREADS``,
``blas.libraries.numpy/openblas.num_threads``, ``gpu.devices.0.name``, ``probes.blas_gemm_f32``.
A finding about a whole entry (a package added or removed) has the entry's path (``packages.numpy``).

How `diff` decides (docs/diff.md has the reader's version):

* Every section is walked in both directions: an entry on one side only and a value measured on
  one side but `Unavailable` on the other are findings, never skipped.
* Each difference gets a stable `kind` from the explanation catalogue (`envprint.explain`), a
  severity from the rule table (`rules.RULES`) (what the field does to a model's numbers), and a title that
  says what changed and by how much.
* Descriptive fields (hostnames, timestamps, paths, UUIDs; `envprint.model.descriptive`) and
  fields derived from another compared field are ``info`` with ``identity=False``. Bookkeeping
  that differs between any two captures by construction (`BOOKKEEPING`) is not compared at all.
* Probe results are compared with `envprint.probes.compare` (imported only when two digests
  differ): categorical differences are critical, float differences up to `NORMWISE_CRITICAL` are
  warnings. Each probe finding names its likely cause among the other findings (`attribution.CAUSES`).
* `identity_projection` keeps exactly the fields whose differences are identity findings, so
  two fingerprints have equal `identity_digest`s exactly when their diff has no identity finding.

The package is cut where the concepts are: `values` (the two sides, plain values, finding
constructors), `rules` (path → kind, severity, title), `packages`, `walk`, `probes`,
`attribution`, `identity`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from envprint.diffing.attribution import attribute, link_settings
from envprint.diffing.identity import CONTEXT_KINDS, identity_digest, identity_projection
from envprint.diffing.packages import (
    NUMERICS_PACKAGES,
    TOOLING_PACKAGES,
    PackageRole,
    VersionChange,
    package_findings,
    package_role,
    version_change,
)
from envprint.diffing.probes import probe_findings
from envprint.diffing.rules import BOOKKEEPING, NORMWISE_CRITICAL, ULP_LEVEL_FLAGS
from envprint.diffing.values import Context, fields_of
from envprint.diffing.walk import artifact_findings, freshness_findings, golden_inputs_findings, policy_findings, walk
from envprint.envelope import Trust
from envprint.explain import explain
from envprint.model import Fingerprint
from envprint.report import DiffReport, Finding

__all__ = [
    "BOOKKEEPING",
    "NORMWISE_CRITICAL",
    "NUMERICS_PACKAGES",
    "TOOLING_PACKAGES",
    "ULP_LEVEL_FLAGS",
    "PackageRole",
    "VersionChange",
    "diff",
    "identity_digest",
    "identity_projection",
    "package_role",
    "version_change",
]


_SECTION_ORDER = {f.name: i for i, f in enumerate(dataclasses.fields(Fingerprint))}
#: within a severity, measured effects come before the differences that may explain them: the model's
#: own predictions, then transforms, then numeric probes, then versions and settings
_EFFECT_RANK = {"model.predictions": 0, "parity.differs": 1, "parity.error": 1, "probe.differs": 2}


def diff(
    a: Fingerprint,
    b: Fingerprint,
    *,
    a_label: str = "a",
    b_label: str = "b",
    a_trust: Trust = Trust.unsigned,
    b_trust: Trust = Trust.unsigned,
) -> DiffReport:
    """Returns every difference between fingerprint `a` (reference, e.g. training) and `b` (e.g. serving).

    Pure: no I/O. Findings are ordered by severity (critical first), then by section and path; each
    carries its explanation and remedy from `envprint.explain`, and probe findings their likely cause.
    """
    ctx = Context(a, b, a_label, b_label)
    raw: list[Finding] = []
    for name, descriptive in fields_of(Fingerprint):
        va, vb = getattr(a, name), getattr(b, name)
        special = _SPECIAL.get(name)
        if special is not None:
            special(raw, ctx, va, vb)
        else:
            walk(raw, ctx, name, va, vb, descriptive)
    explained = []
    for f in raw:
        why, remedy = explain(f)
        identity = f.identity and f.kind not in CONTEXT_KINDS
        explained.append(dataclasses.replace(f, why=why, remedy=remedy, identity=identity))
    findings = attribute(link_settings(explained), ctx)
    findings.sort(
        key=lambda f: (
            -f.severity,
            _EFFECT_RANK.get(f.kind, 9),
            _SECTION_ORDER.get(f.path.split(".", 1)[0], 99),
            f.path,
        )
    )
    return DiffReport(a_label, b_label, tuple(findings), a_trust, b_trust)


_SPECIAL: dict[str, Callable[[list[Finding], Context, Any, Any], None]] = {
    "packages": package_findings,
    "probes": probe_findings,
    "artifact": artifact_findings,
    "policy": policy_findings,
    "freshness": freshness_findings,
    "golden_inputs": golden_inputs_findings,
}
