"""`envprint capture` and `envprint show`: write a fingerprint, and read one back."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from envprint.artifact import DEFAULT_IGNORED, fp_destination, parse_size
from envprint.capturing import capture as run_capture
from envprint.cli._app import (
    FormatOption,
    NoProbesOption,
    ProbeGroupsOption,
    ProbesFromOption,
    TextOrJson,
    app,
    key_paths,
    parse_tags,
    probe_groups,
    stderr,
    stdout,
)
from envprint.codec import read
from envprint.render import fingerprint as render
from envprint.render.progress import byte_progress


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
    no_probes: NoProbesOption = False,
    probes: ProbeGroupsOption = None,
    probe_budget: Annotated[
        float,
        typer.Option(envvar="ENVPRINT_PROBE_BUDGET", help="Seconds after which heavy probes are skipped."),
    ] = 1.0,
    xla: Annotated[
        bool, typer.Option("--xla", envvar="ENVPRINT_XLA", help="Also run the (slow) TensorFlow XLA probe.")
    ] = False,
    artifact: Annotated[
        str | None,
        typer.Option(
            envvar="ENVPRINT_ARTIFACT",
            help="Bind the fingerprint to this model file or directory, a Hub cache snapshot, or hf://ORG/NAME[@REV].",
        ),
    ] = None,
    shard_size: Annotated[
        str,
        typer.Option(
            envvar="ENVPRINT_SHARD_SIZE",
            help="Also record per-shard digests of files larger than this (e.g. 64M; 0: none), so that "
            "verification hashes one large file on every core.",
        ),
    ] = "64M",
    ignore: Annotated[
        list[str] | None,
        typer.Option(
            "--ignore",
            envvar="ENVPRINT_IGNORE",
            help="A file's exact path in the model directory that tools add later, left unchecked (repeatable; "
            f"added to the defaults: {', '.join(DEFAULT_IGNORED)}).",
        ),
    ] = None,
    no_default_ignores: Annotated[
        bool,
        typer.Option("--no-default-ignores", envvar="ENVPRINT_NO_DEFAULT_IGNORES", help="Ignore only --ignore paths."),
    ] = False,
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
    probes_from: ProbesFromOption = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", envvar="ENVPRINT_QUIET")] = False,
) -> None:
    """Capture this environment into a fingerprint file."""
    if probes_from and not no_probes:
        # deferred: the transform registry imports numpy, which `show` and `capture --no-probes` never need
        from envprint.probes.transforms import discover

        discover(probes_from)
    destination = fp_destination(artifact, output)  # refused before hashing when inside a Hub cache
    with byte_progress(description="hashing artifact") as progress:
        fp = run_capture(
            probes=not no_probes,
            probe_groups=probe_groups(probes),
            probe_budget_s=probe_budget,
            xla=xla,
            imports=import_ or (),
            label=label,
            artifact=artifact,
            strict=strict,
            tags=parse_tags(tag or []),
            capture_mode="subprocess",
            policy=policy,
            artifact_progress=progress,
            artifact_shard_size=parse_size(shard_size),
            artifact_ignore=(*(() if no_default_ignores else DEFAULT_IGNORED), *(ignore or ())),
        )
    path = fp.save(destination, key=str(key) if key else None)
    if not quiet:
        stderr().print(render.written_line(fp, path, signed=key is not None))


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
    loaded = read(file, trusted_keys=key_paths(key))
    if format is TextOrJson.json:
        sys.stdout.write(render.to_json(loaded) + "\n")
    else:
        stdout().print(render.to_rich(loaded))
