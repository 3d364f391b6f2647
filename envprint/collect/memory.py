"""Collects memory sizes (descriptive: they do not change numbers, but help read a report)."""

from __future__ import annotations

from envprint.collect.cgroup import read_cgroup_file
from envprint.model import MemoryInfo, Unavailable


def collect() -> MemoryInfo:
    """Returns total and available memory and the cgroup memory limit."""
    info = _meminfo()
    if info:
        total: int | Unavailable = info.get("MemTotal", Unavailable("no MemTotal in /proc/meminfo"))
        available: int | Unavailable = info.get("MemAvailable", Unavailable("no MemAvailable in /proc/meminfo"))
    else:
        try:
            import psutil

            vm = psutil.virtual_memory()
            total, available = int(vm.total), int(vm.available)
        except Exception as e:  # psutil raises platform-specific errors
            total = available = Unavailable(f"no /proc/meminfo and psutil failed: {e}")
    return MemoryInfo(total_bytes=total, available_bytes=available, cgroup_limit_bytes=_cgroup_limit())


def _meminfo() -> dict[str, int]:
    try:
        with open("/proc/meminfo", encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0]) * (1024 if parts[-1] == "kB" else 1)
    return out


def _cgroup_limit() -> int | Unavailable | None:
    v2 = read_cgroup_file("memory.max")
    if v2 is not None:
        return None if v2 == "max" else _int(v2)
    v1 = read_cgroup_file("memory.limit_in_bytes", controller="memory")
    if v1 is not None:
        value = _int(v1)
        # cgroup v1 reports "unlimited" as a huge page-aligned number
        return None if isinstance(value, int) and value >= 2**62 else value
    return Unavailable("no cgroup memory controller visible")


def _int(text: str) -> int | Unavailable:
    try:
        return int(text)
    except ValueError:
        return Unavailable(f"unexpected cgroup value {text!r}")
