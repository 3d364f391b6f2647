"""Numeric probes: computations on fixed inputs whose exact bits reveal how this host computes.

A probe is a name, a group, a line saying what it detects and a `run()` returning named outputs
and decoded flags (`Probe`, `Raw`). `run_suite()` runs the registered probes within a time budget,
twice each where a result can vary within a process, and records a `ProbeResult` per probe: digests
of the exact bits, samples to measure ULP distances, block digests to estimate how much differs.
`compare()` says how two results of one probe differ. The suite never imports a framework, never
sets a thread count, a locale, a seed or an error state, and never raises for a probe that fails.
See docs/probes.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envprint._lazy import lazy_attributes
from envprint.probes._base import GROUPS, OutputValue, Probe, Raw, register, registry, unregister
from envprint.probes.compare import OutputComparison, ProbeComparison, compare, ulp_distance

if TYPE_CHECKING:
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


# the suite (and numpy with it) loads on first use: comparing results needs neither
_LAZY = {"run_suite": "envprint.probes.suite"}

__getattr__ = lazy_attributes(__name__, _LAZY, globals())
