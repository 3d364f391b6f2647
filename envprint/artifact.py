"""Binds a fingerprint to model files: a digest manifest of a file or directory, and its verification.

* A single file is identified by its sha256 (the same as `sha256sum FILE`).
* A directory by the sha256 of its dirHash1-style listing: one ``"<sha256 hex>  <path>\\n"`` line per
  regular file, sorted bytewise by POSIX path relative to the root. Names are bound (a rename changes
  the digest) and empty files are included; symlinks and special files are refused, and envprint's
  own files at the root (``*.fp`` and their temporary files) are excluded, as `excluded` records.

Hashing is parallel across files only (threads; hashlib releases the GIL): sha256 is sequential, so
a single large file is hashed by one core at the speed of `hashlib`. Files are read with a reusable
4 MiB buffer per thread; small files take one read each and are handed to the pool in batches.

Paths of a manifest are validated (relative, normalised, no ``..``, no control characters or
backslashes) before anything is read from disk, even though the manifest is signed.
"""

from __future__ import annotations

import enum
import fnmatch
import hashlib
import os
import re
import stat
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from envprint.codec import read
from envprint.errors import ArtifactMismatchError, UsageError
from envprint.model import ArtifactFile, ArtifactManifest

if TYPE_CHECKING:
    from envprint.signing import TrustedKeysLike

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
    "directory_digest",
    "find_fingerprint",
    "format_changes",
    "manifest",
    "validate_manifest",
    "verify",
    "verify_file",
]

HASH_ALGORITHM = "sha256"
#: the fingerprint's name inside a model directory
FINGERPRINT_NAME = "envprint.fp"
#: root-level names left out of a directory manifest: fingerprints and their atomic-write temporaries
DEFAULT_EXCLUDES: tuple[str, ...] = ("*.fp", ".*.fp.*.tmp")
#: the exclusions a verifier honours when a (signed) manifest lists them; anything else is refused
ALLOWED_EXCLUDES = frozenset(DEFAULT_EXCLUDES)
#: progress(bytes_hashed_so_far, bytes_total); called from worker threads
ProgressCallback = Callable[[int, int], None]

_READ_SIZE = 4 * 1024 * 1024
# small files go to the pool in batches so per-task overhead stays far below the per-file budget
_BATCH_BYTES = 8 * 1024 * 1024
_BATCH_FILES = 256
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_BAD_CHAR = re.compile(r"[\x00-\x1f\x7f\\]")
# below this many bytes per worker, threads cost more (GIL hand-offs) than they overlap
_BYTES_PER_WORKER = 32 * 1024 * 1024
_REPORT_LIMIT = 20


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


# ------------------------------------------------------------------------------------------- paths


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
            + format_changes(problems, limit=_REPORT_LIMIT),
            changes=tuple(problems),
            hint="do not deploy this model: its fingerprint was not written by envprint's capture",
        )


# ---------------------------------------------------------------------------------------- scanning


class _Entry(NamedTuple):  # a tuple: cheaper to build than a dataclass, per file of a big tree
    path: str  # relative POSIX path
    abspath: str
    size: int


def _special(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"


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


def _scan(root: str) -> tuple[list[_Entry], list[FileChange]]:
    """Returns the regular files under `root` (excluding envprint's own) and what cannot be bound."""
    files: list[_Entry] = []
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
                        files.append(_Entry(rel, entry.path, entry.stat(follow_symlinks=False).st_size))
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
                    kind = _special(entry.stat(follow_symlinks=False).st_mode)
                    bad.append(FileChange(ChangeKind.UNSUPPORTED, rel, detail=kind))
            except OSError as err:  # vanished or unreadable while listing
                bad.append(FileChange(ChangeKind.UNREADABLE, rel, detail=err.strerror or str(err)))
    files.sort(key=lambda f: f.path)
    bad.sort(key=lambda c: c.path)
    return files, bad


# ----------------------------------------------------------------------------------------- hashing

_local = threading.local()


def _buffer() -> tuple[bytearray, memoryview]:
    buf: tuple[bytearray, memoryview] | None = getattr(_local, "buf", None)
    if buf is None:
        b = bytearray(_READ_SIZE)
        buf = _local.buf = (b, memoryview(b))
    return buf


class _Progress:
    """Thread-safe byte counter that forwards (done, total) to the caller's callback."""

    def __init__(self, total: int, callback: ProgressCallback) -> None:
        self.total = total
        self.done = 0
        self.callback = callback
        self.lock = threading.Lock()

    def add(self, n: int) -> None:
        with self.lock:
            self.done += n
            self.callback(self.done, self.total)


def _hash_one(abspath: str, size: int, progress: _Progress | None) -> tuple[str, int] | str:
    """Returns (sha256 hex, bytes read) of a regular file of `size` bytes (as listed), or why it cannot be read."""
    try:
        # O_NOFOLLOW: a symlink swapped in after the scan fails here; O_NONBLOCK: so does a FIFO
        fd = os.open(abspath, _OPEN_FLAGS)
    except OSError as e:
        return e.strerror or str(e)
    try:
        if size < _READ_SIZE:
            # one read; asking for a byte more than listed tells the end (a short read) from growth
            data = os.read(fd, size + 1)
            if len(data) <= size:
                if progress is not None:
                    progress.add(len(data))
                return hashlib.sha256(data).hexdigest(), len(data)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # e.g. a device swapped in: it could be endless
            return f"is a {_special(st.st_mode)}, not a regular file"
        if size < _READ_SIZE:
            h = hashlib.sha256(data)  # it grew since it was listed: read on to its end
            total = len(data)
            if progress is not None:
                progress.add(total)
        else:
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            h = hashlib.sha256()
            total = 0
        buf, view = _buffer()
        while n := os.readv(fd, [buf]):
            h.update(view[:n])
            total += n
            if progress is not None:
                progress.add(n)
        return h.hexdigest(), total
    except OSError as e:
        return e.strerror or str(e)
    finally:
        os.close(fd)


def _batches(entries: Sequence[_Entry]) -> list[list[int]]:
    """Returns indices of `entries` grouped into pool tasks, largest first (for load balance)."""
    order = sorted(range(len(entries)), key=lambda i: -entries[i].size)
    batches: list[list[int]] = []
    current: list[int] = []
    current_bytes = 0
    for i in order:
        size = entries[i].size
        if size >= _BATCH_BYTES:
            batches.append([i])
            continue
        current.append(i)
        current_bytes += size
        if current_bytes >= _BATCH_BYTES or len(current) >= _BATCH_FILES:
            batches.append(current)
            current, current_bytes = [], 0
    if current:
        batches.append(current)
    return batches


def default_workers() -> int:
    """Returns the number of hashing threads used by default: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _hash_entries(
    entries: Sequence[_Entry], workers: int | None, progress: ProgressCallback | None
) -> list[tuple[str, int] | str]:
    """Returns, per entry, (sha256, size) or why it could not be read; hashes in parallel across files."""
    results: list[tuple[str, int] | str] = [""] * len(entries)
    counter = _Progress(sum(e.size for e in entries), progress) if progress is not None else None

    def run(batch: list[int]) -> None:
        for i in batch:
            e = entries[i]
            results[i] = _hash_one(e.abspath, e.size, counter)

    if workers is not None and workers < 1:
        raise UsageError(f"workers must be at least 1, got {workers}")
    batches = _batches(entries)
    volume = sum(e.size for e in entries) // _BYTES_PER_WORKER + 1
    n = min(workers if workers is not None else default_workers(), len(batches), volume)
    if n <= 1:  # also when there is nothing to hash
        try:
            for b in batches:
                run(b)
        finally:
            _local.__dict__.pop("buf", None)  # a long-lived (serving) thread keeps no 4 MiB buffer
    else:
        pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="envprint-hash")
        try:
            for future in [pool.submit(run, b) for b in batches]:
                future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    if counter is not None and counter.done != counter.total:  # sizes moved while hashing
        counter.callback(counter.total, counter.total)
    return results


# ---------------------------------------------------------------------------------------- manifest


def _stat_root(path: Path) -> os.stat_result:
    try:
        return os.stat(path)  # the root itself may be a symlink the user named
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file or directory", hint="pass the model file or directory") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read ({e.strerror or e})") from None


def _name(path: Path) -> str:
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
    st = _stat_root(root)
    name = _name(root)
    excluded: tuple[str, ...] = ()
    if stat.S_ISREG(st.st_mode):
        problem = _path_problem(name)
        if problem is not None:
            raise UsageError(f"{root}: the file name {problem}; rename the file to bind it")
        entries = [_Entry(name, str(root), st.st_size)]
        kind = "file"
    elif stat.S_ISDIR(st.st_mode):
        entries, bad = _scan(str(root))
        if bad:
            raise UsageError(
                f"{root}: cannot bind a model directory holding files envprint cannot represent:\n"
                + format_changes(bad, limit=_REPORT_LIMIT),
                hint="replace symlinks by the files they point to and remove special files, then capture again",
            )
        if not entries:
            raise UsageError(f"{root}: the directory holds no files to bind")
        kind, excluded = "directory", DEFAULT_EXCLUDES
    else:
        raise UsageError(f"{root}: is a {_special(st.st_mode)}, not a model file or directory")
    files = []
    for e, result in zip(entries, _hash_entries(entries, workers, progress), strict=True):
        if isinstance(result, str):
            raise UsageError(f"{e.abspath}: cannot read ({result})")
        files.append(ArtifactFile(e.path, result[1], result[0]))
    digest = files[0].sha256 if kind == "file" else directory_digest(files)
    return ArtifactManifest(name, kind, digest, tuple(files), HASH_ALGORITHM, excluded)


# ------------------------------------------------------------------------------------------ verify


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
        + format_changes(changes, limit=_REPORT_LIMIT),
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
    st = _stat_root(root)
    if manifest.kind == "file":
        if not stat.S_ISREG(st.st_mode):
            raise _mismatch(root, [FileChange(ChangeKind.MISSING, manifest.name, detail=f"{root} is not a file")])
        expected = manifest.files[0]
        result = _hash_entries([_Entry(_name(root), str(root), st.st_size)], workers, progress)[0]
        if isinstance(result, str):
            raise _mismatch(root, [FileChange(ChangeKind.UNREADABLE, _name(root), detail=result)])
        if result[0] != expected.sha256:
            detail = f"sha256 {_short(expected.sha256)} → {_short(result[0])}, size {expected.size} → {result[1]}"
            raise _mismatch(root, [FileChange(ChangeKind.CHANGED, _name(root), detail=detail)])
        return
    if not stat.S_ISDIR(st.st_mode):
        raise _mismatch(root, [FileChange(ChangeKind.MISSING, manifest.name, detail=f"{root} is not a directory")])
    entries, changes = _scan(str(root))
    _compare(manifest, entries, changes, workers, progress)
    if changes:
        raise _mismatch(root, changes)


def _compare(
    m: ArtifactManifest,
    entries: list[_Entry],
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
    to_hash: list[_Entry] = []
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
    for e, result in zip(to_hash, _hash_entries(to_hash, workers, progress), strict=True):
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


# ---------------------------------------------------------------------------------------- location


def default_fp_path(artifact: str | os.PathLike[str]) -> Path:
    """Returns where the fingerprint of `artifact` goes: DIR/envprint.fp, or FILE.fp beside a file."""
    p = Path(artifact)
    st = _stat_root(p)
    if stat.S_ISDIR(st.st_mode):
        return p / FINGERPRINT_NAME
    if stat.S_ISREG(st.st_mode):
        if p.name.endswith(".fp"):
            raise UsageError(f"{p}: is a fingerprint, not a model artifact")
        return p.with_name(p.name + ".fp")
    raise UsageError(f"{p}: is a {_special(st.st_mode)}, not a model file or directory")


def find_fingerprint(artifact_or_fp: str | os.PathLike[str]) -> Path:
    """Returns the fingerprint of a model directory or file, or `artifact_or_fp` itself if it is one.

    Raises `UsageError` naming the place it looked when there is none.
    """
    p = Path(artifact_or_fp)
    st = _stat_root(p)
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
