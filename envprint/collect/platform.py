"""Collects the operating system, kernel, C library and container hints."""

from __future__ import annotations

import os
import platform

from envprint.model import PlatformInfo, Unavailable


def collect() -> PlatformInfo:
    """Returns the OS, kernel and libc of this host."""
    uname = platform.uname()
    libc, libc_version = _libc()
    release = _os_release()
    return PlatformInfo(
        system=uname.system,
        machine=uname.machine,
        kernel=uname.release,
        libc=libc,
        libc_version=libc_version,
        os_id=release.get("ID", Unavailable("no ID in /etc/os-release")) if release else _NO_OS_RELEASE,
        os_version=release.get("VERSION_ID", Unavailable("no VERSION_ID in /etc/os-release"))
        if release
        else _NO_OS_RELEASE,
        os_name=release.get("PRETTY_NAME", uname.system) if release else _NO_OS_RELEASE,
        kernel_build=uname.version,
        container=container_hints(),
        cgroup_version=_cgroup_version(),
    )


_NO_OS_RELEASE = Unavailable("/etc/os-release is missing or unreadable")


def _libc() -> tuple[str | Unavailable, str | Unavailable]:
    try:
        name, _, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")  # "glibc 2.36"
        if name and version:
            return name, version
    except (ValueError, OSError, AttributeError):
        pass
    if any(n.startswith("ld-musl-") for n in _listdir("/lib")):
        return "musl", Unavailable("musl does not report its version to processes")
    lib, version = platform.libc_ver()
    if lib:
        return lib, version or Unavailable("version not found in the interpreter binary")
    reason = Unavailable(f"no C library detected on {platform.system()}")
    return reason, reason


def _os_release() -> dict[str, str]:
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        out = {}
        for line in lines:
            key, sep, value = line.partition("=")
            if sep and key and not key.startswith("#"):
                out[key.strip()] = value.strip().strip("\"'")
        return out
    return {}


def container_hints() -> tuple[str, ...]:
    """Returns the container runtimes this process appears to run under (empty on bare metal/VMs)."""
    hints = []
    if os.path.exists("/.dockerenv"):
        hints.append("docker")
    if os.path.exists("/run/.containerenv"):
        hints.append("podman")
    if "KUBERNETES_SERVICE_HOST" in os.environ:
        hints.append("kubernetes")
    try:
        with open("/proc/1/cgroup", encoding="utf-8", errors="replace") as f:
            cgroup = f.read()
    except OSError:
        cgroup = ""
    for marker, name in (("docker", "docker"), ("kubepods", "kubernetes"), ("containerd", "containerd"),
                         ("lxc", "lxc"), ("libpod", "podman")):  # fmt: skip
        if marker in cgroup and name not in hints:
            hints.append(name)
    return tuple(hints)


def _cgroup_version() -> int | Unavailable:
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return 2
    if os.path.isdir("/sys/fs/cgroup/cpu") or os.path.isdir("/sys/fs/cgroup/memory"):
        return 1
    return Unavailable("no cgroup filesystem at /sys/fs/cgroup")


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []
