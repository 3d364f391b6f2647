"""Ed25519 keys, key ids, keyrings, and DSSE-style signatures over the exact payload bytes.

A signature covers DSSE's pre-authentication encoding (`pae`) of (payload type, payload bytes), so
the verifier checks the bytes it was given before anything parses them, and the payload type is
authenticated with the payload. Trust never comes from the signed file: the caller passes the
public keys it trusts (`TrustedKeysLike`), the signature's `keyid` only selects which of them to try,
and the algorithm is the trusted key's (Ed25519), never a value read from the envelope.

The verify path imports only `cryptography`'s Ed25519 module: canonical SPKI / PKCS#8 encodings are
parsed here (a fixed 12- or 16-byte DER prefix plus the raw key) because importing
`cryptography.hazmat.primitives.serialization` alone costs about 30 ms, more than half of the
sign/verify budget. Anything that is not the canonical encoding (encrypted keys, other key types)
goes through `cryptography`'s loaders, imported then.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.hashes import SHA256, Hash

from envprint._files import atomic_write, read_regular
from envprint.envelope import Envelope, Signature, pae, read_envelope, write_envelope
from envprint.errors import FingerprintFormatError, SignatureError, UsageError

__all__ = [
    "ALGORITHM",
    "PASSPHRASE_ENV",
    "Keyring",
    "PrivateKeyLike",
    "PublicKeyLike",
    "TrustedKey",
    "TrustedKeysLike",
    "add_signature",
    "generate_keypair",
    "keyid",
    "load_private_key",
    "load_public_key",
    "pae",
    "passphrase_from_env",
    "public_key_pem",
    "sign",
    "sign_file",
    "verify_envelope",
    "verify_signatures",
]

#: the signature algorithm written in `Signature.alg`; the only one envprint signs or verifies with
ALGORITHM = "ed25519"
#: environment variable holding the passphrase of an encrypted private key
PASSPHRASE_ENV = "ENVPRINT_KEY_PASSPHRASE"

# DER of an Ed25519 SubjectPublicKeyInfo / unencrypted PKCS#8 PrivateKeyInfo is a fixed prefix + 32 bytes
_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
# one greedy body class that cannot match "-": no two quantifiers compete for the same whitespace,
# so a malformed block costs linear time, not the cubic backtracking of "\s*(...\s*?)\s*"
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\s]*)-----END \1-----")
#: key and keyring files are small; anything bigger is not one
_MAX_KEY_FILE = 1024 * 1024
_KEYRING_FIELDS = frozenset({"keyid", "public_key", "path", "revoked", "not_before", "not_after", "comment"})

#: a public key: an SPKI PEM file path, PEM text or bytes, DER bytes, or a key object
PublicKeyLike: TypeAlias = "str | os.PathLike[str] | bytes | Ed25519PublicKey"
#: a private key: a PKCS#8 PEM file path, PEM text or bytes, or a key object
PrivateKeyLike: TypeAlias = "str | os.PathLike[str] | bytes | Ed25519PrivateKey"
#: what a verifier trusts: a Keyring, or one or several public keys, key files and keyring files
TrustedKeysLike: TypeAlias = "Keyring | PublicKeyLike | Iterable[PublicKeyLike | Keyring | TrustedKey]"


def keyid(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """Returns the key id: lowercase hex sha256 of the DER SubjectPublicKeyInfo of the public key."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    # cryptography's sha256, already loaded with Ed25519: importing hashlib would load a second OpenSSL (~5 ms)
    h = Hash(SHA256())
    h.update(_SPKI_PREFIX + public.public_bytes_raw())
    return h.finalize().hex()


def _short(kid: str) -> str:
    return kid[:16]


def public_key_pem(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    """Returns the SPKI PEM text of a public key (of the private key's public half)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return _pem("PUBLIC KEY", _SPKI_PREFIX + public.public_bytes_raw())


def _pem(label: str, der: bytes) -> bytes:
    b64 = base64.b64encode(der)
    lines = b"\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return b"-----BEGIN %b-----\n%b\n-----END %b-----\n" % (label.encode(), lines, label.encode())


# ------------------------------------------------------------------------------------------ loading


def passphrase_from_env() -> bytes | None:
    """Returns the private key passphrase from ENVPRINT_KEY_PASSPHRASE (None when unset or empty)."""
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        return read_regular(path, _MAX_KEY_FILE, what)
    except UsageError as e:
        if "no such" in e.message:
            raise UsageError(e.message, hint="check the path; `envprint keygen` makes a key pair") from None
        raise


def _pem_blocks(data: bytes) -> list[tuple[str, bytes | None]]:
    """Returns (label, DER or None when the base64 is broken) of each PEM block in `data`."""
    blocks: list[tuple[str, bytes | None]] = []
    for m in _PEM.finditer(data):
        try:
            der: bytes | None = base64.b64decode(re.sub(rb"\s+", b"", m.group(2)), validate=True)
        except (binascii.Error, ValueError):
            der = None
        blocks.append((m.group(1).decode("ascii"), der))
    return blocks


def load_private_key(key: PrivateKeyLike, *, passphrase: str | bytes | None = None) -> Ed25519PrivateKey:
    """Returns the Ed25519 private key in `key`: a PKCS#8 PEM file path, PEM bytes or a key object.

    An encrypted PEM is decrypted with `passphrase`, or else with ENVPRINT_KEY_PASSPHRASE; a missing
    or wrong passphrase raises `UsageError` saying so.
    """
    if isinstance(key, Ed25519PrivateKey):
        return key
    if isinstance(key, (str, os.PathLike)) and not (isinstance(key, str) and "-----BEGIN" in key):
        source = str(key)
        data = _read_key_file(Path(key), "private key")
    elif isinstance(key, (str, bytes)):
        source = "the private key given"
        data = key.encode("utf-8") if isinstance(key, str) else key
    else:
        raise UsageError(
            f"unsupported private key {type(key).__name__}: only Ed25519 keys are supported",
            hint="make an Ed25519 key pair with `envprint keygen`",
        )
    blocks = _pem_blocks(data)
    if not blocks:
        raise UsageError(f"{source}: not a PEM private key", hint="pass the PREFIX.key file `envprint keygen` wrote")
    label, der = blocks[0]
    if label == "PRIVATE KEY" and der is not None and len(der) == 48 and der.startswith(_PKCS8_PREFIX):
        return Ed25519PrivateKey.from_private_bytes(der[16:])
    if label == "PUBLIC KEY":
        raise UsageError(f"{source}: is a public key; signing needs the private key (PREFIX.key)")
    if label not in ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"):
        raise UsageError(
            f"{source}: holds a {label!r} PEM block, not a PKCS#8 private key",
            hint="convert it with `openssl pkcs8 -topk8`, or make a key pair with `envprint keygen`",
        )
    return _load_private_slow(data, source, label == "ENCRYPTED PRIVATE KEY", passphrase)


def _load_private_slow(data: bytes, source: str, encrypted: bool, passphrase: str | bytes | None) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    password = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    if encrypted and password is None:
        password = passphrase_from_env()
        if password is None:
            raise UsageError(
                f"{source}: the private key is encrypted and no passphrase was given",
                hint=f"set {PASSPHRASE_ENV} to the key's passphrase",
            )
    try:
        loaded = load_pem_private_key(data, password if encrypted else None)
    except ValueError as e:
        if encrypted:
            raise UsageError(
                f"{source}: cannot decrypt the private key: wrong passphrase",
                hint=f"check {PASSPHRASE_ENV}",
            ) from None
        raise UsageError(f"{source}: not a readable private key ({e})") from None
    except Exception as e:  # cryptography raises TypeError/UnsupportedAlgorithm for odd inputs
        raise UsageError(f"{source}: not a readable private key ({type(e).__name__}: {e})") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise UsageError(
            f"{source}: is a {type(loaded).__name__.lstrip('_')}, but envprint signs with Ed25519 only",
            hint="make an Ed25519 key pair with `envprint keygen`",
        )
    return loaded


def load_public_key(key: PublicKeyLike) -> Ed25519PublicKey:
    """Returns the Ed25519 public key in `key`: an SPKI PEM file path, PEM text or bytes, DER bytes, or a key."""
    if isinstance(key, Ed25519PublicKey):
        return key
    if isinstance(key, (str, os.PathLike)) and not (isinstance(key, str) and "-----BEGIN" in key):
        source = str(key)
        data = _read_key_file(Path(key), "public key")
    elif isinstance(key, (str, bytes)):
        source = "the public key given"
        data = key.encode("utf-8") if isinstance(key, str) else key
    else:
        raise UsageError(f"unsupported public key {type(key).__name__}: only Ed25519 keys are supported")
    return _public_from_bytes(data, source)


def _public_from_bytes(data: bytes, source: str) -> Ed25519PublicKey:
    blocks = _pem_blocks(data)
    if blocks:
        label, der = blocks[0]
        if "PRIVATE KEY" in label:
            raise UsageError(
                f"{source}: is a private key; verification takes the public key (PREFIX.pub)",
                hint="serving hosts must hold public keys only; keep the private key on the signing side",
            )
        if label != "PUBLIC KEY" or der is None:
            raise UsageError(f"{source}: holds a {label!r} PEM block, not an SPKI public key")
    else:
        der = data
    if len(der) == 44 and der.startswith(_SPKI_PREFIX):
        return Ed25519PublicKey.from_public_bytes(der[12:])
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        loaded = load_der_public_key(der)
    except Exception:  # ValueError / UnsupportedAlgorithm from cryptography on anything unreadable
        raise UsageError(f"{source}: not a readable public key (expected SPKI PEM or DER)") from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise UsageError(f"{source}: is a {type(loaded).__name__.lstrip('_')}, but envprint verifies Ed25519 only")
    return loaded


# ------------------------------------------------------------------------------------------ keyring


@dataclass(frozen=True)
class TrustedKey:
    """One key a verifier trusts (or, revoked, explicitly distrusts), with its validity window."""

    keyid: str
    #: None for a revocation-only keyring entry that names the key by id
    public_key: Ed25519PublicKey | None
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


@dataclass(frozen=True)
class Keyring:
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
    """

    keys: tuple[TrustedKey, ...] = ()

    @classmethod
    def of(cls, trusted_keys: TrustedKeysLike) -> Keyring:
        """Returns a keyring of `trusted_keys`: a Keyring, or key/keyring paths, PEM, DER or key objects."""
        if isinstance(trusted_keys, Keyring):
            return trusted_keys
        items: Iterable[Any]
        if isinstance(trusted_keys, (str, bytes, os.PathLike, Ed25519PublicKey)):
            items = [trusted_keys]
        else:
            items = trusted_keys
        entries: list[TrustedKey] = []
        for item in items:
            if isinstance(item, Keyring):
                entries.extend(item.keys)
            elif isinstance(item, TrustedKey):
                entries.append(item)
            else:
                entries.extend(_entries_of(item))
        return cls.from_entries(entries)

    @classmethod
    def from_entries(cls, entries: Iterable[TrustedKey]) -> Keyring:
        """Returns a keyring of `entries`, merging entries of the same key id (the strictest wins)."""
        by_id: dict[str, TrustedKey] = {}
        for e in entries:
            by_id[e.keyid] = _merge(by_id[e.keyid], e) if e.keyid in by_id else e
        return cls(tuple(by_id.values()))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Keyring:
        """Returns the keyring in a TOML keyring file (see the class docstring for its layout)."""
        p = Path(path)
        return cls.from_entries(_keyring_file(p, _read_key_file(p, "keyring")))

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


def _entries_of(item: object) -> list[TrustedKey]:
    """Returns the keyring entries of one trusted-keys item: a key, a key file or a keyring file."""
    if isinstance(item, Ed25519PublicKey):
        return [TrustedKey(keyid(item), item, source="key object")]
    if isinstance(item, bytes) or (isinstance(item, str) and "-----BEGIN" in item):
        key = load_public_key(item)
        return [TrustedKey(keyid(key), key, source="PEM given")]
    if isinstance(item, (str, os.PathLike)):
        p = Path(item)
        data = _read_key_file(p, "public key or keyring")
        # a keyring may hold inline PEM keys: only a file that *starts* with a PEM block is one key
        if data.lstrip().startswith(b"-----BEGIN"):
            key = _public_from_bytes(data, str(p))
            return [TrustedKey(keyid(key), key, source=str(p))]
        return _keyring_file(p, data)
    raise UsageError(
        f"unsupported trusted key {type(item).__name__}",
        hint="pass public key files, PEM text, Ed25519PublicKey objects, keyring files or a Keyring",
    )


def _keyring_file(path: Path, data: bytes) -> list[TrustedKey]:
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
    return [_keyring_entry(path, i, t) for i, t in enumerate(tables, 1)]


def _keyring_entry(path: Path, n: int, t: dict[str, Any]) -> TrustedKey:
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
    key: Ed25519PublicKey | None = None
    if "public_key" in t:
        if not isinstance(t["public_key"], str):
            raise UsageError(f"{where}: `public_key` must be PEM text")
        key = _public_from_bytes(t["public_key"].encode("utf-8"), where)
    elif "path" in t:
        if not isinstance(t["path"], str):
            raise UsageError(f"{where}: `path` must be text")
        key_path = path.parent / t["path"]
        key = _public_from_bytes(_read_key_file(key_path, "public key"), f"{where} ({key_path})")
    kid = t.get("keyid")
    if kid is not None and (not isinstance(kid, str) or not re.fullmatch(r"[0-9a-f]{64}", kid)):
        raise UsageError(f"{where}: `keyid` must be 64 lowercase hex digits")
    if key is not None:
        if kid is not None and kid != keyid(key):
            raise UsageError(f"{where}: `keyid` {_short(kid)} does not match its key ({_short(keyid(key))})")
        kid = keyid(key)
    elif kid is None or not revoked:
        raise UsageError(
            f"{where}: needs `public_key` or `path` (only a revoked entry may name a key by `keyid` alone)"
        )
    return TrustedKey(
        kid,
        key,
        revoked,
        _when(t.get("not_before"), f"{where}: not_before"),
        _when(t.get("not_after"), f"{where}: not_after"),
        comment,
        source=str(path),
    )


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


# -------------------------------------------------------------------------------------- sign, verify


def sign(payload_type: str, payload: bytes, key: PrivateKeyLike) -> Signature:
    """Returns an Ed25519 signature of PAE(payload_type, payload) by `key`."""
    private = load_private_key(key)
    return Signature(keyid(private), ALGORITHM, private.sign(pae(payload_type, payload)))


def add_signature(envelope: Envelope, key: PrivateKeyLike) -> Envelope:
    """Returns `envelope` with a signature by `key` appended (several keys may sign, for rotation).

    Raises `UsageError` when the envelope already carries a signature with this key's id.
    """
    private = load_private_key(key)
    kid = keyid(private)
    if any(s.keyid == kid for s in envelope.signatures):
        raise UsageError(
            f"the fingerprint is already signed by key {_short(kid)}",
            hint="sign with a different key to add a second signature (key rotation)",
        )
    sig = Signature(kid, ALGORITHM, private.sign(pae(envelope.payload_type, envelope.payload)))
    return dataclasses.replace(envelope, signatures=(*envelope.signatures, sig))


def sign_file(path: str | os.PathLike[str], key: PrivateKeyLike) -> Envelope:
    """Returns the envelope written back to `path` after adding a signature by `key` (atomic rewrite)."""
    envelope = add_signature(read_envelope(Path(path)), key)
    write_envelope(envelope, Path(path))
    return envelope


def verify_envelope(
    envelope: Envelope, trusted_keys: TrustedKeysLike, *, source: str = "input", now: datetime | None = None
) -> tuple[str, ...]:
    """Returns the ids of the trusted keys whose signatures verify the envelope's exact payload bytes.

    Raises `SignatureError` when the envelope is unsigned or no trusted, unrevoked, currently valid
    key verifies it, with the reason of each signature; `UsageError` when no trusted key was given.
    Stateless: nothing is remembered between calls.
    """
    return verify_signatures(
        envelope.payload_type, envelope.payload, envelope.signatures, trusted_keys, source=source, now=now
    )


def verify_signatures(
    payload_type: str,
    payload: bytes,
    signatures: Sequence[Signature],
    trusted_keys: TrustedKeysLike,
    *,
    source: str = "input",
    now: datetime | None = None,
) -> tuple[str, ...]:
    """Returns the ids of the trusted keys whose signatures over PAE(payload_type, payload) verify.

    The key id of a signature only selects which trusted key to try; the signature must then verify
    under that key, whose algorithm (Ed25519) is the one used — a signature whose `alg` says
    otherwise is refused. Revoked keys and keys outside their validity window (compared with `now`,
    the verifier's clock) never verify anything.
    """
    keyring = Keyring.of(trusted_keys)
    if not any(k.public_key is not None for k in keyring):
        raise UsageError(
            f"{source}: no trusted public key given to verify with",
            hint="pass the signer's public key (--key PREFIX.pub) or a keyring file",
        )
    if not signatures:
        raise SignatureError(
            f"{source}: UNSIGNED: the fingerprint carries no signature, so it cannot be trusted",
            hint="sign it on the training side (`envprint sign FILE --key PREFIX.key` or capture --key)",
        )
    moment = now if now is not None else datetime.now(timezone.utc)
    try:
        message = pae(payload_type, payload)
    except UnicodeEncodeError:  # lone surrogates from a JSON escape: nothing could have signed this
        raise FingerprintFormatError(f"{source}: the payload type is not valid UTF-8 text") from None
    verified: list[str] = []
    problems: list[tuple[str, str]] = []  # (kind, text)
    for n, sig in enumerate(signatures, 1):
        which = f"signature {n}" if len(signatures) > 1 else "the signature"
        entry = keyring.get(sig.keyid)
        if entry is None:
            problems.append(("unknown", f"{which} is by key {_short(sig.keyid)}, which is not a trusted key"))
            continue
        problem = entry.problem_at(moment)
        if problem is not None:
            problems.append(
                (
                    "revoked" if entry.revoked else "window",
                    f"{which} is by key {entry.describe()}, which {problem}",
                )
            )
            continue
        if sig.alg != ALGORITHM:
            problems.append(
                (
                    "bad",
                    f"{which} claims algorithm {sig.alg!r}, but trusted key {entry.describe()} is {ALGORITHM}",
                )
            )
            continue
        assert entry.public_key is not None  # only revoked entries lack a key
        try:
            entry.public_key.verify(sig.sig, message)
        except (InvalidSignature, ValueError):
            problems.append(
                (
                    "bad",
                    f"{which} by key {entry.describe()} does not verify: the file was changed after "
                    "signing, or the signature was copied from another file",
                )
            )
            continue
        if entry.keyid not in verified:
            verified.append(entry.keyid)
    if verified:
        return tuple(verified)
    raise SignatureError(f"{source}: not trusted: " + "; ".join(text for _, text in problems), hint=_hint(problems))


def _hint(problems: list[tuple[str, str]]) -> str:
    kinds = {kind for kind, _ in problems}
    if kinds == {"unknown"}:
        return "pass the public key of the signer (--key PREFIX.pub) or add it to the keyring"
    if "bad" in kinds:
        return "do not use this file: capture and sign it again on the training side, or fetch an intact copy"
    return "the signing key is revoked or outside its validity window: re-sign with a current key"


# ------------------------------------------------------------------------------------------- keygen


def generate_keypair(prefix: str | os.PathLike[str], *, passphrase: str | bytes | None = None) -> tuple[Path, Path]:
    """Returns (PREFIX.key, PREFIX.pub) after writing a new Ed25519 key pair there.

    The private key is PKCS#8 PEM (encrypted when `passphrase` is given), created with mode 0600 in
    a temporary file and linked into place, so it is never readable by others and never replaces an
    existing file; the public key is SPKI PEM. Raises `UsageError` if either file already exists.
    """
    private_path = Path(f"{os.fspath(prefix)}.key")
    public_path = Path(f"{os.fspath(prefix)}.pub")
    for p in (private_path, public_path):
        if os.path.lexists(p):
            raise UsageError(f"{p}: already exists; refusing to overwrite a key", hint="choose another -o PREFIX")
    key = Ed25519PrivateKey.generate()
    password = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    if password:
        from cryptography.hazmat.primitives import serialization as ser

        private_pem = key.private_bytes(
            ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.BestAvailableEncryption(password)
        )
    else:
        private_pem = _pem("PRIVATE KEY", _PKCS8_PREFIX + key.private_bytes_raw())
    _write_key(private_path, private_pem, 0o600)
    try:
        _write_key(public_path, public_key_pem(key), 0o644)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(private_path)
        raise
    return private_path, public_path


def _write_key(path: Path, data: bytes, mode: int) -> None:
    """Writes a new key file atomically with `mode` from the start; refuses to replace an existing one."""
    try:
        atomic_write(path, data, mode=mode, replace=False)
    except UsageError as e:
        if "already exists" in e.message:
            raise UsageError(f"{path}: already exists; refusing to overwrite a key") from None
        raise
