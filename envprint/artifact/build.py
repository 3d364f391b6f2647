"""Building the digest manifest of a model: a file, a directory, a Hub cache snapshot or a reference to one."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from envprint.artifact import hub, shards
from envprint.artifact.changes import REPORT_LIMIT, format_changes
from envprint.artifact.hashing import Entry, Piece, ProgressCallback, hash_pieces, special_kind
from envprint.artifact.refs import resolve
from envprint.artifact.tree import (
    DEFAULT_EXCLUDES,
    DEFAULT_IGNORED,
    HASH_ALGORITHM,
    directory_digest,
    path_problem,
    root_name,
    scan,
    stat_root,
)
from envprint.errors import UsageError
from envprint.model import ArtifactFile, ArtifactManifest, ArtifactShard


def manifest(
    target: str | os.PathLike[str],
    *,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    shard_size: int = shards.DEFAULT_SHARD_SIZE,
    ignore: Iterable[str] = DEFAULT_IGNORED,
) -> ArtifactManifest:
    """Returns the digest manifest of the model file or directory at `target` (a path or a reference).

    A file's digest is its sha256; a directory's is `directory_digest` of every regular file under
    it. A Hub cache snapshot's symlinks into its repository's blobs are followed (`hub`); a
    reference (``hf://ORG/NAME@REV``) is resolved first and recorded, pinned, as `source`. Files
    larger than `shard_size` (0: none) and holding more than 1/16 of the artifact's bytes also get
    the sha256 of each `shard_size` piece, so that verification can hash them on every core.
    `ignore` lists exact relative paths that tools add beside a model (default `DEFAULT_IGNORED`):
    they are not read and are recorded as ignored.
    Raises `UsageError` when the path is missing, or the directory holds a symlink (other than a
    Hub cache link), a special file, an unrepresentable name or nothing at all. `workers` threads
    hash in parallel (default: the CPUs available); `progress(done, total)` is called as bytes are hashed.
    """
    if shard_size and shard_size < shards.MIN_SHARD_SIZE:
        raise UsageError(f"shard size {shard_size} is below the minimum of {shards.MIN_SHARD_SIZE} bytes (1 MiB)")
    resolved = resolve(target)
    root = resolved.path
    st = stat_root(root)
    name = root_name(root)
    ignored = _ignore_list(ignore)
    links: dict[str, str] = {}
    excluded: tuple[str, ...] = ()
    if stat.S_ISREG(st.st_mode):
        problem = path_problem(name)
        if problem is not None:
            raise UsageError(f"{root}: the file name {problem}; rename the file to bind it")
        entries = [Entry(name, os.path.realpath(root), st.st_size)]  # the user may name a symlink to the model
        kind, ignored = "file", ()
    elif stat.S_ISDIR(st.st_mode):
        entries = _directory_entries(root, ignored)
        links = {e.path: e.link for e in entries if e.link is not None}
        kind, excluded = "directory", DEFAULT_EXCLUDES
    else:
        raise UsageError(f"{root}: is a {special_kind(st.st_mode)}, not a model file or directory")
    total = sum(e.size for e in entries)
    plans = [shards.plan(e.size, shard_size, total) for e in entries]
    pieces = [Piece(i) for i in range(len(entries))]
    # the whole-file digests go first (largest first within the pool): they are the critical path
    pieces += [Piece(i, offset, length) for i, plan in enumerate(plans) for offset, length in plan]
    results = hash_pieces(entries, pieces, workers, progress)
    files: list[ArtifactFile] = []
    sharded: dict[str, tuple[ArtifactShard, ...]] = {}
    by_piece = iter(results[len(entries) :])
    for e, whole, plan in zip(entries, results[: len(entries)], plans, strict=True):
        if isinstance(whole, str):
            raise UsageError(f"{e.abspath}: cannot read ({whole})")
        files.append(ArtifactFile(e.path, whole[1], whole[0]))
        if plan:
            pieces_of = [(next(by_piece), offset, length) for offset, length in plan]
            done = [ArtifactShard(o, n, r[0]) for r, o, n in pieces_of if not isinstance(r, str) and r[1] == n]
            if whole[1] != e.size or len(done) != len(plan):
                raise UsageError(f"{e.abspath}: the file changed while it was hashed; capture again once it is written")
            sharded[e.path] = tuple(done)
    digest = files[0].sha256 if kind == "file" else directory_digest(files)
    return ArtifactManifest(
        name,
        kind,
        digest,
        tuple(files),
        HASH_ALGORITHM,
        excluded,
        shard_size=shard_size if sharded else 0,
        shards=sharded,
        ignored=ignored,
        links=links,
        source=resolved.reference,
    )


def _ignore_list(ignore: Iterable[str]) -> tuple[str, ...]:
    """Returns the ignore list without duplicates; raises `UsageError` for a path that cannot be one."""
    out: list[str] = []
    for path in ignore:
        problem = path_problem(path)
        if problem is not None:
            raise UsageError(
                f"--ignore {path!r}: the path {problem}",
                hint="give a file's exact path relative to the model directory, e.g. registered_model_meta",
            )
        if path not in out:
            out.append(path)
    return tuple(out)


def _directory_entries(root: Path, ignored: tuple[str, ...]) -> list[Entry]:
    """Returns the files of a model directory to bind; raises `UsageError` naming what cannot be bound."""
    snapshot = hub.snapshot_of(root)
    links = hub.LinkResolver(snapshot) if snapshot is not None else None
    # a snapshot is scanned at its real path, so that its links resolve the way the kernel follows them
    found = scan(os.path.realpath(root) if snapshot is not None else str(root), ignored=ignored, links=links)
    if found.bad:
        if snapshot is not None:
            hint = "a snapshot's links must resolve to blobs of its own repository folder; download it again"
        elif hub.cache_holding(root) == Path(os.path.realpath(root)):
            hint = (
                f"this is a Hub cache repository folder: bind one snapshot, {root}/snapshots/<commit>, or hf://ORG/NAME"
            )
        else:
            hint = "replace symlinks by the files they point to and remove special files, then capture again"
        raise UsageError(
            f"{root}: cannot bind a model directory holding files envprint cannot represent:\n"
            + format_changes(found.bad, limit=REPORT_LIMIT),
            hint=hint,
        )
    if not found.files:
        raise UsageError(f"{root}: the directory holds no files to bind")
    return found.files
