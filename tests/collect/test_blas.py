"""collect/blas.py: the BLAS/OpenMP section agrees with threadpoolctl in the same process; owners and odd reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import threadpoolctl

from envprint.collect import blas
from envprint.model import BlasLibrary, Unavailable
from envprint.privacy import redact_path

# one entry of threadpoolctl.threadpool_info() as threadpoolctl 3.x reports numpy's bundled OpenBLAS
OPENBLAS_INFO: dict[str, Any] = {
    "user_api": "blas",
    "internal_api": "openblas",
    "num_threads": 8,
    "prefix": "libscipy_openblas",
    "filepath": "/home/alice/venv/lib/python3.12/site-packages/numpy.libs/libscipy_openblas64_-ff651d7f.so",
    "version": "0.3.27",
    "threading_layer": "pthreads",
    "architecture": "SkylakeX",
}


def test_every_library_threadpoolctl_reports_is_recorded_as_it_reports_it() -> None:
    assert float(np.ones(2) @ np.ones(2)) == 2.0  # numpy (and whatever BLAS it links) is loaded
    reported = {redact_path(i["filepath"]): i for i in threadpoolctl.threadpool_info()}
    section = blas.collect()
    assert {lib.filepath for lib in section.libraries.values()} == set(reported)
    for key, lib in section.libraries.items():
        info = reported[lib.filepath]
        assert (lib.user_api, lib.internal_api, lib.num_threads, lib.prefix) == (
            info["user_api"], info["internal_api"], info["num_threads"], info["prefix"],
        )  # fmt: skip
        for field in ("version", "architecture", "threading_layer"):
            value = getattr(lib, field)
            if field not in info:
                assert isinstance(value, Unavailable), (field, value)
            else:
                assert value == (None if info[field] is None else str(info[field])), (field, value)
        assert key.split("#")[0] == f"{lib.owner}/{lib.internal_api}"
        assert lib.owner == blas.owner_of(info["filepath"])


def test_thread_counts_follow_threadpoolctl_limits_in_this_process() -> None:
    before = {(lib.owner, lib.internal_api): lib.num_threads for lib in blas.collect().libraries.values()}
    with threadpoolctl.threadpool_limits(limits=1):
        limited = blas.collect().libraries.values()
        assert all(lib.num_threads == 1 for lib in limited)
    after = {(lib.owner, lib.internal_api): lib.num_threads for lib in blas.collect().libraries.values()}
    assert after == before  # capture reads the counts; it never changes them


def test_a_library_is_keyed_by_the_distribution_that_ships_it() -> None:
    lib = blas._library(OPENBLAS_INFO)
    assert lib == BlasLibrary(
        user_api="blas",
        internal_api="openblas",
        owner="numpy",
        version="0.3.27",
        architecture="SkylakeX",
        threading_layer="pthreads",
        num_threads=8,
        prefix="libscipy_openblas",
        filepath="/home/~/venv/lib/python3.12/site-packages/numpy.libs/libscipy_openblas64_-ff651d7f.so",
    )


@pytest.mark.parametrize(
    ("filepath", "owner"),
    [
        ("/opt/venv/lib/python3.11/site-packages/scipy.libs/libscipy_openblas-c128ec02.so", "scipy"),
        ("/usr/lib/python3/dist-packages/torch/lib/libgomp-a34b3233.so.1", "torch"),
        ("/Users/bob/.venv/lib/python3.12/site-packages/sklearn/.dylibs/libomp.dylib", "sklearn"),
        ("C:\\Python312\\Lib\\site-packages\\numpy.libs\\libscipy_openblas64_-43e11ff.dll", "numpy"),
        ("/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3", "system"),
        ("/opt/intel/oneapi/mkl/latest/lib/libmkl_rt.so.2", "system"),
        ("/home/alice/build/libopenblas.so.0", "libopenblas.so.0"),
        ("", "?"),
    ],
)
def test_owner_of_a_shared_library(filepath: str, owner: str) -> None:
    assert blas.owner_of(filepath) == owner


def test_what_threadpoolctl_does_not_report_is_unavailable_and_none_stays_none() -> None:
    # an OpenMP runtime has no architecture; older threadpoolctl versions lack threading_layer
    info = {k: v for k, v in OPENBLAS_INFO.items() if k != "threading_layer"}
    lib = blas._library({**info, "internal_api": "openmp", "architecture": None, "version": None})
    assert lib.threading_layer == Unavailable("this threadpoolctl does not report threading_layer for openmp")
    assert (lib.architecture, lib.version) == (None, None)


@pytest.mark.parametrize("num_threads", [None, True, "8", 8.0])
def test_a_thread_count_that_is_not_an_integer_is_unavailable(num_threads: object) -> None:
    lib = blas._library({**OPENBLAS_INFO, "num_threads": num_threads})
    assert lib.num_threads == Unavailable(f"threadpoolctl reported num_threads={num_threads!r}")


def test_two_libraries_of_one_owner_and_api_get_distinct_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    # numpy shipping two OpenBLAS builds (a 32- and a 64-bit-integer one) must not lose either
    second = {**OPENBLAS_INFO, "filepath": OPENBLAS_INFO["filepath"].replace("64_-ff651d7f", "-4b1d0c3e")}
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: [OPENBLAS_INFO, second])
    section = blas.collect()
    assert list(section.libraries) == ["numpy/openblas", "numpy/openblas#2"]
    assert section.libraries["numpy/openblas#2"].filepath.endswith("libscipy_openblas-4b1d0c3e.so")


def _child_environ(code: str) -> dict[str, str]:
    """Returns os.environ of a fresh interpreter after it runs `code` (started without KMP_DUPLICATE_LIB_OK)."""
    env = {k: v for k, v in os.environ.items() if k != "KMP_DUPLICATE_LIB_OK"}
    proc = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, os\nprint(json.dumps(dict(os.environ)))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    environ: dict[str, str] = json.loads(proc.stdout.splitlines()[-1])
    return environ


def test_importing_threadpoolctl_for_capture_leaves_the_environment_as_the_user_set_it() -> None:
    baseline = _child_environ("pass")
    # control: importing threadpoolctl by itself sets KMP_DUPLICATE_LIB_OK for its own use
    assert _child_environ("import threadpoolctl") == {**baseline, "KMP_DUPLICATE_LIB_OK": "True"}
    code = "import sys\nfrom envprint.collect import blas\nblas.collect()\nassert 'threadpoolctl' in sys.modules"
    assert _child_environ(code) == baseline


def test_restore_environ_removes_added_and_restores_changed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVPRINT_TEST_KEPT", "user value")
    before = dict(os.environ)
    monkeypatch.setenv("ENVPRINT_TEST_KEPT", "changed by a library")
    monkeypatch.setenv("ENVPRINT_TEST_ADDED", "added by a library")
    monkeypatch.delenv("ENVPRINT_TEST_KEPT")
    blas._restore_environ(before)
    assert dict(os.environ) == before
