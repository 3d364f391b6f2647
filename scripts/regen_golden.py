"""Regenerates the diff golden files: fixture fingerprints, rendered reports, docs/explanations.md.

    .venv/bin/python scripts/regen_golden.py           # rewrite what changed, list it
    .venv/bin/python scripts/regen_golden.py --check   # exit 1 and list what would change (tests run this)

The fixtures are built here from code, not captured, so they are the same on every machine:

* ``train.fp`` — a training environment (numpy 2.3.5, OpenBLAS on 2 threads, UTC), signed with a
  key derived from a fixed seed (Ed25519 signatures are deterministic); ``golden-test.pub`` verifies it;
* ``serve.fp`` — a serving environment that differs the way real ones do (numpy 2.4.6,
  OPENBLAS_NUM_THREADS=1, TZ=America/Los_Angeles, a -ffast-math library loaded), unsigned;
* ``same.fp`` — the training environment captured again: only descriptive fields differ.

Each pair's report is rendered as text (100 columns, no color), JSON and Markdown.
"""

from __future__ import annotations

import argparse
import hashlib
import struct
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from envprint.diffing import diff  # noqa: E402
from envprint.explain import catalogue_markdown  # noqa: E402
from envprint.model import (  # noqa: E402
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
    Unavailable,
)
from envprint.render import Format, render  # noqa: E402

GOLDEN = ROOT / "tests" / "golden" / "diff"
DOCS = ROOT / "docs" / "explanations.md"
#: the rendered pairs: (name, a fixture, b fixture)
PAIRS = (("train-serve", "train", "serve"), ("train-same", "train", "same"))
SUFFIX = {Format.text: "txt", Format.json: "json", Format.markdown: "md"}
WIDTH = 100


# ------------------------------------------------------------------------------------------ keys


def golden_key() -> Any:
    """Returns the Ed25519 private key that signs train.fp, derived from a fixed seed."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"envprint golden diff fixtures").digest())


def golden_public_pem() -> bytes:
    """Returns the PEM public key that verifies train.fp."""
    from envprint.signing import public_key_pem

    return public_key_pem(golden_key())


# --------------------------------------------------------------------------------- probe outputs


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _f32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


def _ulps(x: float, n: int) -> float:
    """Returns the float32 `n` representable values above `x` (x > 0)."""
    bits = struct.unpack("<I", struct.pack("<f", x))[0]
    return float(struct.unpack("<f", struct.pack("<I", bits + n))[0])


def float_output(values: Sequence[float], dtype: str = "float32", blocks: int = 8) -> ProbeOutput:
    """Returns a float output holding `values`: every other value sampled, `blocks` block digests."""
    hexes = [float(v).hex() for v in values]
    size = len(values) // blocks
    return ProbeOutput(
        kind="float",
        dtype=dtype,
        shape=(len(values),),
        digest=_digest(dtype, hexes),
        samples=tuple(hexes[::2]),
        sample_index=tuple(range(0, len(values), 2)),
        blocks=tuple(_digest(hexes[i * size : (i + 1) * size])[:16] for i in range(blocks)),
        max_abs=max(abs(v) for v in values).hex(),
    )


def lines_output(lines: Sequence[str]) -> ProbeOutput:
    """Returns a text output sampled whole (one sample per line, no blocks)."""
    return ProbeOutput("text", "text", (len(lines),), _digest(tuple(lines)), tuple(lines), tuple(range(len(lines))), ())


def int_output(values: Sequence[int]) -> ProbeOutput:
    """Returns an int output sampled whole."""
    texts = tuple(str(v) for v in values)
    return ProbeOutput("int", "int64", (len(values),), _digest(texts), texts, tuple(range(len(values))), ())


def probe(group: str, outputs: dict[str, ProbeOutput], flags: dict[str, Any] | None = None, **kw: Any) -> ProbeResult:
    """Returns an ok, stable probe result over `outputs` and `flags`."""
    flags = flags or {}
    digest = _digest(sorted((k, o.digest) for k, o in outputs.items()), sorted(flags.items()))
    return ProbeResult(group=group, status="ok", digest=digest, outputs=outputs, flags=flags, stable=True, **kw)


_GEMM = [_f32(0.75 + 0.37 * ((i * 7919) % 61) / 61) for i in range(64)]
_FPENV = {"ftz": False, "daz": False, "rounding": "nearest", "new_thread_ftz": False, "new_thread_daz": False}
_TIME_UTC = ("2024-03-10T10:00:00Z local 10:00 UTC", "2024-11-03T09:00:00Z local 09:00 UTC")
_TIME_LA = ("2024-03-10T10:00:00Z local 03:00 PDT", "2024-11-03T09:00:00Z local 01:00 PST")


def probes(*, threads: int, numpy: str, zone: str, ftz: bool) -> dict[str, ProbeResult]:
    """Returns the probe results of a host with this BLAS thread count, numpy version, zone and FTZ state."""
    gemm = _GEMM if threads == 2 else [_ulps(v, (i % 3)) if i % 4 == 0 else v for i, v in enumerate(_GEMM)]
    ties = list(range(16)) if numpy.startswith("2.3") else [1, 0, *range(2, 14), 15, 14]
    fp_flags = {**_FPENV, "ftz": ftz, "daz": ftz, "new_thread_ftz": ftz, "new_thread_daz": ftz}
    off = "0x0" if ftz else "0x8000000000000"
    return {
        "blas_gemm_f32": probe("blas", {"c": float_output(gemm)}),
        "fpenv": probe("fpenv", {"values": lines_output((f"calling thread numpy f64: nmin*0.5={off}",))}, fp_flags),
        "hash_order": ProbeResult(
            group="hash",
            status="ok",
            digest=_digest("random"),
            outputs={},
            flags={"hash_seed_fixed": False},
            stable=True,
            random_per_process=True,
        ),
        "sort_ties": probe("sort", {"argsort_f32": int_output(ties)}),
        "time_tz": probe("time", {"local": lines_output(_TIME_UTC if zone == "Etc/UTC" else _TIME_LA)}),
        "ufunc_f32": probe("ufunc", {"exp": float_output([_f32(1.5 + i / 64) for i in range(16)], blocks=2)}),
    }


# ----------------------------------------------------------------------------------- fingerprints

_NUMPY_WHEEL = ("cp311-cp311-manylinux_2_27_x86_64",)


def _packages(numpy: str, pip: str) -> dict[str, Package]:
    site = "/opt/venv/lib/python3.11/site-packages"
    return {
        "numpy": Package(numpy, None, "pip", _NUMPY_WHEEL, location=site),
        "pip": Package(pip, None, "pip", ("py3-none-any",), location=site),
        "scikit-learn": Package("1.7.2", None, "pip", _NUMPY_WHEEL, location=site),
        "typer": Package("0.29.2", None, "pip", ("py3-none-any",), location=site),
    }


def _variables(**set_: str) -> dict[str, str | None]:
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "PYTHONHASHSEED", "TF_ENABLE_ONEDNN_OPTS")
    return {name: set_.get(name) for name in names}


def build(
    *,
    label: str,
    hostname: str,
    pid: int,
    created: str,
    numpy: str = "2.3.5",
    pip: str = "24.0",
    blas_threads: int = 2,
    zone: str = "Etc/UTC",
    ftz: bool = False,
    rng: str = "1",
    imported: dict[str, str | None] | None = None,
) -> Fingerprint:
    """Returns a fixture fingerprint; the keyword arguments are what the fixtures vary."""
    utc = zone == "Etc/UTC"
    return Fingerprint(
        meta=Meta(1, "0.1.0", created, label, "subprocess", hostname, pid, {}, {"packages": 0.0161, "probes": 0.2}),
        python=PythonInfo(
            "3.11.7",
            "cpython",
            "main, May  9 2026 07:35:25",
            "GCC 12.2.0",
            "cpython-311-x86_64-linux-gnu",
            "siphash13",
            "14.0.0",
            "short",
            "little",
            False,
            "/opt/venv/bin/python",
            "/opt/venv",
            True,
        ),
        packages=_packages(numpy, pip),
        imported={"numpy": numpy, "envprint": "0.1.0", **(imported or {})},
        platform=PlatformInfo(
            "Linux",
            "x86_64",
            "6.1.0-18-amd64",
            "glibc",
            "2.36",
            "debian",
            "12",
            "Debian GNU/Linux 12 (bookworm)",
            "#1 SMP PREEMPT_DYNAMIC",
            ("docker",),
            2,
        ),
        cpu=CpuInfo(
            "x86_64",
            "AuthenticAMD",
            "AMD EPYC 7B13",
            25,
            1,
            1,
            "Zen 3",
            "x86-64-v3",
            ("avx", "avx2", "f16c", "fma", "sse4_2"),
            True,
            {"L2": "512K", "L3": "32768K"},
            NumpySimd(("X86_V2",), ("X86_V3", "X86_V4"), ("X86_V3",), ("X86_V4",)),
            2,
            2,
            2,
            None,
        ),
        memory=MemoryInfo(25_276_510_208, 24_000_000_000 + pid, None),
        gpu=Unavailable("the NVIDIA driver library (libnvidia-ml.so.1) was not found: no NVIDIA driver on this host"),
        blas=BlasInfo(
            {
                "numpy/openblas": BlasLibrary(
                    "blas",
                    "openblas",
                    "numpy",
                    "0.3.30",
                    "Haswell",
                    "pthreads",
                    blas_threads,
                    "libscipy_openblas",
                    "/opt/venv/lib/python3.11/site-packages/numpy.libs/libscipy_openblas64_.so",
                )
            }
        ),
        determinism=DeterminismInfo(
            _variables(**({} if blas_threads == 2 else {"OPENBLAS_NUM_THREADS": str(blas_threads)})),
            True,
            {},
            {},
            {"random": _digest("random", rng), "numpy": _digest("numpy", rng)},
        ),
        env={},
        locale_time=LocaleTimeInfo(
            None if utc else zone,
            zone,
            ("UTC", "UTC") if utc else ("PST", "PDT"),
            0 if utc else -28800,
            "2025b",
            None,
            {"LC_CTYPE": "C.UTF-8", "LC_NUMERIC": "C"},
            {"LANG": "C.UTF-8"},
            "UTF-8",
            "utf-8",
            False,
        ),
        probes=probes(threads=blas_threads, numpy=numpy, zone=zone, ftz=ftz),
    )


FIXTURES: dict[str, Callable[[], Fingerprint]] = {
    "train": lambda: build(label="train", hostname="train-7f9c", pid=4242, created="2026-01-12T09:30:00+00:00"),
    "serve": lambda: build(
        label="serve",
        hostname="serve-5d2a",
        pid=7,
        created="2026-02-03T17:05:12+00:00",
        numpy="2.4.6",
        pip="25.1",
        blas_threads=1,
        zone="America/Los_Angeles",
        ftz=True,
        rng="2",
        imported={"fastfeatures": None},
    ),
    "same": lambda: build(label="train", hostname="train-a01b", pid=977, created="2026-01-12T11:02:45+00:00", rng="3"),
}


# ------------------------------------------------------------------------------------------ files


def expected_files() -> dict[Path, bytes]:
    """Returns every golden file this script owns, by path, with its expected bytes."""
    files: dict[Path, bytes] = {GOLDEN / "golden-test.pub": golden_public_pem()}
    fingerprints = {name: make() for name, make in FIXTURES.items()}
    for name, fp in fingerprints.items():
        key = golden_key() if name == "train" else None
        files[GOLDEN / f"{name}.fp"] = fp.envelope(key=key).encode()
    trust = {"train": "verified", "serve": "unsigned", "same": "unsigned"}
    for pair, a, b in PAIRS:
        report = diff(
            fingerprints[a],
            fingerprints[b],
            a_label=f"{a}.fp",
            b_label=f"{b}.fp",
            a_trust=trust[a],
            b_trust=trust[b],
        )
        for fmt, suffix in SUFFIX.items():
            files[GOLDEN / f"{pair}.{suffix}"] = render(report, fmt, width=WIDTH, color=False).encode()
    files[DOCS] = catalogue_markdown().encode()
    return files


def main(argv: Sequence[str] | None = None) -> int:
    """Returns the exit status: rewrites drifted files (or, with --check, only lists them and returns 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="list drifted files and exit 1; write nothing")
    args = parser.parse_args(argv)
    files = expected_files()
    stale = [p for p, data in files.items() if not p.exists() or p.read_bytes() != data]
    for p in stale:
        print(f"{'drifted' if args.check else 'wrote'}: {p.relative_to(ROOT)}")
        if not args.check:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(files[p])
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
