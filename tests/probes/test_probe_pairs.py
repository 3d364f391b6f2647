"""Two fresh processes play two hosts; the probes must tell exactly the right difference apart.

Each test changes one environment factor between the two processes and asserts which probes
differ, by how much, and that every other probe gives the same bits.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envprint.probes import compare, registry
from tests.conftest import THREADED_DOT_KERNELS, openblas_kernel
from tests.probes.conftest import Host, Results, RunHosts, differences

CORE = {p.name for p in registry() if p.requires is None}
GROUP = {p.name: p.group for p in registry()}


def assert_healthy(*sides: Results) -> None:
    for results in sides:
        assert set(results) == CORE  # framework probes are left out: no framework imported
        bad = {n: r.reason for n, r in results.items() if r.status != "ok" or not r.stable}
        assert bad == {}


def _cpu_features() -> tuple[dict[str, bool], list[str]]:
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    return dict(__cpu_features__), list(__cpu_dispatch__)


def test_same_settings_twice_give_identical_probes(hosts: RunHosts) -> None:
    a, b = hosts(Host(), Host())
    assert_healthy(a, b)
    assert differences(a, b) == {}
    assert a["hash_order"].random_per_process is False


def test_unset_hash_seed_marks_hash_order_random_and_nothing_else_differs(hosts: RunHosts) -> None:
    a, b = hosts(Host({"PYTHONHASHSEED": None}), Host({"PYTHONHASHSEED": None}))
    assert_healthy(a, b)
    assert a["hash_order"].random_per_process and b["hash_order"].random_per_process
    assert a["hash_order"].flags["hash_seed_fixed"] is False
    c = compare(a["hash_order"], b["hash_order"])
    assert (c.comparable, c.identical) == (False, False)
    assert c.reason is not None and "hash seed" in c.reason
    assert set(differences(a, b)) <= {"hash_order"}


@pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2 or openblas_kernel() is None,
    reason="needs numpy on OpenBLAS and 2 CPUs (OpenBLAS caps its threads at the CPU count)",
)
def test_openblas_threads_1_vs_2_differ_only_in_the_threaded_dot_product(hosts: RunHosts) -> None:
    # OpenBLAS's x86-64 ddot kernels of Sandybridge and later split a dot product over 10 000 elements across
    # its threads, so the split shows in the bits; older kernels (OPENBLAS_CORETYPE=Prescott, say) run it
    # on one thread, and the count then shows only in the recorded BLAS settings. Every other product runs
    # on the calling thread whatever the count, on every kernel.
    a, b = hosts(Host({"OPENBLAS_NUM_THREADS": "1"}), Host({"OPENBLAS_NUM_THREADS": "2"}))
    assert_healthy(a, b)
    diff = differences(a, b)
    assert set(diff) <= {"blas_threads"}
    kernel = openblas_kernel()
    if kernel in THREADED_DOT_KERNELS:
        assert set(diff) == {"blas_threads"}, kernel
    if not diff:
        return
    dot = diff["blas_threads"]
    assert not dot.categorical and dot.differing_outputs == ("ddot",)
    assert dot.max_ulp is not None and 1 <= dot.max_ulp < 100_000  # one sum regrouped: rounding, not a bug
    assert a["blas_fma"].flags == b["blas_fma"].flags  # same kernel family, only the split differs


def _haswell_capable() -> bool:
    features, _ = _cpu_features()
    return platform.machine() == "x86_64" and features.get("AVX2", False) and features.get("FMA3", False)


@pytest.mark.skipif(
    openblas_kernel() is None or not _haswell_capable(), reason="needs OpenBLAS on an x86-64 CPU with AVX2+FMA"
)
def test_openblas_coretype_haswell_vs_sandybridge_changes_fma_signature_and_gemms(hosts: RunHosts) -> None:
    a, b = hosts(Host({"OPENBLAS_CORETYPE": "Haswell"}), Host({"OPENBLAS_CORETYPE": "Sandybridge"}))
    assert_healthy(a, b)
    diff = differences(a, b)
    assert {GROUP[name] for name in diff} <= {"blas", "linalg"}
    fma = diff["blas_fma"]
    assert fma.categorical
    assert (a["blas_fma"].flags["fma"], b["blas_fma"].flags["fma"]) == (True, False)
    assert b["blas_fma"].flags["fma_signature_f64"] == "0,0,0,0"  # Sandybridge kernels have no FMA
    assert set(fma.changed_flags) >= {"fma", "fma_signature_f32", "fma_signature_f64"}
    for name, normwise_limit in (("blas_gemm_f32", 1e-5), ("blas_gemm_f64", 1e-13)):
        c = diff[name]
        assert not c.categorical and c.max_ulp is not None and c.max_ulp >= 1
        assert c.normwise is not None and 0 < c.normwise < normwise_limit
        assert c.sample_fraction is not None and c.sample_fraction > 0.25  # most elements move


def _simd_to_disable() -> list[str]:
    """Returns numpy's dispatch targets from this CPU's highest x86-64 level up (AVX2 or AVX-512)."""
    features, dispatch = _cpu_features()
    available = [t for t in dispatch if features.get(t, False)]
    levels = [t for t in available if t.startswith("X86_V")]
    if levels:
        return available[available.index(levels[-1]) :]
    return available[-1:]


@pytest.mark.skipif(not _simd_to_disable(), reason="numpy dispatches no SIMD target above its baseline on this CPU")
def test_npy_disable_cpu_features_changes_ufuncs_and_sort_ties(hosts: RunHosts) -> None:
    disabled = " ".join(_simd_to_disable())
    a, b = hosts(Host({"NPY_DISABLE_CPU_FEATURES": None}), Host({"NPY_DISABLE_CPU_FEATURES": disabled}))
    assert_healthy(a, b)
    diff = differences(a, b)
    ufunc = diff["ufunc_f32"]
    assert not ufunc.categorical
    assert ufunc.max_ulp is not None and 1 <= ufunc.max_ulp <= 4  # ulp-level: another polynomial
    assert "sqrt" not in ufunc.outputs["values"].differing_blocks  # correctly rounded: the control
    sort = diff["sort_ties"]
    assert sort.categorical and "argsort_f32" in sort.outputs["indices"].differing_blocks
    assert "stable_control" not in sort.outputs["indices"].differing_blocks
    # BLAS, text, time and hash probes do not go through numpy's SIMD dispatch
    assert {GROUP[name] for name in diff} <= {"ufunc", "activations", "sort", "reductions"}


def _fast_math_library(tmp_path: Path) -> Path | None:
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    source = tmp_path / "fastmath.c"
    source.write_text("int envprint_fast_math_probe(void) { return 1; }\n")
    library = tmp_path / "libfastmath.so"
    # GCC 13+ links crtfastmath into shared objects only with -mdaz-ftz, which GCC 12 rejects
    for extra in (["-mdaz-ftz"], []):
        cmd = [gcc, "-ffast-math", *extra, "-shared", "-fPIC", "-o", str(library), str(source)]
        if subprocess.run(cmd, capture_output=True, check=False).returncode == 0:
            return library
    return None


def test_fast_math_library_sets_ftz_and_daz(hosts: RunHosts, tmp_path: Path) -> None:
    library = _fast_math_library(tmp_path)
    if library is None:
        pytest.skip("no gcc to build a -ffast-math shared library")
    a, b = hosts(Host(), Host(preamble=f"import ctypes; ctypes.CDLL({str(library)!r})"))
    assert_healthy(a, b)
    assert (a["fpenv"].flags["ftz"], a["fpenv"].flags["daz"]) == (False, False)
    assert (b["fpenv"].flags["ftz"], b["fpenv"].flags["daz"]) == (True, True)
    assert (b["fpenv"].flags["new_thread_ftz"], b["fpenv"].flags["new_thread_daz"]) == (True, True)
    assert b["fpenv"].flags["rounding"] == "nearest"
    diff = differences(a, b)
    assert set(diff) == {"fpenv", "float_format", "float_parse"}  # subnormals flush; nothing else here
    parse = diff["float_parse"].outputs["lines"]
    subnormal_line = "'4.9e-324': 0000000000000000"
    assert any(s.startswith(subnormal_line) for s in b["float_parse"].outputs["lines"].samples)
    assert not any(s.startswith(subnormal_line) for s in a["float_parse"].outputs["lines"].samples)
    assert parse.categorical


def test_time_zone_utc_vs_los_angeles_changes_local_time_only(hosts: RunHosts) -> None:
    a, b = hosts(Host({"TZ": "UTC"}), Host({"TZ": "America/Los_Angeles"}))
    assert_healthy(a, b)
    diff = differences(a, b)
    assert set(diff) == {"time_tz"}
    c = diff["time_tz"]
    assert c.categorical and c.differing_outputs == ("local",)  # zoneinfo rules do not read TZ
    assert "1710064800 2024-03-10T03:00:00-0700 PDT" in " ".join(b["time_tz"].outputs["local"].samples)
    assert "1710064800 2024-03-10T10:00:00+0000 UTC" in " ".join(a["time_tz"].outputs["local"].samples)


def test_hash_seed_0_vs_1_changes_hash_order_only(hosts: RunHosts) -> None:
    a, b = hosts(Host({"PYTHONHASHSEED": "0"}), Host({"PYTHONHASHSEED": "1"}))
    assert_healthy(a, b)
    diff = differences(a, b)
    assert set(diff) == {"hash_order"}
    c = diff["hash_order"]
    assert c.comparable and c.categorical
    assert not a["hash_order"].random_per_process and not b["hash_order"].random_per_process
    order = c.outputs["order"]
    assert {"str", "bytes", "tuple", "date"} <= set(order.differing_blocks)
    assert "int_control" not in order.differing_blocks  # ints hash to themselves


@pytest.mark.skipif(
    platform.machine() != "x86_64" or not sys.platform.startswith("linux"), reason="FE_UPWARD is 0x800 on x86-64 glibc"
)
def test_rounding_mode_set_with_fesetround_is_reported(hosts: RunHosts) -> None:
    (upward,) = hosts(Host(preamble="import ctypes; ctypes.CDLL('libm.so.6').fesetround(0x800)"), groups=["fpenv"])
    flags = upward["fpenv"].flags
    assert (flags["rounding"], flags["fegetround_name"], flags["new_thread_rounding"]) == ("upward",) * 3
