"""The Keras workflow of issue 13, end to end, with real TensorFlow in two virtualenvs.

Training runs in the test's own environment (the newest tensorflow-cpu and numpy of the test extra),
with TF_DETERMINISTIC_OPS=1 and seed_everything(42); pandas, pyarrow and python-dateutil are installed
there but never imported by training. Serving runs in a second virtualenv built by this test (cached
in .cache/test-venvs/): tensorflow-cpu 2.20 and numpy 2.3.5, OMP_NUM_THREADS=1,
TF_DETERMINISTIC_OPS unset. The model's golden predictions decide what the differences mean.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from envprint import signing
from tests.conftest import host_env, python_json, run_python

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]
pytest.importorskip("tensorflow")

ROOT = Path(__file__).resolve().parents[2]
SERVING_VENV = ROOT / ".cache" / "test-venvs" / "tf220"


def _same_as_training(*names: str) -> tuple[str, ...]:
    """Returns pins of these distributions at the versions installed here, for those installed.

    Keras imports scikit-learn (and with it scipy's OpenBLAS) whenever it is installed, so a training
    venv holding scikit-learn (the test extra does) uses it; the serving venv gets the same versions,
    as a serving image built from the same lock file would, so only the issue's changes differ.
    """
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return tuple(pins)


SERVING_REQUIREMENTS = ("tensorflow-cpu==2.20.0", "numpy==2.3.5", *_same_as_training("scikit-learn", "scipy"))

TRAIN = textwrap.dedent(
    """
    import sys
    import numpy as np
    import keras
    import envprint
    model_dir, key = sys.argv[1], sys.argv[2]
    envprint.seed_everything(42)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 8)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("float32")
    model = keras.Sequential([
        keras.Input(shape=(8,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    model.save(model_dir + "/model.keras")
    envprint.golden_predictions(model, x[:256])
    envprint.capture(artifact=model_dir).save(model_dir + "/envprint.fp", key=key)
    """
)

# The documented serving order: import the framework, load the model, guard with it, serve.
SERVE = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    import keras
    import envprint
    model_dir, pub, how = sys.argv[1], sys.argv[2], sys.argv[3]
    model = None
    if how != "no-model":
        model = keras.models.load_model(model_dir + "/model.keras")
    predict = None
    if how == "float16-inputs":  # a serving path that sends float16 tensors: it alters predictions
        predict = lambda x: model.predict(x.astype("float16").astype("float32"), verbose=0)
    try:
        r = envprint.guard(model_dir, trusted_keys=[pub], model=model, predict=predict)
        out = {"status": "pass", "summary": r.summary(), "result": r}
    except envprint.EnvironmentMismatch as e:
        out = {"status": "refused", "message": str(e), "result": e.result}
    r = out.pop("result")
    out["decisions"] = [
        {"path": d.finding.path, "kind": d.finding.kind, "outcome": d.outcome, "title": d.finding.title,
         "cause": d.finding.cause, "rule": d.rule}
        for d in r.result.decisions
    ]
    out["tf"] = tf.__version__
    print(json.dumps(out))
    """
)


def _serving_python() -> Path:
    """Returns the serving virtualenv's python, building it once (a lock guards concurrent test runs)."""
    python = SERVING_VENV / "bin" / "python"
    SERVING_VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(SERVING_VENV.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = SERVING_VENV / ".ready"
        wanted = " ".join(SERVING_REQUIREMENTS) + "\n"
        if not marker.exists() or marker.read_text() != wanted:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(SERVING_VENV)], check=True)
            install = subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", *SERVING_REQUIREMENTS, "-e", str(ROOT)],
                capture_output=True,
                text=True,
                check=False,
            )
            if install.returncode != 0:
                pytest.skip(f"cannot build the serving virtualenv ({' '.join(SERVING_REQUIREMENTS)}): "
                            f"{install.stderr.strip().splitlines()[-1:]}")  # fmt: skip
            marker.write_text(wanted)
    return python


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return signing.generate_keypair(tmp_path_factory.mktemp("keys") / "train")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path]) -> Path:
    directory = tmp_path_factory.mktemp("keras") / "model"
    directory.mkdir()
    env = host_env(TF_DETERMINISTIC_OPS="1", TF_CPP_MIN_LOG_LEVEL="3", OMP_NUM_THREADS=None)
    run_python(TRAIN, str(directory), str(keys[0]), env=env)
    return directory


def _training_tf() -> str:
    """Returns the tensorflow-cpu version training runs with: the newest the test extra installed."""
    return importlib.metadata.version("tensorflow-cpu")


def _serve(python: Path | str, model_dir: Path, keys: tuple[Path, Path], how: str, **env: str | None) -> dict:
    environment = host_env(TF_CPP_MIN_LOG_LEVEL="3", **env)
    doc, _ = python_json(SERVE, str(model_dir), str(keys[1]), how, env=environment, python=python, cwd=ROOT)
    return doc


def test_the_guard_passes_in_its_own_training_environment_in_the_documented_order(
    model_dir: Path, keys: tuple[Path, Path]
) -> None:
    for how in ("no-model", "model"):
        out = _serve(sys.executable, model_dir, keys, how, TF_DETERMINISTIC_OPS="1")
        assert out["status"] == "pass", out
        kinds = {d["kind"]: d["outcome"] for d in out["decisions"]}
        # training seeded, serving does not: a warning; the TF runtime may not exist yet: a warning
        assert all(o in ("warning", "info", "allowed") for o in kinds.values()), kinds
    assert kinds.get("model.match") == "info"


def test_two_venvs_differing_only_through_the_model_pass_with_a_short_warning_summary(
    model_dir: Path, keys: tuple[Path, Path]
) -> None:
    out = _serve(_serving_python(), model_dir, keys, "model", OMP_NUM_THREADS="1", TF_DETERMINISTIC_OPS=None)
    assert out["tf"] == "2.20.0"
    assert out["status"] == "pass", json.dumps([d for d in out["decisions"] if d["outcome"] == "violation"])
    summary = out["summary"]
    assert f"tensorflow-cpu {_training_tf()} → 2.20.0" in summary and "numpy" in summary
    assert "golden prediction" in summary
    cleared = {d["path"] for d in out["decisions"] if d["rule"].endswith("golden predictions match")}
    assert {"packages.tensorflow-cpu.version", "packages.numpy.version"} <= cleared
    unused = {d["path"].split(".")[1] for d in out["decisions"] if d["kind"] == "package.unused"}
    assert {"pyspark", "hypothesis"} <= unused, "test-only packages training never imported are package.unused"
    # keras imports pandas (and with it pyarrow, dateutil) when installed: absent at serving, they
    # warn, because the predictions the model computed without them match
    for name in ("pandas", "pyarrow", "python-dateutil"):
        (d,) = [d for d in out["decisions"] if d["path"] == f"packages.{name}"]
        assert d["outcome"] == "warning", d


def test_a_serving_change_that_alters_predictions_refuses_naming_it_first(
    model_dir: Path, keys: tuple[Path, Path]
) -> None:
    out = _serve(_serving_python(), model_dir, keys, "float16-inputs", OMP_NUM_THREADS="1")
    assert out["status"] == "refused"
    first = out["message"].splitlines()[1]
    assert "golden predictions differ" in first and "worst: row" in first
    (golden,) = [d for d in out["decisions"] if d["kind"] == "model.predictions"]
    assert golden["cause"].startswith(("likely cause: tensorflow", "unverified"))
    assert f"tensorflow-cpu {_training_tf()} → 2.20.0" in golden["cause"]


def test_a_time_zone_change_refuses_even_when_predictions_match(model_dir: Path, keys: tuple[Path, Path]) -> None:
    out = _serve(_serving_python(), model_dir, keys, "model", TZ="Asia/Kolkata", OMP_NUM_THREADS="1")
    assert out["status"] == "refused"
    violations = [d for d in out["decisions"] if d["outcome"] == "violation"]
    assert violations and all(d["path"].startswith(("locale_time", "probes.time")) for d in violations), violations
    assert any(d["kind"] == "model.match" for d in out["decisions"])


def test_the_report_fits_on_one_screen(model_dir: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    python = _serving_python()
    serve_fp = tmp_path / "serve.fp"
    capture = subprocess.run(
        [str(python), "-m", "envprint", "capture", "-q", "-o", str(serve_fp), "--import", "tensorflow"],
        env=host_env(OMP_NUM_THREADS="1", TZ="Asia/Kolkata", TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True,
        text=True,
    )
    assert capture.returncode == 0, capture.stderr[-2000:]
    report = subprocess.run(
        [sys.executable, "-m", "envprint", "diff", str(model_dir / "envprint.fp"), str(serve_fp)],
        env={**host_env(), "COLUMNS": "100"},
        capture_output=True,
        text=True,
    )
    assert report.returncode == 1
    lines = report.stdout.splitlines()
    assert len(lines) <= 40, report.stdout
    assert "info finding(s) not shown" in lines[-1]
    assert os.environ.get("ENVPRINT_DEBUG") or "Traceback" not in report.stderr
