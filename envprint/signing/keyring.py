"""Keyrings: the keys a verifier trusts, read from key files, PEM bundles and TOML keyring files.

Trust comes from these files, so where they live matters: a key file reached through a symlink, or
one that others can write (world-writable, or in a world-writable directory without the sticky
bit), could be swapped for an attacker's key. Such a file is accepted with an
`InsecureKeyFileWarning`, or refused (`UsageError`) in strict mode: ``Keyring.load(path, strict=True)``,
``Keyring.of(keys, strict=True)``, or ENVPRINT_STRICT_KEYS=1 for every verifier in the process
(the CLI's ``--key`` included).
"""

from __future__ import annotations

import os
import re
import stat
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, TypeAlias

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from envprint._base import Record, record
from envprint.errors import UsageError
from envprint.signing.keys import (
    PublicKey,
    PublicKeyLike,
    Signer,
    keyid,
    load_public_keys,
    public_keys_from_bytes,
    read_key_file,
)

__all__ = [
    "STRICT_KEYS_ENV",
    "InsecureKeyFileWarning",
    "Keyring",
    "TrustedKey",
    "TrustedKeysLike",
    "key_file_problem",
]

#: ENVPRINT_STRICT_KEYS=1 refuses key files reached through a symlink or writable by others
STRICT_KEYS_ENV = "ENVPRINT_STRICT_KEYS"
_KEYRING_FIELDS = frozenset({"keyid", "public_key", "path", "revoked", "not_before", "not_after", "comment"})

#: what a verifier trusts: a Keyring, or one or several public keys, key files and keyring files
TrustedKeysLike: TypeAlias = "Keyring | PublicKeyLike | Iterable[PublicKeyLike | Keyring | TrustedKey]"


class InsecureKeyFileWarning(UserWarning):
    """A trusted key or keyring file is reached through a symlink or can be written by others."""


def _short(kid: str) -> str:
    return kid[:16]


def strict_from_env() -> bool:
    """Returns whether ENVPRINT_STRICT_KEYS asks for strict key files (1, true, yes, on)."""
    return os.environ.get(STRICT_KEYS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def key_file_problem(path: Path) -> str | None:
    """Returns why a trusted key file could be swapped by someone else, or None when it could not.

    A symlink (its target can change independently of the name the verifier was given), a file
    others may write, or a file in a directory others may write without the sticky bit.
    """
    try:
        st = os.lstat(path)
    except OSError:
        return None  # the reader reports a missing file with the right message
    if stat.S_ISLNK(st.st_mode):
        return f"is reached through a symlink (to {os.path.realpath(path)})"
    if st.st_mode & stat.S_IWOTH:
        return "is world-writable"
    parent = path.parent if str(path.parent) else Path(".")
    try:
        pst = os.stat(parent)
    except OSError:
        return None
    if pst.st_mode & stat.S_IWOTH and not pst.st_mode & stat.S_ISVTX:
        return f"is in a world-writable directory ({parent}) without the sticky bit"
    return None


def _read_trusted_file(path: Path, what: str, strict: bool) -> bytes:
    """Returns the bytes of a trusted key/keyring file after checking who could have swapped it."""
    problem = key_file_problem(path)
    if problem is not None:
        message = f"{path}: the {what} {problem}, so someone else could replace the keys it holds"
        if strict:
            raise UsageError(
                f"{message}; refused in strict mode ({STRICT_KEYS_ENV})",
                hint="copy the key to a regular file only its owner can write (chmod 644, directory not "
                "world-writable), or turn strict mode off",
            )
        warnings.warn(message, InsecureKeyFileWarning, stacklevel=4)
    return read_key_file(path, what)


@record
class TrustedKey(Record):
    """One key a verifier trusts (or, revoked, explicitly distrusts), with its validity window."""

    keyid: str
    #: None for a revocation-only keyring entry that names the key by id
    public_key: PublicKey | None
    revoked: bool = False
    not_before: datetime | None = None  # timezone-aware; compared with the verifier's clock
    not_after: datetime | None = None
    comment: str = ""
    #: where the key came from (file, keyring entry), for messages
    source: str = ""

    def describe(self) -> str:
        """Returns the short key id plus its comment or source, as shown in messages."""
        label = self.comment or self.source
        return f"{_short(self.keyid)} ({label})" if label else _short(self.keyid)

    def problem_at(self, now: datetime) -> str | None:
        """Returns why the key may not verify at time `now`, or None when it may."""
        if self.revoked:
            return "is revoked"
        if self.not_before is not None and now < self.not_before:
            return f"is not valid before {self.not_before.isoformat()} (verifier clock: {now.isoformat()})"
        if self.not_after is not None and now > self.not_after:
            return f"expired at {self.not_after.isoformat()} (verifier clock: {now.isoformat()})"
        return None


def _merge(a: TrustedKey, b: TrustedKey) -> TrustedKey:
    """Returns one entry for a key listed twice: the most restrictive of both (fail closed)."""
    starts = [t for t in (a.not_before, b.not_before) if t is not None]
    ends = [t for t in (a.not_after, b.not_after) if t is not None]
    return TrustedKey(
        a.keyid,
        a.public_key or b.public_key,
        a.revoked or b.revoked,
        max(starts) if starts else None,
        min(ends) if ends else None,
        a.comment or b.comment,
        a.source if a.source == b.source else f"{a.source}; {b.source}",
    )


_PRIVATE = (Ed25519PrivateKey, ec.EllipticCurvePrivateKey, Signer)
_PUBLIC = (Ed25519PublicKey, ec.EllipticCurvePublicKey)


def _private_key_given() -> UsageError:
    return UsageError(
        "trusted_keys holds a private key (or a Signer); a verifier trusts public keys only",
        hint="pass the public half (key.public_key(), or the PREFIX.pub file); keep private keys off serving hosts",
    )


@record
class Keyring(Record):
    """The keys a verifier trusts, one entry per key id (a key listed twice keeps the strictest terms).

    Immutable: build one per verification (`Keyring.of`) or share one freely; verifying never
    changes it. A keyring file is TOML::

        [[key]]
        path = "release-2025.pub"          # relative to the keyring file, or
        # public_key = "-----BEGIN PUBLIC KEY-----..."
        comment = "release key 2025"
        not_before = 2025-01-01T00:00:00Z  # optional validity window (verifier clock)
        not_after = 2026-06-30T00:00:00Z

        [[key]]
        keyid = "3fa2..."                  # revoke a key you no longer hold by its id
        revoked = true

    A `.pub` file (or `public_key` text) may hold several PEM blocks: every key in it is trusted.
    """

    keys: tuple[TrustedKey, ...] = ()

    @classmethod
    def of(cls, trusted_keys: TrustedKeysLike, *, strict: bool | None = None) -> Keyring:
        """Returns a keyring of `trusted_keys`: a Keyring, or key/keyring paths, PEM, DER or key objects.

        `strict` refuses key files reached through a symlink or writable by others (default: the
        ENVPRINT_STRICT_KEYS variable); otherwise they are accepted with an `InsecureKeyFileWarning`.
        Raises `UsageError` for anything that is not a public key: a private key, a number, a map.
        """
        if isinstance(trusted_keys, Keyring):
            return trusted_keys
        strict = strict_from_env() if strict is None else strict
        given: object = trusted_keys  # callers outside mypy pass anything: ints, private keys, maps
        items: Iterable[Any]
        if isinstance(given, (str, bytes, os.PathLike, *_PUBLIC)):
            items = [given]
        elif isinstance(given, _PRIVATE):
            raise _private_key_given()
        elif isinstance(given, Iterable) and not isinstance(given, Mapping):
            items = given
        else:
            raise UsageError(
                f"trusted_keys must be public keys, key files or a Keyring, not {type(trusted_keys).__name__}",
                hint="pass e.g. trusted_keys=['train.pub'] or trusted_keys=Keyring.load('keyring.toml')",
            )
        entries: list[TrustedKey] = []
        for item in items:
            if isinstance(item, Keyring):
                entries.extend(item.keys)
            elif isinstance(item, TrustedKey):
                entries.append(item)
            else:
                entries.extend(_entries_of(item, strict))
        return cls.from_entries(entries)

    @classmethod
    def from_entries(cls, entries: Iterable[TrustedKey]) -> Keyring:
        """Returns a keyring of `entries`, merging entries of the same key id (the strictest wins)."""
        by_id: dict[str, TrustedKey] = {}
        for e in entries:
            by_id[e.keyid] = _merge(by_id[e.keyid], e) if e.keyid in by_id else e
        return cls(tuple(by_id.values()))

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, strict: bool | None = None) -> Keyring:
        """Returns the keyring in a TOML keyring file (see the class docstring for its layout)."""
        p = Path(path)
        strict = strict_from_env() if strict is None else strict
        return cls.from_entries(_keyring_file(p, _read_trusted_file(p, "keyring", strict), strict))

    def get(self, kid: str) -> TrustedKey | None:
        """Returns the entry of key id `kid`, or None when the keyring does not list it."""
        for k in self.keys:
            if k.keyid == kid:
                return k
        return None

    @property
    def keyids(self) -> tuple[str, ...]:
        """Returns the key ids listed (revoked ones included)."""
        return tuple(k.keyid for k in self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[TrustedKey]:
        return iter(self.keys)


def _entries_of(item: object, strict: bool) -> list[TrustedKey]:
    """Returns the keyring entries of one trusted-keys item: a key, a key file or bundle, or a keyring file."""
    if isinstance(item, _PUBLIC):
        key = load_public_keys(item)[0]
        return [TrustedKey(keyid(key), key, source="key object")]
    if isinstance(item, _PRIVATE):
        raise _private_key_given()
    if isinstance(item, bytes) or (isinstance(item, str) and "-----BEGIN" in item):
        return [TrustedKey(keyid(k), k, source="PEM given") for k in load_public_keys(item)]
    if isinstance(item, (str, os.PathLike)):
        p = Path(item)
        data = _read_trusted_file(p, "public key or keyring", strict)
        # a keyring may hold inline PEM keys: only a file that *starts* with a PEM block is a key file
        if data.lstrip().startswith(b"-----BEGIN"):
            return [TrustedKey(keyid(k), k, source=str(p)) for k in public_keys_from_bytes(data, str(p))]
        return _keyring_file(p, data, strict)
    raise UsageError(
        f"unsupported trusted key {type(item).__name__}",
        hint="pass public key files, PEM text, public key objects, keyring files or a Keyring",
    )


def _keyring_file(path: Path, data: bytes, strict: bool) -> list[TrustedKey]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: the backport
        import tomli as tomllib

    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as e:
        raise UsageError(
            f"{path}: neither a PEM public key nor a TOML keyring ({type(e).__name__}: {e})",
            hint="a keyring lists [[key]] tables with `path` or `public_key`; see docs/signing.md",
        ) from None
    unknown = set(doc) - {"key"}
    if unknown:
        raise UsageError(f"{path}: unknown keyring fields {sorted(unknown)} (expected [[key]] tables)")
    tables = doc.get("key", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise UsageError(f"{path}: `key` must be an array of tables ([[key]])")
    return [entry for i, t in enumerate(tables, 1) for entry in _keyring_entries(path, i, t, strict)]


def _keyring_entries(path: Path, n: int, t: dict[str, Any], strict: bool) -> list[TrustedKey]:
    """Returns the entries of one [[key]] table: one per key of its PEM (a bundle gives several)."""
    where = f"{path}: key #{n}"
    unknown = set(t) - _KEYRING_FIELDS
    if unknown:
        # a typo such as `revoke = true` must not silently leave a key trusted
        raise UsageError(f"{where}: unknown fields {sorted(unknown)}; allowed: {sorted(_KEYRING_FIELDS)}")
    revoked = t.get("revoked", False)
    comment = t.get("comment", "")
    if not isinstance(revoked, bool):
        raise UsageError(f"{where}: `revoked` must be true or false")
    if not isinstance(comment, str):
        raise UsageError(f"{where}: `comment` must be text")
    if "public_key" in t and "path" in t:
        raise UsageError(f"{where}: give `public_key` or `path`, not both")
    keys: tuple[PublicKey, ...] = ()
    if "public_key" in t:
        if not isinstance(t["public_key"], str):
            raise UsageError(f"{where}: `public_key` must be PEM text")
        keys = public_keys_from_bytes(t["public_key"].encode("utf-8"), where)
    elif "path" in t:
        if not isinstance(t["path"], str):
            raise UsageError(f"{where}: `path` must be text")
        key_path = path.parent / t["path"]
        keys = public_keys_from_bytes(_read_trusted_file(key_path, "public key", strict), f"{where} ({key_path})")
    kid = t.get("keyid")
    if kid is not None and (not isinstance(kid, str) or not re.fullmatch(r"[0-9a-f]{64}", kid)):
        raise UsageError(f"{where}: `keyid` must be 64 lowercase hex digits")
    not_before = _when(t.get("not_before"), f"{where}: not_before")
    not_after = _when(t.get("not_after"), f"{where}: not_after")
    if keys:
        if kid is not None and (len(keys) > 1 or kid != keyid(keys[0])):
            found = ", ".join(_short(keyid(k)) for k in keys)
            raise UsageError(f"{where}: `keyid` {_short(kid)} does not match its key ({found})")
        return [TrustedKey(keyid(k), k, revoked, not_before, not_after, comment, source=str(path)) for k in keys]
    if kid is None or not revoked:
        raise UsageError(
            f"{where}: needs `public_key` or `path` (only a revoked entry may name a key by `keyid` alone)"
        )
    return [TrustedKey(kid, None, revoked, not_before, not_after, comment, source=str(path))]


def _when(value: object, where: str) -> datetime | None:
    """Returns a keyring time as an aware datetime: TOML datetime/date or RFC 3339 text; dates are UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"{where}: {value!r} is not an RFC 3339 time") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise UsageError(f"{where}: {value.isoformat()} has no time zone; add Z or an offset such as +00:00")
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    raise UsageError(f"{where}: expected a date or time, found {type(value).__name__}")
