"""Shared fixtures: real subprocess captures that play "another host"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

import envprint
from envprint.codec import Loaded, read

# variables that would make two "hosts" differ by accident; each test sets what it compares
_VOLATILE = (
    "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE", "TZ", "PYTHONHASHSEED",
    "NPY_DISABLE_CPU_FEATURES", "TF_ENABLE_ONEDNN_OPTS", "ENVPRINT_GUARD",
)  # fmt: skip


#: OpenBLAS kernels (threadpoolctl's "architecture") whose ddot splits long vectors across threads
THREADED_DOT_KERNELS = frozenset({"sandybridge", "haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"})


def openblas_kernel() -> str | None:
    """Returns the kernel ("architecture") of numpy's OpenBLAS in lower case, None when numpy uses another BLAS."""
    import numpy  # noqa: F401  - threadpoolctl sees the BLAS numpy has loaded
    import threadpoolctl

    infos = [i for i in threadpoolctl.threadpool_info() if i["internal_api"] == "openblas"]
    return str(infos[0].get("architecture", "")).lower() if infos else None


def openblas_splits_dot() -> bool:
    """Returns whether 1 and 2 OpenBLAS threads round a long dot product differently on this host: its kernel
    threads ddot (Prescott-era ones do not) and there are 2 CPUs (OpenBLAS caps its threads at the CPU count)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cpus >= 2 and openblas_kernel() in THREADED_DOT_KERNELS


def numpy_found_targets() -> tuple[str, ...]:
    """Returns the SIMD targets above its baseline that numpy dispatches to on this CPU, as a process with
    host_env() sees them (read by envprint's own collector, which knows numpy 1.x and 2.x)."""
    code = (
        "import json, numpy\nfrom envprint.collect.cpu import numpy_simd\n"
        "simd = numpy_simd()\nprint(json.dumps({'found': list(getattr(simd, 'found', ()))}))"
    )
    doc, _ = python_json(code)
    return tuple(doc["found"])


def host_env(**overrides: str | None) -> dict[str, str]:
    """Returns a copy of this environment with volatile numerics variables removed, then `overrides` applied."""
    env = {k: v for k, v in os.environ.items() if k not in _VOLATILE and not k.startswith("ENVPRINT_")}
    env["PYTHONHASHSEED"] = "0"  # fixed unless a test says otherwise, so hash-order probes compare
    for k, v in overrides.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def run_envprint(
    args: list[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Returns the finished `python -m envprint ARGS` process, run with `env` (default: host_env())."""
    return subprocess.run(
        [sys.executable, "-m", "envprint", *args],
        env=dict(env) if env is not None else host_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def python_json(
    code: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    python: str | os.PathLike[str] = sys.executable,
    cwd: Path | None = None,
    timeout: float = 600,
) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """Returns the JSON object `python -c code ARGS` printed on its last line, and the finished process
    (run as `run_python` runs it)."""
    proc = run_python(code, *args, env=env, python=python, cwd=cwd, timeout=timeout)
    doc: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return doc, proc


def run_python(
    code: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    python: str | os.PathLike[str] = sys.executable,
    cwd: Path | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Returns the finished `python -c code ARGS`, run with `env` (default: host_env()); the test fails with its
    stderr when it exits non-zero."""
    proc = subprocess.run(
        [str(python), "-c", code, *args],
        env=dict(env) if env is not None else host_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


CaptureFn = Callable[..., Loaded]


@pytest.fixture
def capture_in_subprocess(tmp_path: Path) -> CaptureFn:
    """Returns a function that captures in a fresh process with the given variables and loads the result."""
    counter = iter(range(10_000))

    def run(*extra_args: str, name: str | None = None, **env_overrides: str | None) -> Loaded:
        out = tmp_path / f"{name or 'capture'}-{next(counter)}.fp"
        proc = run_envprint(["capture", "-q", "-o", str(out), *extra_args], env=host_env(**env_overrides))
        assert proc.returncode == 0, proc.stderr
        return read(out)

    return run


@pytest.fixture(scope="session")
def local_fingerprint() -> envprint.Fingerprint:
    """Returns one in-process capture without probes (shared: capturing is read-only)."""
    return envprint.capture(probes=False)
