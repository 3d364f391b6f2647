"""Runs the registered probes, twice each, within a time budget, and records their results."""

from __future__ import annotations

import hashlib
import sys
import time
import warnings
from collections.abc import Collection, Mapping

import numpy as np

from envprint.errors import UsageError
from envprint.model import ProbeOutput, ProbeResult, Scalar
from envprint.privacy import redact_path
from envprint.probes._base import Probe, Raw, registry
from envprint.probes._record import Canonical, canonical, to_output

__all__ = ["result_digest", "run_suite"]


def run_suite(
    groups: Collection[str] | None = None, *, budget_s: float = 1.0, xla: bool = False
) -> dict[str, ProbeResult]:
    """Returns the result of every registered probe (or those of `groups`), keyed by probe name.

    A probe whose result can vary within a process runs twice, and `stable` records whether both
    runs gave the same bits; the others (`Probe.repeat` False) run once. Probes on the BLAS thread
    pool run last. Once `budget_s` seconds have passed, no heavy probe starts: the remaining ones
    are recorded as skipped, with the time spent as the reason. Framework probes run
    only when their framework is already imported: otherwise they are left out, or recorded as
    skipped when their group was asked for by name. Opt-in probes (XLA) run only with `xla=True`.
    A probe that raises is recorded as failed: the suite itself raises only `UsageError`, for a
    group no registered probe belongs to.
    """
    probes = registry()
    if groups is not None:
        unknown = set(groups) - {p.group for p in probes}
        if unknown:
            known = ", ".join(dict.fromkeys(p.group for p in probes))
            raise UsageError(f"unknown probe group(s) {', '.join(sorted(unknown))}; known: {known}")
        probes = tuple(p for p in probes if p.group in groups)
    start = time.perf_counter()
    results: dict[str, ProbeResult] = {}
    for probe in probes:
        if groups is None and probe.requires is not None and probe.requires not in sys.modules:
            continue  # the imported-modules section already says the framework is absent
        why_not = _why_not(probe, time.perf_counter() - start, budget_s, xla)
        results[probe.name] = _not_run(probe, "skipped", why_not) if why_not else _run(probe)
    return results


def _why_not(probe: Probe, elapsed: float, budget_s: float, xla: bool) -> str | None:
    if probe.requires is not None and probe.requires not in sys.modules:
        return f"{probe.requires} not imported"
    if probe.opt_in and not xla:
        return "opt-in: xla=True"
    if probe.heavy and elapsed > budget_s:
        return f"time budget {budget_s:g} s spent ({elapsed:.3f} s)"
    return None


def _not_run(probe: Probe, status: str, reason: str, seconds: float = 0.0) -> ProbeResult:
    return ProbeResult(
        group=probe.group,
        status=status,
        digest="",
        outputs={},
        flags={},
        stable=True,
        version=probe.version,
        reason=reason,
        seconds=seconds,
    )


def _run(probe: Probe) -> ProbeResult:
    t0 = time.perf_counter()
    try:
        first = _canonical_run(probe)
    except Exception as e:  # a probe must never break the capture; its failure is the finding
        return _not_run(probe, "failed", _describe(e), time.perf_counter() - t0)
    raw, canon = first
    second: tuple[Raw, dict[str, Canonical]] | None = None
    failure = None
    if probe.repeat:
        try:
            second = _canonical_run(probe)
        except Exception as e:
            failure = f"the second run raised {_describe(e)}"
    outputs = {name: to_output(name, c, elementwise=name in raw.elementwise) for name, c in canon.items()}
    reason = failure or (_instability(first, second) if second is not None else None)
    seconds = time.perf_counter() - t0
    return ProbeResult(
        group=probe.group,
        status="ok",
        digest=result_digest(outputs, raw.flags),
        outputs=outputs,
        flags=dict(raw.flags),
        stable=reason is None,
        random_per_process=raw.random_per_process,
        version=probe.version,
        reason=reason,
        seconds=seconds,
    )


def _canonical_run(probe: Probe) -> tuple[Raw, dict[str, Canonical]]:
    # Probes compute on edge values on purpose; silence numpy's and Python's warnings about
    # them only here, so the caller's error and warning settings stay as they are.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = probe.run()
        return raw, {name: canonical(value) for name, value in raw.outputs.items()}


def _instability(first: tuple[Raw, dict[str, Canonical]], second: tuple[Raw, dict[str, Canonical]]) -> str | None:
    (raw1, canon1), (raw2, canon2) = first, second
    changed = sorted(
        name
        for name in canon1.keys() | canon2.keys()
        if name not in canon1 or name not in canon2 or canon1[name].key() != canon2[name].key()
    )
    changed += sorted(
        f"flag {k}" for k in raw1.flags.keys() | raw2.flags.keys() if raw1.flags.get(k) != raw2.flags.get(k)
    )
    return f"unstable: the second run differed in {', '.join(changed)}" if changed else None


def result_digest(outputs: Mapping[str, ProbeOutput], flags: Mapping[str, Scalar]) -> str:
    """Returns the sha256 over every output digest and flag: equal digests mean equal results."""
    h = hashlib.sha256()
    for name in sorted(outputs):
        h.update(f"output {name}={outputs[name].digest}\n".encode())
    for key in sorted(flags):
        h.update(f"flag {key}={flags[key]!r}\n".encode())
    return h.hexdigest()


def _describe(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return redact_path(f"{type(e).__name__}: {text[0][:200]}") if text else type(e).__name__
