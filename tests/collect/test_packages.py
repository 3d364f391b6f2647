"""The packages collector: fast header reads, local labels, installers, broken metadata tolerated."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

from envprint.collect import packages
from envprint.model import Package, Unavailable


def _dist(site: Path, dirname: str, metadata: bytes | None, *, installer: str | None = "pip", wheel: str = "") -> None:
    d = site / dirname
    d.mkdir()
    if metadata is not None:
        (d / "METADATA").write_bytes(metadata)
    if installer:
        (d / "INSTALLER").write_text(installer + "\n")
    if wheel:
        (d / "WHEEL").write_text(wheel)


def test_same_names_and_versions_as_importlib_metadata() -> None:
    ours = packages.collect()
    theirs: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            theirs.setdefault(packages.normalise(name), dist.version)
    assert {k: v.version for k, v in ours.items() if v.unreadable is None} == theirs


def test_local_label_installer_and_wheel_tags(tmp_path: Path) -> None:
    _dist(
        tmp_path,
        "torch-2.3.0+cu121.dist-info",
        b"Metadata-Version: 2.1\nName: torch\nVersion: 2.3.0+cu121\n\nlong description: with colon",
        installer="uv",
        wheel="Wheel-Version: 1.0\nTag: cp311-cp311-linux_x86_64\n",
    )
    _dist(tmp_path, "Foo_Bar-1.0.dist-info", b"Name: Foo_Bar\nVersion: 1.0\n", installer=None)
    got = packages.collect([str(tmp_path)])
    assert got["torch"] == Package(
        version="2.3.0+cu121",
        local="cu121",
        installer="uv",
        wheel_tags=("cp311-cp311-linux_x86_64",),
        location=str(tmp_path),
    )
    assert got["foo-bar"].installer is None and got["foo-bar"].local is None


def test_broken_metadata_is_recorded_not_fatal(tmp_path: Path) -> None:
    _dist(tmp_path, "good-1.0.dist-info", b"Name: good\nVersion: 1.0\n")
    _dist(tmp_path, "nometa-2.0.dist-info", None)
    _dist(tmp_path, "garbage-3.0.dist-info", b"\xff\xfe\x00binary junk")
    _dist(tmp_path, "noversion-1.0.dist-info", b"Name: noversion\n")
    got = packages.collect([str(tmp_path)])
    assert got["good"].unreadable is None
    assert "cannot read METADATA" in (got["nometa"].unreadable or "")
    assert got["nometa"].version == "2.0"  # from the directory name
    assert isinstance(got["nometa"].installer, Unavailable)
    assert got["garbage"].unreadable
    assert got["noversion"].unreadable == "metadata has no Version"


def test_capture_survives_a_corrupt_distribution_on_the_path(tmp_path: Path) -> None:
    import subprocess

    from tests.conftest import host_env

    _dist(tmp_path, "corrupt-1.0.dist-info", b"\x00\x01\x02")
    code = "import envprint; fp = envprint.capture(probes=False); print(fp.packages['corrupt'].unreadable is not None)"
    env = host_env(PYTHONPATH=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_first_distribution_on_the_path_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    _dist(first, "dup-1.0.dist-info", b"Name: dup\nVersion: 1.0\n")
    _dist(second, "dup-2.0.dist-info", b"Name: dup\nVersion: 2.0\n")
    assert packages.collect([str(first), str(second)])["dup"].version == "1.0"


def test_imported_modules_read_versions_without_triggering_lazy_attributes() -> None:
    import types

    class Lazy(types.ModuleType):
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"lazy attribute {name} was triggered")

    mod = Lazy("envprint_lazy_test_mod")
    sys.modules["envprint_lazy_test_mod"] = mod
    try:
        assert packages.imported_modules()["envprint_lazy_test_mod"] is None
    finally:
        del sys.modules["envprint_lazy_test_mod"]
