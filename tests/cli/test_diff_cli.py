"""`envprint diff` as users run it: real capture pairs in fresh processes, options, exit codes, errors."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from envprint.cli import main
from envprint.codec import Loaded
from envprint.diffing import identity_digest
from envprint.model import Unavailable
from envprint.report import Severity
from scripts.regen_golden import FIXTURES, GOLDEN
from tests.conftest import CaptureFn, run_envprint
from tests.signing_helpers import make_keys

TRAIN, SERVE, SAME, PUB = GOLDEN / "train.fp", GOLDEN / "serve.fp", GOLDEN / "same.fp", GOLDEN / "golden-test.pub"


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Returns (exit status, stdout, stderr) of `envprint ARGS` run in this process."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def diff_json(a: Loaded, b: Loaded, *extra: str) -> tuple[int, dict[str, Any]]:
    """Returns the exit status and JSON report of `envprint diff` over two captures, in a fresh process."""
    proc = run_envprint(["diff", "--format", "json", str(a.path), str(b.path), *extra])
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def findings(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in doc["findings"]}


def probe_findings(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["kind"] == "probe.differs"]


def top(doc: dict[str, Any]) -> str:
    f = doc["findings"][0]
    return f"{f['severity']}: {f['title']} | {f['cause']}"


# ---------------------------------------------------------------------------- real capture pairs


def test_same_environment_captured_twice_is_equivalent(capture_in_subprocess: CaptureFn) -> None:
    a, b = capture_in_subprocess(name="train"), capture_in_subprocess(name="serve")
    status, doc = diff_json(a, b)
    assert status == 0 and doc["equivalent"], [f["title"] for f in doc["findings"] if f["severity"] != "info"]
    assert all(f["severity"] == "info" for f in doc["findings"])
    assert identity_digest(a.fingerprint) == identity_digest(b.fingerprint)


def test_openblas_threads_pair_names_the_thread_variable(capture_in_subprocess: CaptureFn) -> None:
    a = capture_in_subprocess("--probes", "blas", OPENBLAS_NUM_THREADS="2")
    b = capture_in_subprocess("--probes", "blas", OPENBLAS_NUM_THREADS="1")
    status, doc = diff_json(a, b)
    assert status == 1
    variable = findings(doc)["determinism.variables.OPENBLAS_NUM_THREADS"]
    assert (variable["kind"], variable["old"], variable["new"]) == ("determinism.threads", "2", "1")
    probes = probe_findings(doc)
    assert probes, doc["verdict"]
    assert all(p["cause"].startswith("likely cause: OPENBLAS_NUM_THREADS 2 → 1") for p in probes)
    assert all(p["severity"] == "warning" for p in probes)  # ULP-level


def test_openblas_coretype_pair_names_the_kernel(capture_in_subprocess: CaptureFn) -> None:
    a = capture_in_subprocess("--probes", "blas", OPENBLAS_CORETYPE="Haswell")
    b = capture_in_subprocess("--probes", "blas", OPENBLAS_CORETYPE="Sandybridge")
    status, doc = diff_json(a, b)
    assert status == 1
    kernel = findings(doc)["blas.libraries.numpy/openblas.architecture"]
    assert (kernel["kind"], kernel["old"], kernel["new"]) == ("blas.kernel", "Haswell", "Sandybridge")
    fma = findings(doc)["probes.blas_fma"]
    assert fma["severity"] == "critical" and fma["magnitude"]["categorical"]
    assert all("OPENBLAS_CORETYPE Haswell → Sandybridge" in p["cause"] for p in probe_findings(doc))


def test_disabling_numpy_simd_reorders_ties_attributed_to_numpy_dispatch(capture_in_subprocess: CaptureFn) -> None:
    a = capture_in_subprocess("--probes", "ufunc,sort,activations")
    simd = a.fingerprint.cpu.numpy_simd if not isinstance(a.fingerprint.cpu, Unavailable) else None
    if simd is None or isinstance(simd, Unavailable) or not simd.found:
        pytest.skip("numpy finds no SIMD dispatch target on this CPU: nothing to disable")
    b = capture_in_subprocess("--probes", "ufunc,sort,activations", NPY_DISABLE_CPU_FEATURES=" ".join(simd.found))
    status, doc = diff_json(a, b)
    assert status == 1
    assert findings(doc)["cpu.numpy_simd.found"]["severity"] == "critical"
    probes = {f["path"]: f for f in probe_findings(doc)}
    assert "probes.sort_ties" in probes or "probes.ufunc_f32" in probes, doc["verdict"]
    assert all("NPY_DISABLE_CPU_FEATURES" in p["cause"] for p in probes.values())


def test_fast_math_library_sets_ftz_daz_attributed(capture_in_subprocess: CaptureFn, tmp_path: Path) -> None:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    lib = tmp_path / "libfastmath.so"
    (tmp_path / "fast.c").write_text("double envprint_add(double a, double b) { return a + b; }\n")
    subprocess.run(
        [gcc, "-O2", "-ffast-math", "-shared", "-fPIC", "-o", str(lib), str(tmp_path / "fast.c")], check=True
    )
    (tmp_path / "fastmathlib.py").write_text(f"import ctypes\n_lib = ctypes.CDLL({str(lib)!r})\n")
    a = capture_in_subprocess("--probes", "fpenv,text", PYTHONPATH=str(tmp_path))
    b = capture_in_subprocess("--probes", "fpenv,text", "--import", "fastmathlib", PYTHONPATH=str(tmp_path))
    if b.fingerprint.probes["fpenv"].flags.get("ftz") is not True:  # type: ignore[index]
        pytest.skip("this gcc does not link crtfastmath into shared libraries (GCC >= 13)")
    status, doc = diff_json(a, b)
    assert status == 1
    fpenv = findings(doc)["probes.fpenv"]
    assert fpenv["severity"] == "critical"
    assert fpenv["magnitude"]["changed_flags"]["ftz"] == [False, True]
    assert "-ffast-math" in fpenv["cause"] and "fastmathlib" in fpenv["cause"]


def test_time_zone_pair(capture_in_subprocess: CaptureFn) -> None:
    a = capture_in_subprocess("--probes", "time", TZ="UTC")
    b = capture_in_subprocess("--probes", "time", TZ="America/Los_Angeles")
    status, doc = diff_json(a, b)
    assert status == 1
    assert findings(doc)["locale_time.local_zone"]["kind"] == "time.zone"
    probe = findings(doc)["probes.time_tz"]
    assert probe["severity"] == "critical" and probe["cause"].startswith("likely cause: TZ UTC → America/Los_Angeles")


def test_hash_seed_pair(capture_in_subprocess: CaptureFn) -> None:
    a = capture_in_subprocess("--probes", "hash", PYTHONHASHSEED="0")
    b = capture_in_subprocess("--probes", "hash", PYTHONHASHSEED="1")
    status, doc = diff_json(a, b)
    assert status == 1
    assert findings(doc)["determinism.variables.PYTHONHASHSEED"]["kind"] == "determinism.hash_seed"
    probe = findings(doc)["probes.hash_order"]
    assert probe["severity"] == "critical" and probe["cause"].startswith("likely cause: PYTHONHASHSEED 0 → 1")


def test_unseeded_hash_order_is_never_above_info(capture_in_subprocess: CaptureFn) -> None:
    a = capture_in_subprocess("--probes", "hash", PYTHONHASHSEED=None)
    b = capture_in_subprocess("--probes", "hash", PYTHONHASHSEED=None)
    status, doc = diff_json(a, b)
    assert status == 0 and "probes.hash_order" not in findings(doc)


@pytest.mark.tensorflow
@pytest.mark.slow
def test_tensorflow_onednn_pair(capture_in_subprocess: CaptureFn) -> None:
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow is not installed")
    args = ("--import", "tensorflow", "--probes", "tensorflow")
    a = capture_in_subprocess(*args, TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="2")
    b = capture_in_subprocess(*args, TF_ENABLE_ONEDNN_OPTS="1", TF_CPP_MIN_LOG_LEVEL="2")
    status, doc = diff_json(a, b)
    assert status == 1
    tf = [f for f in probe_findings(doc) if f["path"].startswith("probes.tf_")]
    assert tf, doc["verdict"]
    assert all(f["cause"].startswith("likely cause: TF_ENABLE_ONEDNN_OPTS 0 → 1") for f in tf)


# ------------------------------------------------------------------------------- options, exit codes


def test_text_report_goes_to_stdout_only(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main(capsys, "diff", str(TRAIN), str(SERVE))
    assert status == 1 and err == ""
    assert out.splitlines()[0] == "DIFFERENT: 5 critical, 4 warning, 8 info"
    assert f"{TRAIN}  UNVERIFIED" in out and f"{SERVE}  UNSIGNED" in out


def test_json_findings_match_the_golden_report(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_main(capsys, "diff", "-f", "json", str(TRAIN), str(SAME))
    golden = json.loads((GOLDEN / "train-same.json").read_text())
    doc = json.loads(out)
    assert status == 0 and doc["findings"] == golden["findings"]
    assert doc["a"] == {"label": str(TRAIN), "trust": "unverified"}


def test_markdown_format(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_main(capsys, "diff", "--format", "markdown", str(TRAIN), str(SERVE))
    assert status == 1 and out.startswith("### envprint diff: DIFFERENT")


def test_fail_on_sets_the_threshold(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    train = FIXTURES["train"]()
    det = train.determinism
    assert not isinstance(det, Unavailable)
    warned = train.replace(determinism=dataclasses.replace(det, variables={**det.variables, "OMP_NUM_THREADS": "4"}))
    warn = warned.save(tmp_path / "warn.fp")
    assert run_main(capsys, "diff", str(TRAIN), str(warn))[0] == 1
    assert run_main(capsys, "diff", "--fail-on", "critical", str(TRAIN), str(warn))[0] == 0
    assert run_main(capsys, "diff", "--fail-on", "critical", str(TRAIN), str(SERVE))[0] == 1
    assert run_main(capsys, "diff", str(TRAIN), str(SAME))[0] == 0
    assert run_main(capsys, "diff", "--fail-on", "info", str(TRAIN), str(SAME))[0] == 1


def test_output_file_keeps_stdout_empty(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "report.md"
    status, out, err = run_main(capsys, "diff", "-f", "markdown", "-o", str(out_file), str(TRAIN), str(SERVE))
    assert status == 1 and out == ""
    assert out_file.read_text().startswith("### envprint diff: DIFFERENT") and "wrote" in err


def test_options_read_envprint_variables(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ENVPRINT_DIFF_FORMAT", "json")
    monkeypatch.setenv("ENVPRINT_FAIL_ON", "info")
    monkeypatch.setenv("ENVPRINT_TRUSTED_KEYS", str(PUB))
    status, out, _ = run_main(capsys, "diff", str(TRAIN), str(TRAIN))
    assert status == 0 and json.loads(out)["a"]["trust"] == "verified"
    monkeypatch.setenv("ENVPRINT_DIFF_OUTPUT", str(tmp_path / "r.json"))
    monkeypatch.delenv("ENVPRINT_TRUSTED_KEYS")
    assert run_main(capsys, "diff", str(TRAIN), str(SAME))[0] == 1  # fail-on info, from the environment
    assert json.loads((tmp_path / "r.json").read_text())["b"]["trust"] == "unsigned"


def test_wrong_key_exits_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, other_pub = make_keys(tmp_path, "other")
    status, out, err = run_main(capsys, "diff", "--key", str(other_pub), str(TRAIN), str(TRAIN))
    assert status == 3 and out == "" and "error:" in err


def test_unsigned_input_with_keys_is_labelled_unless_signatures_are_required(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run_main(capsys, "diff", "-f", "json", "--key", str(PUB), str(TRAIN), str(SERVE))
    doc = json.loads(out)
    assert status == 1 and (doc["a"]["trust"], doc["b"]["trust"]) == ("verified", "unsigned")
    status, out, _ = run_main(capsys, "diff", "--require-signed", "--key", str(PUB), str(TRAIN), str(SERVE))
    assert status == 3 and out == ""


def test_policy_decides_the_exit_status(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, _ = run_main(capsys, "diff", "--policy", "default", str(TRAIN), str(SERVE))
    assert status == 1 and "POLICY REFUSED: policy default:" in out
    everything = tmp_path / "waive.toml"
    everything.write_text('[policy]\n[[policy.waivers]]\npath = "*"\nreason = "test"\nexpires = 2999-01-01\n')
    status, out, _ = run_main(capsys, "diff", "--policy", str(everything), "-f", "json", str(TRAIN), str(SERVE))
    doc = json.loads(out)
    assert status == 0 and doc["policy"]["passed"] is True and doc["policy"]["counts"]["violations"] == 0
    assert doc["policy"]["counts"]["waived"] >= 1


def test_malformed_and_missing_inputs_exit_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.fp"
    bad.write_bytes(b"\x93not a fingerprint")
    truncated = tmp_path / "truncated.fp"
    truncated.write_bytes(TRAIN.read_bytes()[:200])
    cases = {
        str(bad): "not an envprint fingerprint",
        str(truncated): "not an envprint fingerprint",
        str(tmp_path / "missing.fp"): "no such file",
    }
    for path, message in cases.items():
        proc = run_envprint(["diff", str(TRAIN), path])
        assert proc.returncode == 2, (path, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr and proc.stdout == ""


def test_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(capsys, "diff", "--format", "xml", str(TRAIN), str(SERVE))[0] == 2


def test_severity_names_match_fail_on_choices() -> None:
    from envprint.cli.compare import FailOn

    assert [f.value for f in FailOn] == [s.name for s in sorted(Severity)]


def test_diff_loads_numpy_and_rich_only_when_needed() -> None:
    """Equal probe digests need no probe comparison (numpy); JSON needs no rich: keeps `envprint diff` fast."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "envprint", "diff", "-f", "json", str(TRAIN), str(SAME)],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "envprint.diffing" in imported
    assert not {"numpy", "rich", "envprint.probes.suite", "envprint.serving"} & imported
