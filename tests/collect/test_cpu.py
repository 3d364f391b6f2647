"""collect/cpu.py: /proc/cpuinfo of named processors, cgroup CPU quotas (v1 and v2), and this host's invariants."""

from __future__ import annotations

import os
import platform
import re
import sys

import numpy as np
import psutil
import pytest

from envprint.collect import cgroup, cpu
from envprint.model import CpuInfo, NumpySimd, Unavailable
from tests.collect.conftest import FakeRoot, fixture_text

EPYC = fixture_text("cpuinfo-amd-epyc-7b13.txt")
XEON = fixture_text("cpuinfo-intel-xeon-8480.txt")
NEOVERSE = fixture_text("cpuinfo-neoverse-v1.txt")


def blocks_of(fake_root: FakeRoot, text: str) -> list[dict[str, str]]:
    """Returns what the collector parses from `text` served as /proc/cpuinfo."""
    fake_root({"/proc/cpuinfo": text}, cpu)
    return cpu._cpuinfo_blocks()


def numeric_flags(block: dict[str, str], pattern: re.Pattern[str]) -> set[str]:
    return {f for f in (block.get("flags") or block["Features"]).split() if pattern.match(f)}


# ------------------------------------------------------------------------------- /proc/cpuinfo


def test_amd_epyc_cpuinfo_is_one_block_per_logical_cpu_with_every_field(fake_root: FakeRoot) -> None:
    blocks = blocks_of(fake_root, EPYC)
    assert [b["processor"] for b in blocks] == ["0", "1", "2", "3"]
    first = blocks[0]
    assert (first["vendor_id"], first["model name"], first["cpu family"], first["model"]) == (
        "AuthenticAMD", "AMD EPYC 7B13", "25", "1",
    )  # fmt: skip
    assert first["power management"] == ""  # a key with an empty value is kept, not dropped
    assert "srso" in first["bugs"] and "srso" not in first["flags"]


def test_amd_epyc_is_zen3_at_x86_64_v3_with_two_physical_cores(fake_root: FakeRoot) -> None:
    blocks = blocks_of(fake_root, EPYC)
    flags = set(blocks[0]["flags"].split())
    assert cpu._microarchitecture(blocks[0]) == "Zen 3"
    assert cpu._isa_level("x86_64", flags) == "x86-64-v3"  # AVX2 and FMA, no AVX-512
    assert cpu._physical_cores(blocks) == 2  # 4 logical CPUs, SMT siblings on core ids 0 and 1


def test_intel_sapphire_rapids_is_x86_64_v4_and_counts_cores_per_socket(fake_root: FakeRoot) -> None:
    blocks = blocks_of(fake_root, XEON)
    assert cpu._microarchitecture(blocks[0]) == "Sapphire Rapids"  # family 6 model 0x8f
    assert cpu._isa_level("x86_64", set(blocks[0]["flags"].split())) == "x86-64-v4"
    # core id 0 on both sockets: two physical cores, not one
    assert cpu._physical_cores(blocks) == 2


def test_only_flags_that_select_numeric_kernels_are_kept_on_x86(fake_root: FakeRoot) -> None:
    (amd, *_) = blocks_of(fake_root, EPYC)
    assert numeric_flags(amd, cpu._X86_NUMERIC) == {
        "sse", "sse2", "pni", "ssse3", "sse4_1", "sse4_2", "sse4a", "avx", "avx2", "fma", "f16c", "bmi1", "bmi2",
        "abm", "movbe", "popcnt", "cx16", "lahf_lm", "sha_ni", "vaes", "vpclmulqdq",
    }  # fmt: skip
    (intel, *_) = blocks_of(fake_root, XEON)
    kept = numeric_flags(intel, cpu._X86_NUMERIC)
    assert {"avx512f", "avx512_fp16", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16", "avx_vnni", "gfni"} <= kept
    # mitigations, virtualisation and timer flags never change numbers
    assert not kept & {"hypervisor", "constant_tsc", "md_clear", "ibrs_enhanced", "aes", "rdrand", "tsc_adjust"}


def test_neoverse_v1_is_named_from_implementer_and_part(fake_root: FakeRoot) -> None:
    blocks = blocks_of(fake_root, NEOVERSE)
    first = blocks[0]
    assert "vendor_id" not in first and "model name" not in first  # aarch64 kernels report neither
    assert cpu._arm_name(first) == "Neoverse V1"
    assert cpu._microarchitecture(first) == "Neoverse V1"
    features = set(first["Features"].split())
    assert cpu._isa_level("aarch64", features) == "armv8-a+sve"
    assert cpu._isa_level("aarch64", features - {"sve"}) == "armv8-a"
    assert numeric_flags(first, cpu._ARM_NUMERIC) == {
        "fp", "asimd", "fphp", "asimdhp", "asimdrdm", "asimddp", "sve", "asimdfhm", "svei8mm", "svebf16", "i8mm",
        "bf16",
    }  # fmt: skip
    assert cpu._int(first["CPU variant"], Unavailable("missing")) == 1  # hexadecimal fields parse


def test_physical_cores_without_core_ids_come_from_psutil(fake_root: FakeRoot) -> None:
    blocks = blocks_of(fake_root, NEOVERSE)  # aarch64 /proc/cpuinfo has no "core id"
    reported = psutil.cpu_count(logical=False)
    result = cpu._physical_cores(blocks)
    if reported:
        assert result == reported
    else:
        assert result == Unavailable("the OS does not report physical cores")


def test_isa_levels_stop_at_the_first_missing_requirement(fake_root: FakeRoot) -> None:
    flags = set(blocks_of(fake_root, XEON)[0]["flags"].split())
    assert cpu._isa_level("x86_64", flags - {"avx512bw"}) == "x86-64-v3"
    assert cpu._isa_level("x86_64", flags - {"movbe"}) == "x86-64-v2"  # v4 flags do not skip a missing v3 one
    assert cpu._isa_level("x86_64", flags - {"popcnt"}) == "x86-64-v1"
    assert cpu._isa_level("riscv64", {"rv64imafdc"}) == Unavailable("no ISA level scheme for riscv64")


def test_unknown_or_incomplete_processors_say_why_no_name_is_known() -> None:
    old_intel = {"vendor_id": "GenuineIntel", "cpu family": "6", "model": "1"}
    assert cpu._microarchitecture(old_intel) == Unavailable("no name known for GenuineIntel family 0x6 model 0x1")
    assert cpu._microarchitecture({"vendor_id": "GenuineIntel"}) == Unavailable(
        "vendor, family or model missing from /proc/cpuinfo"
    )
    assert cpu._arm_name({"CPU implementer": "0x41", "CPU part": "0xfff"}) is None
    assert cpu._int("1a", Unavailable("missing")) == Unavailable("unexpected value '1a' in /proc/cpuinfo")


def test_without_proc_cpuinfo_the_fields_it_feeds_are_unavailable(fake_root: FakeRoot) -> None:
    fake_root({}, cpu, cgroup)  # an empty root: no /proc/cpuinfo, no sysfs cache, no cgroup files
    info = cpu.collect()
    gone = Unavailable("/proc/cpuinfo is not readable on this platform")
    assert (info.vendor, info.family, info.model, info.stepping, info.isa_level, info.hypervisor) == (gone,) * 6
    assert info.flags == () and info.cache == {}
    assert info.microarchitecture == Unavailable("vendor, family or model missing from /proc/cpuinfo")
    assert info.cgroup_quota == Unavailable("no cgroup CPU controller visible")
    assert info.logical_cores == os.cpu_count()  # not read from /proc/cpuinfo


# ------------------------------------------------------------------------------ cgroup CPU quota


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("max 100000", None), ("150000 100000", 1.5), ("50000", 0.5), ("100000 300000", 0.3333)],
)
def test_cgroup_v2_cpu_max_is_cpus_allowed(fake_root: FakeRoot, cpu_max: str, expected: float | None) -> None:
    fake_root({"/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/cpu.max": f"{cpu_max}\n"}, cgroup)
    assert cpu.cgroup_cpu_quota() == expected


@pytest.mark.parametrize(
    ("quota", "period", "expected"), [("-1", "100000", None), ("200000", "100000", 2.0), ("25000", None, 0.25)]
)
def test_cgroup_v1_cfs_quota_is_cpus_allowed(
    fake_root: FakeRoot, quota: str, period: str | None, expected: float | None
) -> None:
    group = "/sys/fs/cgroup/cpu/docker/7e1"
    files = {"/proc/self/cgroup": "4:cpu,cpuacct:/docker/7e1\n", f"{group}/cpu.cfs_quota_us": quota}
    if period is not None:
        files[f"{group}/cpu.cfs_period_us"] = period
    fake_root(files, cgroup)
    assert cpu.cgroup_cpu_quota() == expected


def test_unreadable_cgroup_quotas_say_what_was_read(fake_root: FakeRoot) -> None:
    fake_root({"/sys/fs/cgroup/cpu.max": "lots 100000"}, cgroup)
    assert cpu.cgroup_cpu_quota() == Unavailable("unexpected cgroup quota 'lots'/'100000'")
    fake_root({"/sys/fs/cgroup/cpu.max": "50000 0"}, cgroup)
    assert cpu.cgroup_cpu_quota() == Unavailable("unexpected cgroup quota '50000'/'0'")


# ------------------------------------------------------------------------------------ numpy SIMD


def test_numpy_simd_agrees_with_numpys_own_report() -> None:
    simd = cpu.numpy_simd()
    assert isinstance(simd, NumpySimd)
    reported = np.show_config(mode="dicts")["SIMD Extensions"]
    assert list(simd.baseline) == reported["baseline"]
    assert list(simd.found) == reported["found"]
    assert list(simd.not_found) == reported["not found"]
    assert set(simd.found) | set(simd.not_found) == set(simd.dispatch)


def test_numpy_simd_is_unavailable_when_numpy_is_not_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "numpy")  # put back after the test
    assert cpu.numpy_simd() == Unavailable("numpy is not imported in this process")


# ------------------------------------------------------------------------------------- this host


@pytest.fixture(scope="module")
def host() -> CpuInfo:
    return cpu.collect()


def test_host_core_counts_are_consistent(host: CpuInfo) -> None:
    assert host.machine == platform.machine()
    assert isinstance(host.logical_cores, int) and host.logical_cores == os.cpu_count()
    if isinstance(host.physical_cores, int):
        assert 1 <= host.physical_cores <= host.logical_cores
    if hasattr(os, "sched_getaffinity"):
        assert host.affinity == len(os.sched_getaffinity(0))
        assert 1 <= len(os.sched_getaffinity(0)) <= host.logical_cores
    else:
        assert host.affinity == Unavailable("CPU affinity is not available on this platform")


def test_host_flags_are_a_sorted_numeric_subset_of_what_the_kernel_reports(host: CpuInfo) -> None:
    assert list(host.flags) == sorted(host.flags)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            text = f.read()
    except OSError:
        assert host.flags == ()
        return
    reported = set(re.findall(r"^(?:flags|Features)\s*:(.*)$", text, re.MULTILINE)[0].split())
    assert set(host.flags) <= reported
    pattern = cpu._X86_NUMERIC if host.machine in ("x86_64", "AMD64", "i686", "i386") else cpu._ARM_NUMERIC
    assert all(pattern.match(f) for f in host.flags)
    assert host.hypervisor == ("hypervisor" in reported)


def test_host_isa_level_and_caches_have_their_documented_shape(host: CpuInfo) -> None:
    if host.machine == "x86_64" and not isinstance(host.isa_level, Unavailable):
        assert host.isa_level in ("x86-64-v1", "x86-64-v2", "x86-64-v3", "x86-64-v4")
        if host.isa_level == "x86-64-v4":
            assert {"avx512f", "avx512bw", "avx512vl", "avx2", "fma"} <= set(host.flags)
        if "avx2" not in host.flags:
            assert host.isa_level in ("x86-64-v1", "x86-64-v2")
    for level, size in host.cache.items():
        assert re.fullmatch(r"L[1-4][di]?", level), level
        assert re.fullmatch(r"\d+[KMG]", size), size


def test_host_quota_is_positive_or_unlimited(host: CpuInfo) -> None:
    quota = host.cgroup_quota
    assert quota is None or isinstance(quota, Unavailable) or quota > 0
    assert quota == cpu.cgroup_cpu_quota()
