"""envprint and model-signing (the OpenSSF model signing tool) sign one model directory with one ECDSA P-256
organisation key, in either order, and both verify afterwards; tampering is caught by both."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("model_signing", reason="needs model-signing (test extra)")

from envprint import signing
from tests.conftest import run_envprint
from tests.signing_helpers import write_tree

# model-signing's own API, in a process of its own as a second tool would run. Signing ignores the
# signature file it writes and envprint's fingerprint (which may be added after it); the ignore list is
# recorded in the signature, so verifying needs no option.
MODEL_SIGNING = """
import sys
from model_signing import hashing, signing, verifying

action, model, key = sys.argv[1:4]
if action == "sign":
    config = hashing.Config().set_ignored_paths(paths=["model.sig", "envprint.fp"])
    signer = signing.Config().use_elliptic_key_signer(private_key=key).set_hashing_config(config)
    signer.sign(model, f"{model}/model.sig")
else:
    try:
        verifying.Config().use_elliptic_key_verifier(public_key=key).verify(model, f"{model}/model.sig")
    except ValueError as e:
        print(e)
        sys.exit(3)
print("model-signing:", action, "ok")
"""


def _model_signing(action: str, model: Path, key: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MODEL_SIGNING, action, str(model), str(key)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def org(tmp_path: Path) -> tuple[Path, Path]:
    """Returns one organisation key pair, P-256, as `envprint keygen --algorithm ecdsa-p256` writes it."""
    return signing.generate_keypair(tmp_path / "org", algorithm=signing.ECDSA_P256)


def _model(tmp_path: Path) -> Path:
    return write_tree(
        tmp_path / "model",
        {"config.json": b'{"layers": 2}', "weights/0.bin": bytes(range(256)) * 64, "weights/1.bin": b"\x01" * 999},
    )


def _envprint_sign(model: Path, key: Path) -> None:
    proc = run_envprint(["capture", "-q", "--no-probes", "--artifact", str(model), "--key", str(key)])
    assert proc.returncode == 0, proc.stderr


def _both_verify(model: Path, public: Path) -> None:
    ours = run_envprint(["verify", str(model / "envprint.fp"), "--key", str(public)])
    assert ours.returncode == 0, ours.stdout + ours.stderr
    theirs = _model_signing("verify", model, public)
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr


def test_envprint_first_then_model_signing_both_verify(tmp_path: Path, org: tuple[Path, Path]) -> None:
    model = _model(tmp_path)
    _envprint_sign(model, org[0])
    signed = _model_signing("sign", model, org[0])
    assert signed.returncode == 0, signed.stderr
    _both_verify(model, org[1])
    ours = run_envprint(["verify", str(model / "envprint.fp"), "--key", str(org[1])])
    assert "ignored model.sig" in ours.stdout  # on the signed ignore list by default


def test_model_signing_first_then_envprint_both_verify(tmp_path: Path, org: tuple[Path, Path]) -> None:
    model = _model(tmp_path)
    signed = _model_signing("sign", model, org[0])
    assert signed.returncode == 0, signed.stderr
    _envprint_sign(model, org[0])
    _both_verify(model, org[1])


def test_one_changed_weight_is_refused_by_both(tmp_path: Path, org: tuple[Path, Path]) -> None:
    model = _model(tmp_path)
    _envprint_sign(model, org[0])
    assert _model_signing("sign", model, org[0]).returncode == 0
    (model / "weights" / "1.bin").write_bytes(b"\x02" * 999)
    ours = run_envprint(["verify", str(model / "envprint.fp"), "--key", str(org[1])])
    assert ours.returncode == 3 and "weights/1.bin" in ours.stderr
    assert _model_signing("verify", model, org[1]).returncode == 3
