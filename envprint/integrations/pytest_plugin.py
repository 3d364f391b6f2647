"""pytest plugin: check the test environment against a training fingerprint, and transform parity.

Installed with envprint through the ``pytest11`` entry point (name ``envprint``; ``-p no:envprint``
turns it off)::

    pytest --envprint-baseline=model/envprint.fp [--envprint-policy POLICY] [--envprint-key train.pub]

captures this test process's environment at session start (after the conftest.py files are
imported, so their framework settings are seen), re-runs the probes the baseline recorded, diffs,
and evaluates the policy: the one signed into the baseline, tightened by ``--envprint-policy``
(a preset or TOML file). On a violation the explanation is printed in the terminal summary and
the session fails (exit status 1) after the tests ran. With ``--envprint-key`` the baseline must
verify first. Without ``--envprint-baseline`` the plugin only adds its options and the fixture:
it captures nothing.

The ``envprint_parity`` fixture asserts that a transform matches a transform probe recorded in
the baseline (`envprint.parity`)::

    def test_serving_fill_matches_training(envprint_parity):
        envprint_parity("fill_missing", serving.fill_missing)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from envprint import parity
from envprint.codec import Loaded, read
from envprint.errors import EnvprintError
from envprint.parity import ProbeParity
from envprint.policy import PolicyResult, resolve_policy
from envprint.render.parity import parity_lines
from envprint.render.policy import violations_text
from envprint.report import DiffReport
from envprint.serving import compare_live

__all__ = ["envprint_parity", "pytest_addoption", "pytest_configure"]

_BASELINE: pytest.StashKey[Loaded] = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Adds the --envprint-* options."""
    group = parser.getgroup("envprint", "envprint: environment and transform parity with a training fingerprint")
    group.addoption(
        "--envprint-baseline",
        metavar="FP",
        default=None,
        help="Training fingerprint (.fp): fail the session when this environment violates the policy.",
    )
    group.addoption(
        "--envprint-policy",
        metavar="POLICY",
        default=None,
        help="Policy preset (strict, default, lenient) or TOML file, on top of the one signed into the baseline.",
    )
    group.addoption(
        "--envprint-key",
        metavar="PUB",
        action="append",
        default=[],
        help="Trusted public key or keyring: the baseline must verify with it (repeatable).",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Registers the environment check when --envprint-baseline is given (nothing happens otherwise)."""
    if config.getoption("envprint_baseline"):
        config.pluginmanager.register(EnvironmentCheck(config), "envprint-environment-check")


class EnvironmentCheck:
    """The session-level check: capture at session start, diff, policy, fail the session on a violation."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.report: DiffReport | None = None
        self.result: PolicyResult | None = None
        self.baseline = ""

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Captures and checks the environment before the terminal header is written."""
        try:
            self._check()
        except EnvprintError as e:
            raise pytest.UsageError(f"envprint: {e.diagnostics()}") from None

    def _check(self) -> None:
        path = self.config.getoption("envprint_baseline")
        keys = self.config.getoption("envprint_key") or None
        policy = self.config.getoption("envprint_policy")
        loaded = read(path, trusted_keys=keys)
        self.config.stash[_BASELINE] = loaded
        self.baseline = f"{path} ({loaded.label})"
        comparison = compare_live(
            loaded.fingerprint,
            reference=self.baseline,
            reference_trust=loaded.trust,
            local=resolve_policy(policy) if policy else None,
            live_label="this test session",
        )
        self.report, self.result = comparison.report, comparison.result

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        """Returns the header line naming the baseline and the verdict."""
        if self.result is None:
            return []
        state = "PASS" if self.result.passed else "FAIL"
        return [f"envprint: {state} against {self.baseline}: {self.result.summary()}"]

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Writes the violations, each with why it matters and how to fix it."""
        if self.result is None or self.report is None:
            return
        passed = self.result.passed
        title = "envprint environment check " + ("passed" if passed else "FAILED: the session fails")
        terminalreporter.section(title, sep="=", green=passed, red=not passed, bold=True)
        terminalreporter.line(f"{self.report.verdict} — {self.result.summary()}")
        body = violations_text(self.result)
        if body:
            terminalreporter.line(body)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Makes the exit status 1 when the environment violates the policy and the tests passed."""
        if self.result is not None and not self.result.passed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def envprint_parity(request: pytest.FixtureRequest) -> Callable[..., ProbeParity]:
    """Returns ``check(name, fn=None, *, inputs=None)``, asserting fn matches transform probe `name`.

    With --envprint-baseline, `fn` (default: the function registered as `name`) runs on the probe's
    inputs (default: the registered ones) and is compared with what the baseline recorded, within
    the baseline's tolerance; a mismatch fails the test naming the rows and columns. Without a
    baseline, `fn` is compared with the registered function run now (a round-trip parity test); the
    test is skipped when there is nothing to compare with.
    """
    config = request.config

    def check(name: str, fn: Callable[[Any], Any] | None = None, *, inputs: Any = None) -> ProbeParity:
        registered = parity.get(name)
        loaded = config.stash.get(_BASELINE, None)
        if loaded is None:
            if registered is None or fn is None or fn is registered.fn:
                pytest.skip(f"envprint_parity({name!r}): no --envprint-baseline and nothing registered to compare with")
            recorded = registered.record()
        else:
            recorded_or_none = parity.recorded(loaded.fingerprint).get(name)
            if recorded_or_none is None:
                known = ", ".join(parity.recorded(loaded.fingerprint)) or "none"
                pytest.fail(f"the baseline records no transform probe {name!r} (recorded: {known})", pytrace=False)
            recorded = recorded_or_none
        run = fn if fn is not None else (registered.fn if registered is not None else None)
        data = inputs if inputs is not None else (registered.inputs if registered is not None else None)
        if run is None or data is None:
            pytest.fail(f"envprint_parity({name!r}): not registered here, so pass fn and inputs=", pytrace=False)
        if registered is not None and inputs is None:
            labels = registered.row_labels
        else:
            labels = data.labels if isinstance(data, parity.EdgeCases) else None
        probe = parity.Transform(name, run, data, row_labels=labels, version=recorded.version)
        result = parity.compare(recorded, probe.record(), name=name)
        if not result.passed:
            pytest.fail("\n".join(parity_lines(result)), pytrace=False)
        return result

    return check
