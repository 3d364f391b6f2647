"""collect/platform.py: os-release files, container hints from /proc/1/cgroup, and this host's kernel and libc."""

from __future__ import annotations

import ctypes
import os
import platform as stdlib_platform

import pytest

from envprint.collect import platform
from envprint.model import PlatformInfo, Unavailable
from tests.collect.conftest import FakeRoot, fixture_text

DEBIAN = fixture_text("os-release-debian12.txt")


def test_os_release_values_are_unquoted(fake_root: FakeRoot) -> None:
    fake_root({"/etc/os-release": DEBIAN}, platform)
    release = platform._os_release()
    assert (release["ID"], release["VERSION_ID"], release["PRETTY_NAME"]) == (
        "debian", "12", "Debian GNU/Linux 12 (bookworm)",
    )  # fmt: skip
    assert release["VERSION_CODENAME"] == "bookworm"  # unquoted values too


def test_os_release_falls_back_to_usr_lib(fake_root: FakeRoot) -> None:
    # the file /etc/os-release usually links to; minimal images sometimes ship only this one
    release = 'ID=alpine\nVERSION_ID=3.20.3\n# comment=ignored\nPRETTY_NAME="Alpine"\n'
    fake_root({"/usr/lib/os-release": release}, platform)
    assert platform._os_release() == {"ID": "alpine", "VERSION_ID": "3.20.3", "PRETTY_NAME": "Alpine"}


def test_without_os_release_the_os_fields_say_why(fake_root: FakeRoot) -> None:
    fake_root({}, platform)
    assert platform._os_release() == {}
    info = platform.collect()
    gone = Unavailable("/etc/os-release is missing or unreadable")
    assert (info.os_id, info.os_version, info.os_name) == (gone, gone, gone)


def test_os_release_without_version_id_says_which_key_is_missing(fake_root: FakeRoot) -> None:
    fake_root({"/etc/os-release": 'ID=arch\nPRETTY_NAME="Arch Linux"\n'}, platform)  # a rolling release
    info = platform.collect()
    assert (info.os_id, info.os_name) == ("arch", "Arch Linux")
    assert info.os_version == Unavailable("no VERSION_ID in /etc/os-release")


@pytest.mark.parametrize(
    ("pid1_cgroup", "runtime"),
    [
        ("12:cpu,cpuacct:/docker/7e1c9f\n0::/\n", "docker"),
        ("11:memory:/kubepods/burstable/pod5d2a/7e1c\n", "kubernetes"),
        ("0::/system.slice/containerd.service\n", "containerd"),
        ("1:name=systemd:/machine.slice/libpod-7e1c.scope\n", "podman"),
        ("0::/lxc.payload.ubuntu\n", "lxc"),
    ],
)
def test_container_runtime_is_named_from_init_cgroup(
    fake_root: FakeRoot, monkeypatch: pytest.MonkeyPatch, pid1_cgroup: str, runtime: str
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    fake_root({"/proc/1/cgroup": pid1_cgroup}, platform)
    hints = platform.container_hints()
    assert runtime in hints
    assert len(hints) == len(set(hints))  # /.dockerenv and the cgroup marker name docker once


def test_kubernetes_service_variable_is_a_hint_named_once(fake_root: FakeRoot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    fake_root({"/proc/1/cgroup": "11:memory:/kubepods/burstable/pod5d2a/7e1c\n"}, platform)
    assert platform.container_hints().count("kubernetes") == 1


def test_bare_metal_init_cgroup_names_no_runtime(fake_root: FakeRoot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    fake_root({"/proc/1/cgroup": "0::/init.scope\n"}, platform)
    hints = platform.container_hints()
    # only the marker files at / (not redirected: os.path.exists) can still name a runtime
    assert set(hints) <= {"docker", "podman"}
    assert ("docker" in hints) == os.path.exists("/.dockerenv")


# ------------------------------------------------------------------------------------- this host


@pytest.fixture(scope="module")
def host() -> PlatformInfo:
    return platform.collect()


def test_host_kernel_and_machine_are_unames(host: PlatformInfo) -> None:
    uname = stdlib_platform.uname()
    assert (host.system, host.machine, host.kernel, host.kernel_build) == (
        uname.system, uname.machine, uname.release, uname.version,
    )  # fmt: skip


def test_host_glibc_version_is_the_loaded_c_librarys_own(host: PlatformInfo) -> None:
    if host.libc == "musl":
        assert host.libc_version == Unavailable("musl does not report its version to processes")
    if host.libc != "glibc":
        return
    gnu_get_libc_version = ctypes.CDLL(None).gnu_get_libc_version
    gnu_get_libc_version.restype = ctypes.c_char_p
    assert host.libc_version == gnu_get_libc_version().decode("ascii")


def test_host_cgroup_version_matches_proc_self_cgroup(host: PlatformInfo) -> None:
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:  # not Linux
        assert host.cgroup_version == Unavailable("no cgroup filesystem at /sys/fs/cgroup")
        return
    if host.cgroup_version == 2:
        assert any(line.startswith("0::") for line in lines)  # the unified hierarchy
    elif host.cgroup_version == 1:
        assert any(line.split(":")[1] for line in lines)  # a named v1 controller
    else:
        assert host.cgroup_version == Unavailable("no cgroup filesystem at /sys/fs/cgroup")


def test_host_container_hints_are_known_runtimes_named_once(host: PlatformInfo) -> None:
    assert set(host.container) <= {"docker", "podman", "kubernetes", "containerd", "lxc"}
    assert len(host.container) == len(set(host.container))
    if os.path.exists("/.dockerenv"):
        assert "docker" in host.container
