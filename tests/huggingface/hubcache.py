"""Builds a Hugging Face Hub cache on disk, in the layout huggingface_hub writes (checked by its scan_cache_dir)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

#: files at least this large are stored as LFS objects: their blob is named by the content's sha256
LFS_THRESHOLD = 1024


def blob_name(content: bytes) -> str:
    """Returns the name the Hub gives a file's blob: sha256 for LFS files, the git blob sha1 for the others."""
    if len(content) >= LFS_THRESHOLD:
        return hashlib.sha256(content).hexdigest()
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def add_snapshot(
    cache: Path, repo_id: str, commit: str, files: Mapping[str, bytes], *, ref: str | None = "main"
) -> Path:
    """Returns the snapshot folder of `commit` after caching `files` (path -> content) for `repo_id`.

    Blobs are written once per content; the snapshot holds relative symlinks to them, as
    ``hf_hub_download`` makes; `ref` (a branch) is pointed at `commit`.
    """
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    for path, content in files.items():
        blob = repo / "blobs" / blob_name(content)
        if not blob.exists():
            blob.write_bytes(content)
        link = snapshot / path
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    if ref is not None:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    return snapshot
