"""The MLflow loop against a real tracking store on local files (no server): save → capture → log →
register → download → verify / check the directory / check models:/churn/1 — and tampering still refuses.

Training and serving run in their own processes, as they would on two hosts; the store is a folder."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mlflow", reason="needs the mlflow extra (mlflow-skinny)")

from envprint import signing
from envprint.errors import UsageError
from tests.conftest import host_env, python_json, run_envprint

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
    untrusted = run_envprint(["check", "models:/churn/1", "--key", str(stranger), "--no-probes"], env=env)
    assert untrusted.returncode == 3 and "which is not a trusted key" in untrusted.stderr, untrusted.stderr


def _serve(trained: dict[str, object], reference: str, dst: Path) -> dict[str, object]:
    doc, _ = python_json(SERVE, reference, str(trained["public"]), str(dst), env=_env(trained["store"]))  # type: ignore[arg-type]
    return doc


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


# ------------------------------------------------------------------ a store MLflow refuses: say why (M1)


def test_a_database_store_without_sqlalchemy_says_to_install_full_mlflow(
    trained: dict[str, object], tmp_path: Path
) -> None:
    # mlflow-skinny registers sqlite:/postgresql:... only when SQLAlchemy is importable: block it so this
    # process is mlflow-skinny alone on any machine, then run the real CLI and MLflow's real refusal
    blocked = "import runpy, sys; sys.modules['sqlalchemy'] = None; sys.argv[0] = 'envprint'; "
    blocked += "runpy.run_module('envprint', run_name='__main__')"
    db = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = subprocess.run(
        [sys.executable, "-c", blocked, "check", "models:/churn/1", "--key", str(trained["public"]), "--no-probes"],
        env=host_env(MLFLOW_TRACKING_URI=db, MLFLOW_REGISTRY_URI=None),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "models:/churn/1: MLflow: Model registry functionality is unavailable" in proc.stderr
    assert f"hint: a database store ({db}) needs the full MLflow package (SQLAlchemy): pip install mlflow" in (
        proc.stderr
    )
    assert "check the name, version" not in proc.stderr
    assert not (tmp_path / "mlflow.db").exists()  # refused before anything was created


def test_a_file_store_without_the_opt_in_says_to_set_mlflow_allow_file_store(
    trained: dict[str, object], tmp_path: Path
) -> None:
    import mlflow.environment_variables

    if not hasattr(mlflow.environment_variables, "MLFLOW_ALLOW_FILE_STORE"):
        pytest.skip("this MLflow accepts file stores without an opt-in")
    env = {**_env(trained["store"]), "MLFLOW_ALLOW_FILE_STORE": "false"}  # type: ignore[arg-type]
    proc = run_envprint(["check", "models:/churn/1", "--key", str(trained["public"]), "--no-probes"], env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    hint = proc.stderr.partition("hint: ")[2]
    assert hint.startswith("MLflow refuses the file store file://"), proc.stderr
    assert "unless MLFLOW_ALLOW_FILE_STORE=true is set" in hint


# ------------------------------------------------------------- download refuses a used folder (M3)


def test_download_refuses_a_folder_that_is_not_empty(
    trained: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dst = tmp_path / "deploy"
    dst.mkdir()
    (dst / "extra.txt").write_text("left by an earlier deploy")
    with pytest.raises(UsageError, match="not empty") as refused:
        _download(trained, "models:/churn/1", dst, monkeypatch)
    assert "extra.txt" in refused.value.message and "new or empty directory" in str(refused.value.hint)
    assert [p.name for p in dst.iterdir()] == ["extra.txt"]  # nothing was merged into it
    (dst / "extra.txt").unlink()
    local = _download(trained, "models:/churn/1", dst, monkeypatch)  # an empty folder is fine
    assert (local / "MLmodel").is_file() and (local / "envprint.fp").is_file()
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        _download(trained, "models:/churn/1", tmp_path / "a-file", monkeypatch)


def test_load_model_into_a_used_folder_is_a_usage_error_not_a_mismatch(
    trained: dict[str, object], tmp_path: Path
) -> None:
    dst = tmp_path / "serve"
    assert _serve(trained, "models:/churn/1", dst)["predictions"] == [2, 4, 6]
    (dst / "extra.txt").write_text("left behind")
    got = _serve(trained, "models:/churn/1", dst)  # the next deploy into the same folder
    assert got["error"] == "UsageError" and "not empty" in str(got["message"]), got
    assert got["loaded"] == []


# --------------------------------------------- the model's libraries are imported before the guard (M2)

SPY = """
import json, logging, sys
from envprint.integrations import mlflow as envprint_mlflow

reference, key, dst, watched, imports, sample = sys.argv[1], sys.argv[2], sys.argv[3], *map(json.loads, sys.argv[4:])
messages = []
class Keep(logging.Handler):
    def emit(self, record):
        messages.append(record.getMessage())
logging.getLogger("envprint").addHandler(Keep())
logging.getLogger("envprint").setLevel(logging.INFO)

before = {m: m in sys.modules for m in watched}
at_guard = {}
real_guard = envprint_mlflow.guard
def spy(*args, **kwargs):  # the real guard; notes which modules are loaded when it starts measuring
    at_guard.update({m: m in sys.modules for m in watched})
    return real_guard(*args, **kwargs)
envprint_mlflow.guard = spy

try:
    model = envprint_mlflow.load_model(reference, trusted_keys=[key], probes=False, dst=dst, imports=imports)
    out = {"predictions": [int(v) for v in model.predict(sample)]}
except Exception as e:
    out = {"error": type(e).__name__, "message": str(e)}
print(json.dumps({**out, "before": before, "at_guard": at_guard, "log": messages}))
"""

TRAIN_SKLEARN = """
import json, sys
import mlflow, mlflow.sklearn
from sklearn.linear_model import LogisticRegression
from envprint.integrations import mlflow as envprint_mlflow

clf = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
logged = envprint_mlflow.log_model(
    # cloudpickle: MLflow's default, skops, is not part of mlflow-skinny
    lambda path: mlflow.sklearn.save_model(clf, path, serialization_format="cloudpickle"),
    key=sys.argv[1], registered_model_name="threshold", probes=False,
)
print(json.dumps({"model_uri": logged.model_uri}))
"""

LOADER = """
import json, os

class _Scaled:
    def __init__(self, factor):
        self.factor = factor
    def predict(self, rows):
        return [self.factor * x for x in rows]

def _load_pyfunc(data_path):
    with open(os.path.join(data_path, "factor.json")) as f:
        return _Scaled(json.load(f))
"""

TRAIN_LOADER = """
import json, sys
from pathlib import Path
import mlflow.pyfunc
from envprint.integrations import mlflow as envprint_mlflow

data = Path(sys.argv[2])
data.mkdir()
(data / "factor.json").write_text("5")
logged = envprint_mlflow.log_model(
    lambda path: mlflow.pyfunc.save_model(path, loader_module="scaled_loader", data_path=str(data)),
    key=sys.argv[1], registered_model_name="scaled", probes=False,
)
print(json.dumps({"model_uri": logged.model_uri}))
"""


def _spy(
    store: Path,
    public: object,
    reference: str,
    dst: Path,
    watched: list[str],
    *,
    imports: list[str] | None = None,
    sample: object = (1, 2, 3),
    **env: str | None,
) -> dict[str, object]:
    args = [reference, str(public), str(dst), json.dumps(watched), json.dumps(imports or []), json.dumps(sample)]
    doc, _ = python_json(SPY, *args, env={**_env(store), **{k: v for k, v in env.items() if v is not None}})
    return doc


def _log(got: dict[str, object]) -> str:
    messages = got["log"]
    assert isinstance(messages, list)
    return "\n".join(map(str, messages))


def _train(script: str, store: Path, *args: str, **env: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        env={**_env(store), **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    uri: str = json.loads(proc.stdout.splitlines()[-1])["model_uri"]
    return uri


def test_load_model_imports_the_sklearn_flavor_before_the_guard_measures(
    trained: dict[str, object], tmp_path: Path
) -> None:
    pytest.importorskip("sklearn", reason="needs scikit-learn (the test extra)")
    store = tmp_path / "store"
    private, public = signing.generate_keypair(tmp_path / "train")
    uri = _train(TRAIN_SKLEARN, store, str(private))
    watched = ["sklearn", "json.tool"]
    got = _spy(store, public, uri, tmp_path / "serve", watched, imports=["json.tool"], sample=[[0.0], [3.0]])
    assert got["predictions"] == [0, 1], got
    assert got["before"] == {"sklearn": False, "json.tool": False}  # nothing of the model at start
    assert got["at_guard"] == {"sklearn": True, "json.tool": True}  # the flavor's library, then imports=
    assert "imported sklearn (flavor sklearn) before the guard" in _log(got), got["log"]


def test_a_loader_module_is_imported_when_installed_and_named_when_it_is_not(tmp_path: Path) -> None:
    store = tmp_path / "store"
    private, public = signing.generate_keypair(tmp_path / "train")
    code = tmp_path / "code"
    code.mkdir()
    (code / "scaled_loader.py").write_text(LOADER)
    uri = _train(TRAIN_LOADER, store, str(private), str(tmp_path / "data"), PYTHONPATH=str(code))
    installed = _spy(store, public, uri, tmp_path / "a", ["scaled_loader"], PYTHONPATH=str(code))
    assert installed["predictions"] == [5, 10, 15], installed
    assert installed["before"] == {"scaled_loader": False} and installed["at_guard"] == {"scaled_loader": True}
    missing = _spy(store, public, uri, tmp_path / "b", ["scaled_loader"])  # the serving image lacks it
    assert missing["at_guard"] == {"scaled_loader": False}
    assert "not imported before the guard, so not measured: scaled_loader (flavor python_function): not installed" in (
        _log(missing)
    )
    assert missing["error"] == "UsageError" and "MLflow cannot load it" in str(missing["message"])  # after the guard


def test_a_tampered_mlmodel_imports_nothing_before_the_guard_refuses(
    trained: dict[str, object], tmp_path: Path
) -> None:
    local, store = tmp_path / "tampered", Path(str(trained["store"]))
    first = _spy(store, trained["public"], "models:/churn/1", local, ["json.tool"])
    assert first["predictions"] == [2, 4, 6], first
    mlmodel = local / "MLmodel"
    text = mlmodel.read_text()
    tampered = re.sub(r"(?m)^(\s+loader_module:) mlflow\.\S+$", r"\1 json.tool", text)
    assert tampered != text
    mlmodel.write_text(tampered)
    got = _spy(store, trained["public"], str(local), local, ["json.tool"])
    assert got["error"] == "ArtifactMismatchError" and "MLmodel" in str(got["message"]), got
    assert got["at_guard"] == {"json.tool": False}  # the changed MLmodel named it; it was not imported


def test_an_import_that_fails_is_a_usage_error_before_the_guard(trained: dict[str, object], tmp_path: Path) -> None:
    store = Path(str(trained["store"]))
    got = _spy(store, trained["public"], "models:/churn/1", tmp_path / "s", ["json.tool"], imports=["no_such_module"])
    assert got["error"] == "UsageError" and "--import no_such_module: cannot import it" in str(got["message"]), got
    assert got["at_guard"] == {}  # the guard never ran
