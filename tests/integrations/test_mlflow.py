"""The MLflow loop against a real tracking store on local files (no server): save → capture → log →
register → download → verify / check the directory / check models:/churn/1 — and tampering still refuses.

Training and serving run in their own processes, as they would on two hosts; the store is a folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mlflow", reason="needs the mlflow extra (mlflow-skinny)")

from envprint import signing
from envprint.errors import UsageError
from tests.conftest import host_env, run_envprint

MODEL_CODE = """
import mlflow
from mlflow.pyfunc import PythonModel


class Churn(PythonModel):
    def predict(self, context, model_input, params=None):
        return [2 * x for x in model_input]


mlflow.models.set_model(Churn())
"""

TRAIN = """
import json, sys
import mlflow
from envprint.integrations import mlflow as envprint_mlflow

code, key = sys.argv[1], sys.argv[2]
logged = envprint_mlflow.log_model(
    lambda path: mlflow.pyfunc.save_model(path, python_model=code),
    key=key, registered_model_name="churn", probes=False,
)
mlflow.MlflowClient().set_registered_model_alias("churn", "champion", logged.version)
run = mlflow.get_run(logged.run_id)
print(json.dumps({
    "run_id": logged.run_id, "model_uri": logged.model_uri, "keyid": logged.keyid,
    "bound": sorted(f.path for f in logged.fingerprint.artifact.files), "tags": run.data.tags,
}))
"""

SERVE = """
import json, sys
from envprint.integrations import mlflow as envprint_mlflow

loaded = []
def loader(path):
    import mlflow.pyfunc
    loaded.append(path)
    return mlflow.pyfunc.load_model(path)

try:
    model = envprint_mlflow.load_model(sys.argv[1], trusted_keys=[sys.argv[2]], probes=False, dst=sys.argv[3],
                                       loader=loader)
    print(json.dumps({"predictions": list(model.predict([1, 2, 3])), "loaded": loaded}))
except Exception as e:
    print(json.dumps({"error": type(e).__name__, "message": str(e), "loaded": loaded}))
"""


def _env(store: Path) -> dict[str, str]:
    # MLflow 3 keeps the file store behind an opt-in; a folder is what a test can own
    return host_env(
        MLFLOW_TRACKING_URI=store.as_uri(), MLFLOW_ALLOW_FILE_STORE="true", MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false"
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Returns what training logged to a fresh tracking store (run, model URI, bound files), and the paths."""
    root = tmp_path_factory.mktemp("mlflow")
    private, public = signing.generate_keypair(root / "train")
    code = root / "churn.py"
    code.write_text(MODEL_CODE)
    store = root / "store"
    proc = subprocess.run(
        [sys.executable, "-c", TRAIN, str(code), str(private)],
        env=_env(store),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return {**json.loads(proc.stdout.splitlines()[-1]), "root": root, "store": store, "public": public}


def _download(trained: dict[str, object], reference: str, dst: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from envprint.integrations import mlflow as envprint_mlflow

    for k, v in _env(trained["store"]).items():  # type: ignore[arg-type]
        if k.startswith("MLFLOW_"):
            monkeypatch.setenv(k, v)
    return envprint_mlflow.download(reference, dst).path


def test_the_fingerprint_binds_every_file_mlflow_wrote(trained: dict[str, object]) -> None:
    assert trained["model_uri"] == "models:/churn/1"
    assert set(trained["bound"]) >= {"MLmodel", "conda.yaml", "requirements.txt", "python_env.yaml", "churn.py"}
    tags = trained["tags"]
    assert isinstance(tags, dict)
    assert tags["envprint.fingerprint"] == "model/envprint.fp" and tags["envprint.keyid"] == trained["keyid"]


def test_the_registry_loop_passes_verify_and_check(
    trained: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = _download(trained, "models:/churn/1", tmp_path / "dl", monkeypatch)
    assert (local / "registered_model_meta").is_file()  # the registry adds it on download
    env, key = _env(trained["store"]), str(trained["public"])  # type: ignore[arg-type]
    verify = run_envprint(["verify", str(local / "envprint.fp"), "--key", key], env=env)
    assert verify.returncode == 0, verify.stderr
    assert "ignored registered_model_meta" in verify.stdout
    check_dir = run_envprint(["check", str(local), "--key", key, "--no-probes"], env=env)
    assert check_dir.returncode == 0, check_dir.stdout + check_dir.stderr
    for reference in ("models:/churn/1", "models:/churn@champion", f"runs:/{trained['run_id']}/model"):
        check_ref = run_envprint(["check", reference, "--key", key, "--no-probes"], env=env)
        assert check_ref.returncode == 0, (reference, check_ref.stdout + check_ref.stderr)
        assert check_ref.stdout.startswith("envprint guard PASS")
    verify_ref = run_envprint(["verify", "models:/churn@champion", "--key", key], env=env)
    assert verify_ref.returncode == 0, verify_ref.stderr


def test_a_weight_file_changed_after_download_exits_3(
    trained: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = _download(trained, "models:/churn/1", tmp_path / "dl", monkeypatch)
    (local / "churn.py").write_text(MODEL_CODE.replace("2 * x", "3 * x"))
    env, key = _env(trained["store"]), str(trained["public"])  # type: ignore[arg-type]
    proc = run_envprint(["check", str(local), "--key", key, "--no-probes"], env=env)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "churn.py" in proc.stderr and "changed" in proc.stderr


def test_a_file_smuggled_in_under_an_ignored_name_in_another_folder_exits_3(
    trained: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = _download(trained, "models:/churn/1", tmp_path / "dl", monkeypatch)
    (local / "code").mkdir()
    shutil.copy(local / "churn.py", local / "code" / "registered_model_meta")
    env, key = _env(trained["store"]), str(trained["public"])  # type: ignore[arg-type]
    proc = run_envprint(["check", str(local), "--key", key, "--no-probes"], env=env)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "code/registered_model_meta" in proc.stderr
    verify = run_envprint(["verify", str(local / "envprint.fp"), "--key", key], env=env)
    assert verify.returncode == 3 and "code/registered_model_meta" in verify.stderr


def test_an_unknown_model_or_another_key_fails_clearly(trained: dict[str, object], tmp_path: Path) -> None:
    env, key = _env(trained["store"]), str(trained["public"])  # type: ignore[arg-type]
    missing = run_envprint(["check", "models:/churn/7", "--key", key, "--no-probes"], env=env)
    assert missing.returncode == 2
    assert "models:/churn/7: MLflow: Model Version (name=churn, version=7) not found" in missing.stderr
    _, stranger = signing.generate_keypair(tmp_path / "stranger")
    assert run_envprint(["check", "models:/churn/1", "--key", str(stranger), "--no-probes"], env=env).returncode == 3


def _serve(trained: dict[str, object], reference: str, dst: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", SERVE, reference, str(trained["public"]), str(dst)],
        env=_env(trained["store"]),  # type: ignore[arg-type]
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.splitlines()[-1])
    return result


def test_load_model_guards_then_loads_the_verified_copy(trained: dict[str, object], tmp_path: Path) -> None:
    got = _serve(trained, "models:/churn@champion", tmp_path / "serve")
    assert got["predictions"] == [2, 4, 6]
    assert got["loaded"] == [str(tmp_path / "serve")]  # the very folder that was verified


def test_load_model_refuses_a_tampered_copy_before_loading_it(trained: dict[str, object], tmp_path: Path) -> None:
    local = trained["root"] / "tampered"  # type: ignore[operator]
    first = _serve(trained, "models:/churn/1", local)
    assert first["predictions"] == [2, 4, 6]
    (local / "churn.py").write_text(MODEL_CODE.replace("2 * x", "3 * x"))
    got = _serve(trained, str(local), local)  # a local model directory: guarded the same way
    assert got["error"] == "ArtifactMismatchError" and "churn.py" in str(got["message"])
    assert got["loaded"] == []  # nothing was unpickled or imported from the changed files


def test_log_model_refuses_a_folder_that_is_not_an_mlflow_model(tmp_path: Path) -> None:
    from envprint.integrations import mlflow as envprint_mlflow

    (tmp_path / "weights.bin").write_bytes(b"w")
    with pytest.raises(UsageError, match="not an MLflow model directory"):
        envprint_mlflow.log_model(tmp_path, probes=False)
