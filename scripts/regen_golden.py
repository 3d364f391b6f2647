"""Regenerates the diff golden files: fixture fingerprints, rendered reports, docs/explanations.md.

    .venv/bin/python scripts/regen_golden.py           # rewrite what changed, list it
    .venv/bin/python scripts/regen_golden.py --check   # exit 1 and list what would change (tests run this)

The fixtures are built from code (`envprint.testing`), not captured, so they are the same on every machine:

* ``train.fp`` — a training environment (numpy 2.3.5, OpenBLAS on 2 threads, UTC), signed with a
  key derived from a fixed seed (Ed25519 signatures are deterministic); ``golden-test.pub`` verifies it;
* ``serve.fp`` — a serving environment that differs the way real ones do (numpy 2.4.6,
  OPENBLAS_NUM_THREADS=1, TZ=America/Los_Angeles, a -ffast-math library loaded), unsigned;
* ``same.fp`` — the training environment captured again: only descriptive fields differ.

Each pair's report is rendered as text (100 columns, no color), JSON and Markdown.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from envprint.diffing import diff  # noqa: E402
from envprint.envelope import Trust  # noqa: E402
from envprint.explain import catalogue_markdown  # noqa: E402
from envprint.model import Fingerprint, Unavailable  # noqa: E402
from envprint.render import Format, render  # noqa: E402
from envprint.testing import (  # noqa: E402
    digest_of,
    edit_section,
    make_fingerprint,
    make_meta,
    make_probes,
    with_variable,
)

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


# ----------------------------------------------------------------------------------- fingerprints


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
    """Returns a fixture fingerprint: `make_fingerprint()`'s host, varied the way the arguments say."""
    base = make_fingerprint()
    assert not isinstance(base.packages, Unavailable) and not isinstance(base.imported, Unavailable)
    assert not isinstance(base.blas, Unavailable)
    openblas = dataclasses.replace(base.blas.libraries["numpy/openblas"], num_threads=blas_threads)
    fp = base.replace(
        meta=make_meta(label=label, hostname=hostname, pid=pid, created=created),
        packages={
            **base.packages,
            "numpy": dataclasses.replace(base.packages["numpy"], version=numpy),
            "pip": dataclasses.replace(base.packages["pip"], version=pip),
        },
        imported={**base.imported, "numpy": numpy, **(imported or {})},
        probes=make_probes(blas_threads=blas_threads, numpy=numpy, zone=zone, ftz=ftz),
    )
    fp = edit_section(fp, "blas", libraries={"numpy/openblas": openblas})
    fp = edit_section(fp, "memory", available_bytes=24_000_000_000 + pid)
    rng_state = {"random": digest_of("random", rng), "numpy": digest_of("numpy", rng)}
    fp = edit_section(fp, "determinism", rng_state=rng_state)
    if blas_threads != 2:
        fp = with_variable(fp, "OPENBLAS_NUM_THREADS", str(blas_threads))
    if zone != "Etc/UTC":
        fp = edit_section(
            fp, "locale_time", tz_env=zone, local_zone=zone, tzname=("PST", "PDT"), std_offset_seconds=-28800
        )
    return fp


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
    trust = {"train": Trust.verified, "serve": Trust.unsigned, "same": Trust.unsigned}
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
