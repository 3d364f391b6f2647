"""A model file or directory as a manifest: scanning (what may be bound), validating and digesting it."""

from __future__ import annotations

import enum
import fnmatch
import hashlib
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envprint.artifact.hashing import Entry, ProgressCallback, hash_entries, special_kind
from envprint.errors import ArtifactMismatchError, UsageError
from envprint.model import ArtifactFile, ArtifactManifest

if TYPE_CHECKING:
    pass


HASH_ALGORITHM = "sha256"
#: the fingerprint's name inside a model directory
FINGERPRINT_NAME = "envprint.fp"
#: root-level names left out of a directory manifest: fingerprints and their atomic-write temporaries
DEFAULT_EXCLUDES: tuple[str, ...] = ("*.fp", ".*.fp.*.tmp")
#: the exclusions a verifier honours when a (signed) manifest lists them; anything else is refused
ALLOWED_EXCLUDES = frozenset(DEFAULT_EXCLUDES)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_BAD_CHAR = re.compile(r"[\x00-\x1f\x7f\\]")


def _path_problem(path: object) -> str | None:
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
    digests, and a digest that does not follow from the entries.
    """
    problems: list[FileChange] = []

    def bad(path: str, detail: str) -> None:
        problems.append(FileChange(ChangeKind.INVALID, path, detail=detail))

    if m.hash_algorithm != HASH_ALGORITHM:
        bad("", f"hash algorithm {m.hash_algorithm!r} is not supported (only {HASH_ALGORITHM})")
    if m.kind not in ("file", "directory"):
        bad("", f"artifact kind {m.kind!r} is neither 'file' nor 'directory'")
    for pattern in m.excluded:
        if pattern not in ALLOWED_EXCLUDES:
            bad(pattern, "exclusion not allowed (envprint only leaves out its own *.fp files)")
    if not _HEX64.fullmatch(m.digest):
        bad("", "digest is not 64 lowercase hex digits")
    seen: set[str] = set()
    for f in m.files:
        problem = _path_problem(f.path)
        if problem is not None:
            bad(repr(f.path), f"path {problem}")
            continue
        if f.path in seen:
            bad(f.path, "listed twice")
        seen.add(f.path)
        if f.size < 0:
            bad(f.path, f"size {f.size} is negative")
        if not _HEX64.fullmatch(f.sha256):
            bad(f.path, "sha256 is not 64 lowercase hex digits")
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


def scan(root: str) -> tuple[list[Entry], list[FileChange]]:
    """Returns the regular files under `root` (excluding envprint's own) and what cannot be bound."""
    files: list[Entry] = []
    bad: list[FileChange] = []
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
                # the common case first: this loop runs once per file of the model
                if entry.is_file(follow_symlinks=False):
                    if not prefix and _excluded(name):
                        continue
                    problem = _name_problem(name)
                    if problem is None:
                        files.append(Entry(rel, entry.path, entry.stat(follow_symlinks=False).st_size))
                    else:
                        bad.append(FileChange(ChangeKind.UNSUPPORTED, repr(rel), detail=f"name {problem}"))
                elif entry.is_dir(follow_symlinks=False):
                    problem = _name_problem(name)
                    if problem is None:
                        stack.append((rel + "/", entry.path))
                    else:
                        bad.append(FileChange(ChangeKind.UNSUPPORTED, repr(rel), detail=f"name {problem}"))
                elif entry.is_symlink():
                    bad.append(FileChange(ChangeKind.UNSUPPORTED, rel, detail=f"symlink to {os.readlink(entry.path)}"))
                else:
                    kind = special_kind(entry.stat(follow_symlinks=False).st_mode)
                    bad.append(FileChange(ChangeKind.UNSUPPORTED, rel, detail=kind))
            except OSError as err:  # vanished or unreadable while listing
                bad.append(FileChange(ChangeKind.UNREADABLE, rel, detail=err.strerror or str(err)))
    files.sort(key=lambda f: f.path)
    bad.sort(key=lambda c: c.path)
    return files, bad


def stat_root(path: Path) -> os.stat_result:
    try:
        return os.stat(path)  # the root itself may be a symlink the user named
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file or directory", hint="pass the model file or directory") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read ({e.strerror or e})") from None


def root_name(path: Path) -> str:
    return os.path.basename(os.path.abspath(path))


def manifest(
    path: str | os.PathLike[str], *, workers: int | None = None, progress: ProgressCallback | None = None
) -> ArtifactManifest:
    """Returns the digest manifest of the model file or directory at `path`.

    A file's digest is its sha256; a directory's is `directory_digest` of every regular file under
    it. Raises `UsageError` when the path is missing or the directory holds a symlink, a special
    file, an unrepresentable name or nothing at all. `workers` threads hash files in parallel
    (default: the CPUs available); `progress(done, total)` is called as bytes are hashed.
    """
    root = Path(path)
    st = stat_root(root)
    name = root_name(root)
    excluded: tuple[str, ...] = ()
    if stat.S_ISREG(st.st_mode):
        problem = _path_problem(name)
        if problem is not None:
            raise UsageError(f"{root}: the file name {problem}; rename the file to bind it")
        entries = [Entry(name, str(root), st.st_size)]
        kind = "file"
    elif stat.S_ISDIR(st.st_mode):
        entries, bad = scan(str(root))
        if bad:
            raise UsageError(
                f"{root}: cannot bind a model directory holding files envprint cannot represent:\n"
                + format_changes(bad, limit=REPORT_LIMIT),
                hint="replace symlinks by the files they point to and remove special files, then capture again",
            )
        if not entries:
            raise UsageError(f"{root}: the directory holds no files to bind")
        kind, excluded = "directory", DEFAULT_EXCLUDES
    else:
        raise UsageError(f"{root}: is a {special_kind(st.st_mode)}, not a model file or directory")
    files = []
    for e, result in zip(entries, hash_entries(entries, workers, progress), strict=True):
        if isinstance(result, str):
            raise UsageError(f"{e.abspath}: cannot read ({result})")
        files.append(ArtifactFile(e.path, result[1], result[0]))
    digest = files[0].sha256 if kind == "file" else directory_digest(files)
    return ArtifactManifest(name, kind, digest, tuple(files), HASH_ALGORITHM, excluded)


REPORT_LIMIT = 20


class ChangeKind(str, enum.Enum):
    """What differs between a manifest and the files on disk."""

    CHANGED = "changed"  # same path, different content
    ADDED = "added"  # on disk, not in the manifest
    MISSING = "missing"  # in the manifest, not on disk
    RENAMED = "renamed"  # a missing file found again, same size and sha256, under another path
    UNSUPPORTED = "unsupported"  # a symlink, FIFO, socket, device or unrepresentable name on disk
    UNREADABLE = "unreadable"  # a file that could not be read
    INVALID = "invalid"  # an unsafe or inconsistent manifest entry (nothing was read)


@dataclass(frozen=True)
class FileChange:
    """One line of an artifact verification report."""

    kind: ChangeKind
    path: str  # the path on disk now; for MISSING and INVALID the manifest's path
    old_path: str | None = None  # RENAMED: the path the manifest has
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.kind.value:<11} {self.path}"
        if self.old_path is not None:
            text += f" (was {self.old_path})"
        return f"{text}: {self.detail}" if self.detail else text


def format_changes(changes: Sequence[FileChange], *, limit: int | None = None) -> str:
    """Returns the report as indented lines, the first `limit` of them (all when None)."""
    shown = changes if limit is None else changes[:limit]
    lines = [f"  {c}" for c in shown]
    if len(shown) < len(changes):
        lines.append(f"  … and {len(changes) - len(shown)} more")
    return "\n".join(lines)
