"""Where a model's fingerprint goes and is looked for, and which model a fingerprint belongs to.

* a model directory: ``DIR/envprint.fp``;
* a single-file model: ``FILE.fp`` beside it;
* a Hugging Face Hub cache snapshot: beside the cache, ``<cache>.envprint/models--ORG--NAME/<commit>.fp``
  (the Hub client may prune anything inside its cache), or ``envprint.fp`` inside the snapshot when
  it was uploaded with the model.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from envprint.artifact import hub
from envprint.artifact.hashing import special_kind
from envprint.artifact.tree import FINGERPRINT_NAME, stat_root
from envprint.errors import UsageError


def default_fp_path(artifact: str | os.PathLike[str]) -> Path:
    """Returns where the fingerprint of `artifact` goes: DIR/envprint.fp, FILE.fp, or beside a Hub cache."""
    p = Path(artifact)
    st = stat_root(p)
    if stat.S_ISDIR(st.st_mode):
        snapshot = hub.snapshot_of(p)
        return snapshot.fingerprint if snapshot is not None else p / FINGERPRINT_NAME
    if stat.S_ISREG(st.st_mode):
        if p.name.endswith(".fp"):
            raise UsageError(f"{p}: is a fingerprint, not a model artifact")
        return p.with_name(p.name + ".fp")
    raise UsageError(f"{p}: is a {special_kind(st.st_mode)}, not a model file or directory")


def find_fingerprint(artifact_or_fp: str | os.PathLike[str]) -> Path:
    """Returns the fingerprint of a model directory or file, or `artifact_or_fp` itself if it is one.

    For a Hub cache snapshot it looks beside the cache first, then for an ``envprint.fp`` uploaded
    with the model. Raises `UsageError` naming the places it looked when there is none.
    """
    p = Path(artifact_or_fp)
    if p.name.endswith(".fp") and not p.is_dir():
        return p  # reading it says whether it exists
    st = stat_root(p)
    if stat.S_ISDIR(st.st_mode):
        snapshot = hub.snapshot_of(p)
        candidates = [p / FINGERPRINT_NAME] if snapshot is None else [snapshot.fingerprint, p / FINGERPRINT_NAME]
    else:
        candidates = [p.with_name(p.name + ".fp")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise UsageError(
        f"{p}: no fingerprint found (looked for {' and '.join(str(c) for c in candidates)})",
        hint="capture one with `envprint capture --artifact PATH`, or pass the .fp file itself",
    )


def artifact_for_fingerprint(fp_path: str | os.PathLike[str]) -> Path | None:
    """Returns the artifact a fingerprint at its default place belongs to, or None when there is none.

    DIR/envprint.fp belongs to DIR; FILE.fp to FILE when FILE exists; a fingerprint beside a Hub
    cache to the snapshot it is named after, when that snapshot is cached.
    """
    p = Path(fp_path)
    if p.name == FINGERPRINT_NAME:
        return p.parent
    snapshot = hub.snapshot_for_fingerprint(p)
    if snapshot is not None:
        return snapshot.path
    if p.name.endswith(".fp") and len(p.name) > 3:
        candidate = p.with_name(p.name[:-3])
        if candidate.exists():
            return candidate
    return None
