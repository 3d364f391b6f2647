"""Reading fingerprints: decide trust once, then decode the payload, bounded, into a `Fingerprint`.

The order is fixed (DESIGN.md): read the envelope (`envprint.envelope`) → authenticate it
(`authenticate`: the one place that decides whether a file is VERIFIED, UNVERIFIED or UNSIGNED, or
refuses it) → unpack the payload with size limits sized from the schema → migrate → build the
`Fingerprint`. Writing is `Fingerprint.save`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envprint._base import Record, record
from envprint._unpack import MemoryBudget, unpack_bounded
from envprint.envelope import Envelope, Trust, read_envelope, schema_of
from envprint.errors import FingerprintFormatError, SignatureError, UnsupportedSchemaError
from envprint.model import SCHEMA_VERSION, Fingerprint

if TYPE_CHECKING:
    from envprint.signing import TrustedKeysLike

__all__ = [
    "MIGRATIONS",
    "PAYLOAD_BUDGET",
    "Loaded",
    "Trust",
    "authenticate",
    "decode_fingerprint",
    "load",
    "read",
    "unpack_payload",
]

#: schema migrations: MIGRATIONS[n] turns plain data of schema n into plain data of schema n + 1
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

# Limits of the payload unpacker, sized from the schema: the largest maps are the packages (a few
# thousand distributions) and the probe outputs; the longest lists are probe samples and artifact
# manifests (one entry per model file). A hostile payload claiming more is refused before allocation.
_MAX_MAP = 200_000
_MAX_ARRAY = 1_000_000
_MAX_STR = 1024 * 1024
#: what decoding a payload may cost (plain data, then the dataclasses built from it): a real
#: fingerprint estimates at 9.3x its size (58 KiB, within the fixed part), an artifact manifest of
#: 100k files at 6.45x; nesting: 32 levels of untyped data (custom, policy) under the typed sections
PAYLOAD_BUDGET = MemoryBudget(bytes_per_byte=6.5, fixed=24 * 1024 * 1024, max_depth=48)


@record
class Loaded(Record):
    """A fingerprint as read from a file, with what is known about its signatures."""

    fingerprint: Fingerprint
    envelope: Envelope
    path: Path | None
    trust: Trust
    #: key ids of the trusted keys that verified it
    verified_keyids: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Returns how to show the trust state next to the file name: VERIFIED, UNSIGNED, UNVERIFIED."""
        return self.trust.label


def authenticate(
    envelope: Envelope,
    trusted_keys: TrustedKeysLike | None,
    *,
    allow_unsigned: bool = False,
    keys_required: bool = False,
    source: str = "input",
) -> tuple[Trust, tuple[str, ...]]:
    """Returns the trust of an envelope and the ids of the keys that verified it; the one trust decision.

    * An unsigned envelope is UNSIGNED when `allow_unsigned`; else, with keys, `SignatureError`.
    * With `trusted_keys`, a signed envelope must verify (`SignatureError` otherwise): VERIFIED.
    * Without keys it is UNVERIFIED (or UNSIGNED), unless `keys_required` (the serving guard), which
      refuses with `SignatureError`: nothing can be trusted without a key.
    """
    if not envelope.signatures and allow_unsigned:
        return Trust.unsigned, ()
    if trusted_keys is not None:
        from envprint.signing import verify_envelope  # defers cryptography (~30 ms) to readers that verify

        return Trust.verified, verify_envelope(envelope, trusted_keys, source=source)
    if keys_required:
        raise SignatureError(
            f"{source}: no trusted keys given, so the fingerprint cannot be verified; the guard refuses",
            hint="pass trusted_keys=[PUBLIC_KEY...] (envprint check --key), or set allow_unsigned = true "
            "in the policy for development only",
        )
    return (Trust.unverified if envelope.signatures else Trust.unsigned), ()


def unpack_payload(envelope: Envelope, *, source: str = "input") -> dict[str, Any]:
    """Returns the payload of an envelope as plain data (schema checked, not migrated); call after authenticate.

    Decoding is bounded (`PAYLOAD_BUDGET`): a payload that would cost more memory than a few times
    its size, or nests deeper than the schema, is refused before anything is allocated.
    """
    version = schema_of(envelope.payload_type, source=source)
    if version > SCHEMA_VERSION:
        raise UnsupportedSchemaError(
            f"{source}: fingerprint schema v{version} is newer than this envprint reads (v{SCHEMA_VERSION})"
        )
    if version < 1:
        raise FingerprintFormatError(f"{source}: invalid schema version {version}")
    data = unpack_bounded(
        envelope.payload,
        PAYLOAD_BUDGET,
        max_str=_MAX_STR,
        max_bin=_MAX_STR,
        max_array=_MAX_ARRAY,
        max_map=_MAX_MAP,
        source=source,
    )
    if not isinstance(data, dict):
        raise FingerprintFormatError(f"{source}: payload is not a map")
    meta = data.get("meta")
    if isinstance(meta, dict) and meta.get("schema_version") != version:
        raise FingerprintFormatError(
            f"{source}: payload says schema {meta.get('schema_version')!r} but its type says v{version}"
        )
    return data


def decode_fingerprint(envelope: Envelope, *, source: str = "input") -> Fingerprint:
    """Returns the fingerprint in an envelope's payload; call only after `authenticate`."""
    data = unpack_payload(envelope, source=source)
    for n in range(schema_of(envelope.payload_type, source=source), SCHEMA_VERSION):
        data = MIGRATIONS[n](data)
    try:
        return Fingerprint.from_data(data)
    except FingerprintFormatError as e:
        raise FingerprintFormatError(f"{source}: {e.message}") from None


def read(
    path: str | os.PathLike[str],
    *,
    trusted_keys: TrustedKeysLike | None = None,
    require_signature: bool = True,
    keys_required: bool = False,
) -> Loaded:
    """Returns the fingerprint at `path` with its trust state, authenticated before it is decoded.

    With `trusted_keys`, a file no trusted key verifies raises `SignatureError` before the payload is
    decoded; so does an unsigned file, unless ``require_signature=False`` (then it is read and
    labelled UNSIGNED — for comparing, never for trusting). ``keys_required`` refuses any file when
    no keys are given (see `authenticate`).
    """
    p = Path(path)
    envelope = read_envelope(p)
    trust, keyids = authenticate(
        envelope,
        trusted_keys,
        allow_unsigned=not require_signature,
        keys_required=keys_required,
        source=str(p),
    )
    return Loaded(decode_fingerprint(envelope, source=str(p)), envelope, p, trust, keyids)


def load(path: str | os.PathLike[str], *, trusted_keys: TrustedKeysLike | None = None) -> Fingerprint:
    """Returns the fingerprint stored at `path`; with `trusted_keys` it must verify first."""
    return read(path, trusted_keys=trusted_keys).fingerprint
