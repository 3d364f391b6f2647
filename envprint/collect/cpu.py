"""Collects the processor as numeric libraries see it: vendor, model, ISA flags, cores, quota, SIMD.

Reads /proc/cpuinfo and sysfs directly (microseconds) instead of spawning lscpu or py-cpuinfo.
Only the ISA flags that change which kernels numeric libraries pick are kept, so unrelated flags
(mitigations, BogoMIPS) never show up as differences.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from typing import Any

from envprint.collect.cgroup import read_cgroup_file
from envprint.model import CpuInfo, NumpySimd, Unavailable

#: x86 flags that select SIMD/FMA kernels in numpy, OpenBLAS, MKL, oneDNN and ATen
_X86_NUMERIC = re.compile(
    r"^(sse|sse2|pni|ssse3|sse4_1|sse4_2|sse4a|avx|avx2|fma|fma4|f16c|xop|avx512\w*|amx\w*|avx_vnni\w*"
    r"|avx_ifma|avx_ne_convert|avx10\w*|sha_ni|vaes|vpclmulqdq|gfni|bmi1|bmi2|abm|movbe|popcnt|cx16|lahf_lm)$"
)
#: ARM features that select NEON/SVE kernels
_ARM_NUMERIC = re.compile(r"^(fp|asimd|asimdhp|asimddp|asimdfhm|asimdrdm|fphp|sve\w*|bf16|i8mm|sme\w*|f32mm|f64mm)$")

_X86_V2 = {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}
_X86_V3 = {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe"}
_X86_V4 = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}

# (vendor, family) -> [(first model, last model, name)]; the names numeric libraries' docs use
_MICROARCH: dict[tuple[str, int], list[tuple[int, int, str]]] = {
    ("AuthenticAMD", 0x17): [(0x00, 0x0F, "Zen"), (0x10, 0x2F, "Zen+"), (0x30, 0xFF, "Zen 2")],
    ("AuthenticAMD", 0x19): [(0x00, 0x0F, "Zen 3"), (0x10, 0x1F, "Zen 4"), (0x20, 0x5F, "Zen 3"),
                             (0x60, 0xAF, "Zen 4")],
    ("AuthenticAMD", 0x1A): [(0x00, 0xFF, "Zen 5")],
    ("GenuineIntel", 0x06): [
        (0x3C, 0x3C, "Haswell"), (0x3F, 0x3F, "Haswell"), (0x45, 0x46, "Haswell"),
        (0x3D, 0x3D, "Broadwell"), (0x47, 0x47, "Broadwell"), (0x4F, 0x4F, "Broadwell"), (0x56, 0x56, "Broadwell"),
        (0x4E, 0x4E, "Skylake"), (0x5E, 0x5E, "Skylake"), (0x55, 0x55, "Skylake-X/Cascade Lake"),
        (0x8E, 0x8E, "Kaby Lake"), (0x9E, 0x9E, "Coffee Lake"), (0x6A, 0x6C, "Ice Lake-SP"),
        (0x7D, 0x7E, "Ice Lake"), (0x8C, 0x8D, "Tiger Lake"), (0x97, 0x9A, "Alder Lake"),
        (0xB7, 0xBF, "Raptor Lake"), (0x8F, 0x8F, "Sapphire Rapids"), (0xCF, 0xCF, "Emerald Rapids"),
        (0xAD, 0xAE, "Granite Rapids"), (0xAF, 0xAF, "Sierra Forest"), (0x2A, 0x2A, "Sandy Bridge"),
        (0x2D, 0x2D, "Sandy Bridge-E"), (0x3A, 0x3A, "Ivy Bridge"), (0x3E, 0x3E, "Ivy Bridge-E"),
    ],
}  # fmt: skip
#: ARM "CPU implementer:CPU part" -> core name
_ARM_PARTS = {
    "0x41:0xd0c": "Neoverse N1", "0x41:0xd40": "Neoverse V1", "0x41:0xd49": "Neoverse N2",
    "0x41:0xd4f": "Neoverse V2", "0x41:0xd8e": "Neoverse N3", "0x41:0xd84": "Neoverse V3",
    "0x41:0xd08": "Cortex-A72", "0x41:0xd0b": "Cortex-A76", "0x41:0xd41": "Cortex-A78",
    "0x61:0x022": "Apple M1", "0x61:0x032": "Apple M2", "0xc0:0xac3": "Ampere-1",
}  # fmt: skip


def collect() -> CpuInfo:
    """Returns this host's processor facts."""
    blocks = _cpuinfo_blocks()
    first = blocks[0] if blocks else {}
    machine = platform.machine()
    all_flags = set((first.get("flags") or first.get("Features") or "").split())
    numeric = _X86_NUMERIC if machine in ("x86_64", "AMD64", "i686", "i386") else _ARM_NUMERIC
    vendor = first.get("vendor_id") or ("ARM" if "CPU implementer" in first else None)
    no_info = Unavailable("/proc/cpuinfo is not readable on this platform")
    return CpuInfo(
        machine=machine,
        vendor=vendor or no_info,
        model_name=first.get("model name") or _arm_name(first) or platform.processor() or no_info,
        family=_int(first.get("cpu family"), no_info),
        model=_int(first.get("model"), no_info),
        stepping=_int(first.get("stepping"), no_info),
        microarchitecture=_microarchitecture(first),
        isa_level=_isa_level(machine, all_flags) if blocks else no_info,
        flags=tuple(sorted(f for f in all_flags if numeric.match(f))),
        hypervisor=("hypervisor" in all_flags) if blocks else no_info,
        cache=_caches(),
        numpy_simd=numpy_simd(),
        logical_cores=os.cpu_count() or Unavailable("os.cpu_count() returned None"),
        physical_cores=_physical_cores(blocks),
        affinity=_affinity(),
        cgroup_quota=cgroup_cpu_quota(),
    )


def _cpuinfo_blocks() -> list[dict[str, str]]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return []
    blocks = []
    for chunk in text.split("\n\n"):
        block = {}
        for line in chunk.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                block[key.strip()] = value.strip()
        if block:
            blocks.append(block)
    return blocks


def _int(text: str | None, missing: Unavailable) -> int | Unavailable:
    if text is None:
        return missing
    try:
        return int(text, 0)
    except ValueError:
        return Unavailable(f"unexpected value {text!r} in /proc/cpuinfo")


def _arm_name(block: dict[str, str]) -> str | None:
    key = f"{block.get('CPU implementer', '')}:{block.get('CPU part', '')}".lower()
    return _ARM_PARTS.get(key)


def _microarchitecture(block: dict[str, str]) -> str | Unavailable:
    arm = _arm_name(block)
    if arm:
        return arm
    try:
        vendor, family, model = block["vendor_id"], int(block["cpu family"]), int(block["model"])
    except (KeyError, ValueError):
        return Unavailable("vendor, family or model missing from /proc/cpuinfo")
    for lo, hi, name in _MICROARCH.get((vendor, family), []):
        if lo <= model <= hi:
            return name
    return Unavailable(f"no name known for {vendor} family {family:#x} model {model:#x}")


def _isa_level(machine: str, flags: set[str]) -> str | Unavailable:
    if machine in ("x86_64", "AMD64"):
        level = 1
        for n, required in ((2, _X86_V2), (3, _X86_V3), (4, _X86_V4)):
            if not required <= flags:
                break
            level = n
        return f"x86-64-v{level}"
    if machine in ("aarch64", "arm64"):
        return "armv8-a+sve" if "sve" in flags else "armv8-a"
    return Unavailable(f"no ISA level scheme for {machine}")


def _caches() -> dict[str, str]:
    base = "/sys/devices/system/cpu/cpu0/cache"
    out: dict[str, str] = {}
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return out
    for entry in entries:
        if not entry.startswith("index"):
            continue
        try:
            values = [_read(os.path.join(base, entry, n)) for n in ("level", "type", "size")]
        except OSError:
            continue
        level, kind, size = values
        suffix = {"Data": "d", "Instruction": "i"}.get(kind, "")
        out[f"L{level}{suffix}"] = size
    return out


def _read(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as f:
        return f.read().strip()


def _physical_cores(blocks: list[dict[str, str]]) -> int | Unavailable:
    cores = {(b.get("physical id"), b.get("core id")) for b in blocks if "core id" in b}
    if cores:
        return len(cores)
    try:
        import psutil

        n = psutil.cpu_count(logical=False)
    except Exception as e:  # psutil raises platform-specific errors
        return Unavailable(f"psutil could not count physical cores: {e}")
    return int(n) if n else Unavailable("the OS does not report physical cores")


def _affinity() -> int | Unavailable:
    getter = getattr(os, "sched_getaffinity", None)
    if getter is None:
        return Unavailable("CPU affinity is not available on this platform")
    try:
        return len(getter(0))
    except OSError as e:
        return Unavailable(f"sched_getaffinity failed: {e}")


def cgroup_cpu_quota() -> float | Unavailable | None:
    """Returns the CPUs the cgroup quota allows (quota / period), None when unlimited."""
    v2 = read_cgroup_file("cpu.max")
    if v2 is not None:
        quota, _, period = v2.partition(" ")
        if quota == "max":
            return None
        return _ratio(quota, period or "100000")
    quota_v1 = read_cgroup_file("cpu.cfs_quota_us", controller="cpu")
    if quota_v1 is not None:
        if quota_v1.strip() == "-1":
            return None
        return _ratio(quota_v1, read_cgroup_file("cpu.cfs_period_us", controller="cpu") or "100000")
    return Unavailable("no cgroup CPU controller visible")


def _ratio(quota: str, period: str) -> float | Unavailable:
    try:
        return round(int(quota) / int(period), 4)
    except (ValueError, ZeroDivisionError):
        return Unavailable(f"unexpected cgroup quota {quota!r}/{period!r}")


def numpy_simd() -> NumpySimd | Unavailable:
    """Returns numpy's SIMD dispatch state when numpy is imported (it is never imported here)."""
    np = sys.modules.get("numpy")
    if np is None:
        return Unavailable("numpy is not imported in this process")
    umath: Any = sys.modules.get("numpy._core._multiarray_umath") or sys.modules.get("numpy.core._multiarray_umath")
    if umath is None:
        return Unavailable("numpy's _multiarray_umath module was not found")
    try:
        features: dict[str, bool] = dict(umath.__cpu_features__)
        baseline = tuple(umath.__cpu_baseline__)
        dispatch = tuple(umath.__cpu_dispatch__)
    except AttributeError as e:
        return Unavailable(f"this numpy does not expose its CPU dispatch: {e}")
    return NumpySimd(
        baseline=baseline,
        dispatch=dispatch,
        found=tuple(d for d in dispatch if features.get(d)),
        not_found=tuple(d for d in dispatch if not features.get(d)),
    )
