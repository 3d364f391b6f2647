"""`envprint golden export` and `envprint golden compare` as real subprocesses: output, exit codes, errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from envprint.golden import encode_rows, read_rows
from tests.conftest import host_env, run_envprint
from tests.golden_bundle.conftest import labels

TRAIN = """
import math

import envprint
from envprint.parity import edge_cases

CASES = edge_cases(columns={"age": 40.0}, categories={"color": ["red", "green", "blue"]})
VOCAB = {"red": 1, "green": 2, "blue": 3}


def missing(v):
    return v is None or v == "" or (isinstance(v, float) and math.isnan(v))


@envprint.probe("fill_age", inputs=CASES, rtol=1e-5)
def fill_age(rows):
    return {"age": [37.5 if missing(r.get("age")) else float(r["age"]) for r in rows]}


@envprint.probe("encode_color", inputs=CASES)
def encode_color(rows):
    return {"color_id": [VOCAB.get(r.get("color"), 0) for r in rows]}
"""


@pytest.fixture
def train(tmp_path: Path) -> Path:
    """Returns a .py module registering the docs example's two transforms on their edge cases."""
    path = tmp_path / "train_features.py"
    path.write_text(textwrap.dedent(TRAIN))
    return path


@pytest.fixture
def bundle(tmp_path: Path, train: Path) -> Path:
    """Returns a bundle exported by the CLI from `train`."""
    out = tmp_path / "golden"
    proc = run_envprint(["golden", "export", "--probes-from", str(train), "-o", str(out)])
    assert proc.returncode == 0, proc.stderr
    assert f"wrote golden bundle {out}: 2 probe(s)" in proc.stderr
    assert "fill_age: 21 row(s) → age (float, rtol 1e-05, atol 0)" in proc.stderr
    return out


def _outputs(bundle: Path, out: Path, *, fill: float = 37.5) -> Path:
    out.mkdir(exist_ok=True)
    ages = [{"age": fill if r["age"] == 37.5 else r["age"]} for r in read_rows(bundle / "fill_age.expected.jsonl")]
    (out / "fill_age.outputs.jsonl").write_bytes(encode_rows(ages))
    (out / "encode_color.outputs.jsonl").write_bytes((bundle / "encode_color.expected.jsonl").read_bytes())
    return out


def test_matching_outputs_exit_0(bundle: Path, tmp_path: Path) -> None:
    proc = run_envprint(["golden", "compare", str(bundle), str(_outputs(bundle, tmp_path / "out"))])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "envprint golden compare: PARITY: 2 pass"
    assert "PASS    fill_age: 21 row(s), 21 value(s) within tolerance" in proc.stdout


def test_a_zero_fill_exits_1_naming_row_and_column(bundle: Path, tmp_path: Path) -> None:
    proc = run_envprint(["golden", "compare", str(bundle), str(_outputs(bundle, tmp_path / "out", fill=0.0))])
    assert proc.returncode == 1
    none, empty = (labels(bundle, "fill_age").index(case) for case in ("age=None", "age=''"))
    assert f"row {none} (age=None), column 'age': expected 37.5, got 0.0 (|Δ| 37.5 > allowed 0.000375)" in proc.stdout
    assert f"row {empty} (age=''), column 'age': expected 37.5, got 0.0" in proc.stdout


def test_json_and_markdown_formats(bundle: Path, tmp_path: Path) -> None:
    out = _outputs(bundle, tmp_path / "out", fill=0.0)
    proc = run_envprint(["golden", "compare", str(bundle), str(out), "-f", "json"])
    doc = json.loads(proc.stdout)
    assert (proc.returncode, doc["exit_code"], doc["counts"]) == (1, 1, {"fail": 1, "missing": 0, "pass": 1})
    assert doc["results"][0]["mismatches"][0]["label"] == "age=None"
    markdown = run_envprint(
        ["golden", "compare", str(bundle), str(out)], env=host_env(ENVPRINT_GOLDEN_FORMAT="markdown")
    )
    assert markdown.stdout.startswith("## envprint golden compare: MISMATCH: 1 fail, 1 pass")


def test_unreadable_outputs_exit_2_naming_file_and_line_without_a_traceback(bundle: Path, tmp_path: Path) -> None:
    out = _outputs(bundle, tmp_path / "out")
    (out / "encode_color.outputs.jsonl").write_text('{"color_id": 1}\n{"color_id": 1,}\n')
    proc = run_envprint(["golden", "compare", str(bundle), str(out)])
    assert proc.returncode == 2
    assert f"error: {out / 'encode_color.outputs.jsonl'} line 2: column 16: Expecting property name" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_a_missing_bundle_or_no_registered_probe_exits_2(tmp_path: Path) -> None:
    proc = run_envprint(["golden", "compare", str(tmp_path / "nope"), str(tmp_path)])
    assert proc.returncode == 2 and "no such bundle directory" in proc.stderr
    proc = run_envprint(["golden", "export", "--no-entry-points", "-o", str(tmp_path / "g")])
    assert proc.returncode == 2 and "no transform probe is registered, so there is nothing to export" in proc.stderr
    assert not (tmp_path / "g").exists()


def test_export_against_a_signed_baseline(tmp_path: Path, train: Path) -> None:
    assert run_envprint(["keygen", "-o", str(tmp_path / "train")]).returncode == 0
    baseline = tmp_path / "train.fp"
    capture = ["capture", "-q", "-o", str(baseline), "--probes", "fpenv", "--probes-from", str(train)]
    assert run_envprint([*capture, "--key", str(tmp_path / "train.key")]).returncode == 0
    export = ["golden", "export", "--probes-from", str(train), "--baseline", str(baseline), "-o", str(tmp_path / "g")]

    proc = run_envprint([*export, "--key", str(tmp_path / "train.pub")])
    assert proc.returncode == 0, proc.stderr
    assert f"expected outputs equal to {baseline} (VERIFIED)" in proc.stderr
    assert json.loads((tmp_path / "g" / "manifest.json").read_text())["baseline"]["trust"] == "verified"

    assert run_envprint(["keygen", "-o", str(tmp_path / "other")]).returncode == 0
    proc = run_envprint([*export, "--key", str(tmp_path / "other.pub")])
    assert proc.returncode == 3 and "Traceback" not in proc.stderr

    serve = tmp_path / "serve" / "train_features.py"
    serve.parent.mkdir()
    serve.write_text(textwrap.dedent(TRAIN).replace("37.5 if missing", "0.0 if missing"))
    changed = [a if a != str(train) else str(serve) for a in export]
    proc = run_envprint([*changed, "--key", str(tmp_path / "train.pub")])
    assert proc.returncode == 1
    none = labels(tmp_path / "g", "fill_age").index("age=None")  # the bundle the first export wrote
    assert "the outputs differ from what" in proc.stderr
    assert f"row {none} (age=None), column 'age': 37.5 → 0.0" in proc.stderr


def test_golden_help_lists_the_commands() -> None:
    proc = run_envprint(["golden", "--help"])
    assert proc.returncode == 0
    assert all(f" {command} " in proc.stdout for command in ("export", "compare", "spark"))
