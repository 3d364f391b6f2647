"""Reads and writes envprint's files safely: one reader and one writer for every file kind.

`read_regular` refuses the same things the same way for every reader: a FIFO or device (which would
block forever), a directory, a file over the size limit, an unreadable path. `atomic_write` is the one
writer: a crash leaves the old file or the new one, never half of one; the temporary file a killed
writer leaves behind (``.NAME.XXXXXXXX.tmp``) is removed by the next write of NAME once it is stale.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import time
from collections.abc import Iterable
from pathlib import Path

from envprint.errors import EnvprintError, UsageError

#: a temporary file untouched for this long belongs to a writer that died (SIGKILL, power loss): no
#: live writer pauses an hour between writing its bytes and renaming them into place
STALE_TEMP_SECONDS = 3600.0


def read_regular(
    path: str | os.PathLike[str], limit: int, what: str, *, error: type[EnvprintError] = UsageError
) -> bytes:
    """Returns the bytes of the regular file at `path`; raises `error` (UsageError) for anything else.

    Opens without blocking and checks the file type before reading, so a FIFO never hangs a reader.
    """
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(f"{p}: no such {what} file") from None
    except IsADirectoryError:
        raise error(f"{p}: is a directory, not a {what} file") from None
    except OSError as e:
        raise error(f"{p}: cannot read {what} ({e.strerror or e})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise error(f"{p}: is a directory, not a {what} file")
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{p}: is not a regular file (a FIFO, socket or device), not a {what} file")
        if st.st_size > limit:
            raise error(f"{p}: {st.st_size} bytes is too large for a {what} file (limit {limit})")
        chunks, size = [], 0
        want = st.st_size + 1  # the whole file in one read: one copy (b"".join of one chunk returns it)
        while True:
            chunk = os.read(fd, min(want, limit + 1 - size))
            want = 1 << 20  # the file grew while being read
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise error(f"{p}: too large for a {what} file (limit {limit} bytes)")
        return b"".join(chunks)
    except OSError as e:
        raise error(f"{p}: cannot read {what} ({e.strerror or e})") from None
    finally:
        os.close(fd)


def read_prefix(path: str, limit: int) -> bytes:
    """Returns at most the first `limit` bytes of `path`, with one raw read; OSError as raised.

    For the many small metadata files a capture reads (dist-info headers, direct_url.json, RECORD):
    an order of magnitude cheaper than open() with its buffered text layers.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, limit)
    finally:
        os.close(fd)


def atomic_write(
    path: str | os.PathLike[str], data: bytes | Iterable[bytes], *, mode: int = 0o644, replace: bool = True
) -> Path:
    """Returns `path` after writing `data` there atomically: a crash leaves the old file or the new one.

    Writes a temporary file in the same directory (created 0600 whatever the umask, so a private key
    is never readable by others on the way), fsyncs it, gives it `mode`, moves it into place and
    fsyncs the directory. With ``replace=False`` an existing file is never replaced (keys): the move
    is a hard link, which fails when the target exists, and `UsageError` says so.
    """
    import tempfile  # only writers need it (~3 ms of imports a reader should not pay)

    p = Path(path)
    directory = p.parent if str(p.parent) else Path(".")
    remove_stale_temporaries(p)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise UsageError(f"{p}: cannot write in {directory} ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in [data] if isinstance(data, bytes) else data:
                f.write(chunk)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, p)
        else:
            _link_new(tmp, p, mode)
    except FileExistsError:
        raise UsageError(f"{p}: already exists; refusing to overwrite it") from None
    except OSError as e:
        raise UsageError(f"{p}: cannot write ({e.strerror or e})") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # after a replace there is nothing left to remove; after a link, the name
    fsync_directory(directory)
    return p


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Makes the names just created or renamed in `directory` durable (where the filesystem allows it)."""
    with contextlib.suppress(OSError):  # directory fsync is unsupported on some filesystems
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_stale_temporaries(path: str | os.PathLike[str], *, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Returns the temporaries of `path` left by killed writers that were removed: stale ones only.

    Only regular files named exactly as `atomic_write` names the temporaries of `path`
    (``.NAME.`` + tempfile's 8 random characters + ``.tmp``) and untouched for `older_than` seconds
    are removed; anything else, and any error, is left alone: cleaning never fails a write.
    """
    p = Path(path)
    directory = p.parent if str(p.parent) else Path(".")
    pattern = re.compile(rf"\.{re.escape(p.name)}\.[a-z0-9_]{{8}}\.tmp")
    removed: list[Path] = []
    cutoff = time.time() - older_than
    try:
        names = [n for n in os.listdir(directory) if pattern.fullmatch(n)]
    except OSError:
        return removed
    for name in names:
        candidate = directory / name
        with contextlib.suppress(OSError):
            st = os.lstat(candidate)
            if stat.S_ISREG(st.st_mode) and st.st_mtime < cutoff:
                os.unlink(candidate)
                removed.append(candidate)
    return removed


def _link_new(tmp: str, path: Path, mode: int) -> None:
    """Moves `tmp` to a `path` that must not exist yet: a hard link (unlike rename, it fails on an existing target)."""
    try:
        os.link(tmp, path)
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            raise
        # a filesystem without hard links: create exclusively and copy
        with open(tmp, "rb") as src:
            data = src.read()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode & 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                os.fchmod(f.fileno(), mode)
                os.fsync(f.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
