"""User transform probes: parity of feature transforms, encoders and golden predictions.

The environment is one source of training-serving skew; the feature code and the model are the
others: missing values filled differently, time zones, unknown categories dropped instead of
mapped, a vocabulary that drifted. A *transform probe* runs a user function on fixed inputs and
records its outputs in the fingerprint as a probe of group ``"parity"``::

    import envprint
    from envprint.parity import edge_cases

    CASES = edge_cases(columns={"age": 40.0}, categories={"color": ["red", "green"]})

    @envprint.probe("features", inputs=CASES)        # rtol=1e-6, atol=0.0 by default
    def features(rows): ...

At capture (``envprint capture --probes-from mypkg.parity``) every registered function runs twice,
each time on a fresh deep copy of its inputs. Its result is split into named columns (a dict of
columns, a list of row dicts, a pandas DataFrame, or one array named ``output``) and recorded
column by column with the core probes' recorder: numeric columns of up to `FULL_VALUES` values in
full (float.hex), so a re-run is compared element by element within rtol/atol and the row and
column of a difference are named; larger ones as samples plus digests; text, categories and
timestamps exactly. The tolerance, a digest of the inputs and the row labels are recorded with the
result. `envprint parity`, the pytest fixture ``envprint_parity`` and the serving guard re-run the
registered functions in their own process and compare (`check`, `rerun`, `compare`).
See docs/parity.md.

This package is the public face of parity: registration and recording live with the other probes
(`envprint.probes.transforms`), comparison in `envprint.parity.compare`, edge cases in
`envprint.parity.edge_cases`; `synthetic` profiles (edge cases, then seeded random rows) in
`envprint.parity.profiles`, which golden bundles build on.
"""

from __future__ import annotations

from envprint.parity.compare import Mismatch, ParityReport, ProbeParity, check, compare
from envprint.parity.edge_cases import edge_cases
from envprint.parity.profiles import synthetic
from envprint.probes.transforms import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    ENTRY_POINT_GROUP,
    FULL_VALUES,
    GROUP,
    EdgeCases,
    Transform,
    attach,
    discover,
    get,
    probe,
    record,
    recorded,
    register_transform,
    registered,
    rerun,
    unregister,
    vocabulary_probe,
)

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "ENTRY_POINT_GROUP",
    "FULL_VALUES",
    "GROUP",
    "EdgeCases",
    "Mismatch",
    "ParityReport",
    "ProbeParity",
    "Transform",
    "attach",
    "check",
    "compare",
    "discover",
    "edge_cases",
    "get",
    "probe",
    "record",
    "recorded",
    "register_transform",
    "registered",
    "rerun",
    "synthetic",
    "unregister",
    "vocabulary_probe",
]
