"""Transform parity and shadow predictions: `envprint parity`, `envprint shadow`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from envprint.cli._app import (
    FormatOption,
    NoEntryPointsOption,
    ProbesFromOption,
    TextOrJson,
    app,
    key_paths,
    stderr,
)
from envprint.freshness.attribution import attribute
from envprint.freshness.slo import build_slos, parse_duration
from envprint.parity import check as check_parity
from envprint.render.freshness import attribution_data, attribution_text
from envprint.render.parity import parity_text
from envprint.render.safe_json import dumps
from envprint.render.shadow import shadow_data, shadow_plot, shadow_text
from envprint.shadow import compare as compare_predictions


@app.command()
def parity(
    baseline: Annotated[Path, typer.Argument(help="Fingerprint (.fp) whose transform probes to re-check.")],
    probes_from: ProbesFromOption = None,
    key: Annotated[
        list[Path] | None,
        typer.Option(
            "--key", envvar="ENVPRINT_TRUSTED_KEYS", help="Verify the baseline with these trusted public keys first."
        ),
    ] = None,
    no_entry_points: NoEntryPointsOption = False,
    format: FormatOption = TextOrJson.text,
) -> None:
    """Re-run the baseline's transform probes here and compare within tolerance: exit 0 match, 1 mismatch."""
    report = check_parity(
        baseline,
        modules=probes_from or (),
        entry_points=not no_entry_points,
        trusted_keys=key_paths(key),
    )
    if format is TextOrJson.json:
        sys.stdout.write(dumps(report.to_data()) + "\n")
    else:
        sys.stdout.write(parity_text(report) + "\n")
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
    requests: Annotated[
        list[Path] | None,
        typer.Option(
            "--requests",
            metavar="LOG",
            envvar="ENVPRINT_SHADOW_REQUESTS",
            help="Fetch log(s) of the shadowed requests (repeatable): pair rows by request_id and rank the features "
            "whose stale or missed values go with divergence.",
        ),
    ] = None,
    stale_after: Annotated[
        str | None,
        typer.Option(
            "--stale-after",
            envvar="ENVPRINT_FRESHNESS_STALE_AFTER",
            help="With --requests: age above which a feature value is stale \\[default: 10s or the --slo-file's].",
        ),
    ] = None,
    slo_file: Annotated[
        Path | None,
        typer.Option(
            "--slo-file",
            envvar="ENVPRINT_FRESHNESS_SLO_FILE",
            help="With --requests: the freshness SLO file whose stale_after / staleness bounds define stale.",
        ),
    ] = None,
    format: FormatOption = TextOrJson.text,
) -> None:
    """Compare shadow predictions row by row: exit 0 within --max-fraction, 1 above it, 2 malformed files."""
    attribution = None
    if requests:
        age = None if stale_after is None else parse_duration(stale_after, what="--stale-after")
        slos = build_slos(file=slo_file, stale_after=age)
        attribution = attribute(
            baseline, candidate, requests, rtol=rtol, atol=atol, max_fraction=max_fraction, column=column,
            worst=worst, slos=slos,
        )  # fmt: skip
        report = attribution.shadow
    else:
        report = compare_predictions(
            baseline, candidate, rtol=rtol, atol=atol, max_fraction=max_fraction, column=column, worst=worst
        )
    if plot is not None:
        shadow_plot(report, plot)
    if format is TextOrJson.json:
        data = shadow_data(report)
        if attribution is not None:
            data["freshness"] = attribution_data(attribution)
        sys.stdout.write(dumps(data) + "\n")
    else:
        sys.stdout.write(shadow_text(report) + ("" if attribution is None else attribution_text(attribution)) + "\n")
    if plot is not None:
        stderr().print(f"wrote {plot}")
    raise typer.Exit(report.exit_code)
