"""The `.fp` file: a msgpack envelope around the msgpack payload of a fingerprint.

Envelope (DESIGN.md "File format")::

    {format: "envprint", envelope_version: 1,
     payload_type: "application/vnd.envprint.fingerprint.v<N>+msgpack",
     payload: <bytes>, signatures: [{keyid, alg: "ed25519", sig}]}

Signatures cover DSSE's pre-authentication encoding of (payload_type, payload): the exact bytes, so
a reader verifies before it decodes anything (`envprint.signing`). Writes are atomic.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgpack

from envprint.errors import FingerprintFormatError, UnsupportedSchemaError, UsageError
from envprint.model import SCHEMA_VERSION, Fingerprint

if TYPE_CHECKING:
    from envprint.signing import PrivateKeyLike, TrustedKeysLike

__all__ = [
    "ENVELOPE_VERSION",
    "FORMAT",
    "MAX_FILE_BYTES",
    "Envelope",
    "Loaded",
    "Signature",
    "atomic_write",
    "decode_fingerprint",
    "encode_payload",
    "envelope_for",
    "load",
    "payload_type_for",
    "read",
    "read_envelope",
    "save",
    "write_envelope",
]

FORMAT = "envprint"
ENVELOPE_VERSION = 1
#: larger files are refused before parsing: a fingerprint is tens of KiB
MAX_FILE_BYTES = 64 * 1024 * 1024
_PAYLOAD_TYPE = re.compile(r"application/vnd\.envprint\.fingerprint\.v([0-9]{1,6})\+msgpack")

#: schema migrations: MIGRATIONS[n] turns plain data of schema n into plain data of schema n + 1
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def payload_type_for(schema_version: int = SCHEMA_VERSION) -> str:
    """Returns the payload type string of a schema version."""
    return f"application/vnd.envprint.fingerprint.v{schema_version}+msgpack"


@dataclass(frozen=True)
class Signature:
    """One signature of an envelope. `keyid` is a hint only: trust comes from the verifier's keys."""

    keyid: str
    alg: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    """The outer map of a `.fp` file."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...] = ()

    def encode(self) -> bytes:
        """Returns the envelope as msgpack bytes (the whole `.fp` file)."""
        return msgpack.packb(
            {
                "format": FORMAT,
                "envelope_version": ENVELOPE_VERSION,
                "payload_type": self.payload_type,
                "payload": self.payload,
                "signatures": [{"keyid": s.keyid, "alg": s.alg, "sig": s.sig} for s in self.signatures],
            },
            use_bin_type=True,
        )

    @classmethod
    def decode(cls, data: bytes, *, source: str = "input") -> Envelope:
        """Returns the envelope held in `data`; raises FingerprintFormatError for anything else."""
        if len(data) > MAX_FILE_BYTES:
            raise FingerprintFormatError(f"{source}: {len(data)} bytes is too large for a fingerprint")
        try:
            raw = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
        except Exception as e:  # msgpack raises many unrelated types on garbage input
            raise FingerprintFormatError(
                f"{source}: not an envprint fingerprint (cannot parse msgpack: {type(e).__name__})"
            ) from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise FingerprintFormatError(f"{source}: not an envprint fingerprint (no 'format: envprint' envelope)")
        version = raw.get("envelope_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise FingerprintFormatError(f"{source}: envelope_version missing or not an integer")
        if version > ENVELOPE_VERSION:
            raise UnsupportedSchemaError(
                f"{source}: envelope version {version} is newer than this envprint reads ({ENVELOPE_VERSION})"
            )
        if version < 1:
            raise FingerprintFormatError(f"{source}: invalid envelope version {version}")
        unknown = set(raw) - {"format", "envelope_version", "payload_type", "payload", "signatures"}
        if unknown:
            raise FingerprintFormatError(f"{source}: unexpected envelope fields {sorted(unknown)}")
        ptype, payload, sigs = raw.get("payload_type"), raw.get("payload"), raw.get("signatures")
        if not isinstance(ptype, str):
            raise FingerprintFormatError(f"{source}: payload_type missing or not text")
        if not isinstance(payload, bytes):
            raise FingerprintFormatError(f"{source}: payload missing or not bytes")
        if not isinstance(sigs, list):
            raise FingerprintFormatError(f"{source}: signatures missing or not a list")
        signatures = []
        for i, s in enumerate(sigs):
            if (
                not isinstance(s, dict)
                or set(s) != {"keyid", "alg", "sig"}
                or not isinstance(s["keyid"], str)
                or not isinstance(s["alg"], str)
                or not isinstance(s["sig"], bytes)
            ):
                raise FingerprintFormatError(f"{source}: signature {i} is malformed")
            signatures.append(Signature(s["keyid"], s["alg"], s["sig"]))
        return cls(ptype, payload, tuple(signatures))


@dataclass(frozen=True)
class Loaded:
    """A fingerprint as read from a file, with what is known about its signatures."""

    fingerprint: Fingerprint
    envelope: Envelope
    path: Path | None
    #: "verified" (a trusted key verified it), "unsigned", or "unverified" (signed; no keys given)
    trust: str
    #: key ids of the trusted keys that verified it
    verified_keyids: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Returns how to show the trust state next to the file name: VERIFIED, UNSIGNED, UNVERIFIED."""
        return self.trust.upper()


def encode_payload(fp: Fingerprint) -> bytes:
    """Returns the msgpack payload bytes of a fingerprint (stable key order)."""
    return msgpack.packb(fp.to_data(), use_bin_type=True)


def decode_fingerprint(envelope: Envelope, *, source: str = "input") -> Fingerprint:
    """Returns the fingerprint in an envelope's payload; call only after verifying signatures."""
    m = _PAYLOAD_TYPE.fullmatch(envelope.payload_type)
    if m is None:
        raise FingerprintFormatError(f"{source}: unsupported payload type {envelope.payload_type!r}")
    version = int(m.group(1))
    if version > SCHEMA_VERSION:
        raise UnsupportedSchemaError(
            f"{source}: fingerprint schema v{version} is newer than this envprint reads (v{SCHEMA_VERSION})"
        )
    if version < 1:
        raise FingerprintFormatError(f"{source}: invalid schema version {version}")
    try:
        data = msgpack.unpackb(envelope.payload, raw=False, strict_map_key=True, use_list=True)
    except Exception as e:
        raise FingerprintFormatError(f"{source}: payload is not valid msgpack ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise FingerprintFormatError(f"{source}: payload is not a map")
    for n in range(version, SCHEMA_VERSION):
        data = MIGRATIONS[n](data)
    meta = data.get("meta")
    if isinstance(meta, dict) and meta.get("schema_version") != version:
        raise FingerprintFormatError(
            f"{source}: payload says schema {meta.get('schema_version')!r} but its type says v{version}"
        )
    try:
        return Fingerprint.from_data(data)
    except FingerprintFormatError as e:
        raise FingerprintFormatError(f"{source}: {e.message}") from None


def read_envelope(path: str | Path) -> Envelope:
    """Returns the envelope of the `.fp` file at `path`."""
    from envprint._files import read_regular

    p = Path(path)
    try:
        data = read_regular(p, MAX_FILE_BYTES, "fingerprint")
    except UsageError as e:
        if "no such" in e.message:
            raise UsageError(
                f"{p}: no such file", hint="capture one with `envprint capture -o FILE` or check the path"
            ) from None
        if "too large" in e.message:
            raise FingerprintFormatError(e.message) from None
        raise
    return Envelope.decode(data, source=str(p))


def read(path: str | Path, *, trusted_keys: TrustedKeysLike | None = None, require_signature: bool = True) -> Loaded:
    """Returns the fingerprint at `path` with its trust state, verifying first when keys are given.

    With `trusted_keys`, a file no trusted key verifies raises `SignatureError` before the payload is
    decoded; so does an unsigned file, unless ``require_signature=False`` (then it is read and
    labelled UNSIGNED — for comparing, never for trusting).
    """
    envelope = read_envelope(path)
    return _loaded(envelope, Path(path), trusted_keys, require_signature=require_signature)


def _loaded(
    envelope: Envelope, path: Path | None, trusted_keys: TrustedKeysLike | None, *, require_signature: bool = True
) -> Loaded:
    source = str(path) if path else "input"
    keyids: tuple[str, ...] = ()
    if trusted_keys is not None and (envelope.signatures or require_signature):
        from envprint.signing import verify_envelope

        keyids = verify_envelope(envelope, trusted_keys, source=source)
        trust = "verified"
    else:
        trust = "unverified" if envelope.signatures else "unsigned"
    fp = decode_fingerprint(envelope, source=source)
    return Loaded(fp, envelope, path, trust, keyids)


def load(path: str | Path, *, trusted_keys: TrustedKeysLike | None = None) -> Fingerprint:
    """Returns the fingerprint stored at `path`; with `trusted_keys` it must verify first."""
    return read(path, trusted_keys=trusted_keys).fingerprint


def envelope_for(fp: Fingerprint, *, key: PrivateKeyLike | None = None) -> Envelope:
    """Returns the envelope of a fingerprint, signed with `key` when given."""
    env = Envelope(payload_type_for(fp.meta.schema_version), encode_payload(fp))
    if key is not None:
        from envprint.signing import add_signature

        env = add_signature(env, key)
    return env


def save(fp: Fingerprint, path: str | Path, *, key: PrivateKeyLike | None = None) -> Path:
    """Returns `path` after writing the fingerprint there atomically (signed when `key` is given)."""
    return write_envelope(envelope_for(fp, key=key), path)


def write_envelope(envelope: Envelope, path: str | Path) -> Path:
    """Returns `path` after writing the envelope there atomically."""
    return atomic_write(path, envelope.encode())


def atomic_write(path: str | Path, data: bytes | Iterable[bytes], *, mode: int = 0o644) -> Path:
    """Returns `path` after replacing its content atomically: a crash leaves the old file or the new one.

    Writes a temporary file in the same directory, fsyncs it, renames it over `path` and fsyncs the
    directory, so a reader (or a writer killed half-way) never sees a partial file.
    """
    import tempfile  # only writers need it (~7 ms of imports a reader should not pay)

    p = Path(path)
    directory = p.parent if str(p.parent) else Path(".")
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
        os.replace(tmp, p)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise UsageError(f"{p}: cannot write ({e.strerror or e})") from None
        raise
    with contextlib.suppress(OSError):  # directory fsync is unsupported on some filesystems
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return p
