"""Never pass what could not be measured: a section measured in training and unmeasurable at serving refuses."""

from __future__ import annotations

import json
import pathlib
from pathlib import Path

import numpy as np
import pytest

import envprint
from envprint import capturing, signing
from envprint._base import pending
from envprint.collect import COLLECTORS, Collector
from envprint.diffing import diff
from envprint.model import Package
from envprint.policy import PRESETS, evaluate
from envprint.serving import guard
from envprint.testing import FakeGpu, FakeNVML
from tests.conftest import host_env, run_envprint

SECTIONS = [c.section for c in COLLECTORS]
# an unbound fingerprint is refused by default; this test checks the environment only


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return signing.generate_keypair(tmp_path_factory.mktemp("keys") / "train")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path]) -> Path:
    """Returns a model directory whose signed fingerprint was captured in this process (with a fake GPU)."""
    directory = tmp_path_factory.mktemp("model")
    np.save(directory / "weights.npy", np.ones((4, 2), dtype=np.float32))
    fp = envprint.capture(probes=False, artifact=directory, nvml=FakeNVML([FakeGpu()]))
    fp.save(directory / "envprint.fp", key=keys[0])
    return directory


def _failing(section: str) -> tuple[Collector, ...]:
    def fail(_: object) -> object:
        raise PermissionError(f"{section}: permission denied (a locked-down serving container)")

    return tuple(Collector(c.section, fail) if c.section == section else c for c in COLLECTORS)


def test_the_eleven_collector_sections_are_the_ones_tested() -> None:
    assert len(SECTIONS) == 11
    assert set(SECTIONS) == set(envprint.Fingerprint.__dataclass_fields__) - {
        "meta", "probes", "artifact", "custom", "policy", "freshness", "golden_inputs",
    }  # fmt: skip


@pytest.mark.parametrize("preset", ["lenient", "default", "strict"])
@pytest.mark.parametrize("section", SECTIONS)
def test_a_section_unmeasurable_at_serving_refuses(
    section: str, preset: str, model: Path, keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capturing, "COLLECTORS", _failing(section))
    with pytest.raises(envprint.EnvironmentMismatch) as raised:
        guard(model, trusted_keys=[keys[1]], policy=preset, probes=False, nvml=FakeNVML([FakeGpu()]))
    violations = {d.finding.path: d for d in raised.value.result.violations}
    assert section in violations, sorted(violations)
    f = violations[section].finding
    assert f.kind == "measured.unavailable"
    assert "permission denied" in f.title  # the reason it could not be measured is named


def test_the_same_environment_passes(model: Path, keys: tuple[Path, Path]) -> None:
    result = guard(model, trusted_keys=[keys[1]], probes=False, nvml=FakeNVML([FakeGpu()]))
    assert result.passed and not result.violations


def test_not_yet_measured_warns_with_how_to_measure_it(local_fingerprint: envprint.Fingerprint) -> None:
    tf = {"version": "2.21.0", "visible_devices": "/device:CPU:0"}
    det = local_fingerprint.determinism
    assert not isinstance(det, envprint.Unavailable)
    train = local_fingerprint.replace(determinism=_with_framework(det, tf))
    later = {**tf, "visible_devices": pending("the TensorFlow runtime is not initialised yet; run one prediction")}
    serve = local_fingerprint.replace(determinism=_with_framework(det, later))
    for preset in ("default", "strict", "lenient"):
        result = evaluate(PRESETS[preset], diff(train, serve), serve)
        (decision,) = result.decisions
        assert (decision.outcome, decision.finding.kind) == ("warning", "measured.pending"), preset
        assert "run one prediction" in decision.finding.remedy or "prediction" in decision.finding.title


def _with_framework(det: object, fields: dict[str, object]) -> object:
    import dataclasses

    return dataclasses.replace(det, frameworks={"tensorflow": fields})  # type: ignore[type-var]


def test_a_path_or_bytes_entry_in_sys_path_still_measures_every_package() -> None:
    from envprint.collect import packages

    baseline = packages.collect()
    import sys

    with_objects = [pathlib.Path(p) if i % 2 else p for i, p in enumerate(sys.path)] + [b"/nonexistent", 42]
    assert packages.collect(with_objects) == baseline


def test_a_broken_distribution_is_one_recorded_problem(tmp_path: Path) -> None:
    from envprint.collect import packages

    good = tmp_path / "good-1.0.dist-info"
    good.mkdir()
    (good / "METADATA").write_text("Metadata-Version: 2.1\nName: good\nVersion: 1.0\n\n")
    bad = tmp_path / "bad-2.0.dist-info"
    bad.mkdir()
    (bad / "METADATA").mkdir()  # a directory where the file should be: reading it fails
    found = packages.collect([str(tmp_path)])
    assert found["good"].version == "1.0" and found["good"].unreadable is None
    assert found["bad"].unreadable is not None and found["bad"].version == "2.0"


def test_check_measures_packages_when_sitecustomize_appends_a_path(
    tmp_path: Path, keys: tuple[Path, Path], local_fingerprint: envprint.Fingerprint
) -> None:
    """The issue's repro: a pathlib.Path in sys.path lost the packages section, so a numerics change passed."""
    site = tmp_path / "sc"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import pathlib, sys\nsys.path.append(pathlib.Path('/srv/app'))\n")
    packages = local_fingerprint.packages
    assert isinstance(packages, dict) and "numpy" in packages
    numpy = packages["numpy"]
    moved = {**packages, "numpy": Package("1.0.0", None, numpy.installer, numpy.wheel_tags)}
    fp = local_fingerprint.replace(packages=moved)
    path = fp.save(tmp_path / "train.fp", key=keys[0])
    proc = run_envprint(
        ["check", str(path), "--key", str(keys[1]), "--no-probes", "-f", "json", "--env-only"],
        env=host_env(PYTHONPATH=str(site)),
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    refused = {d["path"] for d in doc["decisions"] if d["outcome"] == "violation"}
    assert "packages.numpy.version" in refused and "packages" not in refused


def test_one_path_is_recorded_the_same_whatever_home_is(tmp_path: Path) -> None:
    """Issue 13: one absolute path read '~/…' on one side and '/home/…' on the other when HOME differed."""
    path = "/home/alice/.terraformrc"
    outs = []
    for home in ("/home/alice", "/root"):
        proc = run_envprint(
            ["capture", "-q", "--no-probes", "-o", str(tmp_path / "x.fp")],
            env=host_env(HOME=home, NCCL_DEBUG_FILE=path, CUDA_CACHE_PATH=path),
        )
        assert proc.returncode == 0, proc.stderr
        shown = json.loads(run_envprint(["show", "-f", "json", str(tmp_path / "x.fp")]).stdout)
        outs.append(shown["fingerprint"]["env"]["CUDA_CACHE_PATH"])
    assert outs[0] == outs[1] == "/home/~/.terraformrc"
