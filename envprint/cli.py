"""The `envprint` command line: a thin adapter (parse → call the library → render → exit code).

Exit codes (DESIGN.md): 0 equivalent / success, 1 differences or policy violation, 2 usage error or
unreadable input, 3 untrusted (bad signature, unknown key, artifact mismatch). Every option also
reads an ``ENVPRINT_*`` environment variable. Errors are caught in one place, `main()`.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from envprint.errors import EnvprintError, UsageError

app = typer.Typer(
    name="envprint",
    help="Capture, sign, diff and enforce the environment a model was trained and validated in.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class ShowFormat(str, enum.Enum):
    """Output formats of `envprint show`."""

    text = "text"
    json = "json"


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

    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise UsageError(f"--probes: unknown group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}")
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
    quiet: Annotated[bool, typer.Option("-q", "--quiet", envvar="ENVPRINT_QUIET")] = False,
) -> None:
    """Capture this environment into a fingerprint file."""
    from envprint.capture import capture as run_capture

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
    format: Annotated[ShowFormat, typer.Option("--format", "-f", envvar="ENVPRINT_FORMAT")] = ShowFormat.text,
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
    if format is ShowFormat.json:
        sys.stdout.write(render.to_json(loaded) + "\n")
    else:
        _stdout().print(render.to_rich(loaded))


# --------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    """Runs the CLI and exits with its status; the one place errors become messages and exit codes.

    Commands signal their status with `typer.Exit(code)`; typer itself exits 2 on usage errors.
    """
    try:
        app(args=argv, prog_name="envprint")
    except EnvprintError as e:
        _stderr().print(f"[bold red]error:[/] {_escape(e.diagnostics())}")
        sys.exit(e.exit_code)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
