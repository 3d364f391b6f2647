"""The NVML collector, driven by a fake with pynvml's call signatures (no GPU on CI machines)."""

from __future__ import annotations

import platform
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from envprint.collect import gpu
from envprint.model import GpuInfo, Unavailable
from envprint.testing import FakeGpu, FakeNVML
from tests.conftest import host_env


def _info(nvml: FakeNVML) -> GpuInfo:
    info = gpu.collect(nvml)
    assert isinstance(info, GpuInfo), info
    return info


def test_two_devices_one_with_mig_instances() -> None:
    a100 = FakeGpu(
        name="NVIDIA A100-SXM4-80GB",
        uuid="GPU-aaaa",
        compute_capability=(8, 0),
        mig_mode=1,
        mig=[FakeGpu(name="NVIDIA A100-SXM4-80GB MIG 3g.40gb", uuid="MIG-1", memory_total=40 * 2**30), None],
    )
    nvml = FakeNVML([FakeGpu(), a100], driver="550.54.15", cuda=12040)
    info = _info(nvml)
    assert info.driver_version == "550.54.15"
    assert info.cuda_driver_version == "12.4"
    assert info.nvml_version == "12.550.54.15"
    assert list(info.devices) == ["0", "1"]
    h100 = info.devices["0"]
    assert (h100.name, h100.compute_capability, h100.mig_mode, h100.ecc_mode) == (
        "NVIDIA H100 80GB HBM3",
        "9.0",
        "disabled",
        "enabled",
    )
    assert h100.memory_total_bytes == 85_520_809_984
    assert h100.mig_devices == {}
    mig = info.devices["1"]
    assert mig.mig_mode == "enabled"
    assert list(mig.mig_devices) == ["0"]  # the empty slot (NOT_FOUND) is skipped
    assert mig.mig_devices["0"].name == "NVIDIA A100-SXM4-80GB MIG 3g.40gb"
    assert mig.mig_devices["0"].memory_total_bytes == 40 * 2**30
    assert nvml.initialised == 0, "NVML must be shut down after the query"


def test_failing_call_gives_unavailable_for_that_field_only() -> None:
    nvml = FakeNVML([FakeGpu(fail={"nvmlDeviceGetEccMode": 3, "nvmlDeviceGetUUID": 999})])
    dev = _info(nvml).devices["0"]
    assert dev.name == "NVIDIA H100 80GB HBM3"
    assert isinstance(dev.ecc_mode, Unavailable) and "not supported" in dev.ecc_mode.reason
    assert isinstance(dev.uuid, Unavailable) and "UUID" in dev.uuid.reason
    assert nvml.calls[-1] == "nvmlShutdown"


@pytest.mark.parametrize(
    ("code", "words"),
    [(12, "no NVIDIA driver"), (9, "not loaded"), (999, "initialisation failed")],
)
def test_init_failure_gives_section_unavailable_with_reason(code: int, words: str) -> None:
    info = gpu.collect(FakeNVML([FakeGpu()], init_error=code))
    assert isinstance(info, Unavailable)
    assert words in info.reason


def test_no_devices_is_unavailable() -> None:
    info = gpu.collect(FakeNVML([]))
    assert isinstance(info, Unavailable)
    assert "no GPU devices" in info.reason


def test_hung_nvml_times_out() -> None:
    release = threading.Event()

    class Hung(FakeNVML):
        def nvmlInit(self) -> None:
            release.wait(10)

    try:
        info = gpu.collect(Hung([FakeGpu()]), timeout_s=0.2)
    finally:
        release.set()
    assert isinstance(info, Unavailable)
    assert "did not answer within 0.2 s" in info.reason


def test_real_pynvml_without_driver_gives_reason() -> None:
    import os

    if os.path.exists("/proc/driver/nvidia/version"):
        pytest.skip("this host has an NVIDIA driver; the real path is exercised by capture")
    info = gpu.collect()
    assert isinstance(info, Unavailable)
    assert "libnvidia-ml.so.1" in info.reason or "pynvml" in info.reason


_LIBRARY = "libnvidia-ml.so.1"


@pytest.mark.skipif(sys.platform.startswith("win"), reason="the loader search is the Linux one")
def test_nvml_is_absent_where_no_driver_library_or_device_is_found(tmp_path: Path) -> None:
    assert gpu.nvidia_absent(tmp_path, {}) == gpu.NO_DRIVER
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/ld.so.cache").write_bytes(b"glibc-ld.so.cache1.1\0libm.so.6\0/usr/lib/libm.so.6\0")
    assert gpu.nvidia_absent(tmp_path, {"LD_LIBRARY_PATH": "/opt/empty"}) == gpu.NO_DRIVER


@pytest.mark.skipif(sys.platform.startswith("win"), reason="the loader search is the Linux one")
@pytest.mark.parametrize(
    "where",
    ["ld.so.cache", "LD_LIBRARY_PATH", "multiarch directory", "/usr/lib64", "/dev/nvidiactl", "/proc/driver/nvidia"],
)
def test_nvml_is_asked_where_the_loader_would_find_the_driver_library_or_a_device_exists(
    tmp_path: Path, where: str
) -> None:
    environ: dict[str, str] = {}
    if where == "ld.so.cache":
        (tmp_path / "etc").mkdir()
        cache = b"glibc-ld.so.cache1.1\0" + _LIBRARY.encode() + b"\0/usr/lib/x86_64-linux-gnu/" + _LIBRARY.encode()
        (tmp_path / "etc/ld.so.cache").write_bytes(cache + b"\0")
    elif where == "LD_LIBRARY_PATH":
        (tmp_path / "usr/local/nvidia/lib64").mkdir(parents=True)
        (tmp_path / "usr/local/nvidia/lib64" / _LIBRARY).write_bytes(b"\x7fELF")
        environ["LD_LIBRARY_PATH"] = "/opt/other:/usr/local/nvidia/lib64"
    elif where == "multiarch directory":
        directory = tmp_path / "usr/lib" / f"{platform.machine()}-linux-gnu"
        directory.mkdir(parents=True)
        (directory / _LIBRARY).write_bytes(b"\x7fELF")
    elif where == "/proc/driver/nvidia":
        (tmp_path / "proc/driver/nvidia").mkdir(parents=True)
    else:
        path = tmp_path / where.lstrip("/") / (_LIBRARY if where == "/usr/lib64" else "")
        path.parent.mkdir(parents=True)
        path.write_bytes(b"")
    assert gpu.nvidia_absent(tmp_path, environ) is None


def test_capture_on_a_host_without_nvidia_never_imports_pynvml() -> None:
    if gpu.nvidia_absent() is None:
        pytest.skip("this host has an NVIDIA driver library or device: NVML is asked, as it should be")
    code = (
        "import sys, envprint; fp = envprint.capture(probes=False); print(repr(fp.gpu.reason), 'pynvml' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=host_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"{gpu.NO_DRIVER!r} False"
