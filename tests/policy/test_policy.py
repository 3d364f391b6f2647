"""Policies: rules decide finding by finding; TOML files load or fail naming the line."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import pytest

from envprint.diffing import diff
from envprint.errors import PolicyError
from envprint.policy import (
    PRESETS,
    Exact,
    Ignore,
    PackageVersion,
    Policy,
    ProbeTolerance,
    Waiver,
    combine,
    effective_policy,
    evaluate,
    load_policy,
    resolve_policy,
)
from envprint.report import DiffReport, Finding, Magnitude, Severity
from envprint.testing import make_fingerprint, with_probe

TODAY = datetime.date(2026, 11, 26)


def finding(path: str, kind: str = "field", severity: Severity = Severity.warning, old: object = "a",
            new: object = "b", magnitude: Magnitude | None = None, identity: bool = True) -> Finding:  # fmt: skip
    return Finding(kind, path, severity, old, new, f"{old} → {new}", magnitude=magnitude, identity=identity)


def report(*findings: Finding) -> DiffReport:
    return DiffReport("train.fp", "serve.fp", tuple(findings))


def outcomes(policy: Policy, *findings: Finding) -> list[str]:
    return [d.outcome for d in evaluate(policy, report(*findings), today=TODAY).decisions]


ULP3 = Magnitude(max_ulp=3, normwise=2e-7, fraction=0.1, outputs=("c",))
ULP1132 = Magnitude(max_ulp=1132, normwise=6e-7, fraction=0.5, outputs=("c",))
TIES = Magnitude(categorical=True, outputs=("argsort",))


def test_default_preset_decisions() -> None:
    default = PRESETS["default"]
    got = outcomes(
        default,
        finding("packages.numpy.version", "package.version", Severity.critical, "2.3.5", "2.4.6"),
        finding("packages.rich.version", "package.version", Severity.warning, "13.0", "14.0"),
        finding("python.version", "python.version", Severity.warning, "3.11.7", "3.11.9"),
        finding("python.version", "python.version", Severity.critical, "3.11.7", "3.12.1"),
        finding("determinism.variables.OPENBLAS_NUM_THREADS", "thread.variable", Severity.warning, None, "1"),
        finding("gpu.driver_version", "gpu.driver", Severity.warning, "550.54.15", "550.90.07"),
        finding("gpu.driver_version", "gpu.driver", Severity.warning, "550.54.15", "560.28.03"),
        finding("probes.ufunc_f32", "probe.differs", Severity.warning, magnitude=ULP3),
        finding("probes.blas_gemm_f32", "probe.differs", Severity.warning, magnitude=ULP1132),
        finding("probes.sort_ties", "probe.differs", Severity.critical, magnitude=TIES),
        finding("cpu.model_name", "cpu.model", Severity.warning),
        finding("meta.hostname", "descriptive", Severity.info, identity=False),
    )
    assert got == [
        "violation",  # numerics package exact
        "warning",  # other packages warn
        "allowed",  # python patch
        "violation",  # python minor
        "violation",  # thread variable
        "allowed",  # driver minor
        "violation",  # driver major
        "allowed",  # 3 ULP within the default tolerance
        "violation",  # 1132 ULP beyond it
        "violation",  # categorical: tolerances never apply
        "warning",  # cpu model alone: probes decide
        "info",  # descriptive
    ]


def test_strict_refuses_every_identity_difference_and_lenient_only_critical() -> None:
    ulp = finding("probes.ufunc_f32", "probe.differs", Severity.warning, magnitude=ULP3)
    cpu = finding("cpu.model_name", "cpu.model", Severity.warning)
    ties = finding("probes.sort_ties", "probe.differs", Severity.critical, magnitude=TIES)
    host = finding("meta.hostname", "descriptive", Severity.info, identity=False)
    assert outcomes(PRESETS["strict"], ulp, cpu, ties, host) == ["violation", "violation", "violation", "info"]
    assert outcomes(PRESETS["lenient"], ulp, cpu, ties, host) == ["allowed", "warning", "violation", "info"]


def test_waiver_waives_until_expiry_then_says_it_expired() -> None:
    f = finding("determinism.variables.OPENBLAS_NUM_THREADS", "thread.variable", old=None, new="1")
    active = Policy("p", PRESETS["default"].rules, (Waiver("INC-7 pinned to 1 thread", TODAY, path="determinism.*"),))
    d = evaluate(active, report(f), today=TODAY).decisions[0]
    assert (d.outcome, d.rule) == ("waived", "waiver until 2026-11-26: INC-7 pinned to 1 thread")
    later = evaluate(active, report(f), today=TODAY + datetime.timedelta(days=1)).decisions[0]
    assert later.outcome == "violation"
    assert "waiver expired on 2026-11-26 (INC-7 pinned to 1 thread)" in (later.note or "")


def test_version_specifier_checked_even_without_a_difference(local_fingerprint: object) -> None:
    import numpy

    fp = local_fingerprint
    ok = Policy("p", (PackageVersion(package="numpy", version=f"=={numpy.__version__}"),))
    assert evaluate(ok, report(), fp, today=TODAY).passed  # type: ignore[arg-type]
    bad = Policy("p", (PackageVersion(package="NumPy", version="<1.0"),))
    result = evaluate(bad, report(), fp, today=TODAY)  # type: ignore[arg-type]
    assert [d.finding.kind for d in result.violations] == ["policy.version"]
    assert result.violations[0].note == f"{numpy.__version__} does not satisfy <1.0"
    changed = finding("packages.numpy.version", "package.version", Severity.critical, "1.0", numpy.__version__)
    assert evaluate(ok, report(changed), fp, today=TODAY).decisions[0].outcome == "allowed"  # type: ignore[arg-type]


def test_ignore_and_group_tolerance() -> None:
    policy = Policy("p", (Ignore(ignore="locale_time.locale.LC_MESSAGES"), ProbeTolerance(group="blas", max_ulp=2000)))
    msgs = finding("locale_time.locale.LC_MESSAGES", "locale", Severity.critical)
    blas = finding("probes.blas_gemm_f32", "probe.differs", magnitude=ULP1132, old={"group": "blas"})
    assert outcomes(policy, msgs, blas) == ["ignored", "allowed"]


def test_combine_takes_the_strictest_decision() -> None:
    f = finding("probes.ufunc_f32", "probe.differs", magnitude=ULP3)
    lenient = evaluate(PRESETS["lenient"], report(f), today=TODAY)
    strict = evaluate(PRESETS["strict"], report(f), today=TODAY)
    assert combine([lenient, strict]).decisions[0].outcome == "violation"
    assert combine([lenient]).passed


def test_embedded_policy_is_tightened_not_loosened_unless_explicit(caplog: pytest.LogCaptureFixture) -> None:
    signed = PRESETS["strict"].to_data()
    policies, text = effective_policy(signed, PRESETS["lenient"])
    assert [p.name for p in policies] == ["strict", "lenient"] and "signed" in text
    override = Policy("ops", (), override_embedded=True)
    import logging

    with caplog.at_level(logging.WARNING, logger="envprint"):
        policies, text = effective_policy(signed, override, log=logging.getLogger("envprint"))
    assert [p.name for p in policies] == ["ops"]
    assert "loosened on purpose" in caplog.text


POLICY_TOML = """\
[policy]
extends = "default"
fail_on = "warning"

[[policy.rules]]
package = "numpy"
version = "~=2.4.0"

[[policy.rules]]
probe = "blas_*"
max_ulp = 64
max_normwise = 1e-6

[[policy.waivers]]
path = "determinism.variables.OMP_NUM_THREADS"
reason = "serving pods pin OMP threads (INC-42)"
expires = 2027-01-31
"""


def test_valid_policy_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY_TOML)
    policy = load_policy(path)
    assert policy.fail_on is Severity.warning
    assert policy.rules[0] == PackageVersion(package="numpy", version="~=2.4.0")
    assert policy.rules[1] == ProbeTolerance(probe="blas_*", max_ulp=64, max_normwise=1e-6)
    assert policy.rules[2:] == PRESETS["default"].rules
    assert policy.waivers == (
        Waiver(
            "serving pods pin OMP threads (INC-42)",
            datetime.date(2027, 1, 31),
            path="determinism.variables.OMP_NUM_THREADS",
        ),
    )
    assert resolve_policy(path) == policy
    assert resolve_policy("strict") is PRESETS["strict"]


def test_pyproject_table_loads(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n\n[tool.envprint.policy]\nextends = "lenient"\nallow_unsigned = true\n')
    policy = load_policy(path)
    assert policy.allow_unsigned is True
    assert policy.rules == PRESETS["lenient"].rules


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[policy]\nfail_om = 'critical'\n", r"policy.toml:2: unknown key 'fail_om'"),
        ("[policy]\nfail_on = 'fatal'\n", r"policy.toml:2: fail_on = 'fatal': use one of info, warning, critical"),
        ("[policy]\nextends = 'paranoid'\n", r"policy.toml:2: extends = 'paranoid': not a preset"),
        (
            "[policy]\n\n[[policy.rules]]\nexact = 'a'\nmax_ulps = 3\n",
            r"policy.toml:5: \[\[policy.rules\]\] #1: unknown rule key 'max_ulps'",
        ),
        (
            "[policy]\n[[policy.rules]]\npackage = 'numpy'\nversion = '>>2'\n",
            r"policy.toml:4: .*not a PEP 440 specifier",
        ),
        ("[policy]\n[[policy.rules]]\nprobe = 'x'\n", r"policy.toml:3: .*needs at least one of max_ulp"),
        ("[policy]\n[[policy.rules]]\nexact = 'a'\nignore = 'b'\n", r"policy.toml:4: .*exactly one of"),
        ("[policy]\n[[policy.rules]]\nprobe = 'x'\nmax_ulp = -1\n", r"policy.toml:4: .*non-negative integer"),
        ("[policy]\n[[policy.waivers]]\npath = 'x'\nexpires = 2027-01-01\n", r"policy.toml:2: .*needs a reason"),
        ("[policy]\n[[policy.waivers]]\npath = 'x'\nreason = 'r'\nexpires = 'soon'\n", r"policy.toml:5: .*not a date"),
        ("[policy]\n[[policy.waivers]]\nreason = 'r'\nexpires = 2027-01-01\n", r"policy.toml:2: .*needs path"),
        ("[policy\n", r"invalid TOML"),
        ("[other]\n", r"no \[policy\] table"),
    ],
)
def test_malformed_policy_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=message):
        load_policy(path)


def test_unknown_policy_name_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="unknown policy 'paranoid'"):
        resolve_policy("paranoid")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_policy_data_round_trips_exactly(name: str) -> None:
    from envprint.policy import from_data

    policy = Policy("custom", (PackageVersion(package="numpy", version="~=2.4"), *PRESETS[name].rules),
                    (Waiver("r", TODAY, path="x.*"),), PRESETS[name].fail_on, PRESETS[name].identity_exact)  # fmt: skip
    assert from_data(policy.to_data(), source="<data>") == policy


def test_default_exact_rules_leave_info_findings_informational() -> None:
    installer = finding("packages.numpy.installer", "package.installer", Severity.info, "pip", "uv")
    cuda = finding("determinism.frameworks.torch.cuda_initialized", "framework.setting", Severity.info, False, True)
    nvml = finding("gpu.nvml_version", "gpu.nvml", Severity.warning, "12.550.54.15", "12.550.90.07")
    assert outcomes(PRESETS["default"], installer, cuda, nvml) == ["warning", "info", "allowed"]
    own = Policy("own", (Exact(exact="packages.numpy.installer"),))
    assert outcomes(own, installer) == ["violation"]  # a rule without severity applies to everything


def test_unmeasured_in_reference_only_warns_but_unmeasured_at_serving_refuses() -> None:
    gone = {"$unavailable": "runtime not initialised"}
    devices = "determinism.frameworks.tensorflow.visible_devices"
    learned = finding(devices, "measured.unavailable", Severity.warning, gone, "CPU:0")
    lost = finding(devices, "measured.unavailable", Severity.warning, "CPU:0", gone)
    assert outcomes(PRESETS["default"], learned, lost) == ["warning", "violation"]


@pytest.mark.parametrize("text", ["[policy]\nfail_on = [1]\n", "[policy]\nextends = {a = 1}\n"])
def test_wrong_types_for_scalar_keys_are_policy_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=r"policy\.toml:2:"):
        load_policy(path)


def test_binary_deep_and_special_policy_files_are_policy_errors(tmp_path: Path) -> None:
    import os

    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe[policy]")
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 3000 + "]" * 3000 + "\n")
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    for path, message in ((binary, "not UTF-8"), (deep, "invalid TOML"), (fifo, "not a regular file")):
        with pytest.raises(PolicyError, match=message):
            load_policy(path)


def test_a_probe_skipped_at_serving_is_never_passed_silently() -> None:
    # the reference measured a BLAS probe; serving skipped it (time budget): its bits were not checked
    reference = make_fingerprint()
    name = next(n for n, r in reference.probes.items() if r.group == "blas" and r.status == "ok")
    ran = reference.probes[name]
    skipped = dataclasses.replace(ran, status="skipped", digest="", outputs={}, reason="time budget 1 s spent (1.2 s)")
    serving = with_probe(reference, name, skipped)
    found = [f for f in diff(reference, serving).findings if f.path == f"probes.{name}"]
    assert [(f.kind, f.severity) for f in found] == [("probe.skipped", Severity.warning)]
    # default reports it as a warning (listed, counted), strict refuses; skipped only in the reference: info
    assert outcomes(PRESETS["default"], *found) == ["warning"]
    assert outcomes(PRESETS["strict"], *found) == ["violation"]
    backward = [f for f in diff(serving, reference).findings if f.path == f"probes.{name}"]
    assert [(f.kind, f.severity) for f in backward] == [("probe.skipped", Severity.info)]
