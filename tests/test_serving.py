"""The serving-startup guard: real signed fingerprints, real model files, real serving processes."""

from __future__ import annotations

import concurrent.futures
import datetime
import json
import logging
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import envprint
from envprint import signing
from envprint.serving import guard
from tests.conftest import (
    host_env,
    numpy_found_targets,
    openblas_splits_dot,
    python_json,
    run_envprint,
    run_python,
)

SERVE = textwrap.dedent(
    """
    import json, logging, sys
    args = json.loads(sys.argv[1])
    exec(args.get("preamble", ""))
    import envprint
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    try:
        r = envprint.guard(args["model"], trusted_keys=args.get("keys"), policy=args.get("policy", "default"),
                           on_mismatch=args.get("on_mismatch", "raise"))
        out = {"status": "pass", "overridden": r.overridden, "result": r}
    except envprint.EnvprintError as e:
        out = {"status": type(e).__name__, "message": str(e), "result": getattr(e, "result", None)}
    r = out.pop("result")
    out["violations"] = [d.finding.path for d in r.violations] if r else []
    out["waived"] = [d.finding.path for d in r.waived] if r else []
    out["notes"] = [d.note for d in r.violations if d.note] if r else []
    import numpy as np
    w = np.load(args["model"] + "/weights.npy")
    out["prediction"] = float((np.ones((1, w.shape[0]), dtype=np.float32) @ w).sum())
    print(json.dumps(out))
    """
)


def _model(directory: Path) -> Path:
    directory.mkdir(parents=True)
    weights = (np.arange(64 * 8, dtype=np.float32).reshape(64, 8) % 7) / 7
    np.save(directory / "weights.npy", weights)
    (directory / "config.json").write_text('{"layers": 1}\n')
    return directory


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return signing.generate_keypair(tmp_path_factory.mktemp("keys") / "train")


def _train(directory: Path, key: Path, *extra: str, **env: str | None) -> Path:
    model = _model(directory)
    proc = run_envprint(["capture", "-q", "--artifact", str(model), "--key", str(key), *extra], env=host_env(**env))
    assert proc.returncode == 0, proc.stderr
    assert (model / "envprint.fp").exists()
    return model


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path]) -> Path:
    return _train(tmp_path_factory.mktemp("m") / "model", keys[0])


def serve(model: Path, keys: tuple[Path, Path] | None, *, preamble: str = "", **kw: Any) -> dict[str, Any]:
    env_overrides = kw.pop("env", {})
    args = {"model": str(model), "keys": [str(keys[1])] if keys else None, "preamble": preamble, **kw}
    out, proc = python_json(SERVE, json.dumps(args), env=host_env(TF_CPP_MIN_LOG_LEVEL="3", **env_overrides))
    out["stderr"] = proc.stderr
    return out


def test_same_environment_passes_and_serves(model: Path, keys: tuple[Path, Path]) -> None:
    out = serve(model, keys)
    assert out["status"] == "pass", out
    assert out["violations"] == []
    assert out["prediction"] == pytest.approx(float(np.load(model / "weights.npy").sum()))
    assert "envprint:guard PASS" in out["stderr"]  # the logger's name, once (not "envprint: envprint guard")


@pytest.mark.parametrize(
    ("env", "violation"),
    [
        ({"OPENBLAS_NUM_THREADS": "1"}, "determinism.variables.OPENBLAS_NUM_THREADS"),
        ({"TZ": "America/Los_Angeles"}, "locale_time.tz_env"),
        ({"PYTHONHASHSEED": "1"}, "determinism.variables.PYTHONHASHSEED"),
    ],
)
def test_differing_serving_environment_is_refused(
    model: Path, keys: tuple[Path, Path], env: dict[str, str], violation: str
) -> None:
    out = serve(model, keys, env=env)
    assert out["status"] == "EnvironmentMismatch"
    assert violation in out["violations"]
    assert "refusing to serve" in out["message"]
    assert "fix:" in out["message"]


def test_coretype_change_is_refused(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    model = _train(tmp_path / "model", keys[0], OPENBLAS_CORETYPE="Haswell")
    assert serve(model, keys, env={"OPENBLAS_CORETYPE": "Haswell"})["status"] == "pass"
    out = serve(model, keys, env={"OPENBLAS_CORETYPE": "Sandybridge"})
    assert out["status"] == "EnvironmentMismatch"
    assert "determinism.variables.OPENBLAS_CORETYPE" in out["violations"]
    assert any(v.startswith("blas.libraries.") for v in out["violations"])


def test_numpy_simd_level_removed_is_refused(model: Path, keys: tuple[Path, Path]) -> None:
    found = numpy_found_targets()
    if not found:
        pytest.skip("numpy found no dispatch target above its baseline on this CPU")
    out = serve(model, keys, env={"NPY_DISABLE_CPU_FEATURES": found[-1]})
    assert out["status"] == "EnvironmentMismatch"
    assert "determinism.variables.NPY_DISABLE_CPU_FEATURES" in out["violations"]


def test_fast_math_library_loaded_in_serving_is_refused(model: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("no C compiler to build a -ffast-math library")
    src = tmp_path / "fm.c"
    src.write_text("int envprint_fast_math_marker(void) { return 1; }\n")
    lib = tmp_path / "libfm.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-ffast-math", str(src), "-o", str(lib)], check=True)
    out = serve(model, keys, preamble=f"import ctypes; ctypes.CDLL({str(lib)!r})")
    assert out["status"] == "EnvironmentMismatch"
    assert "probes.fpenv" in out["violations"]  # no variable differs: only the probe sees FTZ/DAZ


@pytest.mark.tensorflow
@pytest.mark.slow
def test_onednn_switch_is_refused(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    pytest.importorskip("tensorflow")
    model = _train(tmp_path / "model", keys[0], "--import", "tensorflow", TF_ENABLE_ONEDNN_OPTS="1",
                   TF_CPP_MIN_LOG_LEVEL="3")  # fmt: skip
    out = serve(model, keys, preamble="import tensorflow", env={"TF_ENABLE_ONEDNN_OPTS": "0"})
    assert out["status"] == "EnvironmentMismatch"
    assert "determinism.variables.TF_ENABLE_ONEDNN_OPTS" in out["violations"]


def test_waiver_passes_until_it_expires(model: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    def policy(expires: datetime.date) -> str:
        path = tmp_path / f"policy-{expires}.toml"
        path.write_text(
            '[policy]\n[[policy.waivers]]\npath = "determinism.variables.OPENBLAS_NUM_THREADS"\n'
            'kind = "*"\nreason = "INC-7: serving pinned to 1 thread"\n'
            f"expires = {expires.isoformat()}\n"
            '[[policy.waivers]]\npath = "blas.libraries.*"\nreason = "INC-7"\n'
            f"expires = {expires.isoformat()}\n"
            '[[policy.waivers]]\npath = "probes.*"\nreason = "INC-7"\n'
            f"expires = {expires.isoformat()}\n"
        )
        return str(path)

    today = datetime.date.today()
    active = serve(model, keys, policy=policy(today + datetime.timedelta(days=1)), env={"OPENBLAS_NUM_THREADS": "1"})
    assert active["status"] == "pass", active
    assert "determinism.variables.OPENBLAS_NUM_THREADS" in active["waived"]
    expired = serve(model, keys, policy=policy(today - datetime.timedelta(days=1)), env={"OPENBLAS_NUM_THREADS": "1"})
    assert expired["status"] == "EnvironmentMismatch"
    assert any("waiver expired" in n for n in expired["notes"])


def test_lenient_passes_ulp_level_differences_and_strict_refuses_them(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    model = _train(tmp_path / "model", keys[0], OPENBLAS_NUM_THREADS="2")
    lenient = serve(model, keys, policy="lenient", env={"OPENBLAS_NUM_THREADS": "1"})
    assert lenient["status"] == "pass", lenient
    strict = serve(model, keys, policy="strict", env={"OPENBLAS_NUM_THREADS": "1"})
    assert strict["status"] == "EnvironmentMismatch"
    assert "determinism.variables.OPENBLAS_NUM_THREADS" in strict["violations"]
    if openblas_splits_dot():  # elsewhere the thread count shows in the settings only, never in the bits
        assert any(v.startswith("probes.blas") for v in strict["violations"])


def test_policy_signed_into_the_fingerprint_is_tightened_not_loosened(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    model = _train(tmp_path / "model", keys[0], "--policy", "strict", OPENBLAS_NUM_THREADS="2")
    out = serve(model, keys, policy="lenient", env={"OPENBLAS_NUM_THREADS": "1"})
    assert out["status"] == "EnvironmentMismatch"  # the signed strict policy still applies
    override = tmp_path / "override.toml"
    override.write_text('[policy]\nextends = "lenient"\noverride_embedded = true\n')
    out = serve(model, keys, policy=str(override), env={"OPENBLAS_NUM_THREADS": "1"})
    assert out["status"] == "pass"
    assert "overrides the policy signed into the fingerprint" in out["stderr"]


def test_signed_policy_applies_alone_when_serving_names_none(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    model = _train(tmp_path / "model", keys[0], "--policy", "lenient", OPENBLAS_NUM_THREADS="2")
    assert serve(model, keys, policy=None, env={"OPENBLAS_NUM_THREADS": "1"})["status"] == "pass"
    assert serve(model, keys, policy="default", env={"OPENBLAS_NUM_THREADS": "1"})["status"] == "EnvironmentMismatch"


def test_emergency_override_warns_loudly_and_starts(model: Path, keys: tuple[Path, Path]) -> None:
    out = serve(model, keys, env={"OPENBLAS_NUM_THREADS": "1", "ENVPRINT_GUARD": "warn"})
    assert out["status"] == "pass" and out["overridden"] is True
    assert "STARTING ANYWAY (emergency override)" in out["stderr"]
    warned = serve(model, keys, on_mismatch="warn", env={"OPENBLAS_NUM_THREADS": "1"})
    assert warned["status"] == "pass" and warned["overridden"] is True


# ----------------------------------------------------------------------- trust failures (in-process)


@pytest.fixture(scope="module")
def inproc_model(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path]) -> Path:
    """Returns a model whose signed fingerprint was captured in this (the serving) process."""
    model = _model(tmp_path_factory.mktemp("inproc") / "model")
    envprint.capture(artifact=model).save(model / "envprint.fp", key=keys[0])
    return model


def test_unsigned_fingerprint_is_refused_unless_the_policy_allows_it(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    model = _model(tmp_path / "model")
    envprint.capture(probes=False, artifact=model).save(model / "envprint.fp")
    with pytest.raises(envprint.SignatureError, match="unsigned"):
        guard(model, trusted_keys=[keys[1]], probes=False)
    with pytest.raises(envprint.SignatureError, match="no trusted keys given"):
        guard(model, probes=False)
    allow = tmp_path / "dev.toml"
    allow.write_text("[policy]\nallow_unsigned = true\n")
    assert guard(model, policy=allow, probes=False).trust == "unsigned"
    assert guard(model, policy=allow, trusted_keys=[keys[1]], probes=False).trust == "unsigned"


def test_wrong_key_tampered_file_and_missing_fingerprint(
    tmp_path: Path, inproc_model: Path, keys: tuple[Path, Path]
) -> None:
    model = inproc_model
    _, other_pub = signing.generate_keypair(tmp_path / "other")
    with pytest.raises(envprint.SignatureError):
        guard(model, trusted_keys=[other_pub], probes=False)
    copy = tmp_path / "copy"
    shutil.copytree(model, copy)
    data = bytearray((copy / "envprint.fp").read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / "envprint.fp").write_bytes(bytes(data))
    with pytest.raises(envprint.EnvprintError) as info:
        guard(copy, trusted_keys=[keys[1]], probes=False)
    assert info.value.exit_code in (2, 3)
    (copy / "envprint.fp").unlink()
    with pytest.raises(envprint.UsageError):
        guard(copy, trusted_keys=[keys[1]], probes=False)


def test_changed_artifact_is_refused_with_a_file_report(
    tmp_path: Path, inproc_model: Path, keys: tuple[Path, Path]
) -> None:
    model = inproc_model
    copy = tmp_path / "copy"
    shutil.copytree(model, copy)
    weights = np.load(copy / "weights.npy")
    weights[0, 0] += 1
    np.save(copy / "weights.npy", weights)
    with pytest.raises(envprint.ArtifactMismatchError) as info:
        guard(copy, trusted_keys=[keys[1]], probes=False)
    assert [(c.kind.value, c.path) for c in info.value.changes] == [("changed", "weights.npy")]
    other = _model(tmp_path / "other-model")
    shutil.copy(model / "envprint.fp", other / "envprint.fp")
    (other / "extra.txt").write_text("x")
    with pytest.raises(envprint.ArtifactMismatchError):
        guard(other, trusted_keys=[keys[1]], probes=False)


def test_sixteen_threads_get_consistent_results(inproc_model: Path, keys: tuple[Path, Path]) -> None:
    model = inproc_model
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: guard(model, trusted_keys=[keys[1]], verify_artifact=False), range(16)))
    assert {r.passed for r in results} == {True}
    assert len({tuple(sorted(d.finding.path for d in r.result.decisions)) for r in results}) == 1


def test_pass_logs_one_concise_line(
    inproc_model: Path, keys: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    model = inproc_model
    with caplog.at_level(logging.INFO, logger="envprint"):
        result = guard(model, trusted_keys=[keys[1]], probes=False)
    lines = [r.getMessage() for r in caplog.records if r.name == "envprint"]
    assert len(lines) == 1 and lines[0].startswith("guard PASS")  # the record names its logger, "envprint"
    assert result.artifact_path == model


def test_check_command_exit_codes(model: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    ok = run_envprint(["check", str(model), "--key", str(keys[1]), "--no-probes"])
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("envprint guard PASS")
    refused = run_envprint(["check", str(model), "--key", str(keys[1]), "--format", "json"],
                           env=host_env(OPENBLAS_NUM_THREADS="1"))  # fmt: skip
    assert refused.returncode == 1
    doc = json.loads(refused.stdout)
    assert doc["passed"] is False and doc["counts"]["violations"] >= 1
    _, other = signing.generate_keypair(tmp_path / "other")
    assert run_envprint(["check", str(model), "--key", str(other)]).returncode == 3
    assert run_envprint(["check", str(tmp_path / "nothing-here"), "--key", str(other)]).returncode == 2


# ------------------------------------------------------------------------ binding is required


@pytest.fixture(scope="module")
def swapped(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path]) -> Path:
    """Returns a model directory holding a fingerprint the trusted key signed WITHOUT --artifact, weights swapped."""
    model = _model(tmp_path_factory.mktemp("swap") / "m")
    proc = run_envprint(["capture", "-q", "--no-probes", "--key", str(keys[0]), "-o", str(model / "envprint.fp")])
    assert proc.returncode == 0, proc.stderr
    np.save(model / "weights.npy", np.zeros((64, 8), dtype=np.float32))  # the attacker's weights
    return model


@pytest.mark.parametrize("target", ["m", "m/envprint.fp"])
def test_an_unbound_fingerprint_in_a_model_directory_is_refused_by_check(
    swapped: Path, keys: tuple[Path, Path], target: str
) -> None:
    path = swapped.parent / target
    proc = run_envprint(["check", str(path), "--key", str(keys[1]), "--no-probes"])
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "not bound to a model" in proc.stderr
    assert "--env-only" in proc.stderr  # the way out is named


def test_an_unbound_fingerprint_is_refused_by_guard_and_verify(swapped: Path, keys: tuple[Path, Path]) -> None:
    fp = swapped / "envprint.fp"
    with pytest.raises(envprint.ArtifactMismatchError, match="not bound to a model"):
        guard(str(fp), trusted_keys=[keys[1]], probes=False)
    with pytest.raises(envprint.ArtifactMismatchError, match="not bound to a model"):
        guard(swapped, trusted_keys=[keys[1]], probes=False)
    with pytest.raises(envprint.ArtifactMismatchError):  # skipping the re-hash does not waive the binding
        guard(str(fp), trusted_keys=[keys[1]], probes=False, verify_artifact=False)
    proc = run_envprint(["verify", str(fp), "--key", str(keys[1])])
    assert proc.returncode == 3 and "not bound to a model" in proc.stderr, proc.stdout + proc.stderr
    assert f"cannot vouch for {swapped}" in proc.stderr


def test_an_environment_only_check_accepts_an_unbound_fingerprint_and_says_so(
    swapped: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    # in this (pytest) process the environment differs from the capture's: warn, and look at what was checked
    fp = str(swapped / "envprint.fp")
    result = guard(fp, trusted_keys=[keys[1]], probes=False, env_only=True, on_mismatch="warn")
    assert result.env_only and result.artifact_path is None
    assert "environment only (model files not verified)" in result.summary()
    proc = run_envprint(["check", str(swapped), "--key", str(keys[1]), "--no-probes", "--env-only", "-f", "json"])
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["env_only"] is True and doc["artifact"] is None
    # a standalone environment fingerprint (beside no model) verifies: it vouches for no model
    standalone = tmp_path / "train.fp"
    shutil.copy(swapped / "envprint.fp", standalone)
    proc = run_envprint(["verify", str(standalone), "--key", str(keys[1])])
    assert proc.returncode == 0, proc.stderr
    assert "not bound to a model artifact" in proc.stdout


def test_env_only_still_verifies_a_bound_fingerprint(
    inproc_model: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(inproc_model, copy)
    (copy / "config.json").write_text('{"layers": 2}\n')
    with pytest.raises(envprint.ArtifactMismatchError):
        guard(copy, trusted_keys=[keys[1]], probes=False, env_only=True)


def test_a_bound_fingerprint_whose_model_is_missing_fails_verification(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    from envprint.artifact import verify_file

    weights = tmp_path / "model.bin"
    weights.write_bytes(b"\x00" * 128)
    envprint.capture(probes=False, artifact=weights).save(tmp_path / "model.bin.fp", key=keys[0])
    weights.unlink()
    with pytest.raises(envprint.ArtifactMismatchError, match="not beside the fingerprint"):
        verify_file(tmp_path / "model.bin.fp", [keys[1]])
    proc = run_envprint(["verify", str(tmp_path / "model.bin.fp"), "--key", str(keys[1])])
    assert proc.returncode == 3 and "not beside the fingerprint" in proc.stderr, proc.stderr


# ------------------------------------------------------------------ overrides always leave a trace


def test_the_emergency_override_leaves_a_trace_when_logging_is_silenced(model: Path, keys: tuple[Path, Path]) -> None:
    quiet = "import logging; logging.basicConfig(level=logging.ERROR); logging.getLogger().setLevel(logging.ERROR)"
    script = textwrap.dedent(
        f"""
        {quiet}
        import json, sys, envprint
        r = envprint.guard(sys.argv[1], trusted_keys=[sys.argv[2]])
        print(json.dumps({{"passed": r.passed, "overridden": r.overridden, "override": r.override}}))
        """
    )
    doc, proc = python_json(
        script, str(model), str(keys[1]),
        env=host_env(OPENBLAS_NUM_THREADS="1", ENVPRINT_GUARD="warn", TF_CPP_MIN_LOG_LEVEL="3"),
    )  # fmt: skip
    assert doc == {
        "passed": False, "overridden": True, "override": "ENVPRINT_GUARD=warn",
    }  # fmt: skip
    trace = [line for line in proc.stderr.splitlines() if line.startswith("envprint: ENVPRINT_GUARD=warn")]
    assert len(trace) == 1 and "STARTING ANYWAY" in trace[0], proc.stderr
    check = run_envprint(["check", str(model), "--key", str(keys[1]), "-f", "json"],
                         env=host_env(OPENBLAS_NUM_THREADS="1", ENVPRINT_GUARD="warn"))  # fmt: skip
    assert check.returncode == 0, check.stderr
    doc = json.loads(check.stdout)
    assert doc["overridden"] is True and doc["override"] == "ENVPRINT_GUARD=warn" and doc["passed"] is False
    assert "ENVPRINT_GUARD=warn: STARTING ANYWAY" in check.stderr


# ------------------------------------------------------------------------------- one verdict


def test_diff_with_a_policy_applies_the_policy_signed_into_the_baseline_like_check(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    model = _train(tmp_path / "model", keys[0], "--policy", "strict", OPENBLAS_NUM_THREADS="2")
    serving = tmp_path / "serve.fp"
    proc = run_envprint(["capture", "-q", "-o", str(serving)], env=host_env(OPENBLAS_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr
    check = run_envprint(["check", str(model), "--key", str(keys[1]), "--policy", "lenient", "-f", "json"],
                         env=host_env(OPENBLAS_NUM_THREADS="1"))  # fmt: skip
    diffed = run_envprint(["diff", str(model / "envprint.fp"), str(serving), "--key", str(keys[1]),
                           "--policy", "lenient", "-f", "json"])  # fmt: skip
    assert check.returncode == diffed.returncode == 1, (check.stderr, diffed.stderr)
    policy = json.loads(diffed.stdout)["policy"]
    assert policy["passed"] is False
    assert "strict" in policy["name"] and "lenient" in policy["name"]  # the signed policy, tightened locally
    violations = {d["path"] for d in policy["decisions"] if d["outcome"] == "violation"}
    checked = {d["path"] for d in json.loads(check.stdout)["decisions"] if d["outcome"] == "violation"}
    assert "determinism.variables.OPENBLAS_NUM_THREADS" in violations & checked


def test_a_passing_guard_names_the_warnings_it_accepted(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    # training seeded its generators, serving does not: a warning under default, so the guard passes and
    # its one log record names it instead of only counting it
    model = _model(tmp_path / "model")
    train = (
        "import envprint; envprint.seed_everything(7); "
        f"envprint.capture(artifact={str(model)!r}).save({str(model / 'envprint.fp')!r}, key={str(keys[0])!r})"
    )
    run_python(train)
    out = serve(model, keys)
    assert out["status"] == "pass" and out["violations"] == []
    passed = out["stderr"][out["stderr"].index("guard PASS") :]
    named = [line for line in passed.splitlines() if line.startswith("  warning: ")]
    assert any("seed" in line for line in named), passed
