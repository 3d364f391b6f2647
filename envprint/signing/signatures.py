"""Signing and verifying envelopes: DSSE-style signatures over the exact payload bytes.

A signature covers DSSE's pre-authentication encoding (`pae`) of (payload type, payload bytes), so
the verifier checks the bytes it was given before anything parses them, and the payload type is
authenticated with the payload. The signature's `keyid` only selects which trusted key to try, and
the algorithm is the trusted key's (Ed25519 or ECDSA P-256), never a value read from the envelope.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from envprint.envelope import Envelope, Signature, pae, read_envelope, write_envelope
from envprint.errors import FingerprintFormatError, SignatureError, UsageError
from envprint.signing.keyring import Keyring, TrustedKey, TrustedKeysLike
from envprint.signing.keys import PrivateKeyLike, algorithm_of, signer_of, verify_raw

__all__ = ["add_signature", "sign", "sign_file", "verify_envelope", "verify_signatures"]


def _short(kid: str) -> str:
    return kid[:16]


def sign(payload_type: str, payload: bytes, key: PrivateKeyLike) -> Signature:
    """Returns a signature of PAE(payload_type, payload) by `key` (a private key or a `Signer`)."""
    signer = signer_of(key)
    return Signature(signer.keyid, signer.algorithm, signer.signature(pae(payload_type, payload)))


def add_signature(envelope: Envelope, key: PrivateKeyLike) -> Envelope:
    """Returns `envelope` with a signature by `key` appended (several keys may sign, for rotation).

    Raises `UsageError` when the envelope already carries a signature with this key's id.
    """
    signer = signer_of(key)
    if any(s.keyid == signer.keyid for s in envelope.signatures):
        raise UsageError(
            f"the fingerprint is already signed by key {_short(signer.keyid)}",
            hint="sign with a different key to add a second signature (key rotation)",
        )
    sig = Signature(signer.keyid, signer.algorithm, signer.signature(pae(envelope.payload_type, envelope.payload)))
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
    key_for: Callable[[Keyring, Signature], TrustedKey | None] | None = None,
) -> tuple[str, ...]:
    """Returns the ids of the trusted keys whose signatures over PAE(payload_type, payload) verify.

    The key id of a signature only selects which trusted key to try (`key_for`, by default the
    keyring entry of that id); the signature must then verify under that key, with that key's
    algorithm — a signature whose `alg` says otherwise is refused. Revoked keys and keys outside
    their validity window (compared with `now`, the verifier's clock) never verify anything.
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
        entry = key_for(keyring, sig) if key_for is not None else keyring.get(sig.keyid)
        if entry is None:
            problems.append(("unknown", f"{which} is by key {_short(sig.keyid)}, which is not a trusted key"))
            continue
        problem = entry.problem_at(moment)
        if problem is not None:
            kind = "revoked" if entry.revoked else "window"
            problems.append((kind, f"{which} is by key {entry.describe()}, which {problem}"))
            continue
        assert entry.public_key is not None  # only revoked entries lack a key
        algorithm = algorithm_of(entry.public_key)
        if sig.alg != algorithm:
            problems.append(
                ("bad", f"{which} claims algorithm {sig.alg!r}, but trusted key {entry.describe()} is {algorithm}")
            )
            continue
        if not verify_raw(entry.public_key, sig.sig, message):
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
