"""Helpers for the signing, artifact and export tests: minimal fingerprints, real keys, model folders."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from envprint import signing
from envprint.testing import bare_fingerprint as make_fingerprint

__all__ = ["make_fingerprint", "make_keys", "write_tree"]


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
