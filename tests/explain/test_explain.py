"""The explanation catalogue: complete, well-formed templates, and docs/explanations.md in sync with it."""

from __future__ import annotations

import re
import string
import subprocess
import sys
from pathlib import Path

import pytest

from envprint.explain import CATALOGUE, KINDS, PROBE_GROUPS, PROBE_REMEDIES, catalogue_markdown, explain
from envprint.probes import GROUPS
from envprint.report import Finding, Severity

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDERS = {"name", "old", "new", "set_old", "call"}


def finding(kind: str, path: str, old: object, new: object, group: str | None = None) -> Finding:
    if group is not None:
        old = {"group": group, "digest": "x"}
    return Finding(kind, path, Severity.warning, old, new, "title")


@pytest.mark.parametrize("kind", KINDS)
def test_every_entry_has_a_title_a_short_why_and_a_remedy(kind: str) -> None:
    e = CATALOGUE[kind]
    assert e.kind == kind and e.title and e.remedy
    sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", e.why) if s]
    assert 1 <= len(sentences) <= 3, e.why


@pytest.mark.parametrize("kind", KINDS)
def test_remedy_templates_use_known_placeholders_only(kind: str) -> None:
    fields = {f for _, f, _, _ in string.Formatter().parse(CATALOGUE[kind].remedy) if f is not None}
    assert fields <= PLACEHOLDERS


def test_variable_remedies_restore_the_reference_value() -> None:
    set_it = explain(finding("determinism.threads", "determinism.variables.OPENBLAS_NUM_THREADS", "2", "1"))[1]
    unset_it = explain(finding("determinism.threads", "determinism.variables.OPENBLAS_NUM_THREADS", None, "1"))[1]
    assert set_it.startswith("export OPENBLAS_NUM_THREADS=2  #")  # a line to paste, then a shell comment
    assert unset_it.startswith("unset OPENBLAS_NUM_THREADS  #")
    assert explain(finding("time.tz_variable", "locale_time.tz_env", "UTC", "Asia/Tokyo"))[1].startswith(
        "export TZ=UTC"
    )


def test_package_remedy_pins_the_reference_version() -> None:
    remedy = explain(finding("package.version", "packages.numpy.version", "2.3.5", "2.4.6"))[1]
    assert remedy == "pip install 'numpy==2.3.5'"


def test_framework_remedies_are_real_calls() -> None:
    tf32 = finding("framework.precision", "determinism.frameworks.tensorflow.tensor_float_32", True, False)
    assert explain(tf32)[1] == "tf.config.experimental.enable_tensor_float_32_execution(True)"
    threads = finding("framework.threads", "determinism.frameworks.torch.num_threads", 4, 2)
    assert explain(threads)[1] == "torch.set_num_threads(4)"
    precision = finding(
        "framework.precision", "determinism.frameworks.torch.float32_matmul_precision", "highest", "high"
    )
    assert explain(precision)[1] == "torch.set_float32_matmul_precision('highest')"


def test_probe_why_starts_with_what_the_group_does_to_a_model() -> None:
    why, remedy = explain(finding("probe.differs", "probes.sort_ties", None, None, group="sort"))
    assert why.startswith("argsort tie order changes, so top-k features and ranked ids can change.")
    assert remedy == CATALOGUE["probe.differs"].remedy
    assert explain(finding("probe.differs", "probes.fpenv", None, None, group="fpenv"))[1] == PROBE_REMEDIES["fpenv"]


def test_every_probe_group_has_an_effect_sentence() -> None:
    assert set(PROBE_GROUPS) == set(GROUPS)


def test_docs_explanations_md_is_generated_from_the_catalogue() -> None:
    docs = (ROOT / "docs" / "explanations.md").read_text(encoding="utf-8")
    assert docs == catalogue_markdown(), "run: .venv/bin/python scripts/regen_golden.py"
    for kind in KINDS:
        assert f"## `{kind}`" in docs


def test_python_m_envprint_explain_prints_the_docs_page() -> None:
    out = subprocess.run([sys.executable, "-m", "envprint.explain"], capture_output=True, text=True, check=True)
    assert out.stdout == catalogue_markdown()
