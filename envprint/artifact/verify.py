"""Verifying model files against a signed manifest, file by file, and the one artifact-binding rule."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envprint.artifact.hashing import Entry, ProgressCallback, hash_entries, special_kind
from envprint.artifact.tree import (
    FINGERPRINT_NAME,
    REPORT_LIMIT,
    ChangeKind,
    FileChange,
    format_changes,
    root_name,
    scan,
    stat_root,
    validate_manifest,
)
from envprint.codec import read
from envprint.errors import ArtifactMismatchError, UsageError
from envprint.model import ArtifactManifest

if TYPE_CHECKING:
    from envprint.signing import TrustedKeysLike


def _short(digest: str) -> str:
    return f"{digest[:12]}…"


def _mismatch(root: Path, changes: list[FileChange]) -> ArtifactMismatchError:
    changes.sort(key=lambda c: (c.path, c.kind.value))
    counts: dict[str, int] = {}
    for c in changes:
        counts[c.kind.value] = counts.get(c.kind.value, 0) + 1
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    return ArtifactMismatchError(
        f"{root}: ARTIFACT MISMATCH: the files are not the ones the fingerprint was made for ({summary}):\n"
        + format_changes(changes, limit=REPORT_LIMIT),
        changes=tuple(changes),
    )


def verify(
    manifest: ArtifactManifest,
    path: str | os.PathLike[str],
    *,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> None:
    """Checks that the files at `path` are the ones `manifest` describes; returns None when they are.

    Raises `ArtifactMismatchError` whose `changes` list every difference file by file (changed,
    added, missing, renamed, unsupported, unreadable). The manifest is validated before anything is
    read (`validate_manifest`). A single-file artifact is matched by content: its name may differ.
    """
    validate_manifest(manifest)
    root = Path(path)
    st = stat_root(root)
    if manifest.kind == "file":
        if not stat.S_ISREG(st.st_mode):
            raise _mismatch(root, [FileChange(ChangeKind.MISSING, manifest.name, detail=f"{root} is not a file")])
        expected = manifest.files[0]
        result = hash_entries([Entry(root_name(root), str(root), st.st_size)], workers, progress)[0]
        if isinstance(result, str):
            raise _mismatch(root, [FileChange(ChangeKind.UNREADABLE, root_name(root), detail=result)])
        if result[0] != expected.sha256:
            detail = f"sha256 {_short(expected.sha256)} → {_short(result[0])}, size {expected.size} → {result[1]}"
            raise _mismatch(root, [FileChange(ChangeKind.CHANGED, root_name(root), detail=detail)])
        return
    if not stat.S_ISDIR(st.st_mode):
        raise _mismatch(root, [FileChange(ChangeKind.MISSING, manifest.name, detail=f"{root} is not a directory")])
    entries, changes = scan(str(root))
    _compare(manifest, entries, changes, workers, progress)
    if changes:
        raise _mismatch(root, changes)


def _compare(
    m: ArtifactManifest,
    entries: list[Entry],
    changes: list[FileChange],
    workers: int | None,
    progress: ProgressCallback | None,
) -> None:
    """Appends to `changes` every difference between manifest `m` and the scanned `entries`."""
    disk = {e.path: e for e in entries}
    expected = {f.path: f for f in m.files}
    missing = [p for p in expected if p not in disk]
    added = [p for p in disk if p not in expected]
    missing_sizes = {expected[p].size for p in missing}
    to_hash: list[Entry] = []
    for p, f in expected.items():
        e = disk.get(p)
        if e is None:
            continue
        if e.size != f.size:  # no need to read it: it changed
            changes.append(FileChange(ChangeKind.CHANGED, p, detail=f"size {f.size} → {e.size} bytes"))
        else:
            to_hash.append(e)
    # an added file can only be a renamed one if some missing file has its size
    to_hash.extend(disk[p] for p in added if disk[p].size in missing_sizes)
    hashed: dict[str, tuple[str, int]] = {}
    for e, result in zip(to_hash, hash_entries(to_hash, workers, progress), strict=True):
        if isinstance(result, str):
            changes.append(FileChange(ChangeKind.UNREADABLE, e.path, detail=result))
            continue
        hashed[e.path] = result
        old = expected.get(e.path)
        if old is not None and result[0] != old.sha256:
            detail = f"sha256 {_short(old.sha256)} → {_short(result[0])}"
            if result[1] != old.size:
                detail += f", size {old.size} → {result[1]} bytes"
            changes.append(FileChange(ChangeKind.CHANGED, e.path, detail=detail))
    # a missing file and an added one with the same content and size are a rename (first match, sorted)
    candidates: dict[tuple[str, int], list[str]] = {}
    for p in reversed(added):
        if p in hashed:
            candidates.setdefault(hashed[p], []).append(p)
    renamed: set[str] = set()
    for p in missing:
        f = expected[p]
        twins = candidates.get((f.sha256, f.size))
        if twins:
            twin = twins.pop()
            renamed.add(twin)
            changes.append(FileChange(ChangeKind.RENAMED, twin, old_path=p))
        else:
            changes.append(FileChange(ChangeKind.MISSING, p, detail=f"{f.size} bytes"))
    changes.extend(FileChange(ChangeKind.ADDED, p, detail=f"{disk[p].size} bytes") for p in added if p not in renamed)


def default_fp_path(artifact: str | os.PathLike[str]) -> Path:
    """Returns where the fingerprint of `artifact` goes: DIR/envprint.fp, or FILE.fp beside a file."""
    p = Path(artifact)
    st = stat_root(p)
    if stat.S_ISDIR(st.st_mode):
        return p / FINGERPRINT_NAME
    if stat.S_ISREG(st.st_mode):
        if p.name.endswith(".fp"):
            raise UsageError(f"{p}: is a fingerprint, not a model artifact")
        return p.with_name(p.name + ".fp")
    raise UsageError(f"{p}: is a {special_kind(st.st_mode)}, not a model file or directory")


def find_fingerprint(artifact_or_fp: str | os.PathLike[str]) -> Path:
    """Returns the fingerprint of a model directory or file, or `artifact_or_fp` itself if it is one.

    Raises `UsageError` naming the place it looked when there is none.
    """
    p = Path(artifact_or_fp)
    st = stat_root(p)
    if stat.S_ISDIR(st.st_mode):
        candidate = p / FINGERPRINT_NAME
    elif p.name.endswith(".fp"):
        return p
    else:
        candidate = p.with_name(p.name + ".fp")
    if not candidate.is_file():
        raise UsageError(
            f"{p}: no fingerprint found (looked for {candidate})",
            hint="capture one with `envprint capture --artifact PATH`, or pass the .fp file itself",
        )
    return candidate


def artifact_for_fingerprint(fp_path: str | os.PathLike[str]) -> Path | None:
    """Returns the artifact a fingerprint at its default place belongs to, or None when there is none.

    DIR/envprint.fp belongs to DIR; FILE.fp to FILE when FILE exists.
    """
    p = Path(fp_path)
    if p.name == FINGERPRINT_NAME:
        return p.parent
    if p.name.endswith(".fp") and len(p.name) > 3:
        candidate = p.with_name(p.name[:-3])
        if candidate.exists():
            return candidate
    return None


@dataclass(frozen=True)
class Verification:
    """What `verify_file` established about a fingerprint file and its artifact."""

    fingerprint_path: Path
    #: ids of the trusted keys that verified the signature
    keyids: tuple[str, ...]
    #: the artifact checked against the signed manifest; None when none was checked
    artifact_path: Path | None
    manifest: ArtifactManifest | None

    def summary(self) -> str:
        """Returns the human report of a successful verification, one line per fact."""
        keys = ", ".join(k[:16] for k in self.keyids)
        lines = [f"OK  {self.fingerprint_path}: signature verified (key {keys})"]
        m = self.manifest
        if m is None:
            lines.append("--  the fingerprint is not bound to a model artifact")
        elif self.artifact_path is None:
            lines.append(f"--  artifact {m.name} NOT CHECKED (--signature-only): the model files were not read")
        else:
            total = sum(f.size for f in m.files)
            lines.append(
                f"OK  artifact {self.artifact_path}: {len(m.files)} file(s), {total} bytes match "
                f"(sha256 {m.digest[:16]}…)"
            )
        return "\n".join(lines)


def check_binding(
    manifest: ArtifactManifest | None,
    fp_path: str | os.PathLike[str],
    artifact: str | os.PathLike[str] | None = None,
    *,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> Path | None:
    """Returns the artifact verified against a fingerprint's manifest, None when the fingerprint is unbound.

    The one artifact-binding rule, for `verify`, `check` and `guard()`:

    * a bound fingerprint is checked against `artifact`, or else the artifact at its default place
      (`artifact_for_fingerprint`); when neither exists the model is missing: `ArtifactMismatchError`;
    * differing files raise `ArtifactMismatchError` listing them (`verify`);
    * an unbound fingerprint cannot vouch for an `artifact` named explicitly: `ArtifactMismatchError`.
    """
    target = Path(artifact) if artifact is not None else None
    if manifest is None:
        if target is not None:
            raise ArtifactMismatchError(
                f"{fp_path}: the fingerprint is not bound to any artifact, so it cannot vouch for {target}",
                hint="capture the fingerprint with --artifact PATH on the training side",
            )
        return None
    if target is None:
        target = artifact_for_fingerprint(fp_path)
    if target is None:
        raise ArtifactMismatchError(
            f"{fp_path}: bound to artifact {manifest.name!r}, which is not beside the fingerprint",
            hint="pass the model's path (--artifact PATH), or check the signature alone with --signature-only",
        )
    verify(manifest, target, workers=workers, progress=progress)
    return target


def verify_file(
    fp_path: str | os.PathLike[str],
    trusted_keys: TrustedKeysLike,
    *,
    artifact: str | os.PathLike[str] | None = None,
    signature_only: bool = False,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> Verification:
    """Returns the verification of a fingerprint file: signature first, then its artifact (`check_binding`).

    Raises `SignatureError` when no trusted key verifies the file and `ArtifactMismatchError` when
    the files differ, when the bound model is missing, or when `artifact` is given for an unbound
    fingerprint. ``signature_only`` checks the signature alone (it proves less: say so).
    """
    loaded = read(Path(fp_path), trusted_keys=trusted_keys)
    m = loaded.fingerprint.artifact
    target = None if signature_only else check_binding(m, fp_path, artifact, workers=workers, progress=progress)
    return Verification(Path(fp_path), loaded.verified_keyids, target, m)
