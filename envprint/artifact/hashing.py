"""Parallel streaming sha256 of model files: threads across files, a reusable buffer per thread."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, NamedTuple

from envprint.errors import UsageError

if TYPE_CHECKING:
    pass


#: progress(bytes_hashed_so_far, bytes_total); called from worker threads
ProgressCallback = Callable[[int, int], None]

_READ_SIZE = 4 * 1024 * 1024
# small files go to the pool in batches so per-task overhead stays far below the per-file budget
_BATCH_BYTES = 8 * 1024 * 1024
_BATCH_FILES = 256
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
# below this many bytes per worker, threads cost more (GIL hand-offs) than they overlap
_BYTES_PER_WORKER = 32 * 1024 * 1024


class Entry(NamedTuple):  # a tuple: cheaper to build than a dataclass, per file of a big tree
    path: str  # relative POSIX path
    abspath: str
    size: int


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


def _batches(entries: Sequence[Entry]) -> list[list[int]]:
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


def hash_entries(
    entries: Sequence[Entry], workers: int | None, progress: ProgressCallback | None
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


def special_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"
