"""Transform-probe findings: the user's transform probes (group "parity") compared within their tolerance.

`diff` fills in why each matters and its remedy from the explanation catalogue, as for every finding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from envprint.model import ProbeResult, Unavailable
from envprint.parity.compare import ProbeParity, compare
from envprint.probes.transforms import recorded
from envprint.report import Finding, Magnitude, Severity


def transform_findings(
    a: Mapping[str, ProbeResult] | Unavailable, b: Mapping[str, ProbeResult] | Unavailable
) -> list[Finding]:
    """Returns the findings of the transform probes (group "parity") between two probe sections.

    Kinds: ``parity.differs`` (critical: values outside tolerance, or outputs changed shape),
    ``parity.error`` (critical: the function raised, its inputs or version changed),
    ``parity.missing`` (warning: recorded in `a`, absent from `b`) and ``parity.added`` (info).
    The model's golden predictions (kind "model", `envprint.predictions`) are ``model.predictions``
    when they differ (critical), ``model.unchecked`` when not re-run (warning) and ``model.match``
    (info, not a difference) when they match: the policy reads that one to weigh differences that
    act through the model. Paths are ``probes.<name>``. Other probe groups are compared elsewhere.
    """
    a_map, b_map = recorded(a), recorded(b)
    out: list[Finding] = []
    for name, ra in a_map.items():
        result = compare(ra, b_map.get(name), name=name)
        path = f"probes.{name}"
        model = ra.flags.get("kind") == "model"
        if result.passed:
            if model:
                out.append(_match(path, result, exact=ra.digest == b_map[name].digest))
            continue
        if result.status == "missing":
            if model:
                which = "" if name == "predictions" else f" {name}"
                title = f"golden predictions{which} recorded, not re-run here"
                out.append(Finding("model.unchecked", path, Severity.warning, "recorded", None, title))
                continue
            title = f"transform probe {name}: {result.summary()}"
            out.append(Finding("parity.missing", path, Severity.warning, "recorded", None, title))
            continue
        worst = result.mismatches[0] if result.mismatches else None
        kind = "parity.differs" if result.status == "fail" else "parity.error"
        if model and result.status == "fail":
            kind = "model.predictions"
        differing = tuple(dict.fromkeys(m.output for m in result.mismatches))
        magnitude = Magnitude(
            fraction=result.mismatched / result.compared if result.compared else None,
            outputs=differing,
            categorical=bool(result.problems) or any(math.isinf(m.score()) for m in result.mismatches),
        )
        out.append(
            Finding(
                kind=kind,
                path=path,
                severity=Severity.critical,
                old=worst.old if worst else ra.status,
                new=worst.new if worst else (b_map[name].status if name in b_map else None),
                title=(
                    f"golden predictions differ: {result.summary()}"
                    if kind == "model.predictions"
                    else f"transform probe {name}: {result.summary()}"
                ),
                magnitude=magnitude,
            )
        )
    out.extend(
        Finding(
            "parity.added",
            f"probes.{name}",
            Severity.info,
            None,
            "recorded",
            f"transform probe {name}: recorded only in the second fingerprint",
        )
        for name in b_map
        if name not in a_map
    )
    return out


def _match(path: str, result: ProbeParity, *, exact: bool) -> Finding:
    """Returns the info finding that the model's golden predictions were reproduced (exactly, or within tolerance)."""
    how = "bit-identical" if exact else f"within {result.tolerance}"
    title = f"this model's {result.compared} golden prediction value(s) are {how}"
    return Finding("model.match", path, Severity.info, "recorded", "reproduced", title, identity=False)
