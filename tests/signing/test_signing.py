"""Signing and trust: real Ed25519 keys, real files, the tamper matrix of research/signing-anchors.md §7.7."""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import hashlib
import os
import random
import re
import signal
import stat
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from envprint import codec, signing
from envprint.envelope import Signature, read_envelope, write_envelope
from envprint.errors import EnvprintError, SignatureError, UsageError
from envprint.signing import Keyring, TrustedKey
from tests.signing_helpers import make_fingerprint, make_keys

# ------------------------------------------------------------------------------------------ keygen


def test_keygen_writes_private_key_0600_and_public_key_beside_it(tmp_path: Path) -> None:
    private, public = signing.generate_keypair(tmp_path / "train")
    assert (private.name, public.name) == ("train.key", "train.pub")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----\n")
    # the files are standard PKCS#8 / SPKI: cryptography reads them as a matching pair
    key = serialization.load_pem_private_key(private.read_bytes(), None)
    pub = serialization.load_pem_public_key(public.read_bytes())
    assert key.public_key() == pub


def test_keygen_private_key_is_never_readable_by_others_even_before_it_is_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modes: dict[str, int] = {}
    real_link = os.link

    def spy_link(src: str, dst: str, *args: object, **kwargs: object) -> None:
        modes[Path(dst).name] = stat.S_IMODE(os.stat(src).st_mode)
        real_link(src, dst)

    monkeypatch.setattr(os, "link", spy_link)
    old_umask = os.umask(0)  # the most permissive umask must not matter
    try:
        signing.generate_keypair(tmp_path / "k")
    finally:
        os.umask(old_umask)
    assert modes == {"k.key": 0o600, "k.pub": 0o644}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.key", "k.pub"]  # no temporary left


def test_keygen_refuses_to_overwrite_an_existing_key(tmp_path: Path) -> None:
    (tmp_path / "k.pub").write_text("keep me")
    with pytest.raises(UsageError, match="already exists"):
        signing.generate_keypair(tmp_path / "k")
    assert (tmp_path / "k.pub").read_text() == "keep me"
    assert not (tmp_path / "k.key").exists()


def test_keyid_is_sha256_of_the_der_subject_public_key_info(tmp_path: Path) -> None:
    private, public = make_keys(tmp_path)
    der = serialization.load_pem_public_key(public.read_bytes()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = hashlib.sha256(der).hexdigest()
    assert signing.keyid(signing.load_public_key(public)) == expected
    assert signing.keyid(signing.load_private_key(private)) == expected


def test_pae_matches_the_dsse_specification() -> None:
    assert signing.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_passphrase_protected_key_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    private, public = make_keys(tmp_path, passphrase="correct horse")
    assert private.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    monkeypatch.delenv(signing.PASSPHRASE_ENV, raising=False)
    with pytest.raises(UsageError, match="encrypted and no passphrase"):
        signing.load_private_key(private)
    monkeypatch.setenv(signing.PASSPHRASE_ENV, "wrong")
    with pytest.raises(UsageError, match="wrong passphrase"):
        signing.load_private_key(private)
    monkeypatch.setenv(signing.PASSPHRASE_ENV, "correct horse")
    path = make_fingerprint().save(tmp_path / "a.fp", key=private)
    loaded = codec.read(path, trusted_keys=[public])
    assert loaded.trust == "verified"
    assert loaded.verified_keyids == (signing.keyid(signing.load_public_key(public)),)


def test_keys_other_than_ed25519_and_p256_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    p384 = ec.generate_private_key(ec.SECP384R1())
    p384_private = p384.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    p384_public = p384.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(UsageError, match="secp384r1; envprint supports Ed25519 and ECDSA P-256"):
        signing.load_private_key(p384_private)
    with pytest.raises(UsageError, match="secp384r1"):
        signing.load_public_key(p384_public)
    rsa_public = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(UsageError, match="RSAPublicKey, but envprint verifies Ed25519 and ECDSA P-256"):
        signing.load_public_key(rsa_public)


def test_a_private_key_passed_as_trusted_key_is_refused(tmp_path: Path) -> None:
    private, _ = make_keys(tmp_path)
    with pytest.raises(UsageError, match="is a private key"):
        Keyring.of([private])


def test_garbage_key_material_raises_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "junk.pub").write_bytes(b"\x00\x01 not a key")
    for bad in (b"-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n", b"\x30\x03\x02\x01\x00"):
        with pytest.raises(UsageError):
            signing.load_public_key(bad)
    with pytest.raises(UsageError):
        Keyring.of([tmp_path / "junk.pub"])
    with pytest.raises(UsageError, match="no such"):
        signing.load_private_key(tmp_path / "missing.key")


_ED25519 = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
_P256 = ec.derive_private_key(0x5EED, ec.SECP256R1())
_PEM, _DER = serialization.Encoding.PEM, serialization.Encoding.DER
_SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
_PKCS8, _CLEAR = serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
#: valid encodings of real keys: loaders must return exactly these keys, and a one-byte change must not fool them
_KEY_ENCODINGS = [
    *(k.public_key().public_bytes(encoding, _SPKI) for k in (_ED25519, _P256) for encoding in (_PEM, _DER)),
    *(k.private_bytes(_PEM, _PKCS8, _CLEAR) for k in (_ED25519, _P256)),
    _P256.private_bytes(_PEM, serialization.PrivateFormat.TraditionalOpenSSL, _CLEAR),  # SEC1 "EC PRIVATE KEY"
]


def _one_byte_changed(encoding: bytes) -> st.SearchStrategy[bytes]:
    at, value = st.integers(0, len(encoding) - 1), st.integers(0, 255)
    return st.tuples(at, value).map(lambda t: encoding[: t[0]] + bytes([t[1]]) + encoding[t[0] + 1 :])


def _keys_cryptography_reads(data: bytes, *, private: bool) -> list[bytes]:
    """Returns the DER (PKCS#8 or SPKI) of each key cryptography's own loaders read from `data`'s PEM blocks
    (and, for public keys, from `data` as DER): the keys `data` validly encodes."""
    candidates = [] if private else [data]
    for body in re.findall(rb"-----BEGIN [A-Z0-9 ]+-----(.*?)-----END", data, re.DOTALL):
        with contextlib.suppress(binascii.Error, ValueError):
            candidates.append(base64.b64decode(re.sub(rb"\s+", b"", body), validate=True))
    found = []
    for der in candidates:
        try:
            if private:
                found.append(serialization.load_der_private_key(der, None).private_bytes(_DER, _PKCS8, _CLEAR))
            else:
                found.append(serialization.load_der_public_key(der).public_bytes(_DER, _SPKI))
        except Exception:  # cryptography raises ValueError, TypeError or UnsupportedAlgorithm: not a key
            continue
    return found


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300)
    | st.sampled_from([b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA", b"\x30\x2a", *_KEY_ENCODINGS])
    | st.sampled_from(_KEY_ENCODINGS).flatmap(_one_byte_changed)
)
def test_arbitrary_key_material_gives_only_usage_errors(data: bytes) -> None:
    # anything but UsageError escaping fails the test; so does a key returned for bytes that do not encode it,
    # and (so that refusing everything cannot pass) a refused valid encoding
    try:
        public = signing.load_public_key(data)
    except UsageError:
        assert data not in _KEY_ENCODINGS[:4], "a valid public key encoding was refused"
    else:
        assert public.public_bytes(_DER, _SPKI) in _keys_cryptography_reads(data, private=False), data
    try:
        private = signing.load_private_key(data)
    except UsageError:
        assert data not in _KEY_ENCODINGS[4:], "a valid private key encoding was refused"
    else:
        assert private.private_bytes(_DER, _PKCS8, _CLEAR) in _keys_cryptography_reads(data, private=True), data


# ---------------------------------------------------------------------------------- trusted key forms


def test_every_trusted_key_form_verifies(tmp_path: Path) -> None:
    private, public = make_keys(tmp_path)
    path = make_fingerprint().save(tmp_path / "a.fp", key=private)
    pem = public.read_bytes()
    obj = signing.load_public_key(public)
    der = obj.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ring = tmp_path / "ring.toml"
    ring.write_text('[[key]]\npath = "key.pub"\ncomment = "train"\n')
    kid = signing.keyid(obj)
    for trusted in (public, str(public), pem, pem.decode(), der, obj, [public], ring, Keyring.load(ring), [ring]):
        assert codec.read(path, trusted_keys=trusted).verified_keyids == (kid,), trusted


def test_no_trusted_key_at_all_is_a_usage_error(tmp_path: Path) -> None:
    private, _ = make_keys(tmp_path)
    path = make_fingerprint().save(tmp_path / "a.fp", key=private)
    with pytest.raises(UsageError, match="no trusted public key"):
        codec.read(path, trusted_keys=[])


# ------------------------------------------------------------------------------------- tamper matrix


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Returns (fingerprint, private key, public key): a small fingerprint signed with a fresh key."""
    private, public = make_keys(tmp_path / "keys")
    path = make_fingerprint().save(tmp_path / "a.fp", key=private)
    return path, private, public


def test_pristine_signed_file_is_accepted(signed: tuple[Path, Path, Path]) -> None:
    path, _, public = signed
    loaded = codec.read(path, trusted_keys=[public])
    assert loaded.trust == "verified"
    assert loaded.label == "VERIFIED"
    assert loaded.fingerprint == make_fingerprint()


def test_every_single_byte_change_is_rejected_with_an_envprint_error(
    signed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    path, _, public = signed
    keyring = Keyring.of([public])
    original = path.read_bytes()
    assert len(original) < 2048  # small enough to try every position
    rng = random.Random(4)
    target = tmp_path / "mutated.fp"
    tried = 0
    for i in range(len(original)):
        other = rng.choice([v for v in range(256) if v not in (original[i], original[i] ^ 1)])
        for value in (original[i] ^ 0x01, other):
            target.write_bytes(original[:i] + bytes([value]) + original[i + 1 :])
            try:
                codec.read(target, trusted_keys=keyring)
            except EnvprintError:
                tried += 1
                continue
            except Exception as e:  # pragma: no cover - the assertion below reports it
                pytest.fail(f"byte {i} set to {value:#04x}: {type(e).__name__} escaped: {e}")
            pytest.fail(f"byte {i} set to {value:#04x} was accepted")
    assert tried == 2 * len(original)


def test_every_truncation_is_rejected(signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    path, _, public = signed
    original = path.read_bytes()
    target = tmp_path / "short.fp"
    for n in range(len(original)):
        target.write_bytes(original[:n])
        with pytest.raises(EnvprintError):
            codec.read(target, trusted_keys=[public])


def _rewrite(path: Path, **changes: object) -> None:
    write_envelope(dataclasses.replace(read_envelope(path), **changes), path)  # type: ignore[arg-type]


def test_edited_payload_type_is_rejected(signed: tuple[Path, Path, Path]) -> None:
    path, _, public = signed
    _rewrite(path, payload_type="application/vnd.envprint.fingerprint.v1+json")
    with pytest.raises(SignatureError, match="does not verify"):
        codec.read(path, trusted_keys=[public])


def test_signature_copied_from_another_envelope_is_rejected(signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    path, private, public = signed
    other = make_fingerprint(label="other").save(tmp_path / "b.fp", key=private)
    _rewrite(path, signatures=read_envelope(other).signatures)
    with pytest.raises(SignatureError, match="copied from another file"):
        codec.read(path, trusted_keys=[public])


def test_keyid_changed_to_a_trusted_keys_id_is_rejected(signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    path, _, public = signed  # signed by `key`; the verifier trusts only `trusted`
    _, trusted = make_keys(tmp_path / "keys", "trusted")
    trusted_id = signing.keyid(signing.load_public_key(trusted))
    (sig,) = read_envelope(path).signatures
    _rewrite(path, signatures=(Signature(trusted_id, sig.alg, sig.sig),))
    with pytest.raises(SignatureError, match="does not verify"):
        codec.read(path, trusted_keys=[trusted])
    with pytest.raises(SignatureError):  # trusting both keys does not help: keyid only picks the key
        codec.read(path, trusted_keys=[trusted, public])


def test_algorithm_label_other_than_ed25519_is_refused(signed: tuple[Path, Path, Path]) -> None:
    path, _, public = signed
    (sig,) = read_envelope(path).signatures
    _rewrite(path, signatures=(Signature(sig.keyid, "none", sig.sig),))
    with pytest.raises(SignatureError, match="claims algorithm 'none'"):
        codec.read(path, trusted_keys=[public])


def test_wrong_key_is_rejected(signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    path, _, _ = signed
    _, stranger = make_keys(tmp_path / "keys", "stranger")
    with pytest.raises(SignatureError, match="not a trusted key") as info:
        codec.read(path, trusted_keys=[stranger])
    assert info.value.exit_code == 3


def test_unsigned_file_is_rejected_when_keys_are_given_and_labelled_otherwise(tmp_path: Path) -> None:
    _, public = make_keys(tmp_path)
    path = make_fingerprint().save(tmp_path / "u.fp")
    with pytest.raises(SignatureError, match="UNSIGNED"):
        codec.read(path, trusted_keys=[public])
    assert codec.read(path).label == "UNSIGNED"


def test_revoked_key_is_rejected(signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    path, _, _ = signed
    ring = tmp_path / "keys" / "ring.toml"
    ring.write_text('[[key]]\npath = "key.pub"\nrevoked = true\ncomment = "leaked 2025-03"\n')
    with pytest.raises(SignatureError, match=r"leaked 2025-03\), which is revoked"):
        codec.read(path, trusted_keys=[ring])


def test_revocation_by_key_id_overrides_the_same_key_trusted_elsewhere(
    signed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    path, _, public = signed
    kid = signing.keyid(signing.load_public_key(public))
    ring = tmp_path / "revoked.toml"
    ring.write_text(f'[[key]]\nkeyid = "{kid}"\nrevoked = true\n')
    with pytest.raises(SignatureError, match="revoked"):
        codec.read(path, trusted_keys=[public, ring])


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ("not_after = 2020-01-01T00:00:00Z", "expired at 2020-01-01"),
        ("not_before = 2999-01-01", "not valid before 2999-01-01"),
    ],
)
def test_key_outside_its_validity_window_is_rejected(
    signed: tuple[Path, Path, Path], tmp_path: Path, window: str, message: str
) -> None:
    path, _, _ = signed
    ring = tmp_path / "keys" / "ring.toml"
    ring.write_text(f'[[key]]\npath = "key.pub"\n{window}\n')
    with pytest.raises(SignatureError, match=message):
        codec.read(path, trusted_keys=[ring])


def test_validity_window_is_checked_against_the_verifier_clock(signed: tuple[Path, Path, Path]) -> None:
    path, _, public = signed
    key = signing.load_public_key(public)
    end = datetime(2030, 1, 1, tzinfo=timezone.utc)
    ring = Keyring((TrustedKey(signing.keyid(key), key, not_after=end),))
    envelope = read_envelope(path)
    assert signing.verify_envelope(envelope, ring, now=end - timedelta(seconds=1))
    with pytest.raises(SignatureError, match="expired"):
        signing.verify_envelope(envelope, ring, now=end + timedelta(seconds=1))


def test_rotation_two_signatures_verify_with_only_the_new_key(tmp_path: Path) -> None:
    old_private, old_public = make_keys(tmp_path, "old")
    new_private, new_public = make_keys(tmp_path, "new")
    path = make_fingerprint().save(tmp_path / "a.fp", key=old_private)
    signing.sign_file(path, new_private)
    envelope = read_envelope(path)
    assert [s.keyid for s in envelope.signatures] == [
        signing.keyid(signing.load_public_key(old_public)),
        signing.keyid(signing.load_public_key(new_public)),
    ]
    ring = tmp_path / "ring.toml"
    ring.write_text('[[key]]\npath = "new.pub"\n')
    assert codec.read(path, trusted_keys=[ring]).verified_keyids == (envelope.signatures[1].keyid,)
    # old key revoked and new key absent: nothing verifies
    ring.write_text('[[key]]\npath = "old.pub"\nrevoked = true\n')
    with pytest.raises(SignatureError, match="revoked"):
        codec.read(path, trusted_keys=[ring])


def test_signing_twice_with_the_same_key_is_refused(signed: tuple[Path, Path, Path]) -> None:
    path, private, _ = signed
    before = path.read_bytes()
    with pytest.raises(UsageError, match="already signed by key"):
        signing.sign_file(path, private)
    assert path.read_bytes() == before


def test_one_keyring_reused_across_files_keeps_no_state(tmp_path: Path) -> None:
    private, public = make_keys(tmp_path)
    good = make_fingerprint(label="good").save(tmp_path / "good.fp", key=private)
    bad = make_fingerprint(label="bad").save(tmp_path / "bad.fp", key=private)
    _rewrite(bad, signatures=read_envelope(good).signatures)
    ring = Keyring.of([public])
    for _ in range(2):
        assert codec.read(good, trusted_keys=ring).trust == "verified"
        with pytest.raises(SignatureError):
            codec.read(bad, trusted_keys=ring)


def test_in_memory_key_objects_sign_and_verify() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = signing.add_signature(make_fingerprint().envelope(), key)
    assert signing.verify_envelope(envelope, key.public_key()) == (signing.keyid(key),)


# ------------------------------------------------------------------------------------------ keyring


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[key]]\npath = "key.pub"\nrevoke = true\n', "unknown fields"),
        ('[[key]]\npath = "key.pub"\nnot_after = 2030-01-01T00:00:00\n', "no time zone"),
        ('[[key]]\nkeyid = "00"\nrevoked = true\n', "64 lowercase hex"),
        (f'[[key]]\nkeyid = "{"0" * 64}"\n', "only a revoked entry"),
        ('[[key]]\npath = "key.pub"\nkeyid = "' + "0" * 64 + '"\n', "does not match its key"),
        ('[[key]]\npath = "key.pub"\nrevoked = "yes"\n', "true or false"),
        ("keys = 1\n", "unknown keyring fields"),
        ("[[key\n", "neither a PEM public key nor a TOML keyring"),
    ],
)
def test_malformed_keyrings_are_refused(tmp_path: Path, text: str, message: str) -> None:
    make_keys(tmp_path)
    ring = tmp_path / "ring.toml"
    ring.write_text(text)
    with pytest.raises(UsageError, match=message):
        Keyring.of([ring])


def test_keyring_with_inline_pem_and_rfc3339_text(tmp_path: Path) -> None:
    _, public = make_keys(tmp_path)
    ring = tmp_path / "ring.toml"
    ring.write_text(
        f'[[key]]\npublic_key = """{public.read_text()}"""\nnot_after = "2999-01-01T00:00:00+02:00"\n'
        'comment = "inline"\n'
    )
    (entry,) = Keyring.load(ring)
    assert entry.comment == "inline"
    assert entry.not_after == datetime(2999, 1, 1, tzinfo=timezone(timedelta(hours=2)))


# ---------------------------------------------------------------------------------- atomic writes


_WRITER = """
import sys
from envprint._files import atomic_write
path, a, b = sys.argv[1], open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read()
print("ready", flush=True)
while True:
    atomic_write(path, a)
    atomic_write(path, b)
"""


@pytest.mark.slow
def test_writer_killed_mid_write_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    private, public = make_keys(tmp_path / "keys")
    # two big signed fingerprints (a few MiB each) so a kill often lands inside a write
    versions = []
    for label in ("a", "b"):
        custom = {f"k{i:06d}": "x" * 40 for i in range(60_000)}
        p = make_fingerprint(label=label, custom=custom).save(tmp_path / f"{label}.src", key=private)
        versions.append(p)
    contents = {p.read_bytes() for p in versions}
    assert min(len(c) for c in contents) > 2 * 1024 * 1024
    target = tmp_path / "out" / "envprint.fp"
    target.parent.mkdir()
    target.write_bytes(versions[0].read_bytes())
    repo = Path(__file__).resolve().parents[2]
    rng = random.Random(9)
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(target), str(versions[0]), str(versions[1])],
            cwd=repo,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(repo)},
        )
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert target.read_bytes() in contents
        assert codec.read(target, trusted_keys=[public]).trust == "verified"
    # temporaries left behind prove that kills landed in the middle of writes
    assert any(p.name.endswith(".tmp") for p in target.parent.iterdir())


# --------------------------------------------------------------------------------------------- CLI


def test_cli_newcomer_flow_keygen_capture_verify_tamper_export(tmp_path: Path) -> None:
    from tests.conftest import host_env, run_envprint

    model = tmp_path / "model"
    (model / "weights").mkdir(parents=True)
    (model / "weights" / "a.bin").write_bytes(os.urandom(100_000))
    (model / "config.json").write_text("{}")
    keygen = run_envprint(["keygen", "-o", str(tmp_path / "train")])
    assert keygen.returncode == 0, keygen.stderr
    kid = keygen.stdout.strip()
    assert kid == signing.keyid(signing.load_public_key(tmp_path / "train.pub"))
    capture = run_envprint(
        ["capture", "-q", "--no-probes", "--artifact", str(model), "--key", str(tmp_path / "train.key")]
    )
    assert capture.returncode == 0, capture.stderr
    fp = model / "envprint.fp"
    ok = run_envprint(["verify", str(fp), "--key", str(tmp_path / "train.pub")])
    assert ok.returncode == 0, ok.stderr
    assert f"signature verified (key {kid[:16]})" in ok.stdout
    assert "artifact" in ok.stdout and "2 file(s)" in ok.stdout
    # options read ENVPRINT_* variables too
    by_env = run_envprint(["verify", str(fp)], env=host_env(ENVPRINT_TRUSTED_KEYS=str(tmp_path / "train.pub")))
    assert by_env.returncode == 0, by_env.stderr
    with (model / "weights" / "a.bin").open("r+b") as f:
        first = f.read(1)[0]
        f.seek(0)
        f.write(bytes([first ^ 0xFF]))  # always a change (writing a fixed byte was a no-op 1 time in 256)
    bad = run_envprint(["verify", str(fp), "--key", str(tmp_path / "train.pub")])
    assert bad.returncode == 3
    assert "ARTIFACT MISMATCH" in bad.stderr and "changed     weights/a.bin" in bad.stderr
    export = run_envprint(["export", str(fp), "--format", "in-toto", "--key", str(tmp_path / "train.key")])
    assert export.returncode == 0, export.stderr
    from envprint.export import verify_in_toto

    subjects = verify_in_toto(export.stdout, [tmp_path / "train.pub"])["subject"]
    assert subjects[-1]["name"] == "model" and set(subjects[-1]["digest"]) == {"dirHash"}


def test_cli_sign_adds_a_signature_and_verify_rejects_untrusted_with_exit_3(tmp_path: Path) -> None:
    from tests.conftest import run_envprint

    old_private, _ = make_keys(tmp_path, "old")
    new_private, new_public = make_keys(tmp_path, "new")
    _, stranger = make_keys(tmp_path, "stranger")
    path = make_fingerprint().save(tmp_path / "a.fp", key=old_private)
    signed = run_envprint(["sign", str(path), "--key", str(new_private)])
    assert signed.returncode == 0, signed.stderr
    assert "2 signature(s)" in signed.stderr
    assert run_envprint(["verify", str(path), "--key", str(new_public)]).returncode == 0
    untrusted = run_envprint(["verify", str(path), "--key", str(stranger)])
    assert untrusted.returncode == 3
    assert "not a trusted key" in untrusted.stderr and "Traceback" not in untrusted.stderr
    again = run_envprint(["sign", str(path), "--key", str(new_private)])
    assert again.returncode == 2 and "already signed" in again.stderr


def test_keyring_with_inline_pem_passed_by_path_keeps_its_revocations(tmp_path: Path) -> None:
    from envprint import codec
    from envprint.errors import SignatureError
    from tests.signing_helpers import make_fingerprint, make_keys

    private, public = make_keys(tmp_path, "revoked")
    ring = tmp_path / "ring.toml"
    pem = public.read_text().strip()
    ring.write_text(f'[[key]]\npublic_key = """\n{pem}\n"""\nrevoked = true\ncomment = "leaked"\n')
    signed = make_fingerprint().save(tmp_path / "t.fp", key=private)
    with pytest.raises(SignatureError, match="revoked"):
        codec.load(signed, trusted_keys=[ring])  # by path: the file is a keyring, not one PEM key


def test_malformed_pem_blocks_are_rejected_in_linear_time() -> None:
    import time

    from envprint.errors import EnvprintError

    start = time.perf_counter()
    for n in (1000, 100_000):
        with pytest.raises(EnvprintError):
            signing.load_public_key(b"-----BEGIN A-----" + b" " * n + b"x")
    assert time.perf_counter() - start < 5  # the old pattern took minutes at n = 5000
