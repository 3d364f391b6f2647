"""`envprint golden`: export transform probes as a golden bundle, compare an implementation's outputs with it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from envprint.cli._app import NoEntryPointsOption, ProbesFromOption, app, key_paths, stderr
from envprint.render import Format

golden_app = typer.Typer(
    name="golden",
    no_args_is_help=True,
    help=(
        "Golden bundles: the transform probes' inputs and expected outputs as JSON Lines, so serving code in any "
        "language (Java, Go, C++, Spark) can be checked against training's (docs/golden.md)."
    ),
)
app.add_typer(golden_app)

_Probe = Annotated[
    list[str] | None,
    typer.Option("--probe", envvar="ENVPRINT_GOLDEN_PROBES", help="Only this probe (repeatable; default: all)."),
]


@golden_app.command(name="export")
def golden_export(
    output: Annotated[
        Path, typer.Option("-o", "--output", envvar="ENVPRINT_GOLDEN_DIR", help="Write the bundle into this directory.")
    ],
    probes_from: ProbesFromOption = None,
    probe: _Probe = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            envvar="ENVPRINT_GOLDEN_BASELINE",
            help="First check the outputs equal what this fingerprint (.fp) recorded at training.",
        ),
    ] = None,
    key: Annotated[
        list[Path] | None,
        typer.Option("--key", envvar="ENVPRINT_TRUSTED_KEYS", help="Verify the baseline with these trusted keys."),
    ] = None,
    no_entry_points: NoEntryPointsOption = False,
) -> None:
    """Run the registered transform probes and write their golden bundle: exit 0 written, 1 baseline differs."""
    from envprint.golden.export import export_bundle  # numpy and the probe registry: export alone pays for them

    manifest = export_bundle(
        output,
        names=probe,
        modules=probes_from or (),
        entry_points=not no_entry_points,
        baseline=baseline,
        trusted_keys=key_paths(key),
    )
    console = stderr()
    checked = ""
    if manifest.baseline is not None:
        checked = f", expected outputs equal to {manifest.baseline.file} ({manifest.baseline.trust.upper()})"
    console.print(f"wrote golden bundle {output}: {len(manifest.probes)} probe(s){checked}")
    for line in manifest.describe():
        console.print(f"  {line}")


@golden_app.command(name="compare")
def golden_compare(
    bundle: Annotated[Path, typer.Argument(help="The golden bundle directory (envprint golden export -o).")],
    outputs: Annotated[
        Path, typer.Argument(help="Directory holding NAME.outputs.jsonl written by the implementation under test.")
    ],
    format: Annotated[
        Format, typer.Option("--format", "-f", envvar="ENVPRINT_GOLDEN_FORMAT", help="Output format.")
    ] = Format.text,
    probe: _Probe = None,
) -> None:
    """Compare outputs with the bundle: exit 0 all within tolerance, 1 a mismatch or missing output, 2 unreadable."""
    from envprint.golden.compare import compare_bundle  # loaded by the command that runs, not by --help
    from envprint.render.golden import render_golden

    report = compare_bundle(bundle, outputs, names=probe)
    width = shutil.get_terminal_size((100, 24)).columns
    sys.stdout.write(render_golden(report, format, width=width, color=sys.stdout.isatty()))
    raise typer.Exit(report.exit_code)


@golden_app.command(name="spark")
def golden_spark(
    bundle: Annotated[Path, typer.Argument(help="The golden bundle directory (envprint golden export -o).")],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", envvar="ENVPRINT_GOLDEN_OUTPUTS", help="Write NAME.outputs.jsonl here."),
    ],
    probes_from: ProbesFromOption = None,
    probe: _Probe = None,
    master: Annotated[
        str | None,
        typer.Option(
            envvar="ENVPRINT_SPARK_MASTER",
            help="Spark master URL (default: the active session, else the Spark configuration in force).",
        ),
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option(envvar="ENVPRINT_SPARK_PARTITIONS", help="Spread each probe's rows over this many tasks."),
    ] = None,
    no_entry_points: NoEntryPointsOption = False,
) -> None:
    """Run the bundle's transforms as Spark jobs on the cluster and write their outputs for `golden compare`."""
    from envprint.integrations.spark import golden_outputs, session  # pyspark: only this command needs it

    spark, started = session(master, app_name="envprint-golden", conf={"spark.ui.showConsoleProgress": "false"})
    try:
        if started:
            spark.sparkContext.setLogLevel("ERROR")
        written = golden_outputs(
            spark,
            bundle,
            output,
            names=probe,
            modules=probes_from or (),
            entry_points=not no_entry_points,
            partitions=partitions,
        )
    finally:
        if started:
            spark.stop()
    stderr().print(
        f"wrote {len(written)} outputs file(s) to {output}: {', '.join(p.name for p in written.values())}; "
        f"compare them with `envprint golden compare {bundle} {output}`"
    )
