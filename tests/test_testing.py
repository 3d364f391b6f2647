"""envprint.testing: the fingerprint builders users' own tests (and envprint's goldens) are built from."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

import envprint
from envprint import codec
from envprint.model import Fingerprint, Package, Unavailable
from envprint.policy import PRESETS, evaluate
from envprint.testing import (
    bare_fingerprint,
    digest_of,
    edit_section,
    float_output,
    int_output,
    lines_output,
    make_fingerprint,
    make_meta,
    make_probes,
    probe_result,
    with_package,
    with_probe,
    with_variable,
)
from tests.signing_helpers import make_keys

GOLDEN = Path(__file__).parent / "golden" / "diff"


def _paths(report: envprint.DiffReport) -> set[str]:
    return {f.path for f in report.findings}


def test_importing_the_helpers_needs_neither_numpy_nor_pytest() -> None:
    code = "import sys, envprint.testing; print(sorted(m for m in ('numpy', 'pytest') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert proc.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------- fingerprints


def test_make_fingerprint_is_the_signed_golden_training_fingerprint() -> None:
    loaded = codec.read(GOLDEN / "train.fp", trusted_keys=[str(GOLDEN / "golden-test.pub")])
    assert loaded.trust == "verified"
    assert loaded.fingerprint == make_fingerprint()


def test_make_fingerprint_measures_every_section_but_the_absent_gpu() -> None:
    fp = make_fingerprint()
    unmeasured = [f.name for f in dataclasses.fields(fp) if isinstance(getattr(fp, f.name), Unavailable)]
    assert unmeasured == ["gpu"]
    assert set(fp.probes) == set(make_probes())  # type: ignore[arg-type]


def test_make_fingerprint_round_trips_through_a_signed_file(tmp_path: Path) -> None:
    private, public = make_keys(tmp_path / "keys")
    fp = make_fingerprint(custom={"run": "42"})
    loaded = codec.read(fp.save(tmp_path / "a.fp", key=private), trusted_keys=[public])
    assert (loaded.trust, loaded.fingerprint) == ("verified", fp)


def test_overrides_replace_whole_fields_and_unknown_names_are_refused() -> None:
    fp = make_fingerprint(env={"MKL_CBWR": "AVX2"}, meta=make_meta(label="serve", hostname="serve-1"))
    assert fp.env == {"MKL_CBWR": "AVX2"}
    assert (fp.meta.label, fp.meta.hostname, fp.meta.pid) == ("serve", "serve-1", 4242)
    with pytest.raises(TypeError, match="labels"):
        make_fingerprint(labels="serve")


def test_bare_fingerprint_has_metadata_only() -> None:
    fp = bare_fingerprint(label="deploy", custom={"stage": "canary"})
    gone = Unavailable("not measured in this test")
    assert (fp.meta.label, fp.custom) == ("deploy", {"stage": "canary"})
    assert (fp.python, fp.cpu, fp.blas, fp.determinism, fp.locale_time) == (gone,) * 5
    assert (fp.packages, fp.probes, fp.env) == ({}, {}, {})
    # two bare fingerprints differ only where a test makes them differ
    assert _paths(envprint.diff(bare_fingerprint(), bare_fingerprint(label="other"))) == {"meta.label"}


# ------------------------------------------------------------------------------------------ edits


def test_each_edit_is_the_one_difference_diff_reports() -> None:
    train = make_fingerprint()
    numpy = train.packages["numpy"]  # type: ignore[index]
    edits = {
        "determinism.variables.OPENBLAS_NUM_THREADS": with_variable(train, "OPENBLAS_NUM_THREADS", "1"),
        "packages.numpy.version": with_package(train, "numpy", dataclasses.replace(numpy, version="2.4.6")),
        "packages.tzdata": with_package(train, "tzdata", Package("2025.2", None, "pip", ("py2.py3-none-any",))),
        "probes.sort_ties": with_probe(train, "sort_ties", None),
        "cpu.flags": edit_section(train, "cpu", flags=("avx", "sse4_2")),
    }
    for path, edited in edits.items():
        assert _paths(envprint.diff(train, edited)) == {path}, path
    assert train == make_fingerprint()  # edits return copies


def test_edits_of_an_unmeasured_section_leave_the_fingerprint_as_it_is() -> None:
    bare = bare_fingerprint()
    assert edit_section(bare, "cpu", flags=()) is bare
    assert with_variable(bare, "OMP_NUM_THREADS", "1") is bare
    gone = make_fingerprint(packages=Unavailable("importlib.metadata failed"), probes=Unavailable("skipped"))
    assert with_package(gone, "numpy", None) is gone
    assert with_probe(gone, "sort_ties", None) is gone


# ----------------------------------------------------------------------------------------- probes


@pytest.mark.parametrize(
    ("setting", "changed"),
    [
        ({"blas_threads": 1}, "blas_gemm_f32"),
        ({"numpy": "2.4.6"}, "sort_ties"),
        ({"zone": "America/Los_Angeles"}, "time_tz"),
        ({"ftz": True}, "fpenv"),
    ],
)
def test_each_probe_setting_changes_the_probe_it_acts_on(setting: dict[str, object], changed: str) -> None:
    default, other = make_probes(), make_probes(**setting)  # type: ignore[arg-type]
    assert [name for name in default if default[name] != other[name]] == [changed]
    report = envprint.diff(make_fingerprint(), make_fingerprint(probes=other))
    assert _paths(report) == {f"probes.{changed}"}


def test_gemm_on_another_thread_count_differs_by_ulps_not_by_value() -> None:
    report = envprint.diff(make_fingerprint(), make_fingerprint(probes=make_probes(blas_threads=1)))
    (finding,) = report.findings
    assert finding.magnitude is not None and finding.magnitude.max_ulp == 2


def test_probe_outputs_sample_and_digest_their_values() -> None:
    out = float_output([1.0, 2.0, 3.0, 4.0], blocks=2)
    assert (out.shape, out.sample_index) == ((4,), (0, 2))
    assert out.samples == ((1.0).hex(), (3.0).hex())  # every other value, exactly
    assert len(out.blocks) == 2 and out.max_abs == (4.0).hex()
    assert float_output([1.0, 2.0, 3.0, 4.5], blocks=2).digest != out.digest
    assert lines_output(["a", "b"]).samples == ("a", "b") and int_output([3, 1]).samples == ("3", "1")
    result = probe_result("sort", {"idx": int_output([0, 1])}, {"stable": True})
    assert (result.status, result.stable, result.flags) == ("ok", True, {"stable": True})
    assert result.digest != probe_result("sort", {"idx": int_output([1, 0])}, {"stable": True}).digest
    assert digest_of("a", 1) == digest_of("a", 1) != digest_of("a", 2)


def test_the_module_docstring_example_holds() -> None:
    train = make_fingerprint()
    serve = with_variable(train, "OPENBLAS_NUM_THREADS", "1")
    assert envprint.diff(train, serve).verdict == "DIFFERENT: 1 warning"
    assert isinstance(train, Fingerprint)


def test_the_docs_examples_hold() -> None:
    # docs/testing.md: a user's policy tests over built fingerprints
    train = make_fingerprint()
    serve = with_variable(train, "OPENBLAS_NUM_THREADS", "1")
    result = evaluate(PRESETS["default"], envprint.diff(train, serve))
    assert [d.finding.path for d in result.violations] == ["determinism.variables.OPENBLAS_NUM_THREADS"]
    serve = edit_section(train, "cpu", isa_level="x86-64-v2", flags=("sse4_2",))
    result = evaluate(PRESETS["default"], envprint.diff(train, serve))
    assert result.violations == ()
    assert {d.finding.path for d in result.decisions} == {"cpu.isa_level", "cpu.flags"}
