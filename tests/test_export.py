"""in-toto export: a DSSE JSON envelope that standard tools read, signed with the fingerprint's key."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.hashes import SHA256
from hypothesis import given, settings
from hypothesis import strategies as st

from envprint import artifact, codec, export, signing
from envprint.envelope import Envelope, read_envelope, write_envelope
from envprint.errors import EnvprintError, FingerprintFormatError, SignatureError, UsageError
from envprint.model import Unavailable
from tests.signing_helpers import make_fingerprint, make_keys, write_tree

BIG = 2**60 + 1  # not representable as a double
_ANY_KEY = Ed25519PrivateKey.generate().public_key()


@pytest.fixture
def bound(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """Returns (model file, its signed fingerprint, private key, public key)."""
    private, public = make_keys(tmp_path / "keys")
    model = tmp_path / "model.safetensors"
    model.write_bytes(bytes(range(256)) * 4099)
    fp = make_fingerprint(
        artifact=artifact.manifest(model),
        custom={"seed": BIG, "neg": -BIG, "safe": 2**53 - 1, "ratio": 0.1, "flag": True, "gone": Unavailable("n/a")},
    )
    path = fp.save(artifact.default_fp_path(model), key=private)
    return model, path, private, public


def _statement(envelope: bytes) -> dict[str, object]:
    payload = base64.b64decode(json.loads(envelope)["payload"])
    stmt: dict[str, object] = json.loads(payload)
    return stmt


def test_export_is_a_dsse_json_envelope_with_an_in_toto_statement(bound: tuple[Path, Path, Path, Path]) -> None:
    model, path, private, _ = bound
    out = export.to_in_toto(codec.read(path), key=private)
    assert out.endswith(b"\n") and out.count(b"\n") == 1  # one line: fits an .intoto.jsonl bundle
    env = json.loads(out)
    assert set(env) == {"payload", "payloadType", "signatures"}
    assert env["payloadType"] == "application/vnd.in-toto+json"
    stmt = _statement(out)
    assert stmt["_type"] == "https://in-toto.io/Statement/v1"
    assert stmt["predicateType"] == "https://envprint.dev/fingerprint/v1"
    assert stmt["subject"] == [{"name": "model.safetensors", "digest": {"sha256": artifact.manifest(model).digest}}]


def test_subject_digest_equals_sha256sum_of_the_model_file(bound: tuple[Path, Path, Path, Path]) -> None:
    model, path, private, _ = bound
    stmt = _statement(export.export_file(path, key=private))
    expected = subprocess.run(["sha256sum", str(model)], capture_output=True, check=True).stdout.split()[0].decode()
    assert stmt["subject"] == [{"name": "model.safetensors", "digest": {"sha256": expected}}]


def test_signature_verifies_with_the_public_key_and_not_with_another(
    bound: tuple[Path, Path, Path, Path], tmp_path: Path
) -> None:
    _, path, private, public = bound
    out = export.export_file(path, key=private)
    stmt = export.verify_in_toto(out, [public])
    assert stmt == _statement(out)
    # independently of envprint: Ed25519 over DSSE's PAE of the exact payload bytes
    env = json.loads(out)
    (sig,) = env["signatures"]
    key = signing.load_public_key(public)
    key.verify(base64.b64decode(sig["sig"]), signing.pae(env["payloadType"], base64.b64decode(env["payload"])))
    assert sig["keyid"] == signing.sslib_keyid(key)  # what in-toto tooling matches (see the securesystemslib tests)
    _, stranger = make_keys(tmp_path / "keys", "stranger")
    with pytest.raises(SignatureError, match="not a trusted key"):
        export.verify_in_toto(out, [stranger])


def test_tampered_payload_or_payload_type_is_rejected(bound: tuple[Path, Path, Path, Path]) -> None:
    _, path, private, public = bound
    env = json.loads(export.export_file(path, key=private))
    stmt = _statement(json.dumps(env).encode())
    stmt["subject"] = [{"name": "evil", "digest": {"sha256": "0" * 64}}]
    forged = {**env, "payload": base64.b64encode(json.dumps(stmt).encode()).decode()}
    with pytest.raises(SignatureError, match="does not verify"):
        export.verify_in_toto(json.dumps(forged), [public])
    retyped = {**env, "payloadType": "application/vnd.in-toto+cbor"}
    with pytest.raises(SignatureError, match="does not verify"):
        export.verify_in_toto(json.dumps(retyped), [public])


def test_large_integers_become_text_and_floats_their_repr(bound: tuple[Path, Path, Path, Path]) -> None:
    _, path, private, _ = bound
    stmt = _statement(export.export_file(path, key=private))
    predicate = stmt["predicate"]
    assert isinstance(predicate, dict)
    assert predicate["custom"] == {
        "seed": str(BIG),
        "neg": str(-BIG),
        "safe": 2**53 - 1,
        "ratio": "0.1",
        "flag": True,
        "gone": {"$unavailable": "n/a"},
    }
    assert predicate["meta"]["timings"] == {"packages": "0.001"}
    assert int(predicate["custom"]["seed"]) == BIG


def test_payload_is_sorted_compact_utf8_json(bound: tuple[Path, Path, Path, Path]) -> None:
    _, path, private, _ = bound
    payload = base64.b64decode(json.loads(export.export_file(path, key=private))["payload"])
    floats: list[str] = []
    data = json.loads(payload, parse_float=floats.append)
    assert floats == []
    assert payload == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_export_without_key_has_no_signatures(bound: tuple[Path, Path, Path, Path]) -> None:
    _, path, _, public = bound
    out = export.export_file(path, key=None)
    assert json.loads(out)["signatures"] == []
    with pytest.raises(SignatureError, match="UNSIGNED"):
        export.verify_in_toto(out, [public])


def test_unbound_fingerprint_has_no_subject(tmp_path: Path) -> None:
    private, _ = make_keys(tmp_path)
    with pytest.raises(UsageError, match="no subject"):
        export.to_in_toto(make_fingerprint(), key=private)


def test_export_refuses_to_resign_a_fingerprint_altered_after_its_signature(
    bound: tuple[Path, Path, Path, Path],
) -> None:
    _, path, private, _ = bound
    env = read_envelope(path)
    other = make_fingerprint(label="altered", artifact=codec.read(path).fingerprint.artifact).payload()
    write_envelope(Envelope(env.payload_type, other, env.signatures), path)
    with pytest.raises(SignatureError):
        export.export_file(path, key=private)


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq not installed")
def test_standard_tools_read_the_export(bound: tuple[Path, Path, Path, Path], tmp_path: Path) -> None:
    model, path, private, _ = bound
    out = tmp_path / "model.intoto.jsonl"
    out.write_bytes(export.export_file(path, key=private))
    # the recipe in docs/signing.md
    digest = subprocess.run(
        f"jq -r .payload {out} | base64 -d | jq -r '.subject[0].digest.sha256'",
        shell=True,
        capture_output=True,
        check=True,
        text=True,
    ).stdout.strip()
    assert digest == artifact.manifest(model).digest


# ------------------------------------------------------------------ subjects reproduced with standard tools


@pytest.fixture
def shipped(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """Returns (model directory with its envprint.fp inside, that fp, private key, public key)."""
    private, public = make_keys(tmp_path / "keys")
    model = write_tree(
        tmp_path / "model",
        {
            "MLmodel": b"flavors: {}\n",
            "weights/layer-1.bin": bytes(range(256)) * 300,
            "weights/layer_1.bin": b"x" * 10,  # '-' sorts before '_' and before '/' in C order
            "weights-extra/a.bin": b"y" * 7,
            "empty.txt": b"",
            "caf\u00e9.json": b"{}",
        },
    )
    fp = make_fingerprint(artifact=artifact.manifest(model)).save(model / "envprint.fp", key=private)
    return model, fp, private, public


def _shell(command: str, cwd: Path) -> str:
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs coreutils")
def test_directory_subjects_equal_sha256sum_and_the_in_toto_dirhash_recipe(
    shipped: tuple[Path, Path, Path, Path],
) -> None:
    model, fp, private, _ = shipped
    subjects = _statement(export.export_file(fp, key=private))["subject"]
    assert isinstance(subjects, list)
    *files, tree = subjects
    # one sha256 subject per file of the directory as shipped, envprint.fp included, as sha256sum prints them
    listing = _shell("find . -type f | cut -c3- | LC_ALL=C sort | xargs -r sha256sum", model)
    expected = [{"name": line[66:], "digest": {"sha256": line[:64]}} for line in listing.splitlines()]
    assert files == expected
    assert "envprint.fp" in [f["name"] for f in files]
    # the DigestSet dirHash recipe, run by the shell over the same directory
    dirhash = _shell("find . -type f | cut -c3- | LC_ALL=C sort | xargs -r sha256sum | sha256sum", model).split()[0]
    assert tree == {"name": "model", "digest": {"dirHash": dirhash}}


def test_a_fingerprint_kept_outside_the_directory_is_not_in_its_dirhash(tmp_path: Path) -> None:
    private, _ = make_keys(tmp_path / "keys")
    model = write_tree(tmp_path / "model", {"a.bin": b"a", "b/c.bin": b"c"})
    fp = make_fingerprint(artifact=artifact.manifest(model)).save(tmp_path / "model.fp", key=private)
    subjects = _statement(export.export_file(fp, key=private))["subject"]
    dirhash = _shell("find . -type f | cut -c3- | LC_ALL=C sort | xargs -r sha256sum | sha256sum", model).split()[0]
    assert subjects == [
        {"name": "a.bin", "digest": {"sha256": hashlib.sha256(b"a").hexdigest()}},
        {"name": "b/c.bin", "digest": {"sha256": hashlib.sha256(b"c").hexdigest()}},
        {"name": "model", "digest": {"dirHash": dirhash}},
    ]


# ------------------------------------------------------------------------ securesystemslib as a consumer


@pytest.mark.parametrize("algorithm", [signing.ED25519, signing.ECDSA_P256])
def test_securesystemslib_verifies_the_export_with_its_default_key_id(tmp_path: Path, algorithm: str) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from securesystemslib.dsse import Envelope as SslibEnvelope
    from securesystemslib.signer import SSlibKey

    private, public = signing.generate_keypair(tmp_path / "org", algorithm=algorithm)
    model = write_tree(tmp_path / "model", {"w.bin": b"w" * 100})
    fp = make_fingerprint(artifact=artifact.manifest(model)).save(model / "envprint.fp", key=private)
    out = export.export_file(fp, key=private)
    # what an in-toto consumer writes: no key id by hand, securesystemslib computes its own
    key = SSlibKey.from_crypto(load_pem_public_key(public.read_bytes()))
    envelope = SslibEnvelope.from_dict(json.loads(out))
    verified = envelope.verify([key], 1)
    assert list(verified) == [key.keyid]
    assert json.loads(envelope.pae().decode("utf-8", "replace").split(" ", 4)[4])["_type"] == export.STATEMENT_TYPE
    # and the envprint side still matches it to the key, by either id
    assert export.verify_in_toto(out, [public])["predicateType"] == "https://envprint.dev/fingerprint/v1"


def test_securesystemslib_refuses_the_export_under_another_key(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from securesystemslib.dsse import Envelope as SslibEnvelope
    from securesystemslib.exceptions import VerificationError
    from securesystemslib.signer import SSlibKey

    private, _ = make_keys(tmp_path, "train")
    _, other = make_keys(tmp_path, "other")
    model = tmp_path / "m.bin"
    model.write_bytes(b"m")
    fp = make_fingerprint(artifact=artifact.manifest(model)).save(artifact.default_fp_path(model), key=private)
    envelope = SslibEnvelope.from_dict(json.loads(export.export_file(fp, key=private)))
    with pytest.raises(VerificationError):
        envelope.verify([SSlibKey.from_crypto(load_pem_public_key(other.read_bytes()))], 1)


def test_an_export_keyed_by_envprint_id_or_without_key_id_still_verifies(
    shipped: tuple[Path, Path, Path, Path],
) -> None:
    _, fp, private, public = shipped
    env = json.loads(export.export_file(fp, key=private))
    for kid in (signing.keyid(signing.load_public_key(public)), ""):
        env["signatures"][0]["keyid"] = kid
        assert export.verify_in_toto(json.dumps(env), [public])["_type"] == export.STATEMENT_TYPE
    env["signatures"][0].pop("keyid")
    assert export.verify_in_toto(json.dumps(env), [public])["_type"] == export.STATEMENT_TYPE


def test_an_export_signed_through_a_callback_verifies(shipped: tuple[Path, Path, Path, Path]) -> None:
    _, fp, _, _ = shipped
    held = ec.generate_private_key(ec.SECP256R1())
    signer = signing.Signer(held.public_key(), lambda m: held.sign(m, ec.ECDSA(SHA256())))
    out = export.export_file(fp, key=signer)
    assert json.loads(out)["signatures"][0]["keyid"] == signing.sslib_keyid(held.public_key())
    assert export.verify_in_toto(out, [held.public_key()])["_type"] == export.STATEMENT_TYPE


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_arbitrary_bytes_give_only_envprint_errors(data: bytes) -> None:
    with pytest.raises(EnvprintError):
        export.verify_in_toto(data, [_ANY_KEY])


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "payloadType": _JSON | st.just("application/vnd.in-toto+json"),
            "payload": _JSON | st.sampled_from(["", "e30=", "eyJfdHlwZSI6MX0"]),
            "signatures": _JSON | st.lists(st.fixed_dictionaries({}, optional={"keyid": _JSON, "sig": _JSON})),
        },
    )
)
def test_arbitrary_envelope_shapes_give_only_envprint_errors(doc: dict[str, object]) -> None:
    with pytest.raises(EnvprintError):
        export.verify_in_toto(json.dumps(doc), [_ANY_KEY])


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"payloadType": "x"},
        {"payloadType": "x", "payload": "!!"},
        {"payloadType": "x", "payload": "", "signatures": {}},
        {"payloadType": "x", "payload": "", "signatures": [1]},
        {"payloadType": "x", "payload": "", "signatures": [{"keyid": 1, "sig": ""}]},
        {"payloadType": "\ud800", "payload": "", "signatures": [{"keyid": "k", "sig": ""}]},
    ],
)
def test_malformed_envelopes_are_format_errors(tmp_path: Path, doc: dict[str, object]) -> None:
    _, public = make_keys(tmp_path)
    with pytest.raises(FingerprintFormatError):
        export.verify_in_toto(json.dumps(doc), [public])


@pytest.mark.skipif(shutil.which("openssl") is None or shutil.which("jq") is None, reason="needs openssl and jq")
def test_openssl_verifies_the_export_with_the_recipe_in_the_docs(
    bound: tuple[Path, Path, Path, Path], tmp_path: Path
) -> None:
    _, path, private, public = bound
    _, stranger = make_keys(tmp_path / "keys", "stranger")
    (tmp_path / "model.intoto.jsonl").write_bytes(export.export_file(path, key=private))
    recipe = """
        set -e
        jq -r .payload model.intoto.jsonl | base64 -d > payload.json
        jq -r '.signatures[0].sig' model.intoto.jsonl | base64 -d > sig.bin
        TYPE=application/vnd.in-toto+json
        { printf 'DSSEv1 %d %s %d ' ${#TYPE} "$TYPE" "$(stat -c %s payload.json)"; cat payload.json; } > pae.bin
        openssl pkeyutl -verify -pubin -inkey "$1" -rawin -in pae.bin -sigfile sig.bin
    """
    ok = subprocess.run(["bash", "-c", recipe, "-", str(public)], cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0 and "Verified Successfully" in ok.stdout, ok.stderr
    bad = subprocess.run(["bash", "-c", recipe, "-", str(stranger)], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode != 0


@pytest.mark.skipif(shutil.which("openssl") is None or shutil.which("jq") is None, reason="needs openssl and jq")
def test_openssl_verifies_a_p256_export_with_the_recipe_in_the_docs(tmp_path: Path) -> None:
    private, public = signing.generate_keypair(tmp_path / "org", algorithm=signing.ECDSA_P256)
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights" * 1000)
    path = make_fingerprint(artifact=artifact.manifest(model)).save(artifact.default_fp_path(model), key=private)
    (tmp_path / "model.intoto.jsonl").write_bytes(export.export_file(path, key=private))
    recipe = """
        set -e
        jq -r .payload model.intoto.jsonl | base64 -d > payload.json
        jq -r '.signatures[0].sig' model.intoto.jsonl | base64 -d > sig.der
        TYPE=application/vnd.in-toto+json
        { printf 'DSSEv1 %d %s %d ' ${#TYPE} "$TYPE" "$(stat -c %s payload.json)"; cat payload.json; } > pae.bin
        openssl dgst -sha256 -verify "$1" -signature sig.der pae.bin
    """
    ok = subprocess.run(["bash", "-c", recipe, "-", str(public)], cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0 and "Verified OK" in ok.stdout, ok.stderr


def test_cli_export_writes_the_envelope_to_a_file(bound: tuple[Path, Path, Path, Path], tmp_path: Path) -> None:
    from tests.conftest import run_envprint

    _, path, private, public = bound
    out = tmp_path / "model.intoto.jsonl"
    proc = run_envprint(["export", str(path), "--format", "in-toto", "--key", str(private), "-o", str(out)])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert export.verify_in_toto(out.read_bytes(), [public])["predicateType"] == "https://envprint.dev/fingerprint/v1"
