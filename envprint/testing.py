"""Helpers for tests: users' own and envprint's.

`FakeNVML` stands in for the `pynvml` module on machines without a GPU, with the same call
signatures and error behaviour (`NVMLError` carrying `.value`), so the real GPU collector code runs
against it::

    from envprint.testing import FakeGpu, FakeNVML
    fp = envprint.capture(probes=False, nvml=FakeNVML([FakeGpu("NVIDIA H100 80GB HBM3")]))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, TypeVar

__all__ = ["FakeGpu", "FakeNVML", "NVMLError"]

T = TypeVar("T")

NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_UNKNOWN = 999


class NVMLError(Exception):
    """Mirrors pynvml.NVMLError: an exception with the NVML return code in `.value`."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return {
            3: "Not Supported",
            6: "Not Found",
            9: "Driver Not Loaded",
            12: "NVML Shared Library Not Found",
        }.get(self.value, "Unknown Error")


@dataclass
class FakeGpu:
    """One fake device. `fail` maps a pynvml function name to the NVML error code it raises."""

    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-1111-2222-3333-444444444444"
    memory_total: int = 85_520_809_984
    compute_capability: tuple[int, int] = (9, 0)
    mig_mode: int = 0
    ecc_mode: int = 1
    pci_bus_id: str = "00000000:17:00.0"
    #: MIG instances (only read when mig_mode is 1); None entries are empty MIG slots
    mig: Sequence[FakeGpu | None] = ()
    fail: dict[str, int] = field(default_factory=dict)


class FakeNVML:
    """A stand-in for the pynvml module with the functions the GPU collector calls."""

    NVMLError = NVMLError

    def __init__(
        self,
        devices: Sequence[FakeGpu] = (),
        *,
        driver: str = "550.54.15",
        cuda: int = 12040,
        nvml_version: str = "12.550.54.15",
        init_error: int | None = None,
    ) -> None:
        self.devices = list(devices)
        self.driver, self.cuda, self.version, self.init_error = driver, cuda, nvml_version, init_error
        self.initialised = 0
        self.calls: list[str] = []

    # -- lifecycle
    def nvmlInit(self) -> None:
        self.calls.append("nvmlInit")
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        self.calls.append("nvmlShutdown")
        self.initialised -= 1

    # -- system
    def nvmlSystemGetDriverVersion(self) -> str:
        return self.driver

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        return self.cuda

    def nvmlSystemGetNVMLVersion(self) -> str:
        return self.version

    def nvmlDeviceGetCount(self) -> int:
        self._check_init()
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        self._check_init()
        return self.devices[index]

    # -- per device
    def nvmlDeviceGetName(self, handle: FakeGpu) -> str:
        return self._get(handle, "nvmlDeviceGetName", handle.name)

    def nvmlDeviceGetUUID(self, handle: FakeGpu) -> str:
        return self._get(handle, "nvmlDeviceGetUUID", handle.uuid)

    def nvmlDeviceGetMemoryInfo(self, handle: FakeGpu) -> Any:
        total = self._get(handle, "nvmlDeviceGetMemoryInfo", handle.memory_total)
        return SimpleNamespace(total=total, free=total, used=0)

    def nvmlDeviceGetCudaComputeCapability(self, handle: FakeGpu) -> tuple[int, int]:
        return self._get(handle, "nvmlDeviceGetCudaComputeCapability", handle.compute_capability)

    def nvmlDeviceGetMigMode(self, handle: FakeGpu) -> tuple[int, int]:
        mode = self._get(handle, "nvmlDeviceGetMigMode", handle.mig_mode)
        return mode, mode

    def nvmlDeviceGetEccMode(self, handle: FakeGpu) -> tuple[int, int]:
        mode = self._get(handle, "nvmlDeviceGetEccMode", handle.ecc_mode)
        return mode, mode

    def nvmlDeviceGetPciInfo(self, handle: FakeGpu) -> Any:
        return SimpleNamespace(busId=self._get(handle, "nvmlDeviceGetPciInfo", handle.pci_bus_id))

    def nvmlDeviceGetMaxMigDeviceCount(self, handle: FakeGpu) -> int:
        return int(self._get(handle, "nvmlDeviceGetMaxMigDeviceCount", len(handle.mig)))

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle: FakeGpu, index: int) -> FakeGpu:
        mig = handle.mig[index]
        if mig is None:
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return mig

    def _check_init(self) -> None:
        if self.initialised <= 0:
            raise NVMLError(1)  # NVML_ERROR_UNINITIALIZED

    def _get(self, handle: FakeGpu, fn: str, value: T) -> T:
        self._check_init()
        self.calls.append(fn)
        if fn in handle.fail:
            raise NVMLError(handle.fail[fn])
        return value
