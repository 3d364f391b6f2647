"""capture(): real subprocess captures with different variables land in the right sections."""

from __future__ import annotations

import subprocess
import sys

import pytest

import envprint
from envprint.model import BlasInfo, DeterminismInfo, LocaleTimeInfo, Unavailable
from tests.conftest import CaptureFn, host_env


def _det(loaded: object) -> DeterminismInfo:
    det = loaded.fingerprint.determinism  # type: ignore[attr-defined]
    assert isinstance(det, DeterminismInfo)
    return det


def _openblas(loaded: object) -> object:
    blas = loaded.fingerprint.blas  # type: ignore[attr-defined]
    assert isinstance(blas, BlasInfo)
    libs = [lib for lib in blas.libraries.values() if lib.internal_api == "openblas"]
    assert libs, f"no OpenBLAS loaded: {blas.libraries}"
    return libs[0]


def test_thread_variables_and_blas_threads_recorded(capture_in_subprocess: CaptureFn) -> None:
    one = capture_in_subprocess("--no-probes", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="3")
    default = capture_in_subprocess("--no-probes")
    assert _det(one).variables["OPENBLAS_NUM_THREADS"] == "1"
    assert _det(one).variables["OMP_NUM_THREADS"] == "3"
    assert _det(default).variables["OPENBLAS_NUM_THREADS"] is None
    assert _openblas(one).num_threads == 1  # type: ignore[attr-defined]
    cpu = default.fingerprint.cpu
    assert not isinstance(cpu, Unavailable)
    assert _openblas(default).num_threads == min(cpu.affinity, 64)  # type: ignore[attr-defined,type-var]


def test_coretype_changes_recorded_blas_kernel(capture_in_subprocess: CaptureFn) -> None:
    sandy = capture_in_subprocess("--no-probes", OPENBLAS_CORETYPE="Sandybridge")
    assert _det(sandy).variables["OPENBLAS_CORETYPE"] == "Sandybridge"
    assert _openblas(sandy).architecture == "Sandybridge"  # type: ignore[attr-defined]


def test_time_zone_recorded(capture_in_subprocess: CaptureFn) -> None:
    ny = capture_in_subprocess("--no-probes", TZ="America/New_York")
    lt = ny.fingerprint.locale_time
    assert isinstance(lt, LocaleTimeInfo)
    assert lt.tz_env == "America/New_York"
    assert lt.local_zone == "America/New_York"
    assert lt.tzname == ("EST", "EDT")
    assert lt.std_offset_seconds == -5 * 3600
    utc = capture_in_subprocess("--no-probes", TZ="UTC").fingerprint.locale_time
    assert isinstance(utc, LocaleTimeInfo)
    assert utc.std_offset_seconds == 0


def test_hash_seed_recorded(capture_in_subprocess: CaptureFn) -> None:
    fixed = capture_in_subprocess("--no-probes", PYTHONHASHSEED="0")
    random_seed = capture_in_subprocess("--no-probes", PYTHONHASHSEED=None)
    assert _det(fixed).variables["PYTHONHASHSEED"] == "0"
    assert _det(fixed).hash_randomization is False
    assert _det(random_seed).variables["PYTHONHASHSEED"] is None
    assert _det(random_seed).hash_randomization is True


def test_every_section_is_measured_on_this_host(local_fingerprint: envprint.Fingerprint) -> None:
    fp = local_fingerprint
    for section in ("python", "platform", "cpu", "memory", "blas", "determinism", "locale_time"):
        assert not isinstance(getattr(fp, section), Unavailable), section
    assert not isinstance(fp.packages, Unavailable)
    assert "numpy" in fp.packages and "msgpack" in fp.packages
    assert fp.packages["numpy"].version == __import__("numpy").__version__
    assert fp.python.version.startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")  # type: ignore[union-attr]
    assert fp.meta.capture_mode == "in-process"
    assert set(fp.meta.timings) >= {"packages", "cpu", "blas", "gpu"}


def test_gpu_without_driver_is_unavailable_with_reason(local_fingerprint: envprint.Fingerprint) -> None:
    import os

    if os.path.exists("/proc/driver/nvidia/version"):
        pytest.skip("this host has an NVIDIA driver")
    assert isinstance(local_fingerprint.gpu, Unavailable)
    assert "driver" in local_fingerprint.gpu.reason or "pynvml" in local_fingerprint.gpu.reason


def test_imported_modules_and_versions(local_fingerprint: envprint.Fingerprint) -> None:
    imported = local_fingerprint.imported
    assert not isinstance(imported, Unavailable)
    assert imported["numpy"] == __import__("numpy").__version__
    assert "os" not in imported and "json" not in imported  # standard library is left out


def test_strict_capture_lists_what_could_not_be_measured() -> None:
    from envprint.testing import FakeNVML

    with pytest.raises(envprint.CaptureError, match=r"gpu: .*no GPU devices"):
        envprint.capture(probes=False, strict=True, nvml=FakeNVML([]))


def test_capture_imports_nothing_it_was_not_asked_to() -> None:
    code = (
        "import sys, envprint; envprint.capture(probes=False); "
        "print(sorted(m for m in ('tensorflow', 'torch', 'jax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=host_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_import_option_failure_is_a_usage_error(capture_in_subprocess: CaptureFn) -> None:
    from tests.conftest import run_envprint

    proc = run_envprint(["capture", "--no-probes", "--import", "no_such_module_xyz", "-o", "/dev/null"])
    assert proc.returncode == 2
    assert "no_such_module_xyz" in proc.stderr


def test_two_captures_in_one_process_have_the_same_identity() -> None:
    from envprint.diffing import diff, identity_digest

    first = envprint.capture(probes=False)  # imports what capture needs (pynvml, threadpoolctl...)
    second = envprint.capture(probes=False)
    assert identity_digest(first) == identity_digest(second)
    assert diff(first, second).equivalent
