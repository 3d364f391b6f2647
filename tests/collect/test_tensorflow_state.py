"""TensorFlow state is read when TensorFlow is imported, and TensorFlow is never imported by capture."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import host_env, python_json

pytest.importorskip("tensorflow", reason="TensorFlow is in the test extra; install with .[test]")
pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

_SCRIPT = """
import json, sys
import tensorflow as tf
{setup}
import envprint
fp = envprint.capture(probes=False)
print(json.dumps(fp.to_data()["determinism"]["frameworks"]["tensorflow"]))
"""


def _tf_state(setup: str, **env: str | None) -> dict[str, object]:
    state, _ = python_json(_SCRIPT.format(setup=setup), env=host_env(TF_CPP_MIN_LOG_LEVEL="3", **env), timeout=300)
    return state


def test_op_determinism_recorded_after_enabling() -> None:
    on = _tf_state("tf.config.experimental.enable_op_determinism(); tf.random.set_seed(7)")
    assert on["op_determinism"] is True
    assert on["global_seed"] == 7
    off = _tf_state("")
    assert off["op_determinism"] is False
    assert off["global_seed"] is None
    import tensorflow as tf

    assert on["version"] == tf.__version__
    assert on["is_cuda_build"] is False
    assert isinstance(on["intra_op_threads"], int)


def test_onednn_switch_recorded() -> None:
    assert _tf_state("", TF_ENABLE_ONEDNN_OPTS="0")["onednn_enabled"] is False
    assert _tf_state("", TF_ENABLE_ONEDNN_OPTS="1")["onednn_enabled"] is True


def test_capture_does_not_import_tensorflow() -> None:
    code = "import sys, envprint; envprint.capture(); print('tensorflow' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], env=host_env(), capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"
