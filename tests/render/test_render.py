"""Renderers of a diff report: golden outputs, the exhaustive format registry, and each format's contract."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest

from envprint.codec import read
from envprint.diffing import diff
from envprint.model import Fingerprint, Unavailable
from envprint.render import Format, render
from envprint.render.json import DIFF_JSON_VERSION
from envprint.report import DiffReport, Finding, Magnitude, Severity
from scripts import regen_golden
from scripts.regen_golden import FIXTURES, GOLDEN, SUFFIX
from tests.conftest import host_env, run_envprint

EMPTY = DiffReport("a.fp", "b.fp", ())


def serve_report() -> DiffReport:
    return diff(
        FIXTURES["train"](),
        FIXTURES["serve"](),
        a_label="train.fp",
        b_label="serve.fp",
        a_trust="verified",
        b_trust="unsigned",
    )


def test_golden_files_are_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    status = regen_golden.main(["--check"])
    assert status == 0, capsys.readouterr().out + "\nrun: .venv/bin/python scripts/regen_golden.py"


def test_golden_fixtures_load_with_their_trust() -> None:
    pub = GOLDEN / "golden-test.pub"
    assert read(GOLDEN / "train.fp", trusted_keys=[str(pub)]).trust == "verified"
    assert read(GOLDEN / "train.fp").trust == "unverified"
    assert read(GOLDEN / "serve.fp").trust == "unsigned"
    assert read(GOLDEN / "serve.fp").fingerprint == FIXTURES["serve"]()


@pytest.mark.parametrize("pair", [p[0] for p in regen_golden.PAIRS])
@pytest.mark.parametrize("fmt", list(Format))
def test_rendering_the_fixture_files_matches_the_golden_output(pair: str, fmt: Format) -> None:
    _, a, b = next(p for p in regen_golden.PAIRS if p[0] == pair)
    la = read(GOLDEN / f"{a}.fp", trusted_keys=[str(GOLDEN / "golden-test.pub")] if a == "train" else None)
    lb = read(GOLDEN / f"{b}.fp")
    report = diff(
        la.fingerprint, lb.fingerprint, a_label=f"{a}.fp", b_label=f"{b}.fp", a_trust=la.trust, b_trust=lb.trust
    )
    expected = (GOLDEN / f"{pair}.{SUFFIX[fmt]}").read_text(encoding="utf-8")
    assert render(report, fmt, width=regen_golden.WIDTH) == expected


@pytest.mark.parametrize("fmt", list(Format))
def test_every_format_renders_every_report(fmt: Format) -> None:
    """The Format enum is the registry: each member has a renderer (render() ends in assert_never)."""
    for report in (EMPTY, serve_report()):
        out = render(report, fmt)
        assert out.endswith("\n") and report.verdict.split(":")[0] in out


def test_format_enum_is_exactly_text_json_markdown() -> None:
    assert [f.value for f in Format] == ["text", "json", "markdown"]
    assert set(SUFFIX) == set(Format)


# ---------------------------------------------------------------------------------------------- text


def test_text_starts_with_the_verdict_then_labelled_inputs() -> None:
    lines = render(serve_report(), Format.text).splitlines()
    assert lines[0] == "DIFFERENT: 5 critical, 4 warning, 8 info"
    assert lines[1].split() == ["a", "train.fp", "VERIFIED"]
    assert lines[2].split() == ["b", "serve.fp", "UNSIGNED"]


def test_text_groups_by_severity_critical_first_and_counts_info() -> None:
    text = render(serve_report(), Format.text)
    assert text.index("CRITICAL (5)") < text.index("WARNING (4)")
    assert "INFO" not in text and text.rstrip().endswith("8 info finding(s) not shown: descriptive, or no effect on "
                                                          "numbers (--verbose lists them)")  # fmt: skip
    verbose = render(serve_report(), Format.text, verbose=True)
    info = verbose[verbose.index("INFO (8)") :].splitlines()[1:]
    assert len(info) == 8 and all(line.startswith("  · ") for line in info)
    assert "path" in verbose and "path" not in text


def test_text_says_each_paragraph_once() -> None:
    lines = [line.strip() for line in render(serve_report(), Format.text, width=400).splitlines()]
    paragraphs = [line for line in lines if line.startswith(("why", "fix"))]
    bodies = [p.split(None, 1)[1] for p in paragraphs if p.split(None, 1)[1] != "same as above"]
    assert len(bodies) == len(set(bodies)), [b for b in bodies if bodies.count(b) > 1]


def test_the_most_consequential_finding_comes_first() -> None:
    findings = serve_report().findings
    critical = [f for f in findings if f.severity is Severity.critical]
    effects = [i for i, f in enumerate(critical) if f.kind == "probe.differs"]
    versions = [i for i, f in enumerate(critical) if f.kind == "package.version"]
    assert max(effects) < min(versions)  # a measured effect before a version change alone


def test_text_is_plain_unless_color_is_asked_for() -> None:
    assert "\x1b[" not in render(serve_report(), Format.text)
    assert "\x1b[" in render(serve_report(), Format.text, color=True)


def test_text_wraps_to_the_width() -> None:
    assert max(len(line) for line in render(serve_report(), Format.text, width=72).splitlines()) <= 72


@pytest.mark.parametrize("trust", ["verified", "unverified", "unsigned", "live"])
def test_every_format_labels_trust(trust: str) -> None:
    report = DiffReport("a.fp", "b.fp", (), a_trust=trust, b_trust=trust)
    for fmt in (Format.text, Format.markdown):
        assert render(report, fmt).count(trust.upper()) == 2
    doc = json.loads(render(report, Format.json))
    assert doc["a"]["trust"] == doc["b"]["trust"] == trust


# ---------------------------------------------------------------------------------------------- json


def _no_nan(text: str) -> Any:
    def reject(constant: str) -> None:
        raise AssertionError(f"JSON holds {constant}")

    return json.loads(text, parse_constant=reject)


def test_json_document_has_the_documented_shape() -> None:
    doc = _no_nan(render(serve_report(), Format.json))
    assert list(doc) == ["format", "version", "a", "b", "verdict", "equivalent", "worst", "counts", "findings"]
    assert (doc["format"], doc["version"], doc["worst"]) == ("envprint-diff", DIFF_JSON_VERSION, "critical")
    assert doc["counts"] == {"info": 8, "warning": 4, "critical": 5}
    keys = ["kind", "path", "severity", "identity", "title", "old", "new", "magnitude", "cause", "why", "remedy"]
    assert all(list(f) == keys for f in doc["findings"])
    gemm = next(f for f in doc["findings"] if f["path"] == "probes.blas_gemm_f32")
    assert set(gemm["magnitude"]) == {"max_ulp", "normwise", "fraction", "changed_flags", "outputs", "categorical"}


def test_json_never_holds_nan_or_infinity() -> None:
    odd = Finding(
        "custom.differs", "custom.x", Severity.info, math.nan, math.inf, "x", magnitude=Magnitude(normwise=math.inf)
    )
    doc = _no_nan(render(DiffReport("a", "b", (odd,)), Format.json))
    (f,) = doc["findings"]
    assert (f["old"], f["new"], f["magnitude"]["normwise"]) == ("nan", "inf", None)


# ------------------------------------------------------------------------------------------ markdown


def test_markdown_tables_serious_findings_and_folds_info() -> None:
    md = render(serve_report(), Format.markdown)
    assert md.startswith("### envprint diff: DIFFERENT: 5 critical, 4 warning, 8 info\n")
    rows = [line for line in md.splitlines() if line.startswith("| **")]
    assert len(rows) == 9 and rows[0].startswith("| **critical**") and rows[-1].startswith("| **warning**")
    assert "<details><summary>8 info findings</summary>" in md


def test_markdown_escapes_cells() -> None:
    f = Finding("custom.differs", "custom.x", Severity.warning, "a|b", "<script>", "x | <b>y</b>\nz")
    md = render(DiffReport("a", "b", (f,)), Format.markdown)
    row = next(line for line in md.splitlines() if line.startswith("| **warning**"))
    assert "x \\| &lt;b&gt;y&lt;/b&gt; z" in row and "<b>" not in md


def test_equivalent_report_has_no_table() -> None:
    md = render(EMPTY, Format.markdown)
    assert "EQUIVALENT: no differences" in md and "|---" not in md


def test_golden_dir_holds_only_what_regen_writes() -> None:
    written = {p.name for p in regen_golden.expected_files() if p.parent == GOLDEN}
    assert {p.name for p in Path(GOLDEN).iterdir()} == written


# ---------------------------------------------------------------------------------- envprint show


def _shown(tmp_path: Path, fp: Fingerprint, fmt: str) -> subprocess.CompletedProcess[str]:
    path = fp.save(tmp_path / "x.fp")
    return run_envprint(["show", "--format", fmt, str(path)], env={**host_env(), "COLUMNS": "200"})


def test_show_json_writes_non_finite_numbers_as_strings(tmp_path: Path, local_fingerprint: Fingerprint) -> None:
    fp = local_fingerprint.replace(custom={"inf": math.inf, "ninf": -math.inf, "nan": math.nan, "one": 1.5})
    proc = _shown(tmp_path, fp, "json")
    assert proc.returncode == 0, proc.stderr  # it used to crash (exit 70)
    doc = json.loads(proc.stdout, parse_constant=_no_nan)
    assert doc["fingerprint"]["custom"] == {"inf": "inf", "ninf": "-inf", "nan": "nan", "one": 1.5}
    rich = _shown(tmp_path, fp, "text")
    assert rich.returncode == 0 and "inf" in rich.stdout


def test_show_json_writes_bytes_in_untyped_data_as_escaped_text(tmp_path: Path, local_fingerprint: Fingerprint) -> None:
    # the policy is the untyped field: bytes can be there (custom holds scalars only)
    fp = local_fingerprint.replace(policy={"name": "p", "blob": b"ok\xff\x00", "text": [b"caf\xc3\xa9"]})
    proc = _shown(tmp_path, fp, "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["fingerprint"]["policy"]["blob"] == "ok\\xff\x00"
    assert doc["fingerprint"]["policy"]["text"] == ["café"]


@pytest.mark.parametrize("section", ["packages", "probes"])
def test_show_text_names_an_unavailable_packages_or_probes_section(
    tmp_path: Path, local_fingerprint: Fingerprint, section: str
) -> None:
    fp = local_fingerprint.replace(**{section: Unavailable("permission denied reading site-packages")})
    proc = _shown(tmp_path, fp, "text")
    assert proc.returncode == 0, proc.stderr  # it used to crash (exit 70)
    line = next(line for line in proc.stdout.splitlines() if f"{section}:" in line)
    assert "permission denied reading site-packages" in line


def test_findings_sharing_a_fix_and_a_change_are_said_once() -> None:
    # three BLAS libraries whose thread count moved the same way, under one fix: one "+" line names them
    def threads(path: str, title: str) -> Finding:
        return Finding("blas.threads", path, Severity.warning, 2, 1, title, remedy="unset OMP_NUM_THREADS")

    libraries = ("numpy/openblas", "scikit_learn/openmp", "scipy/openblas")
    findings = [threads(f"blas.libraries.{lib}.num_threads", f"BLAS {lib} threads 2 → 1") for lib in libraries]
    findings.append(threads("determinism.variables.OMP_NUM_THREADS", "OMP_NUM_THREADS unset → 1"))
    text = render(DiffReport("train.fp", "serve.fp", tuple(findings)), Format.text)
    assert "+ BLAS scikit_learn/openmp, scipy/openblas threads 2 → 1; OMP_NUM_THREADS unset → 1" in text
    assert text.count("threads 2 → 1") == 2  # the first finding's own line, and the merged one
