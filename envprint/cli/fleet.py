"""`envprint fleet`: group the fingerprints of replicas or Spark executors, find the odd one out."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from envprint.cli._app import (
    NoProbesOption,
    ProbeGroupsOption,
    app,
    error_line,
    key_paths,
    probe_groups,
    stderr,
)
from envprint.codec import read
from envprint.errors import UsageError
from envprint.fleet import find_files, group, read_files
from envprint.integrations.spark import capture_executors, save_fleet, session
from envprint.render import Format as DiffFormat
from envprint.render.fleet import render_fleet
from envprint.render.progress import count_progress


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
    trusted = key_paths(key)
    ref = _fleet_reference(reference, trusted)
    files = find_files(paths)
    if not files:
        raise UsageError(f"no *.fp files in {', '.join(map(str, paths))}")
    with count_progress() as bar:
        loaded, unreadable = read_files(files, trusted_keys=trusted, progress=bar)
    if unreadable and not skip_unreadable:
        for u in unreadable:
            stderr().print(error_line(u.error))
        stderr().print(
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
    no_probes: NoProbesOption = False,
    probes: ProbeGroupsOption = None,
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
    trusted = key_paths(key)
    ref = _fleet_reference(reference, trusted)
    groups = probe_groups(probes)
    spark, started = session(master, conf={"spark.ui.showConsoleProgress": "false"})
    try:
        if started:
            spark.sparkContext.setLogLevel("ERROR")
        fps = capture_executors(spark, probes=not no_probes, probe_groups=groups, min_executors=min_executors)
    finally:
        if started:
            spark.stop()
    save_fleet(fps, output)
    executors = [fp.meta.tags.get("executor_id", "?") for fp in fps[1:]]
    stderr().print(f"wrote {len(fps)} fingerprints to {output}: driver and executor(s) {', '.join(executors)}")
    _print_fleet(group(fps, reference=ref), format)


def _fleet_reference(path: Path | None, trusted: list[str] | None) -> Any:
    return None if path is None else read(path, trusted_keys=trusted)


def _print_fleet(report: Any, format: DiffFormat) -> None:
    tty = sys.stdout.isatty()
    sys.stdout.write(render_fleet(report, format, width=shutil.get_terminal_size((100, 24)).columns, color=tty))
    raise typer.Exit(report.exit_code)
