"""A model file or directory as a manifest: scanning (what may be bound), validating and digesting it."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import NamedTuple

from envprint.artifact import shards
from envprint.artifact.changes import REPORT_LIMIT, ChangeKind, FileChange, format_changes
from envprint.artifact.hashing import Entry, special_kind
from envprint.artifact.hub import LinkResolver
from envprint.errors import ArtifactMismatchError, UsageError
from envprint.model import ArtifactFile, ArtifactManifest

HASH_ALGORITHM = "sha256"
#: the fingerprint's name inside a model directory
FINGERPRINT_NAME = "envprint.fp"
#: root-level names left out of a directory manifest: fingerprints and their atomic-write temporaries
DEFAULT_EXCLUDES: tuple[str, ...] = ("*.fp", ".*.fp.*.tmp")
#: the exclusions a verifier honours when a (signed) manifest lists them; anything else is refused
ALLOWED_EXCLUDES = frozenset(DEFAULT_EXCLUDES)
#: files that tools add beside a model after it is saved, ignored by new manifests unless told otherwise:
#: MLflow's model registry writes registered_model_meta on download; model-signing writes model.sig
DEFAULT_IGNORED: tuple[str, ...] = ("registered_model_meta", "model.sig")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_BAD_CHAR = re.compile(r"[\x00-\x1f\x7f\\]")


def path_problem(path: object) -> str | None:
    """Returns why `path` is not a safe manifest path (POSIX, relative, normalised), or None."""
    if not isinstance(path, str):
        return "is not text"
    if not path:
        return "is empty"
    bad = _BAD_CHAR.search(path)
    if bad is not None:
        return "contains a backslash" if bad.group() == "\\" else "contains a control character (newline, NUL, ...)"
    if path.startswith("/"):
        return "is absolute"
    parts = path.split("/")
    if ".." in parts:
        return "contains '..'"
    if "" in parts or "." in parts:
        return "is not normalised (empty or '.' component)"
    if not path.isascii():
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:  # os.fsdecode turned undecodable bytes into surrogates
            return "is not valid UTF-8"
    return None


def directory_digest(files: Sequence[ArtifactFile]) -> str:
    """Returns the digest of a directory manifest: sha256 of its sorted "<sha256>  <path>\\n" lines."""
    # str order is code point order, which is the bytewise order of the UTF-8 encoding
    listing = "".join([f"{f.sha256}  {f.path}\n" for f in sorted(files, key=lambda f: f.path)])
    return hashlib.sha256(listing.encode()).hexdigest()


def validate_manifest(m: ArtifactManifest) -> None:
    """Checks a manifest before anything is read: raises `ArtifactMismatchError` (kind INVALID) if unsafe.

    Refuses an unknown hash algorithm or exclusion, unsafe or duplicate paths, malformed sizes or
    digests, a digest that does not follow from the entries, ignored paths that are unsafe or also
    listed, and shards that do not cover their file exactly (overlap, gap, other length).
    """
    problems: list[FileChange] = []

    def bad(path: str, detail: str, byte_range: tuple[int, int] | None = None) -> None:
        problems.append(FileChange(ChangeKind.INVALID, path, detail=detail, byte_range=byte_range))

    if m.hash_algorithm != HASH_ALGORITHM:
        bad("", f"hash algorithm {m.hash_algorithm!r} is not supported (only {HASH_ALGORITHM})")
    if m.kind not in ("file", "directory"):
        bad("", f"artifact kind {m.kind!r} is neither 'file' nor 'directory'")
    for pattern in m.excluded:
        if pattern not in ALLOWED_EXCLUDES:
            bad(pattern, "exclusion not allowed (envprint only leaves out its own *.fp files)")
    if not _HEX64.fullmatch(m.digest):
        bad("", "digest is not 64 lowercase hex digits")
    sizes: dict[str, int] = {}
    for f in m.files:
        problem = path_problem(f.path)
        if problem is not None:
            bad(repr(f.path), f"path {problem}")
            continue
        if f.path in sizes:
            bad(f.path, "listed twice")
        sizes[f.path] = f.size
        if f.size < 0:
            bad(f.path, f"size {f.size} is negative")
        if not _HEX64.fullmatch(f.sha256):
            bad(f.path, "sha256 is not 64 lowercase hex digits")
    problems.extend(_additions_problems(m, sizes))
    if not problems:
        if m.kind == "file":
            if len(m.files) != 1 or "/" in m.files[0].path or m.files[0].sha256 != m.digest:
                bad("", "a single-file manifest must list exactly that file, with the digest as its sha256")
        elif directory_digest(m.files) != m.digest:
            bad("", "the digest does not match the listed files")
    if problems:
        raise ArtifactMismatchError(
            "the fingerprint's artifact manifest is unsafe or inconsistent; no file was read:\n"
            + format_changes(problems, limit=REPORT_LIMIT),
            changes=tuple(problems),
            hint="do not deploy this model: its fingerprint was not written by envprint's capture",
        )


def _additions_problems(m: ArtifactManifest, sizes: dict[str, int]) -> list[FileChange]:
    """Returns the problems of a manifest's ignore list, shards and Hub cache links (fields added after 0.1)."""
    problems: list[FileChange] = []

    def bad(path: str, detail: str, byte_range: tuple[int, int] | None = None) -> None:
        problems.append(FileChange(ChangeKind.INVALID, path, detail=detail, byte_range=byte_range))

    seen: set[str] = set()
    for path in m.ignored:
        problem = path_problem(path)
        if problem is not None:
            bad(repr(path), f"ignored path {problem}")
        elif path in seen:
            bad(path, "ignored twice")
        elif path in sizes:
            bad(path, "both listed and ignored")
        elif m.kind == "file":
            bad(path, "a single-file manifest cannot ignore files")
        seen.add(path)
    if m.shards and m.shard_size < shards.MIN_SHARD_SIZE:
        bad("", f"shard size {m.shard_size} is below the minimum {shards.MIN_SHARD_SIZE} bytes")
    for path, pieces in m.shards.items():
        if path not in sizes:
            bad(repr(path), "shards of a file the manifest does not list")
            continue
        for detail, byte_range in shards.layout_problems(sizes[path], pieces, m.shard_size):
            bad(path, detail, byte_range)
    for path, target in m.links.items():
        if path not in sizes:
            bad(repr(path), "a link of a file the manifest does not list")
        elif _BAD_CHAR.search(target) is not None:
            bad(path, "link target contains a control character or backslash")
    if m.source is not None and _BAD_CHAR.search(m.source) is not None:
        bad("", "source contains a control character or backslash")
    return problems


def _excluded(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in DEFAULT_EXCLUDES)


def _name_problem(name: str) -> str | None:
    """Returns why a directory entry's name cannot appear in a manifest (scandir never yields '/', '.', '..')."""
    bad = _BAD_CHAR.search(name)
    if bad is not None:
        return "contains a backslash" if bad.group() == "\\" else "contains a control character (newline, NUL, ...)"
    if not name.isascii():
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            return "is not valid UTF-8"
    return None


class Scan(NamedTuple):
    """What a directory holds, as far as a manifest is concerned."""

    files: list[Entry]  # the regular files to bind or check, sorted by path
    bad: list[FileChange]  # what cannot be bound: symlinks (but followed Hub cache links), special files, bad names
    ignored: list[tuple[str, int]]  # (path, size) of the entries the ignore list names, never read


def scan(root: str, *, ignored: Collection[str] = (), links: LinkResolver | None = None) -> Scan:
    """Returns the files under `root` (excluding envprint's own and the `ignored` paths) and what cannot be bound.

    With `links` (a Hub cache snapshot), a symlink resolving to a blob of the same repository is
    listed as the blob, under the link's path; any other symlink is refused.
    """
    files: list[Entry] = []
    bad: list[FileChange] = []
    skipped: list[tuple[str, int]] = []
    ignored = frozenset(ignored)
    stack = [("", root)]
    while stack:
        prefix, abs_dir = stack.pop()
        try:
            with os.scandir(abs_dir) as it:
                entries = list(it)
        except OSError as e:
            raise UsageError(f"{abs_dir}: cannot list directory ({e.strerror or e})") from None
        for entry in entries:
            name = entry.name
            rel = prefix + name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                if not is_dir and rel in ignored:  # a directory is never ignored whole: its files are listed
                    skipped.append((rel, entry.stat(follow_symlinks=False).st_size))
                    continue
                # the common case first: this loop runs once per file of the model
                if entry.is_file(follow_symlinks=False):
                    if not prefix and _excluded(name):
                        continue
                    problem = _name_problem(name)
                    if problem is None:
                        files.append(Entry(rel, entry.path, entry.stat(follow_symlinks=False).st_size))
                    else:
                        bad.append(FileChange(ChangeKind.UNSUPPORTED, repr(rel), detail=f"name {problem}"))
                elif is_dir:
                    problem = _name_problem(name)
                    if problem is None:
                        stack.append((rel + "/", entry.path))
                    else:
                        bad.append(FileChange(ChangeKind.UNSUPPORTED, repr(rel), detail=f"name {problem}"))
                elif entry.is_symlink():
                    _link(entry.path, rel, name, prefix, links, files, bad)
                else:
                    kind = special_kind(entry.stat(follow_symlinks=False).st_mode)
                    bad.append(FileChange(ChangeKind.UNSUPPORTED, rel, detail=kind))
            except OSError as err:  # vanished or unreadable while listing
                bad.append(FileChange(ChangeKind.UNREADABLE, rel, detail=err.strerror or str(err)))
    files.sort(key=lambda f: f.path)
    bad.sort(key=lambda c: c.path)
    skipped.sort()
    return Scan(files, bad, skipped)


def _link(
    abspath: str,
    rel: str,
    name: str,
    prefix: str,
    links: LinkResolver | None,
    files: list[Entry],
    bad: list[FileChange],
) -> None:
    """Lists a symlink found by `scan`: as its blob when it is a Hub cache link, else as unsupported."""
    if links is None:
        bad.append(FileChange(ChangeKind.UNSUPPORTED, rel, detail=f"symlink to {os.readlink(abspath)}"))
        return
    if not prefix and _excluded(name):  # a fingerprint uploaded with the model comes back as a link
        return
    problem = _name_problem(name)
    if problem is not None:
        bad.append(FileChange(ChangeKind.UNSUPPORTED, repr(rel), detail=f"name {problem}"))
        return
    resolved = links.resolve(abspath)
    if isinstance(resolved, str):
        bad.append(FileChange(ChangeKind.UNSUPPORTED, rel, detail=resolved))
    else:
        blob, target, size = resolved
        files.append(Entry(rel, blob, size, target))


def stat_root(path: Path) -> os.stat_result:
    """Returns the stat of an artifact's root (following a symlink the user named); `UsageError` when missing."""
    try:
        return os.stat(path)  # the root itself may be a symlink the user named
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file or directory", hint="pass the model file or directory") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read ({e.strerror or e})") from None


def root_name(path: Path) -> str:
    """Returns the name a manifest records for the artifact at `path`."""
    return os.path.basename(os.path.abspath(path))
