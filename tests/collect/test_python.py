"""collect/python.py: the running interpreter, checked against what the interpreter itself reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import unicodedata

import pytest

from envprint.collect import python
from envprint.model import PythonInfo, Unavailable
from envprint.privacy import redact_path


@pytest.fixture(scope="module")
def host() -> PythonInfo:
    return python.collect()


def test_version_and_implementation_are_this_interpreters(host: PythonInfo) -> None:
    major, minor, micro = sys.version_info[:3]
    assert host.version.startswith(f"{major}.{minor}.{micro}")
    assert host.implementation == sys.implementation.name
    assert host.hash_algorithm == sys.hash_info.algorithm
    assert host.unicode_version == unicodedata.unidata_version
    assert (host.byteorder, host.float_repr_style) == (sys.byteorder, sys.float_repr_style)


def test_abi_names_this_minor_version_or_says_there_is_none(host: PythonInfo) -> None:
    soabi = sysconfig.get_config_var("SOABI")
    if isinstance(soabi, str):
        assert host.abi == soabi
        if sys.implementation.name == "cpython":
            assert f"{sys.version_info.major}{sys.version_info.minor}" in host.abi
    else:  # Windows interpreters define no SOABI
        assert host.abi == Unavailable("sysconfig has no SOABI on this platform")


def test_free_threading_is_the_builds_abi_flag(host: PythonInfo) -> None:
    # a free-threaded build carries "t" in its ABI flags (python3.13t); the GIL may be re-enabled at run time
    assert host.free_threading == ("t" in getattr(sys, "abiflags", ""))


def test_virtualenv_and_paths_are_recorded_redacted(host: PythonInfo) -> None:
    assert host.in_virtualenv == (sys.prefix != sys.base_prefix)
    assert host.executable == redact_path(sys.executable)
    assert host.prefix == redact_path(sys.prefix)
    assert host.purelib == redact_path(sysconfig.get_path("purelib"))
    assert os.path.basename(host.executable) == os.path.basename(sys.executable)


def test_a_virtualenv_differs_from_its_base_interpreter_only_in_where_it_lives(host: PythonInfo) -> None:
    if not host.in_virtualenv:
        pytest.skip("the tests do not run in a virtualenv: there is no base interpreter to compare")
    code = (
        "import json, sys; from envprint.collect import python; i = python.collect(); "
        "json.dump([i.in_virtualenv, i.prefix, i.version, str(i.abi), i.build, i.compiler], sys.stdout)"
    )
    # the base interpreter imports envprint (and its dependencies) from this environment's paths
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    base_exe = getattr(sys, "_base_executable", sys.executable)
    proc = subprocess.run([base_exe, "-c", code], env=env, capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    in_virtualenv, prefix, *build = json.loads(proc.stdout)
    assert in_virtualenv is False and prefix == redact_path(sys.base_prefix)
    assert build == [host.version, str(host.abi), host.build, host.compiler]
