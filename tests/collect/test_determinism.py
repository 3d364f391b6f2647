"""collect/determinism.py: variables from an explicit environ, hash seeds, recorded seeds, RNG digests, frameworks."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from envprint._base import pending
from envprint.collect import determinism
from envprint.collect.variables import ALWAYS
from envprint.model import Unavailable

FRAMEWORKS = ("tensorflow", "torch", "jax")


def _child(code: str, **env: str | None) -> str:
    """Returns the last stdout line of a fresh interpreter running `code` with `env` applied to this environment."""
    environ = dict(os.environ)
    for name, value in env.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    proc = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, check=True, timeout=120
    )
    return proc.stdout.splitlines()[-1]


# ------------------------------------------------------------------------------------- variables


def test_every_always_recorded_variable_appears_set_or_unset() -> None:
    info = determinism.collect(environ={"OMP_NUM_THREADS": "4", "PYTHONHASHSEED": "0", "PATH": "/usr/bin"})
    assert list(info.variables) == list(ALWAYS)
    assert info.variables["OMP_NUM_THREADS"] == "4"
    assert info.variables["PYTHONHASHSEED"] == "0"
    assert info.variables["OPENBLAS_NUM_THREADS"] is None  # unset is a setting too
    assert "PATH" not in info.variables  # only the allow-listed names


def test_variable_values_are_redacted() -> None:
    info = determinism.collect(
        environ={
            "XLA_FLAGS": "--xla_dump_to=/home/alice/dumps",
            "CUBLAS_WORKSPACE_CONFIG": "hf_" + "a1B2c3D4e5F6g7H8i9J0k1L2",  # a token pasted into the wrong variable
        }
    )
    assert info.variables["XLA_FLAGS"] == "--xla_dump_to=/home/~/dumps"
    assert info.variables["CUBLAS_WORKSPACE_CONFIG"] == "<redacted>"


def test_without_an_explicit_environ_the_process_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    variables = determinism.collect().variables
    assert (variables["OPENBLAS_NUM_THREADS"], variables["MKL_NUM_THREADS"]) == ("3", None)


# ------------------------------------------------------------------------------ hash and seeds


def test_hash_randomization_follows_pythonhashseed_of_the_process() -> None:
    code = "from envprint.collect import determinism; print(determinism.collect().hash_randomization)"
    assert _child(code, PYTHONHASHSEED="0") == "False"
    assert _child(code, PYTHONHASHSEED="random") == "True"
    assert _child(code, PYTHONHASHSEED=None) == "True"
    assert determinism.collect().hash_randomization == bool(sys.flags.hash_randomization)


def test_seeds_are_the_ones_seed_everything_set_in_this_process() -> None:
    code = (
        "import json, envprint\nfrom envprint.collect import determinism\n"
        "before = determinism.collect().seeds\nenvprint.seed_everything(1234, frameworks='imported')\n"
        "print(json.dumps([before, determinism.collect().seeds]))"
    )
    before, after = json.loads(_child(code))
    assert before == {}
    assert after == {"random": 1234, "numpy": 1234}


# ----------------------------------------------------------------------------------- RNG digests


def test_random_state_digest_is_of_the_generator_state_and_moves_with_it() -> None:
    state = random.getstate()
    try:
        first = determinism.collect().rng_state["random"]
        assert first == hashlib.sha256(repr(state).encode()).hexdigest()
        random.random()
        assert determinism.collect().rng_state["random"] != first
        random.setstate(state)
        assert determinism.collect().rng_state["random"] == first
    finally:
        random.setstate(state)


def test_numpy_legacy_rng_digest_moves_with_its_state() -> None:
    state = np.random.get_state()
    try:
        first = determinism.collect().rng_state["numpy"]
        np.random.random()
        assert determinism.collect().rng_state["numpy"] != first
        np.random.set_state(state)
        assert determinism.collect().rng_state["numpy"] == first
    finally:
        np.random.set_state(state)


def test_numpy_rng_is_not_read_when_numpy_is_not_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "numpy")  # put back after the test
    assert set(determinism.collect().rng_state) == {"random"}


# ------------------------------------------------------------------------------------ frameworks


def test_only_frameworks_already_imported_are_read() -> None:
    imported = {name for name in FRAMEWORKS if name in sys.modules}
    assert set(determinism.collect().frameworks) == imported
    # a fresh process imports none of them by capturing
    code = "import sys\nfrom envprint.collect import determinism\ndeterminism.collect()\n"
    code += f"print(sorted(n for n in {FRAMEWORKS!r} if n in sys.modules))"
    assert _child(code) == "[]"


def test_a_framework_whose_api_differs_gives_an_error_entry_not_an_exception() -> None:
    # any module without torch's attributes stands for a torch version whose API moved
    state = determinism._read_framework(determinism._torch, sys)
    reason = "reading sys state failed: AttributeError: module 'sys' has no attribute 'backends'"
    assert state == {"error": Unavailable(reason)}


def test_each_framework_read_is_a_scalar_or_says_why_not() -> None:
    assert determinism._get(lambda: "2.20.0", "version") == "2.20.0"
    assert determinism._get(lambda: None, "seed") is None
    assert determinism._get(lambda: ("CPU:0", "GPU:0"), "devices") == "('CPU:0', 'GPU:0')"
    assert determinism._get(lambda: 1 / 0, "threads") == Unavailable("threads: ZeroDivisionError: division by zero")
    # messages are recorded with home directories redacted
    missing = FileNotFoundError(2, "No such file or directory", "/home/alice/.keras/keras.json")

    def fails() -> None:
        raise missing

    assert determinism._get(fails, "policy") == Unavailable(
        "policy: FileNotFoundError: [Errno 2] No such file or directory: '/home/~/.keras/keras.json'"
    )


def test_a_value_the_runtime_cannot_give_yet_is_pending() -> None:
    def not_initialised() -> None:
        raise determinism._NotYet("TensorFlow runtime not initialised")

    assert determinism._get(not_initialised, "visible devices") == pending(
        "visible devices: TensorFlow runtime not initialised"
    )
