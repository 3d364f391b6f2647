"""Reads small input files (fingerprints, keys, keyrings, policies) safely.

One helper so every reader refuses the same things the same way: a FIFO or device (which would
block forever), a directory, a file over the size limit, an unreadable path.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from envprint.errors import EnvprintError, UsageError


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
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
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
