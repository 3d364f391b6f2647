"""`envprint export --format requirements`: pins that reproduce the fingerprint's packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import envprint
from envprint.errors import UsageError
from envprint.export import to_requirements
from envprint.model import Package, Unavailable
from tests.conftest import run_envprint

SITE = "/venv/lib/python3.11/site-packages"


def _pkg(version: str | Unavailable, **kw: object) -> Package:
    fields: dict[str, object] = {"local": None, "installer": "pip", "wheel_tags": ("py3-none-any",), "location": SITE}
    fields.update(kw)
    return Package(version=version, **fields)  # type: ignore[arg-type]


@pytest.fixture
def fingerprint(local_fingerprint: envprint.Fingerprint) -> envprint.Fingerprint:
    packages = {
        "six": _pkg("1.17.0"),
        "torch": _pkg("2.3.0+cu121", local="cu121", wheel_tags=("cp311-cp311-linux_x86_64",)),
        "mylib": _pkg("1.0+build.7", local="build.7"),
        "oddball": _pkg("not a version!"),
        "broken": _pkg("1.2", unreadable="cannot read METADATA: OSError: [Errno 5] I/O error"),
        "ghost": _pkg(Unavailable("metadata has no Version")),
        "pip": _pkg("24.0"),
        "inhouse": _pkg("0.3.0", installer=None, wheel_tags=(), location="~/src/inhouse"),
        "legacy-system": _pkg("2.0", installer=None, wheel_tags=(), location="/usr/lib/python3/dist-packages"),
    }
    return local_fingerprint.replace(packages=packages)


def test_pins_every_distribution_and_explains_the_rest(fingerprint: envprint.Fingerprint) -> None:
    lines = to_requirements(fingerprint).splitlines()
    pins = [line for line in lines if line and not line.startswith("#")]
    assert pins == [
        "legacy-system==2.0",
        "mylib==1.0+build.7  # local build +build.7: not on PyPI; install from the index or wheel that built it "
        "(--extra-index-url / --find-links), or pin mylib==1.0 to accept any build of that release",
        "six==1.17.0",
        "torch==2.3.0+cu121  # local build +cu121: not on PyPI; install from --extra-index-url "
        "https://download.pytorch.org/whl/cu121, or pin torch==2.3.0 to accept any build of that release",
    ]
    assert "# broken==1.2  # unreadable metadata: cannot read METADATA: OSError: [Errno 5] I/O error" in lines
    assert "# ghost  # unreadable metadata: metadata has no Version" in lines
    assert "# oddball==not a version!  # not a PEP 440 version: pip cannot pin it" in lines
    assert "# pip==24.0  # the installer itself: upgrade it first with python -m pip install pip==24.0" in lines
    assert any(line.startswith("# inhouse==0.3.0  # installed from a source tree") for line in lines)


def test_header_names_python_and_platform(fingerprint: envprint.Fingerprint) -> None:
    header = to_requirements(fingerprint).split("\n\n")[0]
    py, pl = fingerprint.python, fingerprint.platform
    assert not isinstance(py, Unavailable) and not isinstance(pl, Unavailable)
    assert f"# python: {py.version} ({py.implementation}, {py.abi})" in header
    assert f"# platform: {pl.system} {pl.machine}, libc {pl.libc} {pl.libc_version}" in header
    assert all(line.startswith("#") for line in header.splitlines())


def test_no_package_list_is_a_usage_error(local_fingerprint: envprint.Fingerprint) -> None:
    with pytest.raises(UsageError, match="no package list"):
        to_requirements(local_fingerprint.replace(packages=Unavailable("collector packages failed")))


def test_cli_writes_the_file_and_refuses_a_key(tmp_path: Path, fingerprint: envprint.Fingerprint) -> None:
    fp_path = fingerprint.save(tmp_path / "train.fp")
    out = tmp_path / "requirements.txt"
    proc = run_envprint(["export", str(fp_path), "--format", "requirements", "-o", str(out)])
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == to_requirements(fingerprint)
    assert f"wrote {out} (requirements)" in proc.stderr
    stdout = run_envprint(["export", str(fp_path), "-f", "requirements"])
    assert stdout.returncode == 0 and stdout.stdout == to_requirements(fingerprint)
    signed = run_envprint(["export", str(fp_path), "-f", "requirements", "--key", str(tmp_path / "k.key")])
    assert signed.returncode == 2 and "--key signs in-toto exports only" in signed.stderr


@pytest.mark.slow
def test_requirements_install_in_a_fresh_virtualenv(tmp_path: Path, local_fingerprint: envprint.Fingerprint) -> None:
    # small pure-Python wheels the local package index serves; versions as a training host had them
    pins = {"six": "1.17.0", "iniconfig": "2.3.0", "packaging": "26.3"}
    fp = local_fingerprint.replace(packages={name: _pkg(version) for name, version in pins.items()})
    fp_path = fp.save(tmp_path / "train.fp")
    requirements = tmp_path / "requirements.txt"
    proc = run_envprint(["export", str(fp_path), "--format", "requirements", "-o", str(requirements)])
    assert proc.returncode == 0, proc.stderr
    venv = tmp_path / "serve-venv"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, timeout=300)
    python = str(venv / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "-r", str(requirements)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr
    code = f"import importlib.metadata as m, json; print(json.dumps({{n: m.version(n) for n in {list(pins)!r}}}))"
    installed = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(installed.stdout) == pins
