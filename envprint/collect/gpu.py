"""Collects NVIDIA GPUs and driver through NVML (`pynvml` from nvidia-ml-py), in-process, with a deadline.

Never shells out to nvidia-smi (slow, and known to hang on busy nodes). NVML is initialised and
shut down around the query; a failing NVML call gives `Unavailable` for that field only, and a
missing module, driver library or device gives `Unavailable` for the section with the reason.
The `nvml` argument takes any object with pynvml's call signatures (see `envprint.testing.FakeNVML`).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from envprint.model import GpuDevice, GpuInfo, Unavailable

T = TypeVar("T")

#: seconds to wait for NVML before recording the section as unavailable
DEFAULT_TIMEOUT_S = 5.0

_INIT_REASONS = {
    12: "the NVIDIA driver library (libnvidia-ml.so.1) was not found: no NVIDIA driver on this host",
    9: "an NVIDIA driver is installed but not loaded (is the kernel module loaded / the GPU passed through?)",
    4: "no permission to query NVML (check device permissions in the container)",
    18: "NVML library and kernel driver versions do not match: reboot or reload the driver",
}


def collect(nvml: Any = None, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> GpuInfo | Unavailable:
    """Returns the driver and every GPU NVML sees, or `Unavailable` with the precise reason."""
    if nvml is None:
        try:
            import pynvml
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
