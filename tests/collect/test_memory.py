"""collect/memory.py: /proc/meminfo, cgroup memory limits (v1 and v2), the psutil fallback, and this host."""

from __future__ import annotations

import os

import psutil
import pytest

from envprint.collect import cgroup, memory
from envprint.model import MemoryInfo, Unavailable
from tests.collect.conftest import FakeRoot, fixture_text

MEMINFO = fixture_text("meminfo.txt")
GROUP = "/sys/fs/cgroup/memory/docker/7e1"  # a v1 memory group of a Docker container


def test_meminfo_values_in_kb_are_bytes_and_counts_stay_counts(fake_root: FakeRoot) -> None:
    fake_root({"/proc/meminfo": MEMINFO}, memory)
    info = memory._meminfo()
    assert info["MemTotal"] == 32_882_960 * 1024
    assert info["MemAvailable"] == 24_312_940 * 1024
    assert info["HugePages_Total"] == 0 and info["Hugepagesize"] == 2048 * 1024  # a count has no unit


def test_total_and_available_come_from_meminfo(fake_root: FakeRoot) -> None:
    fake_root({"/proc/meminfo": MEMINFO, "/sys/fs/cgroup/memory.max": "max\n"}, memory, cgroup)
    assert memory.collect() == MemoryInfo(
        total_bytes=32_882_960 * 1024, available_bytes=24_312_940 * 1024, cgroup_limit_bytes=None
    )


def test_a_kernel_without_memavailable_says_so(fake_root: FakeRoot) -> None:
    # kernels before 3.14 have no MemAvailable line
    old = "".join(line + "\n" for line in MEMINFO.splitlines() if not line.startswith("MemAvailable"))
    fake_root({"/proc/meminfo": old}, memory, cgroup)
    info = memory.collect()
    assert info.total_bytes == 32_882_960 * 1024
    assert info.available_bytes == Unavailable("no MemAvailable in /proc/meminfo")


def test_without_proc_meminfo_psutil_measures_total(fake_root: FakeRoot) -> None:
    fake_root({}, memory, cgroup)
    info = memory.collect()
    assert isinstance(info.total_bytes, int) and info.total_bytes == psutil.virtual_memory().total
    assert isinstance(info.available_bytes, int) and 0 < info.available_bytes <= info.total_bytes
    assert info.cgroup_limit_bytes == Unavailable("no cgroup memory controller visible")


@pytest.mark.parametrize(("memory_max", "expected"), [("max", None), ("8589934592", 8_589_934_592)])
def test_cgroup_v2_memory_max(fake_root: FakeRoot, memory_max: str, expected: int | None) -> None:
    fake_root({"/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": memory_max + "\n"}, cgroup)
    assert memory._cgroup_limit() == expected


@pytest.mark.parametrize(
    ("limit", "expected"),
    [("9223372036854771712", None), ("2147483648", 2_147_483_648)],  # v1 writes "unlimited" as ~2**63
)
def test_cgroup_v1_memory_limit(fake_root: FakeRoot, limit: str, expected: int | None) -> None:
    fake_root(
        {"/proc/self/cgroup": "10:memory:/docker/7e1\n", f"{GROUP}/memory.limit_in_bytes": limit},
        cgroup,
    )
    assert memory._cgroup_limit() == expected


def test_an_unreadable_cgroup_limit_quotes_the_value(fake_root: FakeRoot) -> None:
    fake_root({"/sys/fs/cgroup/memory.max": "8G\n"}, cgroup)
    assert memory._cgroup_limit() == Unavailable("unexpected cgroup value '8G'")


def test_this_host_reports_consistent_sizes() -> None:
    info = memory.collect()
    if os.path.exists("/proc/meminfo"):
        # what this host's /proc/meminfo says (LXCFS or gVisor may show a container's size there, where the
        # physical page count of sysconf would still be the host's)
        with open("/proc/meminfo") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
        assert info.total_bytes == kib * 1024
    assert isinstance(info.total_bytes, int) and info.total_bytes > 0
    if isinstance(info.available_bytes, int):
        assert 0 < info.available_bytes <= info.total_bytes
    limit = info.cgroup_limit_bytes
    assert limit is None or isinstance(limit, Unavailable) or limit > 0
