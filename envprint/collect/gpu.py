"""Collects NVIDIA GPUs and driver through NVML (`pynvml` from nvidia-ml-py), in-process, with a deadline.

Never shells out to nvidia-smi (slow, and known to hang on busy nodes). pynvml is imported only
where an NVIDIA driver library or device is present (`nvidia_absent`): on a host without one the
section is `Unavailable` with the reason NVML itself would give, without the import's ~15-30 ms.
NVML is initialised and shut down around the query; a failing NVML call gives `Unavailable` for
that field only, and a missing module, driver library or device gives `Unavailable` for the
section with the reason. The `nvml` argument takes any object with pynvml's call signatures (see
`envprint.testing.FakeNVML`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from envprint.model import GpuDevice, GpuInfo, Unavailable

T = TypeVar("T")

#: seconds to wait for NVML before recording the section as unavailable
DEFAULT_TIMEOUT_S = 5.0

#: NVML's "library not found" (12), also the reason when the library is nowhere the loader looks
NO_DRIVER = "the NVIDIA driver library (libnvidia-ml.so.1) was not found: no NVIDIA driver on this host"

_INIT_REASONS = {
    12: NO_DRIVER,
    9: "an NVIDIA driver is installed but not loaded (is the kernel module loaded / the GPU passed through?)",
    4: "no permission to query NVML (check device permissions in the container)",
    18: "NVML library and kernel driver versions do not match: reboot or reload the driver",
}


def collect(nvml: Any = None, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> GpuInfo | Unavailable:
    """Returns the driver and every GPU NVML sees, or `Unavailable` with the precise reason."""
    if nvml is None:
        absent = nvidia_absent()
        if absent is not None:
            return Unavailable(absent)
        try:
            import pynvml  # ~15-30 ms: paid only where an NVIDIA driver or device is present
        except ImportError:
            return Unavailable("nvidia-ml-py (module pynvml) is not installed")
        nvml = pynvml
    result: list[GpuInfo | Unavailable] = []
    worker = threading.Thread(target=lambda: result.append(_query(nvml)), name="envprint-nvml", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not result:
        return Unavailable(f"NVML did not answer within {timeout_s:g} s (driver hung or GPU in a bad state)")
    return result[0]


def nvidia_absent(root: Path = Path("/"), environ: Mapping[str, str] | None = None) -> str | None:
    """Returns why NVML cannot be on this host (no driver library where the loader looks, no device), or None.

    Linux: pynvml loads ``libnvidia-ml.so.1`` by soname, so the dynamic loader looks in
    LD_LIBRARY_PATH, in /etc/ld.so.cache and in the default directories; a driver also shows as
    /dev/nvidiactl or /proc/driver/nvidia. Any of them present means NVML is asked. Windows: pynvml's
    two nvml.dll locations. `root` and `environ` relocate the file system and the variables (tests).
    """
    environ = os.environ if environ is None else environ
    if sys.platform.startswith("win"):
        places = (
            Path(environ.get("WINDIR", "C:/Windows")) / "System32" / "nvml.dll",
            Path(environ.get("ProgramFiles", "C:/Program Files")) / "NVIDIA Corporation" / "NVSMI" / "nvml.dll",
        )
        return None if any(p.is_file() for p in places) else NO_DRIVER.replace("libnvidia-ml.so.1", "nvml.dll")
    if any((root / p).exists() for p in ("dev/nvidiactl", "proc/driver/nvidia")):
        return None
    library = "libnvidia-ml.so.1"
    multiarch = f"{platform.machine()}-linux-gnu"
    dirs = [d for d in environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if d]
    dirs += ["/lib", "/lib64", "/usr/lib", "/usr/lib64", f"/lib/{multiarch}", f"/usr/lib/{multiarch}", "/usr/local/lib"]
    # a relative LD_LIBRARY_PATH entry is relative to the working directory, as the loader reads it
    if any(((root / d.lstrip("/")) if d.startswith("/") else Path(d)).joinpath(library).exists() for d in dirs):
        return None
    try:  # the loader's cache names every library ldconfig found, with its path
        if b"/" + library.encode() + b"\0" in (root / "etc/ld.so.cache").read_bytes():
            return None
    except OSError:
        pass
    return NO_DRIVER


def _query(nvml: Any) -> GpuInfo | Unavailable:
    try:
        nvml.nvmlInit()
    except Exception as e:
        code = getattr(e, "value", None)
        reason = _INIT_REASONS.get(code) if isinstance(code, int) else None
        return Unavailable(reason or f"NVML initialisation failed: {_describe(e)}")
    try:
        count = _call(nvml.nvmlDeviceGetCount, "device count")
        if isinstance(count, Unavailable):
            return count
        if count == 0:
            return Unavailable("NVML works but reports no GPU devices (none visible to this process)")
        devices = {}
        for i in range(count):
            handle = _call(functools.partial(nvml.nvmlDeviceGetHandleByIndex, i), f"handle of device {i}")
            if isinstance(handle, Unavailable):
                devices[str(i)] = _unavailable_device(handle)
            else:
                devices[str(i)] = _device(nvml, handle, with_mig=True)
        return GpuInfo(
            driver_version=_call(lambda: _text(nvml.nvmlSystemGetDriverVersion()), "driver version"),
            cuda_driver_version=_call(lambda: _cuda_version(nvml), "CUDA driver version"),
            nvml_version=_call(lambda: _text(nvml.nvmlSystemGetNVMLVersion()), "NVML version"),
            devices=devices,
        )
    finally:
        with contextlib.suppress(Exception):  # a failed shutdown must not lose the facts already read
            nvml.nvmlShutdown()


def _device(nvml: Any, handle: Any, *, with_mig: bool) -> GpuDevice:
    mig_mode = _call(lambda: _mig_mode(nvml, handle), "MIG mode")
    mig_devices: dict[str, GpuDevice] = {}
    if with_mig and mig_mode == "enabled":
        mig_devices = _mig_devices(nvml, handle)
    return GpuDevice(
        name=_call(lambda: _text(nvml.nvmlDeviceGetName(handle)), "name"),
        compute_capability=_call(
            lambda: "{}.{}".format(*nvml.nvmlDeviceGetCudaComputeCapability(handle)), "compute capability"
        ),
        memory_total_bytes=_call(lambda: int(nvml.nvmlDeviceGetMemoryInfo(handle).total), "memory"),
        mig_mode=mig_mode if with_mig else "instance",
        ecc_mode=_call(lambda: _enabled(nvml.nvmlDeviceGetEccMode(handle)[0]), "ECC mode") if with_mig else "n/a",
        mig_devices=mig_devices,
        uuid=_call(lambda: _text(nvml.nvmlDeviceGetUUID(handle)), "UUID"),
        pci_bus_id=_call(lambda: _text(nvml.nvmlDeviceGetPciInfo(handle).busId), "PCI bus id") if with_mig else "",
    )


def _mig_devices(nvml: Any, handle: Any) -> dict[str, GpuDevice]:
    count = _call(lambda: int(nvml.nvmlDeviceGetMaxMigDeviceCount(handle)), "MIG device count")
    if isinstance(count, Unavailable):
        return {"?": _unavailable_device(count)}
    out = {}
    for j in range(count):
        try:
            mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, j)
        except Exception as e:
            if getattr(e, "value", None) == 6:  # NOT_FOUND: an empty MIG slot
                continue
            out[str(j)] = _unavailable_device(Unavailable(f"NVML MIG handle {j} failed: {_describe(e)}"))
            continue
        out[str(j)] = _device(nvml, mig, with_mig=False)
    return out


def _unavailable_device(reason: Unavailable) -> GpuDevice:
    return GpuDevice(reason, reason, reason, reason, reason, {}, reason, reason)


def _mig_mode(nvml: Any, handle: Any) -> str:
    current, _pending = nvml.nvmlDeviceGetMigMode(handle)
    return _enabled(current)


def _enabled(flag: int) -> str:
    return "enabled" if flag else "disabled"


def _cuda_version(nvml: Any) -> str:
    getter = getattr(nvml, "nvmlSystemGetCudaDriverVersion_v2", None) or nvml.nvmlSystemGetCudaDriverVersion
    v = int(getter())  # e.g. 12040
    return f"{v // 1000}.{(v % 1000) // 10}"


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _call(fn: Callable[[], T], what: str) -> T | Unavailable:
    try:
        return fn()
    except Exception as e:  # pynvml raises NVMLError subclasses and ctypes errors
        if getattr(e, "value", None) == 3:
            return Unavailable(f"{what}: not supported by this GPU or driver")
        return Unavailable(f"NVML could not read {what}: {_describe(e)}")


def _describe(e: BaseException) -> str:
    code = getattr(e, "value", None)
    try:
        text = str(e)
    except Exception:  # pynvml's __str__ itself calls into NVML
        text = type(e).__name__
    return f"{text} (NVML error {code})" if isinstance(code, int) else f"{type(e).__name__}: {text}"
