"""Verifying model files against a signed manifest, file by file, and the one artifact-binding rule."""

from __future__ import annotations

import dataclasses
import logging
import os
import posixpath
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from envprint._base import Record, record
from envprint.artifact import hub, shards
from envprint.artifact.cache import MIN_SIZE, DigestCache, open_cache
from envprint.artifact.changes import REPORT_LIMIT, ChangeKind, FileChange, format_changes
from envprint.artifact.hashing import Entry, Piece, ProgressCallback, Result, hash_pieces
from envprint.artifact.places import artifact_for_fingerprint
from envprint.artifact.refs import locate, resolve, scheme_of
from envprint.artifact.tree import root_name, scan, stat_root, validate_manifest
from envprint.codec import read
from envprint.errors import ArtifactMismatchError, UsageError
from envprint.model import ArtifactFile, ArtifactManifest, ArtifactShard

if TYPE_CHECKING:
    from envprint.signing import TrustedKeysLike

logger = logging.getLogger("envprint")

#: where a digest cache comes from: a directory, an open cache, or None (``$ENVPRINT_DIGEST_CACHE`` or none)
CacheLike = str | os.PathLike[str] | DigestCache | None


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


@record
class ArtifactCheck(Record):
    """What a successful artifact verification established, for the report."""

    path: Path  # the model file or directory checked
    manifest: ArtifactManifest
    hashed: int  # files whose bytes were read and hashed
    shards: int  # of those bytes, the shards of sharded files hashed in parallel
    cached: int  # files confirmed by the verified-digest cache, not read
    linked: int  # files read through Hub cache links into the repository's blobs/
    #: (path, size) of files present at the exact paths the signed ignore list names: not read
    ignored: tuple[tuple[str, int], ...] = ()

    def lines(self) -> list[str]:
        """Returns the report of the check, one fact per line, for `Verification.summary`."""
        m = self.manifest
        total = sum(f.size for f in m.files)
        lines = [f"OK  artifact {self.path}: {len(m.files)} file(s), {total} bytes match (sha256 {m.digest[:16]}…)"]
        if m.source:
            lines.append(f"    bound to {m.source}")
        if self.linked:
            lines.append(f"    {self.linked} file(s) read through Hub cache links into the repository's blobs/")
        if self.shards:
            lines.append(f"    {self.shards} shard(s) of {_size(m.shard_size)} hashed in parallel")
        if self.cached:
            lines.append(f"    {self.cached} file(s) confirmed by the verified-digest cache, not read")
        lines.extend(
            f"--  ignored {path} ({size} bytes): on the signed ignore list, not checked" for path, size in self.ignored
        )
        return lines


def _size(n: int) -> str:
    return f"{n // shards.MIB} MiB" if n % shards.MIB == 0 else f"{n} bytes"


class _Plan:
    """The pieces to hash for one manifest file present on disk, and how to judge them."""

    __slots__ = ("before", "entry", "expected", "pieces", "shards")

    def __init__(self, entry: int, expected: ArtifactFile, shard_list: tuple[ArtifactShard, ...]) -> None:
        self.entry = entry
        self.expected = expected
        self.shards = shard_list
        self.pieces: dict[int, int] = {}  # shard index (or -1: the whole file) -> index in the piece list
        self.before: os.stat_result | None = None


def verify(
    manifest: ArtifactManifest,
    path: str | os.PathLike[str],
    *,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    cache: DigestCache | None = None,
) -> ArtifactCheck:
    """Returns what was checked when the files at `path` are the ones `manifest` describes.

    Raises `ArtifactMismatchError` whose `changes` list every difference file by file (changed,
    added, missing, renamed, unsupported, unreadable); a sharded file's line names its first bad
    byte range. The manifest is validated before anything is read (`validate_manifest`). A
    single-file artifact is matched by content: its name may differ. Files at the paths the signed
    ignore list names are not read; a Hub cache snapshot's links into its blobs are followed. With
    `cache`, files whose identity was verified before are not read again.
    """
    validate_manifest(manifest)
    root = Path(path)
    st = stat_root(root)
    ignored: list[tuple[str, int]] = []
    if manifest.kind == "file":
        if not stat.S_ISREG(st.st_mode):
            raise _mismatch(root, [FileChange(ChangeKind.MISSING, manifest.name, detail=f"{root} is not a file")])
        name = root_name(root)
        entries = [Entry(name, os.path.realpath(root), st.st_size)]
        only = manifest.files[0]
        expected = {name: dataclasses.replace(only, path=name)}
        sharded = {name: manifest.shards[only.path]} if only.path in manifest.shards else {}
        changes: list[FileChange] = []
    else:
        if not stat.S_ISDIR(st.st_mode):
            raise _mismatch(root, [FileChange(ChangeKind.MISSING, manifest.name, detail=f"{root} is not a directory")])
        snapshot = hub.snapshot_of(root)
        links = hub.LinkResolver(snapshot) if snapshot is not None else None
        found = scan(os.path.realpath(root) if links else str(root), ignored=manifest.ignored, links=links)
        entries, changes, ignored = found.files, list(found.bad), found.ignored
        expected = {f.path: f for f in manifest.files}
        sharded = dict(manifest.shards)
    counts = _compare(manifest, expected, sharded, entries, changes, workers, progress, cache)
    if changes:
        raise _mismatch(root, changes)
    linked = sum(1 for e in entries if e.link is not None)
    return ArtifactCheck(root, manifest, counts[0], counts[1], counts[2], linked, tuple(ignored))


def _compare(
    m: ArtifactManifest,
    expected: Mapping[str, ArtifactFile],
    sharded: Mapping[str, tuple[ArtifactShard, ...]],
    entries: list[Entry],
    changes: list[FileChange],
    workers: int | None,
    progress: ProgressCallback | None,
    cache: DigestCache | None,
) -> tuple[int, int, int]:
    """Appends to `changes` every difference between the manifest and the scanned `entries`.

    Returns (files hashed, shards hashed, files confirmed by the cache).
    """
    index = {e.path: i for i, e in enumerate(entries)}
    missing = [p for p in expected if p not in index]
    added = [p for p in index if p not in expected]
    missing_sizes = {expected[p].size for p in missing}
    plans: list[_Plan] = []
    pieces: list[Piece] = []
    cached = 0
    for p, f in expected.items():
        i = index.get(p)
        if i is None:
            continue
        e = entries[i]
        plan = _Plan(i, f, sharded.get(p, ()))
        if cache is not None and e.size == f.size and e.size >= MIN_SIZE:
            plan.before = _lstat(e.abspath)
            if plan.before is not None and cache.lookup(plan.before) == f.sha256:
                cached += 1
                continue
        if plan.shards:
            for k in shards.to_check(plan.shards, e.size):
                s = plan.shards[k]
                plan.pieces[k] = len(pieces)
                pieces.append(Piece(i, s.offset, s.length))
        elif e.size != f.size:  # no need to read it: it changed
            changes.append(FileChange(ChangeKind.CHANGED, p, detail=f"size {f.size} → {e.size} bytes{_relinked(m, e)}"))
            continue
        else:
            plan.pieces[-1] = len(pieces)
            pieces.append(Piece(i))
        plans.append(plan)
    # an added file can only be a renamed one if some missing file has its size
    renames = {p: len(pieces) + n for n, p in enumerate(p for p in added if entries[index[p]].size in missing_sizes)}
    pieces.extend(Piece(index[p]) for p in renames)
    results = hash_pieces(entries, pieces, workers, progress)
    for plan in plans:
        change = _judge(m, plan, entries[plan.entry], results)
        if change is not None:
            changes.append(change)
        elif cache is not None and plan.before is not None:
            after = _lstat(entries[plan.entry].abspath)
            if after is not None:
                cache.store(plan.before, after, plan.expected.sha256)
    if cache is not None:
        _save(cache)
    hashed: dict[str, tuple[str, int]] = {}
    for p, k in renames.items():
        result = results[k]
        if isinstance(result, str):
            changes.append(FileChange(ChangeKind.UNREADABLE, p, detail=result))
        else:
            hashed[p] = result
    _pair_renames(expected, entries, index, missing, added, hashed, changes, m.ignored)
    n_shards = sum(len(plan.pieces) for plan in plans if plan.shards)
    return len(plans) + len(hashed), n_shards, cached


def _judge(m: ArtifactManifest, plan: _Plan, e: Entry, results: list[Result]) -> FileChange | None:
    """Returns the report line of one manifest file from its hashed pieces, None when it matches."""
    f = plan.expected
    if plan.shards:
        change = shards.judge(f.path, f, plan.shards, e.size, {k: results[j] for k, j in plan.pieces.items()})
        if change is not None and change.kind is ChangeKind.CHANGED:
            change = dataclasses.replace(change, detail=change.detail + _relinked(m, e))
        return change
    result = results[plan.pieces[-1]]
    if isinstance(result, str):
        return FileChange(ChangeKind.UNREADABLE, f.path, detail=result)
    if result[0] == f.sha256:
        return None
    detail = f"sha256 {_short(f.sha256)} → {_short(result[0])}"
    if result[1] != f.size:
        detail += f", size {f.size} → {result[1]} bytes"
    return FileChange(ChangeKind.CHANGED, f.path, detail=detail + _relinked(m, e))


def _relinked(m: ArtifactManifest, e: Entry) -> str:
    """Returns a note when a file reached through a Hub cache link now links elsewhere than at capture."""
    before = m.links.get(e.path)
    if e.link is None or before is None or before == e.link:
        return f" (through link {e.link})" if e.link is not None else ""
    return f" (link retargeted: {before} → {e.link})"


def _pair_renames(
    expected: Mapping[str, ArtifactFile],
    entries: list[Entry],
    index: Mapping[str, int],
    missing: list[str],
    added: list[str],
    hashed: Mapping[str, tuple[str, int]],
    changes: list[FileChange],
    ignored: tuple[str, ...],
) -> None:
    """Appends the missing, added and renamed files: a missing file and an added one of equal content are a rename."""
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
    names = {posixpath.basename(i): i for i in ignored}
    for p in added:
        if p in renamed:
            continue
        e = entries[index[p]]
        detail = f"{e.size} bytes"
        if e.link is not None:
            detail += f" (through link {e.link})"
        lookalike = names.get(posixpath.basename(p))
        if lookalike is not None:
            detail += f"; named like an ignored file, but only {lookalike} is ignored"
        changes.append(FileChange(ChangeKind.ADDED, p, detail=detail))


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _save(cache: DigestCache) -> None:
    try:
        cache.save()
    except UsageError as e:  # a cache that cannot be written only costs a re-hash next time
        logger.warning("envprint: could not update the digest cache: %s", e.message)


# ------------------------------------------------------------------------------------ the binding rule


def check_binding(
    manifest: ArtifactManifest | None,
    fp_path: str | os.PathLike[str],
    artifact: str | os.PathLike[str] | None = None,
    *,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    digest_cache: CacheLike = None,
    unbound: Literal["refuse", "placed", "allow"] = "placed",
) -> ArtifactCheck | None:
    """Returns what was verified of a fingerprint's artifact, None when the fingerprint is unbound.

    The one artifact-binding rule, for `verify`, `check` and `guard()`:

    * a bound fingerprint is checked against `artifact` (a path or a reference), or else the
      artifact at its default place (`artifact_for_fingerprint`), or else the pinned reference the
      manifest records when it resolves offline (a Hub cache snapshot); when none exists the model
      is missing: `ArtifactMismatchError`;
    * differing files raise `ArtifactMismatchError` listing them (`verify`);
    * an unbound fingerprint, by `unbound`: ``"refuse"`` (the serving guard: binding is required)
      raises `ArtifactMismatchError`; ``"placed"`` (`verify`) raises where it would vouch for a model
      — an `artifact` named explicitly, or the model it sits in or beside — and passes a standalone
      file; ``"allow"`` (an environment-only check, asked for explicitly) passes.

    `digest_cache` (a directory, default ``$ENVPRINT_DIGEST_CACHE``, unset: none) skips re-hashing
    files verified before (`envprint.artifact.cache`).
    """
    target = resolve(artifact).path if artifact is not None else None
    if manifest is None:
        beside = target if target is not None else artifact_for_fingerprint(fp_path)
        if unbound == "allow" or (unbound == "placed" and beside is None):
            return None
        raise ArtifactMismatchError(
            f"{fp_path}: the fingerprint is not bound to a model, so it cannot vouch for "
            + (str(beside) if beside is not None else "the files served"),
            hint="capture it with --artifact PATH on the training side, or check the environment alone "
            "(envprint check --env-only, guard(..., env_only=True))",
        )
    if target is None:
        target = artifact_for_fingerprint(fp_path)
    if target is None and manifest.source is not None:
        scheme = scheme_of(manifest.source)
        if scheme is not None and scheme.offline:
            target = resolve(manifest.source).path
    if target is None:
        raise ArtifactMismatchError(
            f"{fp_path}: bound to artifact {manifest.name!r}, which is not beside the fingerprint",
            hint="pass the model's path (--artifact PATH), or check the signature alone with --signature-only",
        )
    return verify(manifest, target, workers=workers, progress=progress, cache=open_cache(digest_cache))


@record
class Verification(Record):
    """What `verify_file` established about a fingerprint file and its artifact."""

    fingerprint_path: Path
    #: ids of the trusted keys that verified the signature
    keyids: tuple[str, ...]
    #: the artifact checked against the signed manifest; None when none was checked
    artifact_path: Path | None
    manifest: ArtifactManifest | None
    #: the details of the artifact check; None when none was made
    check: ArtifactCheck | None = None

    def summary(self) -> str:
        """Returns the human report of a successful verification, one line per fact."""
        keys = ", ".join(k[:16] for k in self.keyids)
        lines = [f"OK  {self.fingerprint_path}: signature verified (key {keys})"]
        m = self.manifest
        if m is None:
            lines.append("--  the fingerprint is not bound to a model artifact")
        elif self.check is None:
            lines.append(f"--  artifact {m.name} NOT CHECKED (--signature-only): the model files were not read")
        else:
            lines.extend(self.check.lines())
        return "\n".join(lines)


def verify_file(
    fp_path: str | os.PathLike[str],
    trusted_keys: TrustedKeysLike,
    *,
    artifact: str | os.PathLike[str] | None = None,
    signature_only: bool = False,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    digest_cache: CacheLike = None,
) -> Verification:
    """Returns the verification of a fingerprint file: signature first, then its artifact (`check_binding`).

    `fp_path` is the fingerprint, or a model (path or ``hf://`` reference) whose fingerprint is at
    its default place; `artifact` names the model explicitly. Raises `SignatureError` when no
    trusted key verifies the file and `ArtifactMismatchError` when the files differ, when the bound
    model is missing, or when `artifact` is given for an unbound fingerprint. ``signature_only``
    checks the signature alone (it proves less: say so).
    """
    located = locate(fp_path, artifact=artifact)
    loaded = read(located.fingerprint, trusted_keys=trusted_keys)
    m = loaded.fingerprint.artifact
    check = None
    if not signature_only:
        check = check_binding(
            m,
            located.fingerprint,
            located.artifact,
            workers=workers,
            progress=progress,
            digest_cache=digest_cache,
        )
    return Verification(located.fingerprint, loaded.verified_keyids, check.path if check else None, m, check)
