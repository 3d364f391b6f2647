"""The `envprint` command line: a thin adapter (parse → call the library → render → exit code).

Exit codes (DESIGN.md): 0 equivalent / success, 1 differences or policy violation, 2 usage error or
unreadable input, 3 untrusted (bad signature, unknown key, artifact mismatch). Every option also
reads an ``ENVPRINT_*`` environment variable. Errors are caught in one place, `main()`.
"""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from envprint.errors import EnvprintError, UsageError
from envprint.render import Format as DiffFormat

app = typer.Typer(
    name="envprint",
    help="Capture, sign, diff and enforce the environment a model was trained and validated in.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class TextOrJson(str, enum.Enum):
    """Output formats of the commands that print a report for people or for machines."""

    text = "text"
    json = "json"


#: the --format option of those commands
FormatOption = Annotated[TextOrJson, typer.Option("--format", "-f", envvar="ENVPRINT_FORMAT")]


def _stderr() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def _stdout() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def _parse_tags(tags: list[str]) -> dict[str, str]:
    out = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise UsageError(f"--tag {tag!r}: expected KEY=VALUE")
        out[key] = value
    return out


def _groups(text: str | None) -> list[str] | None:
    if text is None:
        return None
    groups = [g.strip() for g in text.split(",") if g.strip()]
    from envprint.probes import GROUPS

    known = (*GROUPS, "parity")
    unknown = sorted(set(groups) - set(known))
    if unknown:
        raise UsageError(f"--probes: unknown group(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return groups


# ------------------------------------------------------------------------------------------ capture


@app.command()
def capture(
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            envvar="ENVPRINT_OUTPUT",
            help="Where to write the fingerprint [default: envprint.fp, or beside/inside --artifact]",
        ),
    ] = None,
    label: Annotated[
        str | None, typer.Option(envvar="ENVPRINT_LABEL", help="A label, e.g. 'train' or 'serve'.")
    ] = None,
    import_: Annotated[
        list[str] | None,
        typer.Option(
            "--import",
            envvar="ENVPRINT_IMPORT",
            help="Import MODULE before capturing so its state is seen (repeatable).",
        ),
    ] = None,
    no_probes: Annotated[
        bool, typer.Option("--no-probes", envvar="ENVPRINT_NO_PROBES", help="Skip the numeric probes.")
    ] = False,
    probes: Annotated[
        str | None,
        typer.Option("--probes", envvar="ENVPRINT_PROBES", help="Run only these probe groups: GROUP,GROUP..."),
    ] = None,
    probe_budget: Annotated[
        float,
        typer.Option(envvar="ENVPRINT_PROBE_BUDGET", help="Seconds after which heavy probes are skipped."),
    ] = 1.0,
    xla: Annotated[
        bool, typer.Option("--xla", envvar="ENVPRINT_XLA", help="Also run the (slow) TensorFlow XLA probe.")
    ] = False,
    artifact: Annotated[
        Path | None,
        typer.Option(envvar="ENVPRINT_ARTIFACT", help="Bind the fingerprint to this model file or directory."),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(envvar="ENVPRINT_KEY", help="Sign with this Ed25519 private key (PKCS#8 PEM)."),
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option(envvar="ENVPRINT_TAG", help="Descriptive KEY=VALUE tag (repeatable).")
    ] = None,
    strict: Annotated[
        bool, typer.Option(envvar="ENVPRINT_STRICT", help="Fail if any value cannot be measured.")
    ] = False,
    policy: Annotated[
        str | None,
        typer.Option(
            envvar="ENVPRINT_CAPTURE_POLICY",
            help="Embed the policy serving must satisfy (preset name or TOML file); signed with the rest.",
        ),
    ] = None,
    probes_from: Annotated[
        list[str] | None,
        typer.Option(
            "--probes-from",
            envvar="ENVPRINT_PROBES_FROM",
            help="Import MODULE (or a .py file) that registers transform probes, and record them (repeatable).",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", envvar="ENVPRINT_QUIET")] = False,
) -> None:
    """Capture this environment into a fingerprint file."""
    from envprint.capture import capture as run_capture

    if probes_from and not no_probes:
        from envprint import parity

        parity.discover(probes_from)
    from envprint.artifact import rich_progress

    with rich_progress(description="hashing artifact") as progress:
        fp = run_capture(
            probes=not no_probes,
            probe_groups=_groups(probes),
            probe_budget_s=probe_budget,
            xla=xla,
            imports=import_ or (),
            label=label,
            artifact=artifact,
            strict=strict,
            tags=_parse_tags(tag or []),
            capture_mode="subprocess",
            policy=policy,
            artifact_progress=progress,
        )
    if output is None:
        if artifact is not None:
            from envprint.artifact import default_fp_path

            output = default_fp_path(artifact)
        else:
            output = Path("envprint.fp")
    path = fp.save(output, key=str(key) if key else None)
    if not quiet:
        _stderr().print(_capture_summary(fp, path, signed=key is not None))


def _capture_summary(fp: Any, path: Path, *, signed: bool) -> str:
    from envprint.model import Unavailable

    size = path.stat().st_size
    n_pkgs = "?" if isinstance(fp.packages, Unavailable) else len(fp.packages)
    n_probes = "?" if isinstance(fp.probes, Unavailable) else len(fp.probes)
    gpu = "unavailable" if isinstance(fp.gpu, Unavailable) else f"{len(fp.gpu.devices)} device(s)"
    trust = "signed" if signed else "UNSIGNED"
    bound = f", bound to {fp.artifact.name} ({len(fp.artifact.files)} file(s))" if fp.artifact else ""
    return f"wrote {path} ({trust}, {size / 1024:.1f} KiB): {n_pkgs} packages, {n_probes} probes, gpu {gpu}{bound}"


# --------------------------------------------------------------------------------------------- show


@app.command()
def show(
    file: Annotated[Path, typer.Argument(help="A fingerprint file (.fp).")],
    format: FormatOption = TextOrJson.text,
    key: Annotated[
        list[Path] | None,
        typer.Option(
            "--key",
            envvar="ENVPRINT_TRUSTED_KEYS",
            help="Verify with these trusted public keys / keyrings first (repeatable).",
        ),
    ] = None,
) -> None:
    """Show a fingerprint: every section, readable (text) or machine-readable (json)."""
    from envprint.codec import read
    from envprint.render import fingerprint as render

    loaded = read(file, trusted_keys=[str(k) for k in key] if key else None)
    if format is TextOrJson.json:
        sys.stdout.write(render.to_json(loaded) + "\n")
    else:
        _stdout().print(render.to_rich(loaded))


# ------------------------------------------------------- keys, sign, verify, export (signing, issue 4)


class ExportFormat(str, enum.Enum):
    """Output formats of `envprint export`."""

    in_toto = "in-toto"
    requirements = "requirements"


@app.command()
def keygen(
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            envvar="ENVPRINT_KEYGEN_PREFIX",
            help="Write PREFIX.key (private, mode 0600) and PREFIX.pub (public).",
        ),
    ] = Path("envprint"),
) -> None:
    """Make an Ed25519 key pair; encrypted with ENVPRINT_KEY_PASSPHRASE when it is set. Prints the key id."""
    from envprint import signing

    passphrase = signing.passphrase_from_env()
    private, public = signing.generate_keypair(output, passphrase=passphrase)
    kid = signing.keyid(signing.load_public_key(public))
    state = "encrypted with ENVPRINT_KEY_PASSPHRASE" if passphrase else "not encrypted"
    _stderr().print(
        f"wrote {private} (private key, mode 0600, {state}: keep it secret, e.g. a CI secret)\n"
        f"wrote {public} (public key: give it to the verifiers)"
    )
    sys.stdout.write(kid + "\n")


@app.command()
def sign(
    file: Annotated[Path, typer.Argument(help="A fingerprint file (.fp) to add a signature to.")],
    key: Annotated[Path, typer.Option("--key", envvar="ENVPRINT_KEY", help="Ed25519 private key (PKCS#8 PEM).")],
) -> None:
    """Add a signature to a fingerprint file (several keys may sign it, for key rotation)."""
    from envprint.signing import sign_file

    envelope = sign_file(file, key)
    _stderr().print(
        f"signed {file} with key {envelope.signatures[-1].keyid[:16]} "
        f"({len(envelope.signatures)} signature(s) in the file)"
    )


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(help="A fingerprint file (.fp).")],
    key: Annotated[
        list[Path],
        typer.Option(
            "--key",
            envvar="ENVPRINT_TRUSTED_KEYS",
            help="Trusted public key or keyring file (repeatable).",
        ),
    ],
    artifact: Annotated[
        Path | None,
        typer.Option(
            envvar="ENVPRINT_ARTIFACT",
            help="Model file or directory to check [default: the one the .fp sits in or beside].",
        ),
    ] = None,
    signature_only: Annotated[
        bool,
        typer.Option(
            "--signature-only",
            envvar="ENVPRINT_SIGNATURE_ONLY",
            help="Check only the signature, not the model files (say so explicitly: it proves less).",
        ),
    ] = False,
) -> None:
    """Verify a fingerprint's signature with trusted keys, then its model files; exit 3 when untrusted."""
    from envprint.artifact import rich_progress, verify_file
    from envprint.errors import ArtifactMismatchError

    with rich_progress(description="verifying artifact") as progress:
        result = verify_file(file, [str(k) for k in key], artifact=artifact, progress=progress)
    sys.stdout.write(result.summary() + "\n")
    if result.manifest is not None and result.artifact_path is None and not signature_only:
        # a bound fingerprint whose model was not found: the signature alone does not vouch for a model
        raise ArtifactMismatchError(
            f"{file}: bound to artifact {result.manifest.name!r}, which is not beside the fingerprint",
            hint="pass --artifact PATH to check the model files, or --signature-only to check the signature alone",
        )


@app.command(name="export")
def export_(
    file: Annotated[Path, typer.Argument(help="A fingerprint file (.fp).")],
    format: Annotated[ExportFormat, typer.Option("--format", "-f", envvar="ENVPRINT_EXPORT_FORMAT")],
    key: Annotated[
        Path | None,
        typer.Option("--key", envvar="ENVPRINT_KEY", help="Sign the export with this Ed25519 private key."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", envvar="ENVPRINT_EXPORT_OUTPUT", help="Write here [default: stdout]."),
    ] = None,
) -> None:
    """Export a fingerprint: in-toto (DSSE envelope with an in-toto Statement v1) or requirements (pinned)."""
    from envprint.codec import atomic_write
    from envprint.export import export_file

    if format is ExportFormat.requirements:
        if key is not None:
            raise UsageError("--key signs in-toto exports only; a requirements file is not signed")
        from envprint.codec import load
        from envprint.export import to_requirements

        data = to_requirements(load(file)).encode("utf-8")
    else:
        data = export_file(file, key=key)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        atomic_write(output, data)
        signed = "" if format is ExportFormat.requirements else f", {'signed' if key else 'UNSIGNED'}"
        _stderr().print(f"wrote {output} ({format.value}{signed})")


# -------------------------------------------------------------------------------- check (serving guard)


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
            trusted_keys=[str(k) for k in key] if key else None,
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
        _stderr().print(f"wrote {output}: {report.verdict}")
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


# ---------------------------------------------------------------------- parity, shadow (issue 7)


@app.command()
def parity(
    baseline: Annotated[Path, typer.Argument(help="Fingerprint (.fp) whose transform probes to re-check.")],
    probes_from: Annotated[
        list[str] | None,
        typer.Option(
            "--probes-from",
            envvar="ENVPRINT_PROBES_FROM",
            help="Import MODULE (or a .py file) that registers the transform probes (repeatable).",
        ),
    ] = None,
    key: Annotated[
        list[Path] | None,
        typer.Option(
            "--key", envvar="ENVPRINT_TRUSTED_KEYS", help="Verify the baseline with these trusted public keys first."
        ),
    ] = None,
    no_entry_points: Annotated[
        bool,
        typer.Option(
            "--no-entry-points",
            envvar="ENVPRINT_NO_ENTRY_POINTS",
            help="Do not load the envprint.probes entry points of installed packages.",
        ),
    ] = False,
    format: FormatOption = TextOrJson.text,
) -> None:
    """Re-run the baseline's transform probes here and compare within tolerance: exit 0 match, 1 mismatch."""
    import json

    from envprint.parity import check as check_parity

    report = check_parity(
        baseline,
        modules=probes_from or (),
        entry_points=not no_entry_points,
        trusted_keys=[str(k) for k in key] if key else None,
    )
    if format is TextOrJson.json:
        sys.stdout.write(json.dumps(report.to_data(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(report.text() + "\n")
    raise typer.Exit(report.exit_code)


@app.command()
def shadow(
    baseline: Annotated[Path, typer.Argument(help="Baseline predictions (.npy, .csv, .parquet).")],
    candidate: Annotated[Path, typer.Argument(help="Candidate predictions on the same rows, in the same order.")],
    rtol: Annotated[float, typer.Option(envvar="ENVPRINT_SHADOW_RTOL", help="Relative tolerance per value.")] = 0.05,
    atol: Annotated[float, typer.Option(envvar="ENVPRINT_SHADOW_ATOL", help="Absolute tolerance per value.")] = 0.0,
    max_fraction: Annotated[
        float,
        typer.Option(
            envvar="ENVPRINT_SHADOW_MAX_FRACTION", help="Largest fraction of diverging rows that passes (inclusive)."
        ),
    ] = 0.10,
    column: Annotated[
        str | None,
        typer.Option(envvar="ENVPRINT_SHADOW_COLUMN", help="Compare only this column (name, or position)."),
    ] = None,
    worst: Annotated[int, typer.Option(envvar="ENVPRINT_SHADOW_WORST", help="How many worst rows to list.")] = 10,
    plot: Annotated[
        Path | None,
        typer.Option(envvar="ENVPRINT_SHADOW_PLOT", help="Also write a PNG plot here (needs matplotlib)."),
    ] = None,
    format: FormatOption = TextOrJson.text,
) -> None:
    """Compare shadow predictions row by row: exit 0 within --max-fraction, 1 above it, 2 malformed files."""
    import json

    from envprint.shadow import compare as compare_predictions

    report = compare_predictions(
        baseline, candidate, rtol=rtol, atol=atol, max_fraction=max_fraction, column=column, worst=worst
    )
    if plot is not None:
        report.plot(plot)
    if format is TextOrJson.json:
        sys.stdout.write(json.dumps(report.to_data(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(report.text() + "\n")
    if plot is not None:
        _stderr().print(f"wrote {plot}")
    raise typer.Exit(report.exit_code)


# -------------------------------------------------------------------------------------- fleet (issue 8)


class _FleetGroup(typer.core.TyperGroup):
    """`envprint fleet`: `spark` is a subcommand; anything else is `envprint fleet group FILES_OR_DIRS...`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["group", *args]
        return list(super().parse_args(ctx, args))


fleet_app = typer.Typer(
    name="fleet",
    cls=_FleetGroup,
    no_args_is_help=True,
    help=(
        "Group fingerprints of a fleet (replicas, Spark executors) and show which differ from the reference.\n\n"
        "envprint fleet FILES_OR_DIRS... is short for envprint fleet group FILES_OR_DIRS...; "
        "envprint fleet spark captures a Spark cluster's driver and executors first."
    ),
)
app.add_typer(fleet_app)

_FleetReference = Annotated[
    Path | None,
    typer.Option(
        "--reference",
        envvar="ENVPRINT_FLEET_REFERENCE",
        help="The fingerprint every member is compared with, e.g. train.fp (default: the largest group).",
    ),
]
_FleetFormat = Annotated[
    DiffFormat, typer.Option("--format", "-f", envvar="ENVPRINT_FLEET_FORMAT", help="Output format.")
]
_FleetKeys = Annotated[
    list[Path] | None,
    typer.Option(
        "--key",
        envvar="ENVPRINT_TRUSTED_KEYS",
        help="Trusted public key or keyring (repeatable); every file must verify, else it is untrusted (exit 3).",
    ),
]


@fleet_app.command(name="group")
def fleet_group(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILES_OR_DIRS", help="Fingerprint files, and directories searched for *.fp (recursively)."
        ),
    ],
    reference: _FleetReference = None,
    format: _FleetFormat = DiffFormat.text,
    key: _FleetKeys = None,
    skip_unreadable: Annotated[
        bool,
        typer.Option(
            "--skip-unreadable",
            envvar="ENVPRINT_SKIP_UNREADABLE",
            help="List unreadable or untrusted files in the report and group the rest (else exit 2 or 3).",
        ),
    ] = False,
) -> None:
    """Group fingerprint files by identity: exit 0 all match the reference, 1 some differ, 2 unreadable, 3 untrusted."""
    from envprint.fleet import find_files, group, read_files
    from envprint.render.fleet import progress

    trusted = [str(k) for k in key] if key else None
    ref = _fleet_reference(reference, trusted)
    files = find_files(paths)
    if not files:
        raise UsageError(f"no *.fp files in {', '.join(map(str, paths))}")
    with progress() as bar:
        loaded, unreadable = read_files(files, trusted_keys=trusted, progress=bar)
    if unreadable and not skip_unreadable:
        for u in unreadable:
            _stderr().print(_error_line(u.error))
        _stderr().print(
            f"{len(unreadable)} of {len(files)} fingerprint file(s) could not be read or verified: "
            "fix or remove them, or pass --skip-unreadable to group the rest"
        )
        raise typer.Exit(max(u.exit_code for u in unreadable))
    _print_fleet(group(loaded, reference=ref, skipped=unreadable), format)


@fleet_app.command(name="spark")
def fleet_spark(
    master: Annotated[
        str | None,
        typer.Option(
            envvar="ENVPRINT_SPARK_MASTER",
            help="Spark master URL (default: the active session, else the Spark configuration in force).",
        ),
    ] = None,
    output: Annotated[
        Path,
        typer.Option("-o", "--output", envvar="ENVPRINT_FLEET_DIR", help="Write driver.fp and executor-ID.fp here."),
    ] = Path("envprint-fleet"),
    no_probes: Annotated[
        bool, typer.Option("--no-probes", envvar="ENVPRINT_NO_PROBES", help="Skip the numeric probes.")
    ] = False,
    probes: Annotated[
        str | None,
        typer.Option("--probes", envvar="ENVPRINT_PROBES", help="Run only these probe groups: GROUP,GROUP..."),
    ] = None,
    barrier: Annotated[
        bool,
        typer.Option(
            "--barrier", envvar="ENVPRINT_SPARK_BARRIER", help="One barrier task per slot (static allocation only)."
        ),
    ] = False,
    min_executors: Annotated[
        int | None,
        typer.Option(
            envvar="ENVPRINT_SPARK_MIN_EXECUTORS",
            help="Wait for this many executors (default: spark.executor.instances).",
        ),
    ] = None,
    reference: _FleetReference = None,
    format: _FleetFormat = DiffFormat.text,
    key: _FleetKeys = None,
) -> None:
    """Capture a Spark cluster's driver and every executor, write the fingerprints, print the grouping."""
    import re

    from envprint.fleet import group
    from envprint.integrations.spark import capture_executors, session

    trusted = [str(k) for k in key] if key else None
    ref = _fleet_reference(reference, trusted)
    groups = _groups(probes)
    spark, started = session(master, conf={"spark.ui.showConsoleProgress": "false"})
    try:
        if started:
            spark.sparkContext.setLogLevel("ERROR")
        fps = capture_executors(spark, probes=not no_probes, probe_groups=groups, min_executors=min_executors)
    finally:
        if started:
            spark.stop()
    if output.exists() and not output.is_dir():
        raise UsageError(f"-o {output}: exists and is not a directory")
    output.mkdir(parents=True, exist_ok=True)
    for fp in fps:
        executor_id = fp.meta.tags.get("executor_id", "")
        name = "driver" if fp.meta.tags.get("role") == "driver" else f"executor-{executor_id}"
        fp.save(output / (re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".fp"))
    executors = [fp.meta.tags.get("executor_id", "?") for fp in fps[1:]]
    _stderr().print(f"wrote {len(fps)} fingerprints to {output}: driver and executor(s) {', '.join(executors)}")
    _print_fleet(group(fps, reference=ref), format)


def _fleet_reference(path: Path | None, trusted: list[str] | None) -> Any:
    from envprint.codec import read

    return None if path is None else read(path, trusted_keys=trusted)


def _print_fleet(report: Any, format: DiffFormat) -> None:
    import shutil

    from envprint.render.fleet import render_fleet

    tty = sys.stdout.isatty()
    sys.stdout.write(render_fleet(report, format, width=shutil.get_terminal_size((100, 24)).columns, color=tty))
    raise typer.Exit(report.exit_code)


# --------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    """Runs the CLI and exits with its status; the one place errors become messages and exit codes.

    Commands signal their status with `typer.Exit(code)`; typer itself exits 2 on usage errors.
    """
    try:
        app(args=argv, prog_name="envprint")
    except EnvprintError as e:
        _stderr().print(_error_line(e.diagnostics()))
        sys.exit(e.exit_code)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # a bug: say so, and never exit 1 ("different") on a crash
        if os.environ.get("ENVPRINT_DEBUG"):
            raise
        _stderr().print(
            _error_line(
                f"internal error: {type(e).__name__}: {e}\n  hint: this is a bug in envprint; rerun with "
                "ENVPRINT_DEBUG=1 for the traceback and report it"
            )
        )
        sys.exit(INTERNAL_ERROR)


#: exit status of an unexpected internal error (not 1, which means "differences found")
INTERNAL_ERROR = 70


def _error_line(text: str) -> Any:
    from rich.text import Text

    return Text.assemble(("error:", "bold red"), " ", text)
