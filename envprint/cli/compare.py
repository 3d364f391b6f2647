"""`envprint diff`: explain every difference between two fingerprints."""

from __future__ import annotations

import enum
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from envprint._files import atomic_write
from envprint.cli._app import app, key_paths, stderr
from envprint.codec import read
from envprint.diffing import diff
from envprint.policy import resolve_policy
from envprint.policy.load import judge
from envprint.render import Format as DiffFormat
from envprint.render import render
from envprint.report import Severity


class FailOn(str, enum.Enum):
    """Thresholds of `envprint diff --fail-on`: the lowest severity that makes the exit status 1."""

    info = "info"
    warning = "warning"
    critical = "critical"


@app.command(name="diff")
def diff_(
    a: Annotated[Path, typer.Argument(help="Reference fingerprint (.fp), e.g. the training one.")],
    b: Annotated[Path, typer.Argument(help="Fingerprint to compare with it, e.g. the serving one.")],
    format: Annotated[
        DiffFormat, typer.Option("--format", "-f", envvar="ENVPRINT_DIFF_FORMAT", help="Output format.")
    ] = DiffFormat.text,
    key: Annotated[
        list[Path] | None,
        typer.Option(
            "--key",
            envvar="ENVPRINT_TRUSTED_KEYS",
            help="Trusted public key or keyring (repeatable); signed files must verify, else exit 3.",
        ),
    ] = None,
    require_signed: Annotated[
        bool,
        typer.Option(
            "--require-signed",
            envvar="ENVPRINT_REQUIRE_SIGNED",
            help="With --key: an unsigned file is untrusted too (exit 3) instead of being labelled UNSIGNED.",
        ),
    ] = False,
    policy: Annotated[
        str | None,
        typer.Option(
            envvar="ENVPRINT_POLICY",
            help="Judge the differences by this policy (preset or TOML file), tightening the policy signed into A "
            "exactly as `envprint check` does: exit 1 only on violations.",
        ),
    ] = None,
    fail_on: Annotated[
        FailOn,
        typer.Option("--fail-on", envvar="ENVPRINT_FAIL_ON", help="Exit 1 when a finding is at least this severe."),
    ] = FailOn.warning,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", envvar="ENVPRINT_DIFF_OUTPUT", help="Write the report to this file instead of stdout."
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "-v", "--verbose", envvar="ENVPRINT_VERBOSE", help="Text: also list info findings, with paths and kinds."
        ),
    ] = False,
) -> None:
    """Explain every difference between two fingerprints: exit 0 equivalent, 1 different, 2 unreadable, 3 untrusted."""
    report, reference, serving = _diff_report(a, b, key, require_signed=require_signed)
    color = output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    result = None
    if policy is not None:
        result, _ = judge(reference.policy, resolve_policy(policy), report, serving, log=logging.getLogger("envprint"))
    width = shutil.get_terminal_size((100, 24)).columns
    text = render(report, format, width=width, color=color, policy=result, verbose=verbose)
    status = result.exit_code if result is not None else report.exit_status(Severity[fail_on.value])
    if output is None:
        sys.stdout.write(text)
    else:
        atomic_write(output, text.encode())
        stderr().print(f"wrote {output}: {report.verdict}")
    raise typer.Exit(status)


def _diff_report(a: Path, b: Path, keys: list[Path] | None, *, require_signed: bool = False) -> Any:
    """Returns (DiffReport, fingerprint a, fingerprint b) of two files; signed ones are verified first with keys."""
    trusted = key_paths(keys)
    la = read(a, trusted_keys=trusted, require_signature=require_signed)
    lb = read(b, trusted_keys=trusted, require_signature=require_signed)
    report = diff(la.fingerprint, lb.fingerprint, a_label=str(a), b_label=str(b), a_trust=la.trust, b_trust=lb.trust)
    return report, la.fingerprint, lb.fingerprint
