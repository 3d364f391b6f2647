"""Helpers for the signing, artifact and export tests: minimal fingerprints, real keys, model folders."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from envprint import signing
from envprint.model import ArtifactManifest, Fingerprint, Meta, Scalar, Unavailable

__all__ = ["make_fingerprint", "make_keys", "write_tree"]


def make_fingerprint(
    *, artifact: ArtifactManifest | None = None, custom: Mapping[str, Scalar] | None = None, label: str = "train"
) -> Fingerprint:
    """Returns a small valid fingerprint built from the model directly (no capture): sections Unavailable."""
    gone = Unavailable("not measured in this test")
    return Fingerprint(
        meta=Meta(
            schema_version=1,
            envprint_version="0.1.0",
            created="2025-01-01T00:00:00Z",
            label=label,
            capture_mode="in-process",
            hostname="test-host",
            pid=1,
            tags={},
            timings={"packages": 0.001},
        ),
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
        artifact=artifact,
        custom=dict(custom or {}),
    )


def make_keys(directory: Path, name: str = "key", *, passphrase: str | None = None) -> tuple[Path, Path]:
    """Returns (private, public) paths of a fresh Ed25519 key pair written under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    return signing.generate_keypair(directory / name, passphrase=passphrase)


def write_tree(root: Path, files: Mapping[str, bytes]) -> Path:
    """Returns `root` after writing `files` (relative POSIX path -> content) under it."""
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
    return root
