"""TensorFlow and torch probes, in fresh processes that import the framework first (slow).

The torch tests skip when torch is not installed (it is not a test dependency); the TensorFlow
tests need the test extra.
"""

from __future__ import annotations

import importlib.util

import pytest

from envprint.model import ProbeOutput, ProbeResult
from envprint.probes import compare
from tests.probes.conftest import Host, RunHosts, differences

pytestmark = pytest.mark.slow

_QUIET_TF = {"TF_CPP_MIN_LOG_LEVEL": "2"}
# find_spec, not importorskip: importing a framework into the test process would change what
# every later in-process probe test sees
needs_tensorflow = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None, reason="needs the test extra (tensorflow-cpu)"
)


def _only(output: ProbeOutput) -> ProbeResult:
    return ProbeResult(group="t", status="ok", digest=output.digest, outputs={"values": output}, flags={}, stable=True)


@pytest.mark.tensorflow
@needs_tensorflow
def test_onednn_switch_changes_tensorflow_softmax_and_batch_invariance(hosts: RunHosts) -> None:
    on, off = hosts(
        Host({"TF_ENABLE_ONEDNN_OPTS": "1", **_QUIET_TF}, "import tensorflow"),
        Host({"TF_ENABLE_ONEDNN_OPTS": "0", **_QUIET_TF}, "import tensorflow"),
        groups=["tensorflow"],
    )
    for results in (on, off):
        assert {n: r.status for n, r in results.items() if not r.stable or r.status != "ok"} == {"tf_xla": "skipped"}
        assert (results["tf_denormal"].flags["ftz"], results["tf_denormal"].flags["daz"]) == (True, True)
    diff = differences(on, off)
    assert set(diff) <= {"tf_matmul", "tf_elementwise", "tf_conv", "tf_reduce"}
    assert (on["tf_matmul"].flags["batch_invariant"], off["tf_matmul"].flags["batch_invariant"]) == (True, False)
    elementwise = diff["tf_elementwise"]
    assert not elementwise.categorical and elementwise.max_ulp is not None and 1 <= elementwise.max_ulp <= 16
    assert "softmax" in elementwise.outputs["values"].differing_blocks


@pytest.mark.tensorflow
@needs_tensorflow
def test_xla_probe_runs_only_when_asked_and_differs_from_eager_by_ulps(hosts: RunHosts) -> None:
    (results,) = hosts(Host(_QUIET_TF, "import tensorflow"), groups=["tensorflow"], xla=True)
    xla = results["tf_xla"]
    assert (xla.status, xla.stable) == ("ok", True)
    c = compare(_only(results["tf_elementwise"].outputs["values"]), _only(xla.outputs["values"]))
    assert not c.identical and c.max_ulp is not None and 1 <= c.max_ulp < 1_000  # own approximations


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed (optional)")
def test_torch_flush_denormal_is_seen_by_fpenv_and_torch_probes(hosts: RunHosts) -> None:
    plain, flushing = hosts(
        Host(preamble="import torch"), Host(preamble="import torch; torch.set_flush_denormal(True)")
    )
    torch_probes = {n for n in plain if n.startswith("torch_")}
    assert torch_probes == {
        "torch_matmul",
        "torch_reduce",
        "torch_conv",
        "torch_elementwise",
        "torch_denormal",
        "torch_precision",
    }
    for results in (plain, flushing):
        assert {n for n, r in results.items() if r.status != "ok" or not r.stable} == set()
    assert plain["torch_precision"].flags["first_lost_bit"] is None
    assert (plain["torch_denormal"].flags["ftz"], flushing["torch_denormal"].flags["ftz"]) == (False, True)
    assert (flushing["fpenv"].flags["ftz"], flushing["fpenv"].flags["daz"]) == (True, True)
    assert set(differences(plain, flushing)) == {"fpenv", "float_format", "float_parse", "torch_denormal"}
