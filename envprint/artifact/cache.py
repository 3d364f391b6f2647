"""An opt-in cache of verified digests, so that repeated starts of a service do not re-hash unchanged models.

A file's identity is (device, inode, size, mtime_ns, ctime_ns). Writing to a file, truncating it,
replacing it or renaming another file over it changes that identity; so a file whose identity was
recorded when its content verified as sha256 X still holds the bytes with sha256 X. The cache maps
identities to those digests and is used only to confirm the digest a signed manifest expects.

Threat model (docs/signing.md, "Verified-digest cache"): it protects against anyone who can write the
model files but not the cache and cannot set a file's ctime: an unprivileged user, a compromised
deploy step. It does **not** protect against root, who can set the clock (and so ctime), edit the
filesystem directly, or write the cache itself. The cache directory must be owned by the user of the
service and writable by nobody else, and its file is written 0600; anything else is refused.
A file changed within `racy_seconds` of being hashed is not cached: timestamps have a granularity,
and a write in the same tick as the one before could leave them unchanged.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from pathlib import Path

from envprint._files import atomic_write, read_regular
from envprint.errors import UsageError

#: where the cache is kept when the library is not told: the opt-in for guard() and the CLI
CACHE_ENV = "ENVPRINT_DIGEST_CACHE"
#: the cache's file inside its directory
CACHE_FILE = "verified-digests.json"
#: files smaller than this are hashed again rather than looked up (a lookup costs about as much)
MIN_SIZE = 1024 * 1024
#: entries kept; the oldest go first
MAX_ENTRIES = 20_000
_FORMAT = "envprint-digest-cache"
_MAX_BYTES = 8 * 1024 * 1024

logger = logging.getLogger("envprint")

Identity = tuple[int, int, int, int, int]


def identity(st: os.stat_result) -> Identity:
    """Returns a file's identity for the cache: (device, inode, size, mtime_ns, ctime_ns)."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class DigestCache:
    """Verified sha256 digests by file identity, stored 0600 in a directory only this user can write."""

    def __init__(self, directory: str | os.PathLike[str], *, racy_seconds: float = 2.0) -> None:
        self.directory = Path(directory)
        self.racy_seconds = racy_seconds
        self.path = self.directory / CACHE_FILE
        self._lock = threading.Lock()
        self._dirty = False
        _check_directory(self.directory)
        self._entries = self._read()
        #: how many lookups found a verified digest since the cache was opened
        self.hits = 0

    def _read(self) -> dict[str, str]:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise UsageError(f"{self.path}: cannot read the digest cache ({e.strerror or e})") from None
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
            raise UsageError(
                f"{self.path}: the digest cache must be a regular file owned by this user, mode 0600",
                hint=f"remove it (it is rebuilt): rm {self.path}",
            )
        try:
            data = json.loads(read_regular(self.path, _MAX_BYTES, "digest cache"))
        except (UsageError, ValueError) as e:  # a damaged cache only costs a re-hash
            logger.warning("envprint: ignoring the unreadable digest cache %s (%s)", self.path, e)
            return {}
        entries = data.get("entries") if isinstance(data, dict) and data.get("format") == _FORMAT else None
        if not isinstance(entries, dict):
            return {}
        return {k: v for k, v in entries.items() if isinstance(k, str) and isinstance(v, str)}

    @staticmethod
    def _key(ident: Identity) -> str:
        return ":".join(str(x) for x in ident)

    def lookup(self, st: os.stat_result) -> str | None:
        """Returns the sha256 verified earlier for the file whose stat is `st`, None when there is none."""
        with self._lock:
            digest = self._entries.get(self._key(identity(st)))
            if digest is not None:
                self.hits += 1
            return digest

    def store(self, before: os.stat_result, after: os.stat_result, sha256: str) -> bool:
        """Records `sha256` for a file stat-ed `before` and `after` it was hashed; returns whether it was recorded.

        Nothing is recorded when the identity moved while hashing, or when the file changed less
        than `racy_seconds` before it was hashed.
        """
        if identity(before) != identity(after):
            return False
        changed = max(before.st_mtime_ns, before.st_ctime_ns) / 1e9
        if time.time() - changed < self.racy_seconds:
            return False
        key = self._key(identity(before))
        with self._lock:
            self._entries.pop(key, None)  # re-inserted last: the newest are kept when trimming
            self._entries[key] = sha256
            self._dirty = True
        return True

    def save(self) -> None:
        """Writes the cache (atomically, mode 0600) when something was recorded since it was read."""
        with self._lock:
            if not self._dirty:
                return
            entries = list(self._entries.items())[-MAX_ENTRIES:]
            data = json.dumps({"format": _FORMAT, "version": 1, "entries": dict(entries)}, separators=(",", ":"))
            self._dirty = False
        atomic_write(self.path, data.encode(), mode=0o600)


def _check_directory(directory: Path) -> None:
    """Creates the cache directory (0700) if needed; raises `UsageError` unless only this user can write it.

    Its parents must not let anyone else replace it: each is owned by this user or root and is not
    writable by group or others, unless sticky (like /tmp).
    """
    uid = os.geteuid()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(directory)
    except OSError as e:
        raise UsageError(f"{directory}: cannot create the digest cache directory ({e.strerror or e})") from None
    fix = f"chown $(id -u) {directory} && chmod 700 {directory}"
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{directory}: the digest cache must be a directory, not a symlink or file")
    if st.st_uid != uid or st.st_mode & 0o022:
        raise UsageError(
            f"{directory}: the digest cache directory must be owned by this user and writable by no one else "
            f"(owner uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):o})",
            hint=fix,
        )
    for parent in Path(os.path.realpath(directory)).parents:
        pst = os.stat(parent)
        sticky = bool(pst.st_mode & stat.S_ISVTX)
        if pst.st_uid not in (0, uid) or (pst.st_mode & 0o022 and not sticky):
            raise UsageError(
                f"{directory}: its parent {parent} can be written by others, who could replace the digest cache",
                hint="keep the cache under a directory only the service user and root can write, e.g. /var/lib/SERVICE",
            )


def open_cache(directory: str | os.PathLike[str] | DigestCache | None) -> DigestCache | None:
    """Returns the digest cache to use: `directory`, else ``$ENVPRINT_DIGEST_CACHE``, else None (no cache)."""
    if isinstance(directory, DigestCache):
        return directory
    if directory is None:
        directory = os.environ.get(CACHE_ENV) or None
    return None if directory is None else DigestCache(directory)
