"""Numeric probes: computations on fixed inputs whose exact bits reveal how this host computes.

A probe is a name, a group, a line saying what it detects and a `run()` returning named outputs
and decoded flags (`Probe`, `Raw`). `run_suite()` runs the registered probes twice each within a
time budget and records a `ProbeResult` per probe: digests of the exact bits, samples to measure
ULP distances, block digests to estimate how much differs. `compare()` says how two results of
one probe differ. The suite never imports a framework, never sets a thread count, a locale, a
seed or an error state, and never raises for a probe that fails. See docs/probes.md.
"""

from __future__ import annotations

from envprint.probes import blas as _blas  # noqa: F401
from envprint.probes import elementwise as _elementwise  # noqa: F401

# the built-in probes register on import; the suite runs them in the order of GROUPS
from envprint.probes import fpenv as _fpenv  # noqa: F401
from envprint.probes import linalg as _linalg  # noqa: F401
from envprint.probes import localtime as _localtime  # noqa: F401
from envprint.probes import ordering as _ordering  # noqa: F401
from envprint.probes import reductions as _reductions  # noqa: F401
from envprint.probes import rng as _rng  # noqa: F401
from envprint.probes import tensorflow_ops as _tensorflow_ops  # noqa: F401
from envprint.probes import text as _text  # noqa: F401
from envprint.probes import torch_ops as _torch_ops  # noqa: F401
from envprint.probes._base import GROUPS, OutputValue, Probe, Raw, register, registry, unregister
from envprint.probes.compare import OutputComparison, ProbeComparison, compare, ulp_distance
from envprint.probes.suite import run_suite

__all__ = [
    "GROUPS",
    "OutputComparison",
    "OutputValue",
    "Probe",
    "ProbeComparison",
    "Raw",
    "compare",
    "register",
    "registry",
    "run_suite",
    "ulp_distance",
    "unregister",
]
