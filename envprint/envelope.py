"""The envelope of a `.fp` file: a msgpack map around the payload bytes and their signatures.

Envelope (DESIGN.md "File format")::

    {format: "envprint", envelope_version: 1,
     payload_type: "application/vnd.envprint.fingerprint.v<N>+msgpack",
     payload: <bytes>, signatures: [{keyid, alg, sig}]}

Signatures cover DSSE's pre-authentication encoding (`pae`) of (payload_type, payload): the exact
bytes, so a reader verifies (`envprint.signing`) before anything parses the payload
(`envprint.codec`). Parsing the envelope itself is bounded: the payload is one bin object that is
not unpacked here, and the outer map may hold nothing else of size, so a hostile file costs about
twice its size in memory before its signature is checked (the file, and the payload copied out of
it), and a third copy while it is (the signed bytes).
"""

from __future__ import annotations

import enum
import os
import re
from pathlib import Path

import msgpack

from envprint._base import Record, record
from envprint._files import atomic_write, read_regular
from envprint.errors import FingerprintFormatError, UnsupportedSchemaError, UsageError

__all__ = [
    "ENVELOPE_VERSION",
    "FORMAT",
    "MAX_FILE_BYTES",
    "Envelope",
    "Signature",
    "Trust",
    "pae",
    "payload_type_for",
    "read_envelope",
    "schema_of",
    "write_envelope",
]

FORMAT = "envprint"
ENVELOPE_VERSION = 1
#: larger files are refused before parsing: a fingerprint is tens of KiB
MAX_FILE_BYTES = 64 * 1024 * 1024
#: an envelope holds one payload and a few signatures: more than this many is not an envelope
MAX_SIGNATURES = 64
_PAYLOAD_TYPE = re.compile(r"application/vnd\.envprint\.fingerprint\.v([0-9]{1,6})\+msgpack")
_FIELDS = frozenset({"format", "envelope_version", "payload_type", "payload", "signatures"})


def payload_type_for(schema_version: int) -> str:
    """Returns the payload type string of a schema version."""
    return f"application/vnd.envprint.fingerprint.v{schema_version}+msgpack"


def schema_of(payload_type: str, *, source: str = "input") -> int:
    """Returns the schema version a payload type names; FingerprintFormatError when it names none."""
    m = _PAYLOAD_TYPE.fullmatch(payload_type)
    if m is None:
        raise FingerprintFormatError(f"{source}: unsupported payload type {payload_type!r}")
    return int(m.group(1))


def pae(payload_type: str, payload: bytes) -> bytes:
    """Returns DSSE's pre-authentication encoding of (payload type, payload): the bytes signed."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(payload), payload)


class Trust(str, enum.Enum):
    """What is known about a fingerprint's signatures."""

    verified = "verified"  # a trusted key verified it
    unverified = "unverified"  # signed, but no keys were given to check it
    unsigned = "unsigned"  # carries no signature
    live = "live"  # captured in this process, never written

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def label(self) -> str:
        """Returns how to show the state next to a file name: VERIFIED, UNSIGNED, UNVERIFIED, LIVE."""
        return self.value.upper()


@record
class Signature(Record):
    """One signature of an envelope. `keyid` is a hint only: trust comes from the verifier's keys."""

    keyid: str
    alg: str
    sig: bytes


@record
class Envelope(Record):
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
        """Returns the envelope held in `data`; raises FingerprintFormatError for anything else.

        The unpacker's limits admit exactly an envelope's shape: a 5-key map, a short list of
        3-key signature maps, strings and one payload bin. A file that claims millions of elements
        is refused by the length check before any of them is allocated.
        """
        if len(data) > MAX_FILE_BYTES:
            raise FingerprintFormatError(f"{source}: {len(data)} bytes is too large for a fingerprint")
        try:
            raw = msgpack.unpackb(
                data,
                raw=False,
                strict_map_key=True,
                use_list=True,
                max_map_len=4 * len(_FIELDS),  # room for unknown fields, refused below by name
                max_array_len=MAX_SIGNATURES,
                max_str_len=64 * 1024,
                max_bin_len=MAX_FILE_BYTES,
                max_ext_len=0,
            )
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
        unknown = set(raw) - _FIELDS
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


def read_envelope(path: str | os.PathLike[str]) -> Envelope:
    """Returns the envelope of the `.fp` file at `path`."""
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


def write_envelope(envelope: Envelope, path: str | os.PathLike[str]) -> Path:
    """Returns `path` after writing the envelope there atomically."""
    return atomic_write(path, envelope.encode())
