"""Helpers for probe tests: fresh Python processes that play two hosts, and results built in place."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import msgpack
import pytest

from envprint._serde import from_data
from envprint.model import ProbeResult, Scalar
from envprint.probes import OutputValue, ProbeComparison, compare
from envprint.probes._record import canonical, to_output
from envprint.probes.suite import result_digest

_SCRIPT = """
import sys
{preamble}
import msgpack
from envprint._serde import to_data
from envprint.probes import run_suite

results = run_suite({groups!r}, budget_s=600.0, xla={xla!r})
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb(to_data(results), use_bin_type=True))
"""


@dataclass(frozen=True)
class Host:
    """One simulated host: variables to set (None unsets) and code to run before the suite."""

    env: Mapping[str, str | None] = field(default_factory=dict)
    preamble: str = ""


Results = dict[str, ProbeResult]
RunHosts = Callable[..., list[Results]]


def host_environ(overrides: Mapping[str, str | None]) -> dict[str, str]:
    """Returns a copy of os.environ with `overrides` applied; PYTHONHASHSEED is 0 unless overridden."""
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"  # so hash-order results compare unless a test unsets it
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_hosts(
    tmp_path: Path, *hosts: Host, groups: Collection[str] | None = None, xla: bool = False, timeout: float = 240.0
) -> list[Results]:
    """Returns run_suite()'s results from one fresh `sys.executable` per host, run side by side."""
    procs = []
    for i, host in enumerate(hosts):
        out = tmp_path / f"host-{i}-{os.urandom(4).hex()}.msgpack"
        script = _SCRIPT.format(preamble=host.preamble, groups=None if groups is None else sorted(groups), xla=xla)
        proc = subprocess.Popen(
            [sys.executable, "-c", script, str(out)],
            env=host_environ(host.env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append((proc, out))
    results = []
    for proc, out in procs:
        _, stderr = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, stderr
        data = msgpack.unpackb(out.read_bytes(), raw=False)
        results.append(from_data(dict[str, ProbeResult], data))
    return results


def differences(a: Results, b: Results) -> dict[str, ProbeComparison]:
    """Returns the comparison of every probe whose results differ (skipped alike on both sides is no difference)."""
    assert set(a) == set(b)
    comparisons = {
        name: compare(a[name], b[name])
        for name in a
        if a[name].status == "ok" or (a[name].status, a[name].reason) != (b[name].status, b[name].reason)
    }
    return {name: c for name, c in comparisons.items() if not c.identical}


@pytest.fixture
def hosts(tmp_path: Path) -> RunHosts:
    """Returns run_hosts bound to this test's temporary directory."""

    def run(*specs: Host, groups: Collection[str] | None = None, xla: bool = False) -> list[Results]:
        return run_hosts(tmp_path, *specs, groups=groups, xla=xla)

    return run


def make_result(
    outputs: Mapping[str, OutputValue],
    flags: Mapping[str, Scalar] | None = None,
    *,
    elementwise: Collection[str] = (),
    version: int = 1,
    status: str = "ok",
    random_per_process: bool = False,
) -> ProbeResult:
    """Returns the ProbeResult the suite would record for these outputs and flags."""
    recorded = {n: to_output(n, canonical(v), elementwise=n in elementwise) for n, v in outputs.items()}
    flags = dict(flags or {})
    return ProbeResult(
        group="test",
        status=status,
        digest=result_digest(recorded, flags),
        outputs=recorded,
        flags=flags,
        stable=True,
        random_per_process=random_per_process,
        version=version,
    )
