"""Key types and key files: ECDSA P-256 beside Ed25519, signer callbacks (KMS/HSM), PEM bundles,
keyring files others could swap (symlink, world-writable), and what `trusted_keys=` refuses."""

from __future__ import annotations

import hashlib
import os
import subprocess
import warnings
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256

from envprint import codec, signing
from envprint.envelope import Signature, pae, read_envelope, write_envelope
from envprint.errors import SignatureError, UsageError
from envprint.signing import InsecureKeyFileWarning, Keyring, Signer
from tests.conftest import run_envprint
from tests.signing_helpers import make_fingerprint, make_keys


def _spki_sha256(public: Path) -> str:
    """Returns sha256 of the DER SPKI of a PEM public key, computed by openssl (not by envprint)."""
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", str(public), "-outform", "DER"], capture_output=True, check=True
    ).stdout
    return hashlib.sha256(der).hexdigest()


# --------------------------------------------------------------------------------------- ECDSA P-256


def test_p256_keygen_signs_and_verifies_with_the_ecdsa_algorithm(tmp_path: Path) -> None:
    private, public = signing.generate_keypair(tmp_path / "org", algorithm=signing.ECDSA_P256)
    path = make_fingerprint().save(tmp_path / "a.fp", key=private)
    (sig,) = read_envelope(path).signatures
    assert sig.alg == "ecdsa-sha2-nistp256"
    assert sig.keyid == _spki_sha256(public)  # the same key id rule as Ed25519: sha256 of the DER SPKI
    loaded = codec.read(path, trusted_keys=[public])
    assert loaded.trust == "verified" and loaded.verified_keyids == (sig.keyid,)
    # independently of envprint: ECDSA-SHA256 over DSSE's PAE of the payload bytes
    key = serialization.load_pem_public_key(public.read_bytes())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    env = read_envelope(path)
    key.verify(sig.sig, pae(env.payload_type, env.payload), ec.ECDSA(SHA256()))


def test_an_openssl_made_sec1_p256_key_signs_for_envprint(tmp_path: Path) -> None:
    """One organisation key (as `openssl ecparam -genkey` writes it, SEC1 PEM) works for envprint."""
    key_path, pub_path = tmp_path / "org.pem", tmp_path / "org.pub"
    subprocess.run(
        ["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key_path)], check=True
    )
    subprocess.run(["openssl", "ec", "-in", str(key_path), "-pubout", "-out", str(pub_path)], check=True)
    assert key_path.read_bytes().startswith(b"-----BEGIN EC PRIVATE KEY-----")
    path = make_fingerprint().save(tmp_path / "a.fp", key=key_path)
    assert codec.read(path, trusted_keys=[pub_path]).verified_keyids == (_spki_sha256(pub_path),)
    other, _ = make_keys(tmp_path, "ed")
    with pytest.raises(SignatureError, match="not a trusted key"):
        codec.read(make_fingerprint().save(tmp_path / "b.fp", key=other), trusted_keys=[pub_path])


def test_a_signature_labelled_with_another_algorithm_is_refused(tmp_path: Path) -> None:
    private, public = signing.generate_keypair(tmp_path / "org", algorithm=signing.ECDSA_P256)
    path = make_fingerprint().save(tmp_path / "a.fp", key=private)
    env = read_envelope(path)
    (sig,) = env.signatures
    write_envelope(env.__class__(env.payload_type, env.payload, (Signature(sig.keyid, "ed25519", sig.sig),)), path)
    with pytest.raises(SignatureError, match=r"claims algorithm 'ed25519', but trusted key .* is ecdsa-sha2-nistp256"):
        codec.read(path, trusted_keys=[public])


def test_cli_keygen_makes_a_p256_pair_whose_key_id_it_prints(tmp_path: Path) -> None:
    proc = run_envprint(["keygen", "-o", str(tmp_path / "org"), "--algorithm", "ecdsa-p256"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == _spki_sha256(tmp_path / "org.pub")
    assert isinstance(signing.load_private_key(tmp_path / "org.key"), ec.EllipticCurvePrivateKey)


# ------------------------------------------------------------------------------------ signer callbacks


def test_a_signer_callback_signs_without_the_key_touching_disk(tmp_path: Path) -> None:
    held = ec.generate_private_key(ec.SECP256R1())  # stands in for a KMS: the key stays in this object
    seen: list[bytes] = []

    def kms_sign(message: bytes) -> bytes:
        seen.append(message)
        return held.sign(message, ec.ECDSA(SHA256()))

    public_pem = signing.public_key_pem(held.public_key())
    signer = Signer(public_pem, kms_sign)
    fp = make_fingerprint()
    path = fp.save(tmp_path / "a.fp", key=signer)
    env = read_envelope(path)
    assert seen == [pae(env.payload_type, env.payload)]  # the callback got exactly the PAE bytes
    assert [p.name for p in tmp_path.iterdir()] == ["a.fp"]  # no key file was written anywhere
    assert codec.read(path, trusted_keys=[public_pem]).verified_keyids == (signer.keyid,)


def test_a_callback_returning_raw_r_s_is_converted_to_der(tmp_path: Path) -> None:
    """PKCS#11 and some KMS APIs return the 64-byte r || s form; it is written as DER."""
    held = ec.generate_private_key(ec.SECP256R1())

    def hsm_sign(message: bytes) -> bytes:
        r, s = decode_dss_signature(held.sign(message, ec.ECDSA(SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    path = make_fingerprint().save(tmp_path / "a.fp", key=Signer(held.public_key(), hsm_sign))
    (sig,) = read_envelope(path).signatures
    assert sig.sig[0] == 0x30 and len(sig.sig) in range(68, 73)  # a DER SEQUENCE, not 64 raw bytes
    assert codec.read(path, trusted_keys=[held.public_key()]).trust == "verified"


def test_a_callback_that_signs_with_another_key_or_fails_writes_nothing(tmp_path: Path) -> None:
    claimed, actual = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    target = tmp_path / "a.fp"
    with pytest.raises(SignatureError, match="returned a signature that its public key does not verify"):
        make_fingerprint().save(target, key=Signer(claimed.public_key(), actual.sign))

    def broken(message: bytes) -> bytes:
        raise ConnectionError("KMS unreachable")

    with pytest.raises(SignatureError, match="failed: ConnectionError: KMS unreachable"):
        make_fingerprint().save(target, key=Signer(claimed.public_key(), broken))
    with pytest.raises(SignatureError, match="returned str, not bytes"):
        make_fingerprint().save(target, key=Signer(claimed.public_key(), lambda m: "sig"))  # type: ignore[arg-type,return-value]
    assert not target.exists()


def test_a_signer_can_add_a_second_signature_for_rotation(tmp_path: Path) -> None:
    old_private, old_public = make_keys(tmp_path, "old")
    new = ec.generate_private_key(ec.SECP256R1())
    path = make_fingerprint().save(tmp_path / "a.fp", key=old_private)
    signing.sign_file(path, Signer(new.public_key(), lambda m: new.sign(m, ec.ECDSA(SHA256()))))
    assert [s.alg for s in read_envelope(path).signatures] == ["ed25519", "ecdsa-sha2-nistp256"]
    assert codec.read(path, trusted_keys=[new.public_key()]).trust == "verified"
    assert codec.read(path, trusted_keys=[old_public]).trust == "verified"


# ----------------------------------------------------------------------------------------- PEM bundles


def test_every_key_of_a_pem_bundle_is_trusted(tmp_path: Path) -> None:
    _, a_public = make_keys(tmp_path, "a")
    b_private, b_public = signing.generate_keypair(tmp_path / "b", algorithm=signing.ECDSA_P256)
    bundle = tmp_path / "team.pub"
    bundle.write_bytes(a_public.read_bytes() + b"\n# rotated in 2025\n" + b_public.read_bytes())
    keyring = Keyring.of([bundle])
    assert set(keyring.keyids) == {_spki_sha256(a_public), _spki_sha256(b_public)}
    # the second block is used: a file signed by the second key verifies with the bundle
    path = make_fingerprint().save(tmp_path / "a.fp", key=b_private)
    assert codec.read(path, trusted_keys=[bundle]).verified_keyids == (_spki_sha256(b_public),)
    inline = tmp_path / "keyring.toml"
    inline.write_text(f'[[key]]\npublic_key = """{bundle.read_text()}"""\ncomment = "team"\n')
    assert set(Keyring.load(inline).keyids) == set(keyring.keyids)


def test_a_bundle_where_one_key_is_expected_or_with_a_private_block_is_refused(tmp_path: Path) -> None:
    a_private, a_public = make_keys(tmp_path, "a")
    _, b_public = make_keys(tmp_path, "b")
    bundle = tmp_path / "two.pub"
    bundle.write_bytes(a_public.read_bytes() + b_public.read_bytes())
    with pytest.raises(UsageError, match="holds 2 public keys where one is expected"):
        signing.load_public_key(bundle)
    mixed = tmp_path / "mixed.pub"
    mixed.write_bytes(a_public.read_bytes() + a_private.read_bytes())
    with pytest.raises(UsageError, match=r"PEM block 2 of 2\): is a private key"):
        Keyring.of([mixed])
    two_private = tmp_path / "two.key"
    two_private.write_bytes(a_private.read_bytes() * 2)
    with pytest.raises(UsageError, match="holds 2 PEM blocks; a private key file holds exactly one key"):
        signing.load_private_key(two_private)


# ------------------------------------------------------------------------------------ trusted key files


def _caught(fn: object) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert callable(fn)
        fn()
    return [str(w.message) for w in caught if issubclass(w.category, InsecureKeyFileWarning)]


def test_a_key_file_reached_through_a_symlink_warns_and_strict_mode_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, public = make_keys(tmp_path, "train")
    link = tmp_path / "current.pub"
    link.symlink_to(public)
    messages = _caught(lambda: Keyring.of([link]))
    assert len(messages) == 1 and "is reached through a symlink" in messages[0] and str(public) in messages[0]
    assert _caught(lambda: Keyring.of([public])) == []  # the regular file itself: no warning
    with pytest.raises(UsageError, match=r"symlink.*refused in strict mode"):
        Keyring.of([link], strict=True)
    monkeypatch.setenv(signing.STRICT_KEYS_ENV, "1")
    with pytest.raises(UsageError, match="refused in strict mode"):
        Keyring.of([link])


def test_a_world_writable_key_or_keyring_file_warns_and_strict_mode_refuses(tmp_path: Path) -> None:
    _, public = make_keys(tmp_path, "train")
    keyring = tmp_path / "keyring.toml"
    keyring.write_text('[[key]]\npath = "train.pub"\n')
    public.chmod(0o666)
    messages = _caught(lambda: Keyring.load(keyring))  # the key file the keyring points to is checked too
    assert len(messages) == 1 and "train.pub: the public key is world-writable" in messages[0]
    public.chmod(0o644)
    keyring.chmod(0o646)
    assert any("keyring is world-writable" in m for m in _caught(lambda: Keyring.load(keyring)))
    with pytest.raises(UsageError, match=r"world-writable.*refused in strict mode"):
        Keyring.load(keyring, strict=True)


def test_a_key_in_a_world_writable_directory_warns_unless_it_is_sticky(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    _, public = make_keys(shared, "train")
    shared.chmod(0o777)
    try:
        assert any("world-writable directory" in m for m in _caught(lambda: Keyring.of([public])))
        shared.chmod(0o1777)  # like /tmp: others cannot replace a file they do not own
        assert _caught(lambda: Keyring.of([public])) == []
    finally:
        shared.chmod(0o755)


def test_cli_verify_says_so_on_stderr_for_a_symlinked_key(tmp_path: Path) -> None:
    private, public = make_keys(tmp_path, "train")
    link = tmp_path / "link.pub"
    link.symlink_to(public)
    path = make_fingerprint().save(tmp_path / "a.fp", key=private)
    proc = run_envprint(["verify", str(path), "--key", str(link)])
    assert proc.returncode == 0, proc.stderr
    assert "reached through a symlink" in proc.stderr
    strict = run_envprint(["verify", str(path), "--key", str(link)], env={**os.environ, signing.STRICT_KEYS_ENV: "1"})
    assert strict.returncode == 2 and "refused in strict mode" in strict.stderr


# ----------------------------------------------------------------------------- what trusted_keys takes


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (Ed25519PrivateKey.generate(), "holds a private key"),
        (ec.generate_private_key(ec.SECP256R1()), "holds a private key"),
        ([Ed25519PrivateKey.generate()], "holds a private key"),
        (42, "not int"),
        (3.5, "not float"),
        ({"key": "train.pub"}, "not dict"),
        ([42], "unsupported trusted key int"),
    ],
)
def test_trusted_keys_of_the_wrong_kind_give_a_typed_error(tmp_path: Path, given: object, message: str) -> None:
    path = make_fingerprint().save(tmp_path / "a.fp", key=Ed25519PrivateKey.generate())
    with pytest.raises(UsageError, match=message):
        codec.read(path, trusted_keys=given)  # type: ignore[arg-type]


def test_a_signer_passed_as_trusted_key_is_refused(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = make_fingerprint().save(tmp_path / "a.fp", key=key)
    with pytest.raises(UsageError, match="holds a private key \\(or a Signer\\)"):
        codec.read(path, trusted_keys=Signer(key.public_key(), key.sign))  # type: ignore[arg-type]
