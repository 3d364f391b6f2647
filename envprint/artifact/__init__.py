"""Binds a fingerprint to model files: a digest manifest of a file or directory, and its verification.

* A single file is identified by its sha256 (the same as `sha256sum FILE`).
* A directory by the sha256 of its dirHash1-style listing: one ``"<sha256 hex>  <path>\\n"`` line per
  regular file, sorted bytewise by POSIX path relative to the root. Names are bound (a rename changes
  the digest) and empty files are included; symlinks and special files are refused, and envprint's
  own files at the root (``*.fp`` and their temporary files) are excluded, as `excluded` records.

The package is cut in three: `tree` (scan, validate, digest: `manifest`), `hashing` (parallel
streaming sha256) and `verify` (file-by-file differences, and `check_binding`, the one binding rule).

Hashing is parallel across files only (threads; hashlib releases the GIL): sha256 is sequential, so
a single large file is hashed by one core at the speed of `hashlib`. Files are read with a reusable
4 MiB buffer per thread; small files take one read each and are handed to the pool in batches.

Paths of a manifest are validated (relative, normalised, no ``..``, no control characters or
backslashes) before anything is read from disk, even though the manifest is signed.
"""

from __future__ import annotations

from envprint.artifact.hashing import ProgressCallback, default_workers
from envprint.artifact.tree import (
    ALLOWED_EXCLUDES,
    DEFAULT_EXCLUDES,
    FINGERPRINT_NAME,
    HASH_ALGORITHM,
    ChangeKind,
    FileChange,
    directory_digest,
    format_changes,
    manifest,
    validate_manifest,
)
from envprint.artifact.verify import (
    Verification,
    artifact_for_fingerprint,
    check_binding,
    default_fp_path,
    find_fingerprint,
    verify,
    verify_file,
)

__all__ = [
    "ALLOWED_EXCLUDES",
    "DEFAULT_EXCLUDES",
    "FINGERPRINT_NAME",
    "HASH_ALGORITHM",
    "ChangeKind",
    "FileChange",
    "ProgressCallback",
    "Verification",
    "artifact_for_fingerprint",
    "check_binding",
    "default_fp_path",
    "default_workers",
    "directory_digest",
    "find_fingerprint",
    "format_changes",
    "manifest",
    "validate_manifest",
    "verify",
    "verify_file",
]
