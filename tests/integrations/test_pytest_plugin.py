"""The pytest plugin, run through pytester: the session check and the `envprint_parity` fixture."""

from __future__ import annotations

import dataclasses
import importlib.metadata
from collections.abc import Iterator
from pathlib import Path

import pytest

import envprint
from envprint import parity, signing
from envprint.model import Unavailable
from envprint.probes import transforms

# the function, bound before anything imports the submodule of the same name (which would shadow it)
capture = envprint.capture

pytest_plugins = ["pytester"]

PASSING_TEST = "def test_nothing():\n    assert True\n"

# registers the training transform in the inner session; the test files bring the serving code
CONFTEST = """
import envprint

GOLDEN = [{"age": 30.0}, {"age": None}, {"age": 50.0}]


def fill_mean(rows):
    return {"age": [40.0 if r["age"] is None else r["age"] for r in rows]}


envprint.probe("fill_age", inputs=GOLDEN)(fill_mean)
"""


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keeps the transforms registered by inner sessions out of the rest of the suite."""
    monkeypatch.setattr(transforms, "_TRANSFORMS", {})
    yield


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    """Returns a fingerprint of this process (no probes) saved to a file."""
    return capture(probes=False, label="train").save(tmp_path / "train.fp")


def _with_numpy(fp: envprint.Fingerprint, version: str) -> envprint.Fingerprint:
    assert not isinstance(fp.packages, Unavailable)
    packages = dict(fp.packages)
    packages["numpy"] = dataclasses.replace(packages["numpy"], version=version)
    return fp.replace(packages=packages)


def test_plugin_is_installed_as_a_pytest11_entry_point() -> None:
    eps = importlib.metadata.entry_points(group="pytest11")
    assert any(ep.name == "envprint" and ep.value == "envprint.integrations.pytest_plugin" for ep in eps)


def test_matching_environment_passes(pytester: pytest.Pytester, baseline: Path) -> None:
    pytester.makepyfile(PASSING_TEST)
    result = pytester.runpytest(f"--envprint-baseline={baseline}")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"envprint: PASS against {baseline} (UNSIGNED): policy default: 0 violation(s)*"])
    result.stdout.fnmatch_lines(["*envprint environment check passed*"])


def test_violating_environment_fails_the_session_with_the_explanation(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    train = _with_numpy(capture(probes=False, label="train"), "1.0.0").save(tmp_path / "train.fp")
    pytester.makepyfile(PASSING_TEST)
    result = pytester.runpytest(f"--envprint-baseline={train}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1)  # the tests ran; the environment failed the session
    result.stdout.fnmatch_lines(
        [
            "*envprint environment check FAILED: the session fails*",
            "*✗ [[]critical[]] packages.numpy.version: numpy 1.0.0 → *",
            "*fix: *",
        ]
    )


def test_policy_option_is_applied(pytester: pytest.Pytester, tmp_path: Path) -> None:
    train = _with_numpy(capture(probes=False), "1.0.0").save(tmp_path / "train.fp")
    policy = tmp_path / "policy.toml"
    policy.write_text('[policy]\nname = "ci"\n\n[[policy.rules]]\nignore = "packages.numpy"\n')
    pytester.makepyfile(PASSING_TEST)
    result = pytester.runpytest(f"--envprint-baseline={train}", f"--envprint-policy={policy}")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["envprint: PASS against *policy ci: 0 violation(s)*"])


def test_baseline_must_verify_with_the_given_key(pytester: pytest.Pytester, tmp_path: Path) -> None:
    private, public = signing.generate_keypair(tmp_path / "train")
    _, other = signing.generate_keypair(tmp_path / "other")
    train = capture(probes=False).save(tmp_path / "train.fp", key=private)
    pytester.makepyfile(PASSING_TEST)
    assert pytester.runpytest(f"--envprint-baseline={train}", f"--envprint-key={public}").ret == pytest.ExitCode.OK
    refused = pytester.runpytest(f"--envprint-baseline={train}", f"--envprint-key={other}")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["*envprint: *"])


def test_unreadable_baseline_is_a_usage_error(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(PASSING_TEST)
    result = pytester.runpytest(f"--envprint-baseline={tmp_path / 'missing.fp'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*envprint: *missing.fp: no such file*"])


def test_inert_without_the_option(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(**kwargs: object) -> None:
        raise AssertionError("captured without --envprint-baseline")

    monkeypatch.setattr(envprint, "capture", refuse)  # what the plugin would call
    pytester.makepyfile(PASSING_TEST)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.OK
    assert "envprint:" not in result.stdout.str() and "envprint environment check" not in result.stdout.str()


def test_parity_fixture_against_the_baseline(pytester: pytest.Pytester, tmp_path: Path) -> None:
    parity.register_transform(
        lambda rows: {"age": [40.0 if r["age"] is None else r["age"] for r in rows]},
        name="fill_age",
        inputs=[{"age": 30.0}, {"age": None}, {"age": 50.0}],
    )
    train = parity.attach(capture(probes=False)).save(tmp_path / "train.fp")
    parity.unregister("fill_age")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        def zero_fill(rows):
            return {"age": [0.0 if r["age"] is None else r["age"] for r in rows]}


        def test_training_fill_matches(envprint_parity):
            assert envprint_parity("fill_age").passed


        def test_serving_fill_matches(envprint_parity):
            envprint_parity("fill_age", zero_fill)


        def test_unknown_probe(envprint_parity):
            envprint_parity("no_such_probe", zero_fill, inputs=[])
        """
    )
    result = pytester.runpytest(f"--envprint-baseline={train}")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*FAIL    fill_age: 1 of 3 value(s) outside rtol 1e-06, atol 0; "
            "worst: row 1, column 'age': 40.0 → 0.0 (|Δ| 40 > allowed 4e-05)*",
            "*the baseline records no transform probe 'no_such_probe' (recorded: fill_age)*",
        ]
    )


def test_parity_fixture_without_baseline_compares_with_the_registered_transform(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        def mean_fill(rows):
            return {"age": [40.0 if r["age"] is None else r["age"] for r in rows]}


        def zero_fill(rows):
            return {"age": [0.0 if r["age"] is None else r["age"] for r in rows]}


        def test_same(envprint_parity):
            envprint_parity("fill_age", mean_fill)


        def test_different(envprint_parity):
            envprint_parity("fill_age", zero_fill)


        def test_nothing_to_compare(envprint_parity):
            envprint_parity("fill_age")
        """
    )
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*row 1, column 'age': 40.0 → 0.0*", "*no --envprint-baseline*"])
