"""Parallel streaming sha256 of model files: threads across files and across byte ranges of one file.

The unit of work is a `Piece`: a whole file (its sha256, read to its end, as `sha256sum` does) or a
byte range of a file (one shard). sha256 is sequential, so one file is one core's work unless it is
cut in shards; shards are independent, so a large file's shards keep every core busy. Each thread
reads with one reusable 4 MiB buffer (positional reads for ranges): memory stays bounded whatever
the file size.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Callable, Sequence
from typing import NamedTuple

from envprint.errors import UsageError

#: progress(bytes_hashed_so_far, bytes_total); called from worker threads
ProgressCallback = Callable[[int, int], None]

#: `Piece.length` of a whole file: read to its end, whatever its size now
WHOLE = -1

_READ_SIZE = 4 * 1024 * 1024
# small files go to the pool in batches so per-task overhead stays far below the per-file budget
_BATCH_BYTES = 8 * 1024 * 1024
_BATCH_FILES = 256
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
# below this many bytes per worker, threads cost more (GIL hand-offs) than they overlap
_BYTES_PER_WORKER = 32 * 1024 * 1024


class Entry(NamedTuple):  # a tuple: cheaper to build than a dataclass, per file of a big tree
    path: str  # relative POSIX path
    abspath: str  # what is opened: the file itself, or the Hub cache blob a snapshot link resolves to
    size: int
    link: str | None = None  # the Hub cache symlink's target text, when `abspath` is its blob


class Piece(NamedTuple):
    """What one hashing task reads: entry `entry`, `length` bytes from `offset` (or the whole file)."""

    entry: int
    offset: int = 0
    length: int = WHOLE


#: a piece's result: (sha256 hex, bytes read), or why the file could not be read
Result = tuple[str, int] | str

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


def _hash_whole(abspath: str, size: int, progress: _Progress | None) -> Result:
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
            return f"is a {special_kind(st.st_mode)}, not a regular file"
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


def _hash_range(abspath: str, offset: int, length: int, progress: _Progress | None) -> Result:
    """Returns (sha256 hex, bytes read) of `length` bytes from `offset`; fewer bytes read means the file ends early."""
    try:
        fd = os.open(abspath, _OPEN_FLAGS)
    except OSError as e:
        return e.strerror or str(e)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return f"is a {special_kind(st.st_mode)}, not a regular file"
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, offset, length, os.POSIX_FADV_SEQUENTIAL)
        h = hashlib.sha256()
        buf, view = _buffer()
        done = 0
        while done < length:
            want = min(len(buf), length - done)
            n = os.preadv(fd, [view[:want]], offset + done)
            if not n:
                break
            h.update(view[:n])
            done += n
            if progress is not None:
                progress.add(n)
        return h.hexdigest(), done
    except OSError as e:
        return e.strerror or str(e)
    finally:
        os.close(fd)


def _sizes(entries: Sequence[Entry], pieces: Sequence[Piece]) -> list[int]:
    return [entries[p.entry].size if p.length == WHOLE else p.length for p in pieces]


def _batches(sizes: Sequence[int]) -> list[list[int]]:
    """Returns indices of `sizes` grouped into pool tasks, largest first (for load balance)."""
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i])
    batches: list[list[int]] = []
    current: list[int] = []
    current_bytes = 0
    for i in order:
        size = sizes[i]
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


def hash_pieces(
    entries: Sequence[Entry], pieces: Sequence[Piece], workers: int | None, progress: ProgressCallback | None
) -> list[Result]:
    """Returns, per piece, (sha256, bytes read) or why it could not be read; pieces are hashed in parallel."""
    if workers is not None and workers < 1:
        raise UsageError(f"workers must be at least 1, got {workers}")
    sizes = _sizes(entries, pieces)
    results: list[Result] = [""] * len(pieces)
    counter = _Progress(sum(sizes), progress) if progress is not None else None

    def run(batch: list[int]) -> None:
        for i in batch:
            p = pieces[i]
            e = entries[p.entry]
            if p.length == WHOLE:
                results[i] = _hash_whole(e.abspath, e.size, counter)
            else:
                results[i] = _hash_range(e.abspath, p.offset, p.length, counter)

    batches = _batches(sizes)
    volume = sum(sizes) // _BYTES_PER_WORKER + 1
    n = min(workers if workers is not None else default_workers(), len(batches), volume)
    if n <= 1:  # also when there is nothing to hash
        try:
            for b in batches:
                run(b)
        finally:
            _local.__dict__.pop("buf", None)  # a long-lived (serving) thread keeps no 4 MiB buffer
    else:
        from concurrent.futures import ThreadPoolExecutor  # with logging, ~4 ms that a capture without --artifact skips

        pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="envprint-hash")
        try:
            for future in [pool.submit(run, b) for b in batches]:
                future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    if counter is not None and counter.done != counter.total:  # sizes moved while hashing
        counter.callback(counter.total, counter.total)
    return results


def hash_entries(entries: Sequence[Entry], workers: int | None, progress: ProgressCallback | None) -> list[Result]:
    """Returns, per entry, (sha256, size) of the whole file or why it could not be read; parallel across files."""
    return hash_pieces(entries, [Piece(i) for i in range(len(entries))], workers, progress)


def special_kind(mode: int) -> str:
    """Returns the name of a non-regular file type ("FIFO", "socket", ...)."""
    for test, name in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"
