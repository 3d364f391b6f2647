"""The signed ignore list: files that tools add beside a model, left unread only at the exact paths it names."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from envprint import artifact
from envprint.artifact import ChangeKind
from envprint.errors import ArtifactMismatchError, SignatureError, UsageError
from tests.conftest import run_envprint
from tests.signing_helpers import make_fingerprint, make_keys, write_tree

MODEL = {
    "MLmodel": b"flavors: {python_function: {}}\n",
    "model.pkl": b"\x80\x04weights" * 100,
    "conda.yaml": b"dependencies: [python=3.11]\n",
    "code/predict.py": b"def predict(x):\n    return x\n",
}
META = b"model_name: churn\nmodel_version: 101\n"  # what the MLflow registry writes on download: 37 bytes


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "model", MODEL)


def _sign(tmp_path: Path, model: Path, m: artifact.ArtifactManifest | None = None) -> Path:
    private, public = make_keys(tmp_path / "keys")
    make_fingerprint(artifact=m or artifact.manifest(model)).save(model / "envprint.fp", key=private)
    return public


def test_new_manifests_carry_the_default_ignore_list(model: Path) -> None:
    m = artifact.manifest(model)
    assert m.ignored == ("registered_model_meta", "model.sig") == artifact.DEFAULT_IGNORED
    assert "registered_model_meta" not in {f.path for f in m.files}


def test_a_file_added_at_an_ignored_path_is_reported_not_read(model: Path, tmp_path: Path) -> None:
    public = _sign(tmp_path, model)
    (model / "registered_model_meta").write_bytes(META)
    (model / "model.sig").write_bytes(b'{"signature": "..."}')
    result = artifact.verify_file(model / "envprint.fp", [public])
    assert result.check is not None
    assert result.check.ignored == (("model.sig", 20), ("registered_model_meta", 37))
    assert "--  ignored registered_model_meta (37 bytes): on the signed ignore list, not checked" in result.summary()


def test_an_ignored_file_present_at_capture_is_left_out_of_the_binding(model: Path, tmp_path: Path) -> None:
    (model / "model.sig").write_bytes(b"signed by model-signing before envprint")
    m = artifact.manifest(model)
    assert "model.sig" not in {f.path for f in m.files}
    (model / "model.sig").write_bytes(b"re-signed afterwards: another signature")
    assert artifact.verify(m, model).ignored == (("model.sig", 39),)


@pytest.mark.parametrize("where", ["code/registered_model_meta", "code/model.sig", "extra/registered_model_meta"])
def test_the_same_name_elsewhere_is_tamper_evidence(model: Path, where: str) -> None:
    m = artifact.manifest(model)
    (model / where).parent.mkdir(exist_ok=True)
    (model / where).write_bytes(META)
    with pytest.raises(ArtifactMismatchError) as info:
        artifact.verify(m, model)
    [change] = info.value.changes
    assert (change.kind, change.path) == (ChangeKind.ADDED, where)
    ignored = where.rsplit("/", 1)[1]
    assert change.detail == f"37 bytes; named like an ignored file, but only {ignored} is ignored"


def test_a_directory_at_an_ignored_path_is_not_ignored(model: Path) -> None:
    m = artifact.manifest(model)
    (model / "model.sig").mkdir()
    (model / "model.sig" / "weights.bin").write_bytes(b"smuggled")
    with pytest.raises(ArtifactMismatchError) as info:
        artifact.verify(m, model)
    assert [(c.kind, c.path) for c in info.value.changes] == [(ChangeKind.ADDED, "model.sig/weights.bin")]


def test_a_manifest_without_an_ignore_list_verifies_exactly_as_before(model: Path) -> None:
    old = dataclasses.replace(artifact.manifest(model), ignored=())  # what envprint 0.1 wrote
    artifact.verify(old, model)
    (model / "registered_model_meta").write_bytes(META)
    with pytest.raises(ArtifactMismatchError) as info:
        artifact.verify(old, model)
    assert [(c.kind.value, c.path, c.detail) for c in info.value.changes] == [
        ("added", "registered_model_meta", "37 bytes")
    ]


def test_custom_ignores_replace_or_extend_the_defaults(model: Path) -> None:
    assert artifact.manifest(model, ignore=("code/predict.py",)).ignored == ("code/predict.py",)
    assert "code/predict.py" not in {f.path for f in artifact.manifest(model, ignore=("code/predict.py",)).files}


@pytest.mark.parametrize(
    ("path", "reason"), [("../outside", "'..'"), ("/etc/passwd", "absolute"), ("a//b", "normalised")]
)
def test_unsafe_ignore_paths_are_refused_at_capture(model: Path, path: str, reason: str) -> None:
    with pytest.raises(UsageError, match=reason):
        artifact.manifest(model, ignore=(path,))


@pytest.mark.parametrize(
    ("ignored", "reason"),
    [(("../x",), "contains '..'"), (("MLmodel",), "both listed and ignored"), (("a", "a"), "ignored twice")],
)
def test_an_inconsistent_ignore_list_in_a_manifest_is_refused(
    model: Path, ignored: tuple[str, ...], reason: str
) -> None:
    m = dataclasses.replace(artifact.manifest(model), ignored=ignored)
    with pytest.raises(ArtifactMismatchError) as info:
        artifact.verify(m, model)
    assert any(c.kind is ChangeKind.INVALID and reason in c.detail for c in info.value.changes)


def test_the_ignore_list_is_signed_with_the_rest(model: Path, tmp_path: Path) -> None:
    public = _sign(tmp_path, model, artifact.manifest(model, ignore=("registered_model_meta",)))
    fp = model / "envprint.fp"
    data = fp.read_bytes()
    at = data.index(b"registered_model_meta")
    fp.write_bytes(data[:at] + b"R" + data[at + 1 :])  # an attacker renames the ignored path
    with pytest.raises(SignatureError):
        artifact.verify_file(fp, [public])


@pytest.mark.slow
def test_cli_capture_and_verify_print_what_was_ignored(model: Path, tmp_path: Path) -> None:
    private, public = make_keys(tmp_path / "keys")
    out = run_envprint(
        ["capture", "--no-probes", "-q", "--artifact", str(model), "--key", str(private), "--ignore", "serving.yaml"]
    )
    assert out.returncode == 0, out.stderr
    (model / "registered_model_meta").write_bytes(META)
    (model / "serving.yaml").write_bytes(b"replicas: 3\n")
    out = run_envprint(["verify", str(model / "envprint.fp"), "--key", str(public)])
    assert out.returncode == 0, out.stderr
    assert "--  ignored registered_model_meta (37 bytes)" in out.stdout
    assert "--  ignored serving.yaml (12 bytes)" in out.stdout
    (model / "code" / "registered_model_meta").write_bytes(META)
    out = run_envprint(["verify", str(model / "envprint.fp"), "--key", str(public)])
    assert out.returncode == 3
    assert "added       code/registered_model_meta: 37 bytes; named like an ignored file" in out.stderr


@pytest.mark.slow
def test_cli_no_default_ignores_binds_every_file(model: Path, tmp_path: Path) -> None:
    private, public = make_keys(tmp_path / "keys")
    out = run_envprint(
        ["capture", "--no-probes", "-q", "--artifact", str(model), "--key", str(private), "--no-default-ignores"]
    )
    assert out.returncode == 0, out.stderr
    (model / "registered_model_meta").write_bytes(META)
    out = run_envprint(["verify", str(model), "--key", str(public)])
    assert out.returncode == 3
    assert "added       registered_model_meta: 37 bytes" in out.stderr
