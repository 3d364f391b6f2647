"""The fingerprint data model: frozen dataclasses, one per section of DESIGN.md's "Fingerprint content".

Two rules shape every field:

* **Identity vs descriptive.** A field that can change a model's numbers is identity. Hostnames,
  PIDs, timestamps, paths and GPU UUIDs are descriptive: declared with `descriptive()`, kept and
  shown, never a mismatch by default. `is_descriptive(cls, name)` and `descriptive_paths()` expose
  the marking to diff and fleet grouping.
* **Unknown is not absent.** A collector that cannot measure a value records `Unavailable(reason)`
  in its place; it never raises and never guesses. A whole section can be `Unavailable` too.

Mappings are keyed by a stable name (package name, device index, library key) so two fingerprints
line up field by field. Instances are immutable; treat the mappings inside them as read-only.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgpack

from envprint._base import Record, Scalar, Unavailable, descriptive, is_descriptive, record
from envprint._serde import SchemaMismatch, from_data, to_data
from envprint.envelope import Envelope, payload_type_for, write_envelope
from envprint.errors import FingerprintFormatError

if TYPE_CHECKING:
    from envprint.signing import PrivateKeyLike

__all__ = [
    "SCHEMA_VERSION",
    "ArtifactFile",
    "ArtifactManifest",
    "ArtifactShard",
    "BlasInfo",
    "BlasLibrary",
    "CpuInfo",
    "DeterminismInfo",
    "Fingerprint",
    "GpuDevice",
    "GpuInfo",
    "LocaleTimeInfo",
    "MemoryInfo",
    "Meta",
    "NumpySimd",
    "Package",
    "PackageOrigin",
    "PlatformInfo",
    "ProbeOutput",
    "ProbeResult",
    "PythonInfo",
    "Record",
    "Scalar",
    "Unavailable",
    "descriptive",
    "is_descriptive",
]

#: version of the payload schema; the envelope's payload type carries it as ``...fingerprint.v<N>+msgpack``
SCHEMA_VERSION = 1


# --------------------------------------------------------------------------------------------- meta


@record
class Meta(Record):
    """Who wrote the fingerprint, when and how. Everything here but the schema version is descriptive."""

    schema_version: int
    envprint_version: str = descriptive()
    created: str = descriptive()  # RFC 3339, UTC
    label: str | None = descriptive()
    capture_mode: str = descriptive()  # "in-process" or "subprocess"
    hostname: str = descriptive()
    pid: int = descriptive()
    #: free-form descriptive labels, e.g. {"role": "executor", "executor_id": "1"} for fleet capture
    tags: Mapping[str, str] = descriptive()
    #: seconds each collector and the probe suite took
    timings: Mapping[str, float] = descriptive()


# ------------------------------------------------------------------------------------------- python


@record
class PythonInfo(Record):
    """The interpreter: what runs the model's Python code."""

    version: str  # "3.11.7"
    implementation: str  # "cpython"
    build: str  # build number and date from sys.version
    compiler: str
    abi: str | Unavailable  # SOABI, e.g. "cpython-311-x86_64-linux-gnu"
    hash_algorithm: str  # sys.hash_info.algorithm, e.g. "siphash13"
    unicode_version: str
    float_repr_style: str
    byteorder: str
    free_threading: bool
    executable: str = descriptive()
    prefix: str = descriptive()
    in_virtualenv: bool = descriptive()
    #: the site-packages directory; packages installed there record location "" (keeps the file small)
    purelib: str = descriptive(default="")


# ----------------------------------------------------------------------------------------- packages


@record
class PackageOrigin(Record):
    """Where a distribution was installed from, when not from an index (its direct_url.json, PEP 610/660)."""

    #: "editable" (pip install -e), "vcs" (git+URL), "directory" (a local source tree), or "archive"
    #: (a wheel or sdist from a URL or a local file)
    kind: str
    vcs: str | None = None  # "git", "hg", "svn", "bzr"
    commit: str | None = None  # the VCS commit installed (vcs_info.commit_id)
    #: archive_info.hashes as "sha256=<hex>", when the installer recorded it
    archive_hash: str | None = None
    subdirectory: str | None = None  # the project's folder inside the repository or archive
    #: the URL installed from, credentials stripped and home directories redacted; host-specific for local paths
    url: str = descriptive(default="")
    requested_revision: str | None = descriptive(default=None)  # the branch or tag asked for


@record
class Package(Record):
    """One installed distribution, keyed in `Fingerprint.packages` by its normalised name."""

    version: str | Unavailable
    local: str | None  # PEP 440 local version label: "cu121" for "2.3.0+cu121"
    installer: str | Unavailable | None  # from INSTALLER ("pip", "uv", "conda"); None when not recorded
    wheel_tags: tuple[str, ...]  # from WHEEL, e.g. ("cp311-cp311-manylinux_2_17_x86_64",)
    #: why the metadata could not be read; None for a healthy distribution
    unreadable: str | None = None
    #: the sys.path entry it was found in; "" for the interpreter's site-packages (python.purelib)
    location: str = descriptive(default="")
    #: imported by the capturing process, or required (transitively) by a distribution it imported;
    #: None when not recorded (captures outside the model's process): relevance is then unknown
    used: bool | None = descriptive(default=None)
    #: installed from a source tree, VCS or archive URL (direct_url.json); None: from an index, or not recorded
    origin: PackageOrigin | None = None


# ----------------------------------------------------------------------------------------- platform


@record
class PlatformInfo(Record):
    """Operating system, kernel and C library."""

    system: str  # "Linux"
    machine: str  # "x86_64", "aarch64"
    kernel: str  # uname release
    libc: str | Unavailable  # "glibc", "musl"
    libc_version: str | Unavailable
    os_id: str | Unavailable  # os-release ID, e.g. "debian"
    os_version: str | Unavailable  # os-release VERSION_ID
    os_name: str | Unavailable = descriptive()  # PRETTY_NAME
    kernel_build: str = descriptive(default="")
    #: container runtime hints ("docker", "kubernetes", "podman", "lxc"); empty outside a container
    container: tuple[str, ...] = descriptive(default=())
    cgroup_version: int | Unavailable = descriptive(default=Unavailable("not measured"))


# ---------------------------------------------------------------------------------------------- cpu


@record
class NumpySimd(Record):
    """numpy's runtime SIMD dispatch: what it was built for and what it found on this CPU."""

    baseline: tuple[str, ...]
    dispatch: tuple[str, ...]  # dispatch targets built into numpy
    found: tuple[str, ...]  # dispatch targets usable on this CPU (after NPY_*_CPU_FEATURES)
    not_found: tuple[str, ...]


@record
class CpuInfo(Record):
    """The processor as the numeric libraries see it."""

    machine: str
    vendor: str | Unavailable  # "GenuineIntel", "AuthenticAMD", "ARM"
    model_name: str | Unavailable
    family: int | Unavailable
    model: int | Unavailable
    stepping: int | Unavailable
    microarchitecture: str | Unavailable  # "Zen 5", "Sapphire Rapids", "Neoverse V2"
    isa_level: str | Unavailable  # "x86-64-v4", "armv8.2-a"
    flags: tuple[str, ...]  # numerics-relevant ISA flags only (SIMD, FMA, F16C, AMX, SVE...)
    hypervisor: bool | Unavailable
    cache: Mapping[str, str]  # {"L1d": "48K", "L2": "1024K", "L3": "32768K"} from sysfs
    numpy_simd: NumpySimd | Unavailable
    logical_cores: int | Unavailable
    physical_cores: int | Unavailable
    affinity: int | Unavailable  # CPUs this process may run on
    cgroup_quota: float | Unavailable | None  # CPUs allowed by the cgroup quota; None = unlimited


# ------------------------------------------------------------------------------------------- memory


@record
class MemoryInfo(Record):
    """Memory sizes: descriptive (they do not change numbers) but useful when reading a report."""

    total_bytes: int | Unavailable = descriptive()
    available_bytes: int | Unavailable = descriptive()
    cgroup_limit_bytes: int | Unavailable | None = descriptive()


# ---------------------------------------------------------------------------------------------- gpu


@record
class GpuDevice(Record):
    """One GPU, or one MIG instance of it, as NVML reports it."""

    name: str | Unavailable
    compute_capability: str | Unavailable  # "9.0"
    memory_total_bytes: int | Unavailable
    mig_mode: str | Unavailable  # "enabled", "disabled", "not supported"
    ecc_mode: str | Unavailable  # "enabled", "disabled", "not supported"
    #: MIG instances of this device, keyed by their index within it
    mig_devices: Mapping[str, GpuDevice]
    uuid: str | Unavailable = descriptive()
    pci_bus_id: str | Unavailable = descriptive()


@record
class GpuInfo(Record):
    """NVIDIA GPUs and driver. The whole section is `Unavailable` without NVML, driver or devices."""

    driver_version: str | Unavailable
    cuda_driver_version: str | Unavailable  # the CUDA version the driver supports, "12.4"
    nvml_version: str | Unavailable
    devices: Mapping[str, GpuDevice]  # keyed by NVML index "0", "1", ...


# --------------------------------------------------------------------------------------------- blas


@record
class BlasLibrary(Record):
    """One native BLAS or OpenMP library loaded in the process (threadpoolctl's view)."""

    user_api: str  # "blas" or "openmp"
    internal_api: str  # "openblas", "mkl", "blis", "flexiblas", "openmp"
    owner: str  # the distribution the library ships with, e.g. "numpy", "scipy", "torch"
    version: str | Unavailable | None
    architecture: str | Unavailable | None  # the kernel OpenBLAS selected, e.g. "Haswell", "SkylakeX"
    threading_layer: str | Unavailable | None  # "pthreads", "openmp", "intel"
    num_threads: int | Unavailable
    prefix: str = descriptive(default="")
    filepath: str = descriptive(default="")


@record
class BlasInfo(Record):
    """Every BLAS/OpenMP library loaded, keyed "owner/internal_api" (e.g. "numpy/openblas")."""

    libraries: Mapping[str, BlasLibrary]


# -------------------------------------------------------------------------------------- determinism


@record
class DeterminismInfo(Record):
    """Determinism flags, thread settings, seeds and the state of already-imported frameworks."""

    #: the allow-listed numerics variables; None records "unset" (which is itself a setting)
    variables: Mapping[str, str | None]
    hash_randomization: bool  # sys.flags.hash_randomization
    #: seeds set through `envprint.seed_everything()`, by library
    seeds: Mapping[str, int]
    #: state of frameworks already imported (or imported on request), e.g. {"tensorflow": {...}}
    frameworks: Mapping[str, Mapping[str, Scalar]]
    #: sha256 of the global RNG states ("random", "numpy"); differs run to run unless seeded
    rng_state: Mapping[str, str] = descriptive()


# ------------------------------------------------------------------------------------- locale, time


@record
class LocaleTimeInfo(Record):
    """Time zone, tzdata and locale: they move hour-of-day features, parsing and collation."""

    tz_env: str | None  # the TZ variable as set
    local_zone: str | Unavailable  # the resolved IANA zone, e.g. "Etc/UTC", "America/New_York"
    tzname: tuple[str, ...]  # time.tzname
    std_offset_seconds: int  # -time.timezone: standard-time offset east of UTC
    tzdata_system: str | Unavailable  # version of the system tz database, "2025b"
    tzdata_package: str | None  # version of the `tzdata` distribution (zoneinfo fallback)
    locale: Mapping[str, str]  # current locale per category, queried without setlocale
    locale_env: Mapping[str, str]  # LANG, LANGUAGE, LC_* as set in the environment
    preferred_encoding: str
    filesystem_encoding: str
    utf8_mode: bool
    zoneinfo_tzpath: tuple[str, ...] = descriptive(default=())
    utc_offset_seconds: int = descriptive(default=0)  # offset at capture time (moves with DST)


# ------------------------------------------------------------------------------------------- probes


@record
class ProbeOutput(Record):
    """One named output of a probe: enough to measure how far another host's output is from it.

    Float outputs carry `samples` (float.hex of values at fixed, evenly spaced indices) so diff can
    compute ULP distances, and `blocks` (short digests of equal slices) to estimate the fraction of
    elements that differ. Index and text outputs carry their values or digests the same way.
    A table output (several labelled rows, e.g. one per function) has one block per row, named by
    `block_labels` and starting at the flat indices `block_starts`, so a difference is attributed
    to its row. Outputs small enough to be sampled whole have no blocks. An `elementwise` output
    (each element a function of its own inputs, like exp) has no cancellation, so ULP distances
    count on every element, not only on those far from zero.
    """

    kind: str  # "float", "int", "text", "complex"
    dtype: str  # "float32", "float64", "int64", "text", ...
    shape: tuple[int, ...]
    digest: str  # sha256 of the exact canonical bytes
    samples: tuple[str, ...]  # float.hex (float, complex as float pairs), decimal (int) or the text line
    sample_index: tuple[int, ...]  # flat indices of the samples (complex: into the float pairs)
    blocks: tuple[str, ...]
    max_abs: str | None = None  # float.hex of max |x| over finite elements, for normwise differences
    block_labels: tuple[str, ...] = ()  # table outputs: the row each block digests
    block_starts: tuple[int, ...] = ()  # table outputs: flat index where each row starts
    elementwise: bool = False


@record
class ProbeResult(Record):
    """The bits of one probe: digests, samples and decoded flags."""

    group: str
    status: str  # "ok", "skipped", "failed"
    digest: str  # sha256 over every output digest and flag
    outputs: Mapping[str, ProbeOutput]
    flags: Mapping[str, Scalar]  # decoded categorical results, e.g. {"ftz": True}
    stable: bool  # the two in-process runs gave the same digest
    #: the result depends on a per-process random hash seed, so it can never be compared
    random_per_process: bool = False
    version: int = 1  # definition version of the probe; results of different versions do not compare
    reason: str | None = None  # why skipped or failed
    seconds: float = descriptive(default=0.0)


# ----------------------------------------------------------------------------------------- artifact


@record
class ArtifactFile(Record):
    """One regular file of a model directory (or the single model file)."""

    path: str  # POSIX, relative to the artifact root
    size: int
    sha256: str


@record
class ArtifactShard(Record):
    """One fixed-size piece of a large model file: its byte range and the sha256 of those bytes."""

    offset: int
    length: int
    sha256: str


@record
class ArtifactManifest(Record):
    """The model files the fingerprint is bound to."""

    name: str  # basename of the file or directory
    kind: str  # "file" or "directory"
    digest: str  # sha256: of the file, or of the directory's sorted manifest
    files: tuple[ArtifactFile, ...]
    hash_algorithm: str = "sha256"
    excluded: tuple[str, ...] = ()
    #: bytes per shard of the files listed in `shards`; 0 when no file is sharded
    shard_size: int = 0
    #: file path -> its fixed-size shards, in order, covering it exactly: verified on all cores at once
    shards: Mapping[str, tuple[ArtifactShard, ...]] = field(default_factory=dict)
    #: exact relative paths of files that tools add beside the model (registry metadata, signatures):
    #: never read; a file of the same name anywhere else is not ignored
    ignored: tuple[str, ...] = ()
    #: file path -> the target of the Hugging Face Hub cache symlink it was read through (informational)
    links: Mapping[str, str] = field(default_factory=dict)
    #: the reference the files were resolved from, pinned (e.g. "hf://org/name@<commit>"); None for a path
    source: str | None = None


# -------------------------------------------------------------------------------------- fingerprint


@record
class Fingerprint(Record):
    """Everything about an environment that can change a model's numbers."""

    meta: Meta
    python: PythonInfo | Unavailable
    packages: Mapping[str, Package] | Unavailable
    #: top-level module -> __version__: context (what this process had loaded), reported but never an
    #: identity difference — the versions that matter are in `packages`, and envprint's own imports
    #: (numpy, threadpoolctl, pynvml) would make two captures of one process differ
    imported: Mapping[str, str | Unavailable | None] | Unavailable
    platform: PlatformInfo | Unavailable
    cpu: CpuInfo | Unavailable
    memory: MemoryInfo | Unavailable
    gpu: GpuInfo | Unavailable
    blas: BlasInfo | Unavailable
    determinism: DeterminismInfo | Unavailable
    env: Mapping[str, str] | Unavailable  # further allow-listed variables (secrets never written)
    locale_time: LocaleTimeInfo | Unavailable
    probes: Mapping[str, ProbeResult] | Unavailable
    artifact: ArtifactManifest | None = None
    custom: Mapping[str, Scalar] = field(default_factory=dict)
    #: the policy training requires at serving (signed with the rest); plain data, see envprint.policy
    policy: Mapping[str, Any] | None = None
    #: training-time feature freshness profile (age of feature values at label time), plain data,
    #: see envprint.freshness; compared by `envprint freshness --baseline`, not by diff
    freshness: Mapping[str, Any] | None = None
    #: the inputs of the golden-predictions probes (probe name -> .npz bytes), so serving re-runs the
    #: model on exactly these rows; see envprint.predictions
    golden_inputs: Mapping[str, bytes] | None = None

    def to_data(self) -> dict[str, Any]:
        """Returns the fingerprint as plain data (what the file and `show --format json` hold)."""
        data: dict[str, Any] = to_data(self)
        return data

    @classmethod
    def from_data(cls, data: Any) -> Fingerprint:
        """Returns the fingerprint held in plain data; raises FingerprintFormatError if it does not fit."""
        try:
            fp: Fingerprint = from_data(cls, data)
        except SchemaMismatch as e:
            raise FingerprintFormatError(f"not a valid fingerprint: {e}") from None
        except RecursionError:  # e.g. MIG devices nested hundreds deep: no real GPU looks like that
            raise FingerprintFormatError("not a valid fingerprint: nested too deeply") from None
        return fp

    def payload(self) -> bytes:
        """Returns the msgpack payload bytes of this fingerprint (stable key order): what is signed."""
        return msgpack.packb(self.to_data(), use_bin_type=True)

    def envelope(self, *, key: PrivateKeyLike | None = None) -> Envelope:
        """Returns the envelope of this fingerprint, signed with `key` when given."""
        env = Envelope(payload_type_for(self.meta.schema_version), self.payload())
        if key is None:
            return env
        from envprint.signing import add_signature  # defers cryptography (~30 ms) to writers that sign

        return add_signature(env, key)

    def save(self, path: str | os.PathLike[str], *, key: PrivateKeyLike | None = None) -> Path:
        """Returns the path written: this fingerprint, atomically, signed when `key` is given."""
        return write_envelope(self.envelope(key=key), path)

    def replace(self, **changes: Any) -> Fingerprint:
        """Returns a copy with the given top-level fields replaced."""
        return dataclasses.replace(self, **changes)
