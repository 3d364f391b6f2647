"""The false-alarm corpus and the skew corpus: verdicts measured against what changes a model's numbers.

False alarms: environment pairs that differ only in ways that cannot change results — CI, Kubernetes,
conda, cloud-training and Terraform variables, HOME and the working directory, thread placement and
log verbosity, a test-only package the training process never imported, a busy CPU. Each must diff
as equivalent (exit 0) and pass the serving check.

Skews: pairs that do change results. Each must refuse, with the right cause named first.

Every pair is two real processes: the reference captured in-process (as training does), the other
side with different variables. docs/diff.md reports the precision and recall measured here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from envprint import signing
from envprint.collect.variables import KNOWN
from tests.conftest import host_env, numpy_found_targets, run_envprint, run_python

pytestmark = pytest.mark.slow

CAPTURE = textwrap.dedent(
    """
    import sys
    import envprint
    envprint.capture().save(sys.argv[1], key=sys.argv[2] if len(sys.argv) > 2 else None)
    """
)

FALSE_ALARMS: dict[str, dict[str, str]] = {
    "github actions": {"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "12345", "GITHUB_SHA": "ab" * 20,
                       "GITHUB_TOKEN": "ghs_" + "x" * 36, "RUNNER_OS": "Linux"},
    "gitlab and jenkins": {"GITLAB_CI": "true", "CI_JOB_ID": "987", "CI_COMMIT_SHA": "cd" * 20,
                           "JENKINS_URL": "https://ci.example/", "BUILD_ID": "42", "BUILD_NUMBER": "42"},
    "kubernetes": {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443",
                   "KUBERNETES_PORT": "tcp://10.0.0.1:443", "HOSTNAME": "model-7d9f-abcde", "POD_NAME": "model-7d9f"},
    "conda": {"CONDA_PREFIX": "/opt/conda/envs/serve", "CONDA_DEFAULT_ENV": "serve", "CONDA_SHLVL": "2",
              "CONDA_EXE": "/opt/conda/bin/conda"},
    "cloud training jobs": {"SM_MODEL_DIR": "/opt/ml/model", "SM_CHANNEL_TRAINING": "/opt/ml/input/data/training",
                            "TRAINING_JOB_NAME": "churn-2026-11-30", "AIP_MODEL_DIR": "gs://bucket/model",
                            "AZUREML_RUN_ID": "run-1", "MLFLOW_TRACKING_URI": "http://mlflow:5000"},
    "terraform": {"TF_VAR_db_pass": "hunter2", "TF_LOG": "DEBUG", "TF_IN_AUTOMATION": "1",
                  "TF_CLI_CONFIG_FILE": "/home/alice/.terraformrc", "TF_WORKSPACE": "prod"},
    "home and user": {"HOME": "/home/svc-model", "USER": "svc-model", "LOGNAME": "svc-model",
                      "PWD": "/srv/app", "SHELL": "/bin/bash"},
    "thread placement and logs": {"KMP_AFFINITY": "granularity=fine,compact", "OMP_PROC_BIND": "close",
                                  "OMP_PLACES": "cores", "OMP_WAIT_POLICY": "PASSIVE", "TF_CPP_MIN_LOG_LEVEL": "3",
                                  "NCCL_DEBUG": "WARN", "PYTHONWARNINGS": "ignore"},
    "proxies and locale of messages": {"HTTP_PROXY": "http://proxy:3128", "NO_PROXY": "localhost",
                                       "LC_MESSAGES": "C", "TERM": "xterm-256color"},
}  # fmt: skip

#: name -> (variables of the other side, the text the first finding must name as the cause)
SKEWS: dict[str, tuple[dict[str, str], str]] = {
    "BLAS threads": ({"OPENBLAS_NUM_THREADS": "1"}, "OPENBLAS_NUM_THREADS"),
    "BLAS kernel": ({"OPENBLAS_CORETYPE": "Prescott"}, "OPENBLAS_CORETYPE"),
    "time zone": ({"TZ": "America/Los_Angeles"}, "TZ"),
    "hash seed": ({"PYTHONHASHSEED": "1"}, "PYTHONHASHSEED"),
    "numpy SIMD": ({"NPY_DISABLE_CPU_FEATURES": "__all_found__"}, "NPY_DISABLE_CPU_FEATURES"),
    "C locale": ({"PYTHONUTF8": "0", "LC_ALL": "C", "LANG": "C"}, "LC_CTYPE"),
}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return signing.generate_keypair(tmp_path_factory.mktemp("keys") / "train")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path]) -> Path:
    """Returns a reference fingerprint captured in-process (usage recorded, as in training), signed."""
    path = tmp_path_factory.mktemp("ref") / "train.fp"
    run_python(CAPTURE, str(path), str(keys[0]), env=_env())
    return path


def _env(**overrides: str | None) -> dict[str, str]:
    """Returns the corpus's host environment: UTF-8 mode and the C.UTF-8 locale, whatever the calling shell's
    locale (LC_ALL=C in a CI image would otherwise make the reference a "C locale" host), then `overrides`."""
    return host_env(**{"PYTHONUTF8": "1", "LANG": "C.UTF-8", "LC_ALL": None, "LC_CTYPE": None, **overrides})


def _assert_the_guard_passes(reference: Path, keys: tuple[Path, Path], env: dict[str, str]) -> None:
    checked = run_envprint(["check", str(reference), "--key", str(keys[1]), "--env-only", "-f", "json"], env=env)
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]


def _side(tmp_path: Path, name: str, env: dict[str, str]) -> Path:
    out = tmp_path / f"{name.replace(' ', '-')}.fp"
    proc = run_envprint(["capture", "-q", "-o", str(out)], env=env)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("name", sorted(FALSE_ALARMS))
def test_false_alarm_corpus_is_equivalent_and_passes_the_guard(
    name: str, reference: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    env = _env(**FALSE_ALARMS[name])
    other = _side(tmp_path, name, env)
    diffed = run_envprint(["diff", str(reference), str(other), "-f", "json"])
    doc = json.loads(diffed.stdout)
    assert diffed.returncode == 0, [f["title"] for f in doc["findings"] if f["severity"] != "info"]
    _assert_the_guard_passes(reference, keys, env)
    recorded = other.read_bytes()
    for variable in FALSE_ALARMS[name]:
        if "_" in variable and variable not in KNOWN and not variable.startswith("LC_"):
            assert variable.encode() not in recorded, f"{variable} was recorded: no numeric library reads it"


def test_a_test_only_package_training_never_imported_is_no_alarm(
    reference: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    """Training had a package installed (a test dependency) it never imported; serving lacks it."""
    site = tmp_path / "site"
    dist = site / "testonlylib-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: testonlylib\nVersion: 1.0\n\n")
    (dist / "top_level.txt").write_text("testonlylib\n")
    (site / "testonlylib.py").write_text("VALUE = 1\n")
    train = tmp_path / "train.fp"
    run_python(CAPTURE, str(train), str(keys[0]), env=_env(PYTHONPATH=str(site)))
    serve = _side(tmp_path, "serve", _env())
    doc = json.loads(run_envprint(["diff", str(train), str(serve), "-f", "json"]).stdout)
    (f,) = [f for f in doc["findings"] if f["path"] == "packages.testonlylib"]
    assert (f["kind"], f["severity"]) == ("package.unused", "info")
    assert doc["equivalent"]
    _assert_the_guard_passes(train, keys, _env())


@pytest.fixture
def busy_cpu() -> Iterator[None]:
    """Keeps one core busy in another process while the test runs (from the moment it is spinning)."""
    spinner = subprocess.Popen(
        [sys.executable, "-c", "print('spinning', flush=True)\nwhile True: pass"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert spinner.stdout is not None and spinner.stdout.readline().strip() == "spinning"
        yield
    finally:
        spinner.kill()
        spinner.wait()


def test_a_busy_cpu_is_no_alarm(reference: Path, keys: tuple[Path, Path], tmp_path: Path, busy_cpu: None) -> None:
    env = _env()
    other = _side(tmp_path, "busy", env)
    diffed = run_envprint(["diff", str(reference), str(other), "-f", "json"])
    doc = json.loads(diffed.stdout)
    assert diffed.returncode == 0, [f["title"] for f in doc["findings"] if f["severity"] != "info"]
    _assert_the_guard_passes(reference, keys, env)  # under load, where the probes' time budget applies


@pytest.mark.parametrize("name", sorted(SKEWS))
def test_skew_corpus_refuses_with_the_right_cause_first(
    name: str, reference: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    variables, cause = SKEWS[name]
    if variables.get("NPY_DISABLE_CPU_FEATURES") == "__all_found__":
        found = numpy_found_targets()
        if not found:
            pytest.skip("numpy finds no SIMD dispatch target on this CPU: nothing to disable")
        variables = {"NPY_DISABLE_CPU_FEATURES": " ".join(found)}
    env = _env(**variables)
    checked = run_envprint(["check", str(reference), "--key", str(keys[1]), "--env-only", "-f", "json"], env=env)
    assert checked.returncode == 1, checked.stdout[-3000:] + checked.stderr[-2000:]
    doc = json.loads(checked.stdout)
    violations = [d for d in doc["decisions"] if d["outcome"] == "violation"]
    first = violations[0]
    named = f"{first['title']} {first.get('cause') or ''}"
    assert cause in named, json.dumps(first, indent=1)


def test_corpora_summary_is_what_docs_report() -> None:
    """docs/diff.md states the corpus sizes; this keeps them honest."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "diff.md").read_text(encoding="utf-8")
    assert f"{len(FALSE_ALARMS) + 2} false-alarm pairs" in docs
    assert f"{len(SKEWS)} skew pairs" in docs
    assert os.path.basename(__file__) in docs
