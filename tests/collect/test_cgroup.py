"""collect/cgroup.py: which cgroup file a process reads, under the v2 unified hierarchy and v1 controllers."""

from __future__ import annotations

import os

from envprint.collect import cgroup
from tests.collect.conftest import FakeRoot

# /proc/self/cgroup of a Kubernetes pod on a cgroup v1 host (the systemd hybrid layout)
V1_SELF = """12:hugetlb:/kubepods/burstable/pod5d2a/7e1c
11:cpu,cpuacct:/kubepods/burstable/pod5d2a/7e1c
10:memory:/kubepods/burstable/pod5d2a/7e1c
1:name=systemd:/kubepods/burstable/pod5d2a/7e1c
0::/
"""
POD = "kubepods/burstable/pod5d2a/7e1c"


def test_v1_controllers_map_to_their_own_hierarchy_paths(fake_root: FakeRoot) -> None:
    fake_root({"/proc/self/cgroup": V1_SELF}, cgroup)
    paths = cgroup._own_paths()
    assert paths["cpu"] == paths["cpuacct"] == paths["memory"] == f"/{POD}"
    assert paths["name=systemd"] == f"/{POD}"
    assert paths[""] == "/"  # the (empty) unified hierarchy of a hybrid host


def test_v1_file_is_read_from_the_controller_directory_of_this_process(fake_root: FakeRoot) -> None:
    fake_root(
        {
            "/proc/self/cgroup": V1_SELF,
            f"/sys/fs/cgroup/cpu/{POD}/cpu.cfs_quota_us": "150000\n",
            "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n",  # the host's root group: not this process's
        },
        cgroup,
    )
    assert cgroup.read_cgroup_file("cpu.cfs_quota_us", controller="cpu") == "150000"
    assert cgroup.read_cgroup_file("cpu.cfs_quota_us", controller="cpuacct") is None  # another hierarchy


def test_v2_file_is_read_from_the_unified_path_of_this_process(fake_root: FakeRoot) -> None:
    fake_root(
        {
            "/proc/self/cgroup": "0::/system.slice/train.service\n",
            "/sys/fs/cgroup/system.slice/train.service/memory.max": "8589934592\n",
            "/sys/fs/cgroup/memory.max": "max\n",
        },
        cgroup,
    )
    assert cgroup.read_cgroup_file("memory.max") == "8589934592"


def test_inside_a_cgroup_namespace_the_root_is_read_when_the_own_path_is_not_mounted(fake_root: FakeRoot) -> None:
    # a container sees its own group mounted at /sys/fs/cgroup while /proc/self/cgroup names the host path
    fake_root({"/proc/self/cgroup": "0::/kubepods/pod5d2a\n", "/sys/fs/cgroup/cpu.max": "200000 100000\n"}, cgroup)
    assert cgroup.read_cgroup_file("cpu.max") == "200000 100000"


def test_missing_files_read_as_none(fake_root: FakeRoot) -> None:
    fake_root({"/proc/self/cgroup": V1_SELF}, cgroup)
    assert cgroup.read_cgroup_file("cpu.max") is None
    assert cgroup.read_cgroup_file("memory.limit_in_bytes", controller="memory") is None


def test_without_proc_self_cgroup_the_root_group_is_read(fake_root: FakeRoot) -> None:
    fake_root({"/sys/fs/cgroup/memory/memory.limit_in_bytes": "4294967296\n"}, cgroup)
    assert cgroup._own_paths() == {}
    assert cgroup.read_cgroup_file("memory.limit_in_bytes", controller="memory") == "4294967296"


def test_a_malformed_proc_self_cgroup_is_ignored_not_raised(fake_root: FakeRoot) -> None:
    fake_root({"/proc/self/cgroup": "not a cgroup line\n", "/sys/fs/cgroup/cpu.max": "max 100000\n"}, cgroup)
    assert cgroup._own_paths() == {}
    assert cgroup.read_cgroup_file("cpu.max") == "max 100000"


def test_this_process_cgroup_paths_are_absolute() -> None:
    cgroup._own_paths.cache_clear()
    paths = cgroup._own_paths()
    if os.path.exists("/proc/self/cgroup"):
        assert paths, "/proc/self/cgroup exists but no group was read from it"
    assert all(path.startswith("/") for path in paths.values()), paths
    assert cgroup.read_cgroup_file("envprint-no-such-file") is None
    assert cgroup.read_cgroup_file("envprint-no-such-file", controller="cpu") is None
