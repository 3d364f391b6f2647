"""Binds a fingerprint to model files: a digest manifest of a file or directory, and its verification.

* A single file is identified by its sha256 (the same as `sha256sum FILE`).
* A directory by the sha256 of its dirHash1-style listing: one ``"<sha256 hex>  <path>\\n"`` line per
  regular file, sorted bytewise by POSIX path relative to the root. Names are bound (a rename changes
  the digest) and empty files are included; symlinks and special files are refused, and envprint's
  own files at the root (``*.fp`` and their temporary files) are excluded, as `excluded` records.
* A Hugging Face Hub cache snapshot is a directory whose symlinks into its repository's ``blobs/``
  are followed (`hub`); ``hf://ORG/NAME[@REV]`` names one, resolved offline (`refs`).
* Files that tools add beside a model (MLflow's ``registered_model_meta``, model-signing's
  ``model.sig``) are left unread where the manifest's signed ignore list names them exactly.
* Files larger than the shard size also carry per-shard sha256 digests (`shards`), so that one large
  file is verified on every core.

The package is cut by concern: `changes` (the report), `hashing` (parallel streaming sha256 of files
and byte ranges), `tree` (scan, validate, digest), `shards`, `hub`, `places` (where fingerprints go),
`refs` (references), `build` (`manifest`), `cache` (the opt-in verified-digest cache) and `verification`
(file-by-file differences, and `check_binding`, the one binding rule).

Paths of a manifest are validated (relative, normalised, no ``..``, no control characters or
backslashes) before anything is read from disk, even though the manifest is signed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envprint._lazy import lazy_attributes

if TYPE_CHECKING:
    from envprint.artifact.build import manifest
    from envprint.artifact.cache import CACHE_ENV, DigestCache
    from envprint.artifact.changes import ChangeKind, FileChange, format_changes
    from envprint.artifact.hashing import ProgressCallback, default_workers
    from envprint.artifact.hub import HubSnapshot, parse_reference, snapshot_of
    from envprint.artifact.places import artifact_for_fingerprint, default_fp_path, find_fingerprint
    from envprint.artifact.refs import (
        Located,
        ResolvedArtifact,
        Scheme,
        fp_destination,
        is_reference,
        locate,
        register,
        resolve,
    )
    from envprint.artifact.shards import DEFAULT_SHARD_SIZE, MIN_SHARD_SIZE, parse_size
    from envprint.artifact.tree import (
        ALLOWED_EXCLUDES,
        DEFAULT_EXCLUDES,
        DEFAULT_IGNORED,
        FINGERPRINT_NAME,
        HASH_ALGORITHM,
        directory_digest,
        validate_manifest,
    )
    from envprint.artifact.verification import ArtifactCheck, Verification, check_binding, verify, verify_file

__all__ = [
    "ALLOWED_EXCLUDES",
    "CACHE_ENV",
    "DEFAULT_EXCLUDES",
    "DEFAULT_IGNORED",
    "DEFAULT_SHARD_SIZE",
    "FINGERPRINT_NAME",
    "HASH_ALGORITHM",
    "MIN_SHARD_SIZE",
    "ArtifactCheck",
    "ChangeKind",
    "DigestCache",
    "FileChange",
    "HubSnapshot",
    "Located",
    "ProgressCallback",
    "ResolvedArtifact",
    "Scheme",
    "Verification",
    "artifact_for_fingerprint",
    "check_binding",
    "default_fp_path",
    "default_workers",
    "directory_digest",
    "find_fingerprint",
    "format_changes",
    "fp_destination",
    "is_reference",
    "locate",
    "manifest",
    "parse_reference",
    "parse_size",
    "register",
    "resolve",
    "snapshot_of",
    "validate_manifest",
    "verify",
    "verify_file",
]

# public name -> the module that defines it, imported on first use: a capture without --artifact loads
# `tree`, `refs` and `shards` (the defaults, where the fingerprint goes), not `build`, `verification`
# (which reads fingerprints) or `cache` (issue 18: a command pays for what it does)
_LAZY = {
    "manifest": "envprint.artifact.build",
    "CACHE_ENV": "envprint.artifact.cache",
    "DigestCache": "envprint.artifact.cache",
    "ChangeKind": "envprint.artifact.changes",
    "FileChange": "envprint.artifact.changes",
    "format_changes": "envprint.artifact.changes",
    "ProgressCallback": "envprint.artifact.hashing",
    "default_workers": "envprint.artifact.hashing",
    "HubSnapshot": "envprint.artifact.hub",
    "parse_reference": "envprint.artifact.hub",
    "snapshot_of": "envprint.artifact.hub",
    "artifact_for_fingerprint": "envprint.artifact.places",
    "default_fp_path": "envprint.artifact.places",
    "find_fingerprint": "envprint.artifact.places",
    "Located": "envprint.artifact.refs",
    "ResolvedArtifact": "envprint.artifact.refs",
    "Scheme": "envprint.artifact.refs",
    "fp_destination": "envprint.artifact.refs",
    "is_reference": "envprint.artifact.refs",
    "locate": "envprint.artifact.refs",
    "register": "envprint.artifact.refs",
    "resolve": "envprint.artifact.refs",
    "DEFAULT_SHARD_SIZE": "envprint.artifact.shards",
    "MIN_SHARD_SIZE": "envprint.artifact.shards",
    "parse_size": "envprint.artifact.shards",
    "ALLOWED_EXCLUDES": "envprint.artifact.tree",
    "DEFAULT_EXCLUDES": "envprint.artifact.tree",
    "DEFAULT_IGNORED": "envprint.artifact.tree",
    "FINGERPRINT_NAME": "envprint.artifact.tree",
    "HASH_ALGORITHM": "envprint.artifact.tree",
    "directory_digest": "envprint.artifact.tree",
    "validate_manifest": "envprint.artifact.tree",
    "ArtifactCheck": "envprint.artifact.verification",
    "Verification": "envprint.artifact.verification",
    "check_binding": "envprint.artifact.verification",
    "verify": "envprint.artifact.verification",
    "verify_file": "envprint.artifact.verification",
}

__getattr__ = lazy_attributes(__name__, _LAZY, globals())
