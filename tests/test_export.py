"""in-toto export: a DSSE JSON envelope that standard tools read, signed with the fingerprint's key."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from envprint import artifact, codec, export, signing
from envprint.envelope import Envelope, read_envelope, write_envelope
from envprint.errors import EnvprintError, FingerprintFormatError, SignatureError, UsageError
from envprint.model import Unavailable
from tests.signing_helpers import make_fingerprint, make_keys

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
    assert sig["keyid"] == signing.keyid(key)
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
    keyid = subprocess.run(
        f"openssl pkey -pubin -in {public} -outform DER | sha256sum", shell=True, capture_output=True, text=True
    ).stdout.split()[0]
    assert json.loads((tmp_path / "model.intoto.jsonl").read_bytes())["signatures"][0]["keyid"] == keyid


def test_cli_export_writes_the_envelope_to_a_file(bound: tuple[Path, Path, Path, Path], tmp_path: Path) -> None:
    from tests.conftest import run_envprint

    _, path, private, public = bound
    out = tmp_path / "model.intoto.jsonl"
    proc = run_envprint(["export", str(path), "--format", "in-toto", "--key", str(private), "-o", str(out)])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert export.verify_in_toto(out.read_bytes(), [public])["predicateType"] == "https://envprint.dev/fingerprint/v1"
