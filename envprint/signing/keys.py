"""Keys: Ed25519 and ECDSA P-256 key loading, key ids, PEM, key pairs, and signers (keys or callbacks).

The verify path imports only `cryptography`'s Ed25519 and EC modules: canonical SPKI / PKCS#8
encodings are parsed here (a fixed DER prefix plus the raw key or point) because importing
`cryptography.hazmat.primitives.serialization` alone costs about 30 ms, more than half of the
sign/verify budget. Anything that is not a canonical encoding (encrypted keys, SEC1 EC keys)
goes through `cryptography`'s loaders, imported then.

A `Signer` is what signs: a private key loaded from a file, or a callback ``sign(pae) -> bytes``
with its public key, so keys held in a KMS or HSM never touch disk.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256, Hash

from envprint._base import Record, record
from envprint._files import atomic_write, read_regular
from envprint.errors import SignatureError, UsageError

__all__ = [
    "ALGORITHM",
    "ALGORITHMS",
    "ECDSA_P256",
    "ED25519",
    "PASSPHRASE_ENV",
    "PrivateKey",
    "PrivateKeyLike",
    "PublicKey",
    "PublicKeyLike",
    "Signer",
    "algorithm_of",
    "generate_keypair",
    "keyid",
    "load_private_key",
    "load_public_key",
    "load_public_keys",
    "passphrase_from_env",
    "public_key_pem",
    "signer_of",
    "sslib_keyid",
    "verify_raw",
]

#: signature algorithms, as written in `Signature.alg` (securesystemslib's scheme names)
ED25519 = "ed25519"
ECDSA_P256 = "ecdsa-sha2-nistp256"
ALGORITHMS = (ED25519, ECDSA_P256)
#: the default algorithm of new keys
ALGORITHM = ED25519
#: environment variable holding the passphrase of an encrypted private key
PASSPHRASE_ENV = "ENVPRINT_KEY_PASSPHRASE"

# DER of an Ed25519 SubjectPublicKeyInfo / unencrypted PKCS#8 PrivateKeyInfo is a fixed prefix + 32 bytes;
# a P-256 SPKI is a fixed prefix + the 65-byte uncompressed point (04 || X || Y)
_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
_P256_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")
# one greedy body class that cannot match "-": no two quantifiers compete for the same whitespace,
# so a malformed block costs linear time, not the cubic backtracking of "\s*(...\s*?)\s*"
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\s]*)-----END \1-----")
#: key and keyring files are small; anything bigger is not one
MAX_KEY_FILE = 1024 * 1024

#: a verification key: Ed25519 or ECDSA on NIST P-256
PublicKey: TypeAlias = "Ed25519PublicKey | ec.EllipticCurvePublicKey"
PrivateKey: TypeAlias = "Ed25519PrivateKey | ec.EllipticCurvePrivateKey"
#: a public key: an SPKI PEM file path, PEM text or bytes, DER bytes, or a key object
PublicKeyLike: TypeAlias = "str | os.PathLike[str] | bytes | Ed25519PublicKey | ec.EllipticCurvePublicKey"
#: a signing key: a PKCS#8 (or SEC1 EC) PEM file path, PEM text or bytes, a key object, or a `Signer`
PrivateKeyLike: TypeAlias = "str | os.PathLike[str] | bytes | Ed25519PrivateKey | ec.EllipticCurvePrivateKey | Signer"


def _public_of(key: PublicKey | PrivateKey) -> PublicKey:
    if isinstance(key, (Ed25519PrivateKey, ec.EllipticCurvePrivateKey)):
        return key.public_key()
    return key


def _check_curve(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey, source: str) -> None:
    if not isinstance(key.curve, ec.SECP256R1):
        raise UsageError(
            f"{source}: is an ECDSA key on {key.curve.name}; envprint supports Ed25519 and ECDSA P-256 (secp256r1)",
            hint="make a P-256 key: openssl ecparam -name prime256v1 -genkey | openssl pkcs8 -topk8 -nocrypt",
        )


def _p256_point(key: ec.EllipticCurvePublicKey) -> bytes:
    numbers = key.public_numbers()
    return b"\x04" + numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")


def spki_der(key: PublicKey | PrivateKey) -> bytes:
    """Returns the DER SubjectPublicKeyInfo of a key's public half (without cryptography's serialization)."""
    public = _public_of(key)
    if isinstance(public, Ed25519PublicKey):
        return _SPKI_PREFIX + public.public_bytes_raw()
    _check_curve(public, "key")
    return _P256_SPKI_PREFIX + _p256_point(public)


def algorithm_of(key: PublicKey | PrivateKey) -> str:
    """Returns the signature algorithm of a key: "ed25519" or "ecdsa-sha2-nistp256"."""
    return ED25519 if isinstance(_public_of(key), Ed25519PublicKey) else ECDSA_P256


def keyid(key: PublicKey | PrivateKey) -> str:
    """Returns the key id: lowercase hex sha256 of the DER SubjectPublicKeyInfo of the public key."""
    # cryptography's sha256, already loaded: importing hashlib would load a second OpenSSL (~5 ms)
    h = Hash(SHA256())
    h.update(spki_der(key))
    return h.finalize().hex()


def public_key_pem(key: PublicKey | PrivateKey) -> bytes:
    """Returns the SPKI PEM text of a public key (of the private key's public half)."""
    return _pem("PUBLIC KEY", spki_der(key))


def _canonical_json_string(text: str) -> str:
    # securesystemslib's canonical JSON escapes only backslash and quote; other characters stay raw
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sslib_keyid(key: PublicKey | PrivateKey) -> str:
    """Returns securesystemslib's default key id of a key (what `SSlibKey.from_crypto(key)` computes).

    It is the sha256 of the canonical JSON of ``{"keytype", "keyval": {"public"}, "scheme"}``: for
    Ed25519 the raw key in hex, for ECDSA the SPKI PEM text. in-toto/DSSE tooling matches a
    signature's ``keyid`` against it, so the in-toto export writes this id (docs/signing.md).
    """
    public = _public_of(key)
    if isinstance(public, Ed25519PublicKey):
        keytype, scheme, value = "ed25519", ED25519, public.public_bytes_raw().hex()
    else:
        keytype, scheme, value = "ecdsa", ECDSA_P256, public_key_pem(public).decode("ascii")
    canonical = (
        '{"keytype":' + _canonical_json_string(keytype) + ',"keyval":{"public":' + _canonical_json_string(value)
        + '},"scheme":' + _canonical_json_string(scheme) + "}"
    )  # fmt: skip
    h = Hash(SHA256())
    h.update(canonical.encode("utf-8"))
    return h.finalize().hex()


def _pem(label: str, der: bytes) -> bytes:
    b64 = base64.b64encode(der)
    lines = b"\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return b"-----BEGIN %b-----\n%b\n-----END %b-----\n" % (label.encode(), lines, label.encode())


# ------------------------------------------------------------------------------------------ loading


def passphrase_from_env() -> bytes | None:
    """Returns the private key passphrase from ENVPRINT_KEY_PASSPHRASE (None when unset or empty)."""
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


def read_key_file(path: Path, what: str) -> bytes:
    """Returns the bytes of a key or keyring file; `UsageError` naming the path when it cannot be read."""
    try:
        return read_regular(path, MAX_KEY_FILE, what)
    except UsageError as e:
        if "no such" in e.message:
            raise UsageError(e.message, hint="check the path; `envprint keygen` makes a key pair") from None
        raise


def pem_blocks(data: bytes) -> list[tuple[str, bytes | None]]:
    """Returns (label, DER or None when the base64 is broken) of each PEM block in `data`."""
    blocks: list[tuple[str, bytes | None]] = []
    for m in _PEM.finditer(data):
        try:
            der: bytes | None = base64.b64decode(re.sub(rb"\s+", b"", m.group(2)), validate=True)
        except (binascii.Error, ValueError):
            der = None
        blocks.append((m.group(1).decode("ascii"), der))
    return blocks


def _is_path(key: object) -> bool:
    return isinstance(key, os.PathLike) or (isinstance(key, str) and "-----BEGIN" not in key)


def load_private_key(key: PrivateKeyLike, *, passphrase: str | bytes | None = None) -> PrivateKey:
    """Returns the private key in `key`: a PKCS#8 (or SEC1 EC) PEM file path, PEM bytes or a key object.

    Ed25519 and ECDSA P-256 keys are accepted. An encrypted PEM is decrypted with `passphrase`, or
    else with ENVPRINT_KEY_PASSPHRASE; a missing or wrong passphrase raises `UsageError` saying so.
    A `Signer` holds no private key: pass it where a key signs (`sign`, `Fingerprint.save`).
    """
    if isinstance(key, Ed25519PrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        _check_curve(key, "the private key given")
        return key
    if isinstance(key, Signer):
        raise UsageError("a Signer holds no private key to load; pass it directly where a key signs")
    if _is_path(key):
        assert isinstance(key, (str, os.PathLike))
        source = str(key)
        data = read_key_file(Path(key), "private key")
    elif isinstance(key, (str, bytes)):
        source = "the private key given"
        data = key.encode("utf-8") if isinstance(key, str) else key
    else:
        raise UsageError(
            f"unsupported private key {type(key).__name__}: pass a PEM file, PEM bytes, a key object or a Signer",
            hint="make a key pair with `envprint keygen`",
        )
    blocks = pem_blocks(data)
    if not blocks:
        raise UsageError(f"{source}: not a PEM private key", hint="pass the PREFIX.key file `envprint keygen` wrote")
    if len(blocks) > 1:
        raise UsageError(
            f"{source}: holds {len(blocks)} PEM blocks; a private key file holds exactly one key",
            hint="split the file so that each key has its own file",
        )
    label, der = blocks[0]
    if label == "PRIVATE KEY" and der is not None and len(der) == 48 and der.startswith(_PKCS8_PREFIX):
        return Ed25519PrivateKey.from_private_bytes(der[16:])
    if label == "PUBLIC KEY":
        raise UsageError(f"{source}: is a public key; signing needs the private key (PREFIX.key)")
    if label not in ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY"):
        raise UsageError(
            f"{source}: holds a {label!r} PEM block, not a PKCS#8 private key",
            hint="convert it with `openssl pkcs8 -topk8`, or make a key pair with `envprint keygen`",
        )
    return _load_private_slow(data, source, label == "ENCRYPTED PRIVATE KEY", passphrase)


def _load_private_slow(data: bytes, source: str, encrypted: bool, passphrase: str | bytes | None) -> PrivateKey:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key  # ~30 ms: signing side only

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
    if isinstance(loaded, ec.EllipticCurvePrivateKey):
        _check_curve(loaded, source)
        return loaded
    if not isinstance(loaded, Ed25519PrivateKey):
        raise UsageError(
            f"{source}: is a {type(loaded).__name__.lstrip('_')}, but envprint signs with Ed25519 or ECDSA P-256",
            hint="make a key pair with `envprint keygen`",
        )
    return loaded


def load_public_key(key: PublicKeyLike) -> PublicKey:
    """Returns the public key in `key`: an SPKI PEM file path, PEM text or bytes, DER bytes, or a key.

    A PEM file holding several public keys raises `UsageError`: pass it as trusted keys instead
    (every key of the bundle is trusted), or load them all with `load_public_keys`.
    """
    keys = load_public_keys(key)
    if len(keys) > 1:
        raise UsageError(
            f"{_source(key)}: holds {len(keys)} public keys where one is expected",
            hint="pass the file as trusted keys (--key) to trust every key in it, or split it",
        )
    return keys[0]


def load_public_keys(key: PublicKeyLike) -> tuple[PublicKey, ...]:
    """Returns every public key in `key`: each PEM block of a file or text (a bundle), DER bytes, or a key."""
    if isinstance(key, Ed25519PublicKey):
        return (key,)
    if isinstance(key, ec.EllipticCurvePublicKey):
        _check_curve(key, "the public key given")
        return (key,)
    if _is_path(key):
        assert isinstance(key, (str, os.PathLike))
        data = read_key_file(Path(key), "public key")
    elif isinstance(key, (str, bytes)):
        data = key.encode("utf-8") if isinstance(key, str) else key
    else:
        raise UsageError(f"unsupported public key {type(key).__name__}: pass a PEM file, PEM or DER bytes, or a key")
    return public_keys_from_bytes(data, _source(key))


def _source(key: object) -> str:
    return str(key) if _is_path(key) else "the public key given"


def public_keys_from_bytes(data: bytes, source: str) -> tuple[PublicKey, ...]:
    """Returns the public keys of every PEM block in `data` (or of `data` as DER when it holds no PEM)."""
    blocks = pem_blocks(data)
    if not blocks:
        return (_public_from_der(data, source),)
    keys = []
    for n, (label, der) in enumerate(blocks, 1):
        where = source if len(blocks) == 1 else f"{source} (PEM block {n} of {len(blocks)})"
        if "PRIVATE KEY" in label:
            raise UsageError(
                f"{where}: is a private key; verification takes the public key (PREFIX.pub)",
                hint="serving hosts must hold public keys only; keep the private key on the signing side",
            )
        if label != "PUBLIC KEY" or der is None:
            raise UsageError(f"{where}: holds a {label!r} PEM block, not an SPKI public key")
        keys.append(_public_from_der(der, where))
    return tuple(keys)


def _public_from_der(der: bytes, source: str) -> PublicKey:
    if len(der) == 44 and der.startswith(_SPKI_PREFIX):
        return Ed25519PublicKey.from_public_bytes(der[12:])
    if len(der) == 91 and der.startswith(_P256_SPKI_PREFIX):
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), der[26:])
        except ValueError:
            raise UsageError(f"{source}: the ECDSA P-256 public key is not a point on the curve") from None
    from cryptography.hazmat.primitives.serialization import load_der_public_key  # ~30 ms: unusual encodings only

    try:
        loaded = load_der_public_key(der)
    except Exception:  # ValueError / UnsupportedAlgorithm from cryptography on anything unreadable
        raise UsageError(f"{source}: not a readable public key (expected SPKI PEM or DER)") from None
    if isinstance(loaded, ec.EllipticCurvePublicKey):
        _check_curve(loaded, source)
        return loaded
    if not isinstance(loaded, Ed25519PublicKey):
        raise UsageError(
            f"{source}: is a {type(loaded).__name__.lstrip('_')}, but envprint verifies Ed25519 and ECDSA P-256"
        )
    return loaded


# ------------------------------------------------------------------------------------------ signers


@record
class Signer(Record):
    """Signs for one public key: ``sign(pae) -> signature`` over DSSE's pre-authentication encoding.

    Wrap a key held in a KMS or HSM so it never touches disk::

        signer = Signer(public_key="org-p256.pub", sign=lambda pae: kms_sign(key_name, pae))
        fp.save("model/envprint.fp", key=signer)

    `sign` receives the exact bytes to sign and returns an Ed25519 signature (64 bytes) or, for a
    P-256 key, an ECDSA-SHA256 signature as DER or as raw r || s (64 bytes, as PKCS#11 returns it).
    Every signature is checked against `public_key` before it is written, so a callback that signs
    with another key or hashes differently fails at once instead of producing an unverifiable file.
    """

    public_key: PublicKey
    sign: Callable[[bytes], bytes]

    def __init__(self, public_key: PublicKeyLike, sign: Callable[[bytes], bytes]) -> None:
        if not callable(sign):
            raise UsageError(f"Signer: `sign` must be a function of the bytes to sign, not {type(sign).__name__}")
        object.__setattr__(self, "public_key", load_public_key(public_key))
        object.__setattr__(self, "sign", sign)

    @property
    def keyid(self) -> str:
        """Returns the key id of the signer's public key."""
        return keyid(self.public_key)

    @property
    def algorithm(self) -> str:
        """Returns the signature algorithm: "ed25519" or "ecdsa-sha2-nistp256"."""
        return algorithm_of(self.public_key)

    def signature(self, message: bytes) -> bytes:
        """Returns the signature of `message`, checked against the public key (DER for ECDSA).

        Raises `SignatureError` when the callback fails or returns something that does not verify.
        """
        try:
            sig = self.sign(message)
        except Exception as e:  # a KMS client, an HSM driver: any error means nothing was signed
            raise SignatureError(
                f"the signer for key {self.keyid[:16]} failed: {type(e).__name__}: {e}",
                hint="check the signer's credentials and key name; nothing was written",
            ) from e
        if not isinstance(sig, (bytes, bytearray, memoryview)):
            raise SignatureError(f"the signer for key {self.keyid[:16]} returned {type(sig).__name__}, not bytes")
        sig = bytes(sig)
        if self.algorithm == ECDSA_P256 and len(sig) == 64:  # raw r || s (PKCS#11, some KMS APIs)
            sig = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        if not verify_raw(self.public_key, sig, message):
            raise SignatureError(
                f"the signer for key {self.keyid[:16]} returned a signature that its public key does not verify",
                hint=f"the callback must sign the bytes it is given with {self.algorithm} (ECDSA: SHA-256 of them) "
                "using the private half of the public key passed to Signer",
            )
        return sig


def signer_of(key: PrivateKeyLike) -> Signer:
    """Returns a `Signer` for `key`: a Signer as is, or a private key (file, PEM, object) wrapped."""
    if isinstance(key, Signer):
        return key
    private = load_private_key(key)
    if isinstance(private, Ed25519PrivateKey):
        return Signer(private.public_key(), private.sign)
    return Signer(private.public_key(), lambda message: private.sign(message, ec.ECDSA(SHA256())))


def verify_raw(public: PublicKey, sig: bytes, message: bytes) -> bool:
    """Returns whether `sig` is a valid signature of `message` by `public` (Ed25519, or ECDSA-SHA256 DER)."""
    try:
        if isinstance(public, Ed25519PublicKey):
            public.verify(sig, message)
        else:
            public.verify(sig, message, ec.ECDSA(SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


# ------------------------------------------------------------------------------------------- keygen


def generate_keypair(
    prefix: str | os.PathLike[str], *, passphrase: str | bytes | None = None, algorithm: str = ALGORITHM
) -> tuple[Path, Path]:
    """Returns (PREFIX.key, PREFIX.pub) after writing a new key pair there (Ed25519 or ECDSA P-256).

    The private key is PKCS#8 PEM (encrypted when `passphrase` is given), created with mode 0600 in
    a temporary file and linked into place, so it is never readable by others and never replaces an
    existing file; the public key is SPKI PEM. Raises `UsageError` if either file already exists.
    """
    if algorithm not in ALGORITHMS:
        raise UsageError(f"unknown key algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
    private_path = Path(f"{os.fspath(prefix)}.key")
    public_path = Path(f"{os.fspath(prefix)}.pub")
    for p in (private_path, public_path):
        if os.path.lexists(p):
            raise UsageError(f"{p}: already exists; refusing to overwrite a key", hint="choose another -o PREFIX")
    key: PrivateKey = Ed25519PrivateKey.generate() if algorithm == ED25519 else ec.generate_private_key(ec.SECP256R1())
    password = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    if isinstance(key, Ed25519PrivateKey) and not password:
        private_pem = _pem("PRIVATE KEY", _PKCS8_PREFIX + key.private_bytes_raw())
    else:
        from cryptography.hazmat.primitives import serialization as ser  # ~30 ms: keygen only

        encryption = ser.BestAvailableEncryption(password) if password else ser.NoEncryption()
        private_pem = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, encryption)
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
