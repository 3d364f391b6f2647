"""`envprint check` (the serving guard as a command) and `envprint diff` (two fingerprints)."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from envprint.cli._app import FormatOption, TextOrJson, app, key_paths, stderr
from envprint.render import Format as DiffFormat


@app.command()
def check(
    artifact_or_fp: Annotated[Path, typer.Argument(help="Model directory or file (or its .fp) to check.")],
    key: Annotated[
        list[Path] | None,
        typer.Option("--key", envvar="ENVPRINT_TRUSTED_KEYS", help="Trusted public key or keyring (repeatable)."),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(
            envvar="ENVPRINT_POLICY",
            help="Serving policy (strict, default, lenient or a TOML file); it tightens the policy signed into "
            "the fingerprint [default: the signed policy, else default].",
        ),
    ] = None,
    no_probes: Annotated[
        bool, typer.Option("--no-probes", envvar="ENVPRINT_NO_PROBES", help="Do not re-run the probes.")
    ] = False,
    no_verify_artifact: Annotated[
        bool,
        typer.Option(
            "--no-verify-artifact", envvar="ENVPRINT_NO_VERIFY_ARTIFACT", help="Skip re-hashing the model files."
        ),
    ] = False,
    import_: Annotated[
        list[str] | None,
        typer.Option("--import", envvar="ENVPRINT_IMPORT", help="Import MODULE first so its state is seen."),
    ] = None,
    format: FormatOption = TextOrJson.text,
) -> None:
    """Serving-startup check: exit 0 pass, 1 refused, 2 usage/unreadable, 3 untrusted (for entrypoints and probes)."""
    from envprint.capture import import_modules
    from envprint.errors import EnvironmentMismatch
    from envprint.guard import guard
    from envprint.render import policy as render

    import_modules(import_ or ())
    try:
        result = guard(
            artifact_or_fp,
            policy=policy,
            trusted_keys=key_paths(key),
            probes=not no_probes,
            verify_artifact=not no_verify_artifact,
        )
        status = 0
    except EnvironmentMismatch as e:
        if e.result is None:
            raise
        result, status = e.result, 1
    if format is TextOrJson.json:
        sys.stdout.write(render.guard_json(result) + "\n")
    else:
        sys.stdout.write(render.guard_text(result) + "\n")
    if status:
        raise typer.Exit(status)


# --------------------------------------------------------------------------------------------- diff


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
            help="Judge the differences by this policy (preset or TOML file): exit 1 only on violations.",
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
) -> None:
    """Explain every difference between two fingerprints: exit 0 equivalent, 1 different, 2 unreadable, 3 untrusted."""
    import os
    import shutil

    from envprint.diff import Severity
    from envprint.render import render

    report, serving = _diff_report(a, b, key, require_signed=require_signed)
    color = output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    text = render(report, format, width=shutil.get_terminal_size((100, 24)).columns, color=color)
    status = report.exit_status(Severity[fail_on.value])
    if policy is not None:
        from envprint.policy import evaluate, resolve_policy
        from envprint.render.policy import policy_text

        result = evaluate(resolve_policy(policy), report, serving)
        status = result.exit_code
        if format is DiffFormat.json:
            text = _with_policy_json(text, result)
        else:
            text = f"{text.rstrip()}\n\n{policy_text(result, markdown=format is DiffFormat.markdown)}\n"
    if output is None:
        sys.stdout.write(text)
    else:
        from envprint.codec import atomic_write

        atomic_write(output, text.encode())
        stderr().print(f"wrote {output}: {report.verdict}")
    raise typer.Exit(status)


def _diff_report(a: Path, b: Path, keys: list[Path] | None, *, require_signed: bool = False) -> Any:
    """Returns (DiffReport, fingerprint b) of two files; signed ones are verified first when keys are given."""
    from envprint.codec import read
    from envprint.diff import diff

    trusted = [str(k) for k in keys] if keys else None
    la = read(a, trusted_keys=trusted, require_signature=require_signed)
    lb = read(b, trusted_keys=trusted, require_signature=require_signed)
    report = diff(la.fingerprint, lb.fingerprint, a_label=str(a), b_label=str(b), a_trust=la.trust, b_trust=lb.trust)
    return report, lb.fingerprint


def _with_policy_json(text: str, result: Any) -> str:
    """Returns the JSON diff document with the policy's decisions added under "policy"."""
    import json

    from envprint.render.policy import policy_data

    doc = json.loads(text)
    doc["policy"] = policy_data(result)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
