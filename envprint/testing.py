"""Helpers for tests: users' own and envprint's.

Fingerprints built from code, not captured, are the same on every machine, so a test of a policy, a
rule or a renderer can state exactly which difference it is about::

    from envprint.testing import make_fingerprint, with_package, with_variable
    train = make_fingerprint()
    serve = with_variable(train, "OPENBLAS_NUM_THREADS", "1")
    assert envprint.diff(train, serve).verdict == "DIFFERENT: 1 warning"

`make_fingerprint()` is a complete training host (every section measured, probes included);
`bare_fingerprint()` has metadata only, for tests of files, signatures and artifacts. `edit_section`,
`with_variable`, `with_package` and `with_probe` return edited copies; `make_probes`, `probe_result`
and the `*_output` builders make probe results that differ the way real ones do.

`FakeNVML` stands in for the `pynvml` module on machines without a GPU, with the same call
signatures and error behaviour (`NVMLError` carrying `.value`), so the real GPU collector code runs
against it::

    from envprint.testing import FakeGpu, FakeNVML
    fp = envprint.capture(probes=False, nvml=FakeNVML([FakeGpu("NVIDIA H100 80GB HBM3")]))
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, TypeVar

from envprint.model import (
    BlasInfo,
    BlasLibrary,
    CpuInfo,
    DeterminismInfo,
    Fingerprint,
    LocaleTimeInfo,
    MemoryInfo,
    Meta,
    NumpySimd,
    Package,
    PlatformInfo,
    ProbeOutput,
    ProbeResult,
    PythonInfo,
    Scalar,
    Unavailable,
)

__all__ = [
    "FakeGpu",
    "FakeNVML",
    "NVMLError",
    "bare_fingerprint",
    "digest_of",
    "edit_section",
    "float_output",
    "int_output",
    "lines_output",
    "make_fingerprint",
    "make_meta",
    "make_probes",
    "probe_result",
    "with_package",
    "with_probe",
    "with_variable",
]

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


# ------------------------------------------------------------------------------ probe results


def digest_of(*parts: object) -> str:
    """Returns a sha256 hex digest of `parts` (of their repr): a stand-in digest, the same on every machine."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _f32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


def _ulps_above(x: float, n: int) -> float:
    """Returns the float32 `n` representable values above `x` (x > 0)."""
    bits = struct.unpack("<I", struct.pack("<f", x))[0]
    return float(struct.unpack("<f", struct.pack("<I", bits + n))[0])


def float_output(values: Sequence[float], dtype: str = "float32", blocks: int = 8) -> ProbeOutput:
    """Returns a float probe output holding `values`: every other value sampled, `blocks` block digests."""
    hexes = [float(v).hex() for v in values]
    size = len(values) // blocks
    return ProbeOutput(
        kind="float",
        dtype=dtype,
        shape=(len(values),),
        digest=digest_of(dtype, hexes),
        samples=tuple(hexes[::2]),
        sample_index=tuple(range(0, len(values), 2)),
        blocks=tuple(digest_of(hexes[i * size : (i + 1) * size])[:16] for i in range(blocks)),
        max_abs=max(abs(v) for v in values).hex(),
    )


def lines_output(lines: Sequence[str]) -> ProbeOutput:
    """Returns a text probe output sampled whole (one sample per line, no blocks)."""
    texts = tuple(lines)
    return ProbeOutput("text", "text", (len(texts),), digest_of(texts), texts, tuple(range(len(texts))), ())


def int_output(values: Sequence[int]) -> ProbeOutput:
    """Returns an int probe output sampled whole."""
    texts = tuple(str(v) for v in values)
    return ProbeOutput("int", "int64", (len(values),), digest_of(texts), texts, tuple(range(len(values))), ())


def probe_result(
    group: str, outputs: Mapping[str, ProbeOutput], flags: Mapping[str, Scalar] | None = None, **fields: Any
) -> ProbeResult:
    """Returns an ok, stable probe result over `outputs` and `flags`; `fields` set the other `ProbeResult` fields."""
    flags = dict(flags or {})
    digest = digest_of(sorted((k, o.digest) for k, o in outputs.items()), sorted(flags.items()))
    return ProbeResult(
        group=group, status="ok", digest=digest, outputs=dict(outputs), flags=flags, stable=True, **fields
    )


_GEMM = [_f32(0.75 + 0.37 * ((i * 7919) % 61) / 61) for i in range(64)]
_FPENV: dict[str, Scalar] = {
    "ftz": False, "daz": False, "rounding": "nearest", "new_thread_ftz": False, "new_thread_daz": False
}  # fmt: skip
_TIME_UTC = ("2024-03-10T10:00:00Z local 10:00 UTC", "2024-11-03T09:00:00Z local 09:00 UTC")
_TIME_LA = ("2024-03-10T10:00:00Z local 03:00 PDT", "2024-11-03T09:00:00Z local 01:00 PST")


def make_probes(
    *, blas_threads: int = 2, numpy: str = "2.3.5", zone: str = "Etc/UTC", ftz: bool = False
) -> dict[str, ProbeResult]:
    """Returns the probe results of a host with this BLAS thread count, numpy version, zone and FTZ state.

    Results differ from the defaults' the way real ones do: the float32 GEMM by a few ULPs on
    another thread count, the order of sort ties on another numpy minor, local times in
    America/Los_Angeles (any other zone), and the floating-point environment's flags with FTZ/DAZ.
    """
    gemm = _GEMM if blas_threads == 2 else [_ulps_above(v, i % 3) if i % 4 == 0 else v for i, v in enumerate(_GEMM)]
    ties = list(range(16)) if numpy.startswith("2.3") else [1, 0, *range(2, 14), 15, 14]
    fp_flags = {**_FPENV, "ftz": ftz, "daz": ftz, "new_thread_ftz": ftz, "new_thread_daz": ftz}
    off = "0x0" if ftz else "0x8000000000000"
    return {
        "blas_gemm_f32": probe_result("blas", {"c": float_output(gemm)}),
        "fpenv": probe_result(
            "fpenv", {"values": lines_output((f"calling thread numpy f64: nmin*0.5={off}",))}, fp_flags
        ),
        "hash_order": ProbeResult(
            group="hash",
            status="ok",
            digest=digest_of("random"),
            outputs={},
            flags={"hash_seed_fixed": False},
            stable=True,
            random_per_process=True,
        ),
        "sort_ties": probe_result("sort", {"argsort_f32": int_output(ties)}),
        "time_tz": probe_result("time", {"local": lines_output(_TIME_UTC if zone == "Etc/UTC" else _TIME_LA)}),
        "ufunc_f32": probe_result("ufunc", {"exp": float_output([_f32(1.5 + i / 64) for i in range(16)], blocks=2)}),
    }


# ------------------------------------------------------------------------------- fingerprints

_SITE = "/opt/venv/lib/python3.11/site-packages"
_NUMPY_WHEEL = ("cp311-cp311-manylinux_2_27_x86_64",)
#: the determinism variables recorded (all unset): the ones diff rules and explanations discuss most
_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "PYTHONHASHSEED", "TF_ENABLE_ONEDNN_OPTS")


def make_meta(**changes: Any) -> Meta:
    """Returns the metadata of a capture of host "train-7f9c" in 2026; `changes` replace its fields."""
    meta = Meta(
        schema_version=1,
        envprint_version="0.1.0",
        created="2026-01-12T09:30:00+00:00",
        label="train",
        capture_mode="subprocess",
        hostname="train-7f9c",
        pid=4242,
        tags={},
        timings={"packages": 0.0161, "probes": 0.2},
    )
    return dataclasses.replace(meta, **changes)


def make_fingerprint(**overrides: Any) -> Fingerprint:
    """Returns a complete fingerprint of a training host; `overrides` replace whole top-level fields.

    The host: Debian 12 in Docker on an AMD EPYC (Zen 3, x86-64-v3), CPython 3.11.7 in a virtualenv,
    numpy 2.3.5 on OpenBLAS 0.3.30 (Haswell kernels, 2 threads), UTC, no GPU, every probe of
    `make_probes()`. Built from code, it is the same on every machine. Edit one field of a section
    with `edit_section` (``edit_section(fp, "meta", label="serve")``).
    """
    fp = Fingerprint(
        meta=make_meta(),
        python=PythonInfo(
            version="3.11.7",
            implementation="cpython",
            build="main, May  9 2026 07:35:25",
            compiler="GCC 12.2.0",
            abi="cpython-311-x86_64-linux-gnu",
            hash_algorithm="siphash13",
            unicode_version="14.0.0",
            float_repr_style="short",
            byteorder="little",
            free_threading=False,
            executable="/opt/venv/bin/python",
            prefix="/opt/venv",
            in_virtualenv=True,
        ),
        packages={
            "numpy": Package("2.3.5", None, "pip", _NUMPY_WHEEL, location=_SITE),
            "pip": Package("24.0", None, "pip", ("py3-none-any",), location=_SITE),
            "scikit-learn": Package("1.7.2", None, "pip", _NUMPY_WHEEL, location=_SITE),
            "typer": Package("0.29.2", None, "pip", ("py3-none-any",), location=_SITE),
        },
        imported={"numpy": "2.3.5", "envprint": "0.1.0"},
        platform=PlatformInfo(
            system="Linux",
            machine="x86_64",
            kernel="6.1.0-18-amd64",
            libc="glibc",
            libc_version="2.36",
            os_id="debian",
            os_version="12",
            os_name="Debian GNU/Linux 12 (bookworm)",
            kernel_build="#1 SMP PREEMPT_DYNAMIC",
            container=("docker",),
            cgroup_version=2,
        ),
        cpu=CpuInfo(
            machine="x86_64",
            vendor="AuthenticAMD",
            model_name="AMD EPYC 7B13",
            family=25,
            model=1,
            stepping=1,
            microarchitecture="Zen 3",
            isa_level="x86-64-v3",
            flags=("avx", "avx2", "f16c", "fma", "sse4_2"),
            hypervisor=True,
            cache={"L2": "512K", "L3": "32768K"},
            numpy_simd=NumpySimd(("X86_V2",), ("X86_V3", "X86_V4"), ("X86_V3",), ("X86_V4",)),
            logical_cores=2,
            physical_cores=2,
            affinity=2,
            cgroup_quota=None,
        ),
        memory=MemoryInfo(total_bytes=25_276_510_208, available_bytes=24_000_004_242, cgroup_limit_bytes=None),
        gpu=Unavailable("the NVIDIA driver library (libnvidia-ml.so.1) was not found: no NVIDIA driver on this host"),
        blas=BlasInfo(
            {
                "numpy/openblas": BlasLibrary(
                    user_api="blas",
                    internal_api="openblas",
                    owner="numpy",
                    version="0.3.30",
                    architecture="Haswell",
                    threading_layer="pthreads",
                    num_threads=2,
                    prefix="libscipy_openblas",
                    filepath=f"{_SITE}/numpy.libs/libscipy_openblas64_.so",
                )
            }
        ),
        determinism=DeterminismInfo(
            variables=dict.fromkeys(_VARIABLES),
            hash_randomization=True,
            seeds={},
            frameworks={},
            rng_state={"random": digest_of("random", "1"), "numpy": digest_of("numpy", "1")},
        ),
        env={},
        locale_time=LocaleTimeInfo(
            tz_env=None,
            local_zone="Etc/UTC",
            tzname=("UTC", "UTC"),
            std_offset_seconds=0,
            tzdata_system="2025b",
            tzdata_package=None,
            locale={"LC_CTYPE": "C.UTF-8", "LC_NUMERIC": "C"},
            locale_env={"LANG": "C.UTF-8"},
            preferred_encoding="UTF-8",
            filesystem_encoding="utf-8",
            utf8_mode=False,
        ),
        probes=make_probes(),
    )
    return fp.replace(**overrides) if overrides else fp


def bare_fingerprint(*, label: str = "train", **overrides: Any) -> Fingerprint:
    """Returns a fingerprint with metadata only: every measured section Unavailable, no packages or probes.

    For tests of files, signatures and artifacts, where the environment does not matter: it is
    small and fast to sign. Its metadata is an in-process capture on host "test-host"; `label` sets
    ``meta.label``; `overrides` replace top-level fields (``artifact=``, ``custom=``).
    """
    gone = Unavailable("not measured in this test")
    meta = make_meta(
        created="2025-01-01T00:00:00Z",
        label=label,
        capture_mode="in-process",
        hostname="test-host",
        pid=1,
        timings={"packages": 0.001},
    )
    fp = Fingerprint(
        meta=meta,
        python=gone,
        packages={},
        imported={},
        platform=gone,
        cpu=gone,
        memory=gone,
        gpu=gone,
        blas=gone,
        determinism=gone,
        env={},
        locale_time=gone,
        probes={},
    )
    return fp.replace(**overrides) if overrides else fp


# ------------------------------------------------------------------------------------- edits


def edit_section(fp: Fingerprint, section: str, **changes: Any) -> Fingerprint:
    """Returns `fp` with fields of one section replaced (`fp` itself when that section is Unavailable)."""
    value = getattr(fp, section)
    if isinstance(value, Unavailable):
        return fp
    return fp.replace(**{section: dataclasses.replace(value, **changes)})


def with_variable(fp: Fingerprint, name: str, value: str | None) -> Fingerprint:
    """Returns `fp` with determinism variable `name` set to `value` (None: unset), unless determinism is Unavailable."""
    det = fp.determinism
    if isinstance(det, Unavailable):
        return fp
    return edit_section(fp, "determinism", variables={**det.variables, name: value})


def with_package(fp: Fingerprint, name: str, package: Package | None) -> Fingerprint:
    """Returns `fp` with distribution `name` installed as `package` (None: removed), unless packages are Unavailable."""
    return _with_entry(fp, "packages", name, package)


def with_probe(fp: Fingerprint, name: str, result: ProbeResult | None) -> Fingerprint:
    """Returns `fp` with probe `name`'s result set to `result` (None: removed), unless probes are Unavailable."""
    return _with_entry(fp, "probes", name, result)


def _with_entry(fp: Fingerprint, section: str, name: str, value: Any) -> Fingerprint:
    """Returns `fp` with entry `name` of map `section` set to `value` (None: removed); `fp` if it is Unavailable."""
    entries = getattr(fp, section)
    if isinstance(entries, Unavailable):
        return fp
    updated = dict(entries)
    if value is None:
        updated.pop(name, None)
    else:
        updated[name] = value
    return fp.replace(**{section: updated})
