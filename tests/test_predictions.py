"""Golden predictions: verdicts by consequence. Real signed fingerprints, real serving processes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

import envprint
from envprint import signing
from envprint.errors import UsageError
from envprint.predictions import decode_inputs, encode_inputs, predictor
from envprint.probes import transforms
from tests.conftest import host_env, python_json, run_python

# A serving process: loads the model from its directory, runs the guard with it, prints the verdict.
SERVE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import envprint
    model_dir, pub, policy, shift = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    w = np.load(model_dir + "/weights.npy") + np.float32(shift)
    model = lambda x: np.tanh(x @ w)
    try:
        r = envprint.guard(model_dir, trusted_keys=[pub], policy=policy, model=model)
        out = {"status": "pass", "result": r}
    except envprint.EnvironmentMismatch as e:
        out = {"status": "refused", "result": e.result, "first": str(e).splitlines()[1]}
    r = out.pop("result")
    out["decisions"] = [
        {"path": d.finding.path, "kind": d.finding.kind, "outcome": d.outcome, "rule": d.rule, "note": d.note,
         "cause": d.finding.cause}
        for d in r.result.decisions
    ]
    print(json.dumps(out))
    """
)


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transforms, "_TRANSFORMS", {})


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return signing.generate_keypair(tmp_path_factory.mktemp("keys") / "train")


def _train(directory: Path, keys: tuple[Path, Path], **env: str) -> Path:
    """Returns a model directory captured in a training process (a subprocess with `env`) with golden predictions."""
    directory.mkdir()
    rng = np.random.default_rng(7)
    # small positive weights: no cancellation (thread counts move float32 sums by ULPs, not more), no saturation
    np.save(directory / "weights.npy", rng.uniform(0.001, 0.02, size=(64, 8)).astype(np.float32))
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        import envprint
        model_dir, key = sys.argv[1], sys.argv[2]
        w = np.load(model_dir + "/weights.npy")
        x = np.random.default_rng(3).uniform(0.0, 1.0, size=(128, 64)).astype(np.float32)
        envprint.golden_predictions(lambda x: np.tanh(x @ w), x)
        envprint.capture(artifact=model_dir).save(model_dir + "/envprint.fp", key=key)
        """
    )
    run_python(code, str(directory), str(keys[0]), env=host_env(**env))
    return directory


def _serve(model: Path, keys: tuple[Path, Path], *, policy: str = "default", shift: float = 0.0, **env: str) -> dict:
    doc, _ = python_json(SERVE, str(model), str(keys[1]), policy, str(shift), env=host_env(**env))
    return doc


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path]) -> Path:
    return _train(tmp_path_factory.mktemp("golden") / "model", keys, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")


def test_the_fingerprint_carries_the_inputs_and_the_predictions(model: Path) -> None:
    fp = envprint.load(model / "envprint.fp")
    assert fp.golden_inputs is not None and set(fp.golden_inputs) == {"predictions"}
    x = decode_inputs(fp.golden_inputs["predictions"])
    assert x.shape == (128, 64) and x.dtype == np.float32
    probe = fp.probes["predictions"]  # type: ignore[index]
    assert probe.group == "parity" and probe.flags["kind"] == "model" and probe.status == "ok"


def test_matching_predictions_clear_differences_that_act_only_through_the_model(
    model: Path, keys: tuple[Path, Path]
) -> None:
    out = _serve(model, keys, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    assert out["status"] == "pass", out
    by_path = {d["path"]: d for d in out["decisions"]}
    match = by_path["probes.predictions"]
    assert match["kind"] == "model.match"
    cleared = [d for d in out["decisions"] if d["rule"] == "default: golden predictions match"]
    assert cleared, "a thread-count difference must be reported, as a warning cleared by the predictions"
    assert all(d["outcome"] == "warning" and "golden prediction" in d["note"] for d in cleared)
    assert any("OMP_NUM_THREADS" in d["path"] for d in cleared)


def test_strict_still_refuses_what_the_predictions_cleared(model: Path, keys: tuple[Path, Path]) -> None:
    out = _serve(model, keys, policy="strict", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    assert out["status"] == "refused"
    assert any("OMP_NUM_THREADS" in d["path"] and d["outcome"] == "violation" for d in out["decisions"])


def test_differences_outside_the_model_keep_refusing_when_predictions_match(
    model: Path, keys: tuple[Path, Path]
) -> None:
    out = _serve(model, keys, TZ="Asia/Kolkata", OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    assert out["status"] == "refused"
    violations = {d["path"] for d in out["decisions"] if d["outcome"] == "violation"}
    assert "locale_time.tz_env" in violations  # the zone itself moves too, unless this host's zone is Kolkata
    assert any(d["kind"] == "model.match" for d in out["decisions"])


def test_predictions_that_differ_refuse_and_are_named_first(model: Path, keys: tuple[Path, Path]) -> None:
    out = _serve(model, keys, shift=0.01, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    assert out["status"] == "refused"
    assert out["first"].lstrip().startswith("✗ [critical] probes.predictions: golden predictions differ"), out["first"]
    (golden,) = [d for d in out["decisions"] if d["kind"] == "model.predictions"]
    assert golden["outcome"] == "violation"
    assert "OMP_NUM_THREADS" in golden["cause"] or "OPENBLAS_NUM_THREADS" in golden["cause"]
    # with the consequence known to differ, nothing acting through the model is cleared
    assert not [d for d in out["decisions"] if d["rule"] == "default: golden predictions match"]


def test_without_the_model_the_predictions_are_unchecked_and_said_so(model: Path, keys: tuple[Path, Path]) -> None:
    result = envprint.guard(model, trusted_keys=[keys[1]], probes=True, on_mismatch="warn")
    (unchecked,) = [d for d in result.result.decisions if d.finding.kind == "model.unchecked"]
    assert unchecked.outcome == "warning" and "model=" in unchecked.finding.remedy


def test_predictor_uses_what_the_model_offers() -> None:
    class Classifier:
        def predict_proba(self, x: np.ndarray) -> np.ndarray:
            return np.stack([x[:, 0], 1 - x[:, 0]], axis=1)

        def predict(self, x: np.ndarray) -> np.ndarray:
            raise AssertionError("predict_proba comes first for a classifier")

    x = np.array([[0.25], [0.75]])
    assert predictor(Classifier())(x).tolist() == [[0.25, 0.75], [0.75, 0.25]]
    assert predictor(lambda v: v * 2)(x).tolist() == [[0.5], [1.5]]
    with pytest.raises(UsageError, match="no predict"):
        predictor(object())


def test_inputs_round_trip_without_pickles_and_have_a_size_bound() -> None:
    x = {"ids": np.arange(5, dtype=np.int64), "dense": np.linspace(0, 1, 10, dtype=np.float32).reshape(5, 2)}
    back = decode_inputs(encode_inputs(x))
    assert set(back) == {"ids", "dense"} and np.array_equal(back["dense"], x["dense"])
    with pytest.raises(UsageError, match="object array"):
        encode_inputs(np.array([{"a": 1}], dtype=object))
    with pytest.raises(UsageError, match="travel in a fingerprint"):
        encode_inputs(np.zeros((2_000_000,), dtype=np.float32))
