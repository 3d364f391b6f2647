"""Keys, key ids, keyrings, and DSSE-style signatures over the exact payload bytes.

A signature covers DSSE's pre-authentication encoding (`pae`) of (payload type, payload bytes), so
the verifier checks the bytes it was given before anything parses them, and the payload type is
authenticated with the payload. Trust never comes from the signed file: the caller passes the
public keys it trusts (`TrustedKeysLike`), the signature's `keyid` only selects which of them to try,
and the algorithm is the trusted key's (Ed25519 or ECDSA P-256), never a value read from the envelope.

The package is cut in three: `keys` (loading, key ids, PEM, key pairs, `Signer` for keys held in a
KMS or HSM), `keyring` (what a verifier trusts, and the checks on the files that hold it) and
`signatures` (sign and verify).
"""

from __future__ import annotations

from envprint.envelope import pae
from envprint.signing.keyring import (
    STRICT_KEYS_ENV,
    InsecureKeyFileWarning,
    Keyring,
    TrustedKey,
    TrustedKeysLike,
    key_file_problem,
)
from envprint.signing.keys import (
    ALGORITHM,
    ALGORITHMS,
    ECDSA_P256,
    ED25519,
    PASSPHRASE_ENV,
    PrivateKey,
    PrivateKeyLike,
    PublicKey,
    PublicKeyLike,
    Signer,
    algorithm_of,
    generate_keypair,
    keyid,
    load_private_key,
    load_public_key,
    load_public_keys,
    passphrase_from_env,
    public_key_pem,
    signer_of,
    sslib_keyid,
)
from envprint.signing.signatures import add_signature, sign, sign_file, verify_envelope, verify_signatures

__all__ = [
    "ALGORITHM",
    "ALGORITHMS",
    "ECDSA_P256",
    "ED25519",
    "PASSPHRASE_ENV",
    "STRICT_KEYS_ENV",
    "InsecureKeyFileWarning",
    "Keyring",
    "PrivateKey",
    "PrivateKeyLike",
    "PublicKey",
    "PublicKeyLike",
    "Signer",
    "TrustedKey",
    "TrustedKeysLike",
    "add_signature",
    "algorithm_of",
    "generate_keypair",
    "key_file_problem",
    "keyid",
    "load_private_key",
    "load_public_key",
    "load_public_keys",
    "pae",
    "passphrase_from_env",
    "public_key_pem",
    "sign",
    "sign_file",
    "signer_of",
    "sslib_keyid",
    "verify_envelope",
    "verify_signatures",
]
