"""`envprint freshness`: per-feature hit rate, staleness and fetch latency from fetch logs, held to SLOs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from envprint.cli._app import app, key_paths, stderr
from envprint.freshness.analysis import analyze
from envprint.freshness.slo import build_slos, parse_duration
from envprint.freshness.training import load_profile
from envprint.render import Format
from envprint.render.freshness import plot_freshness, render_freshness


@app.command()
def freshness(
    logs: Annotated[
        list[Path],
        typer.Argument(
            metavar="LOG...", help="Fetch logs: JSON Lines (.jsonl, .jsonl.gz), CSV (.csv, .csv.gz) or Parquet."
        ),
    ],
    slo: Annotated[
        list[str] | None,
        typer.Option(
            "--slo",
            envvar="ENVPRINT_FRESHNESS_SLO",
            help="[FEATURE:]METRIC OP VALUE, repeatable, e.g. hit_rate>=0.95, staleness_p95<=10s, fetch_p99<=5ms, "
            "stale_rate<=5%, age_skew_p95<=3x, last_click_ts:staleness_p95<=1min; METRIC=off drops one.",
        ),
    ] = None,
    slo_file: Annotated[
        Path | None,
        typer.Option(
            "--slo-file",
            envvar="ENVPRINT_FRESHNESS_SLO_FILE",
            help='TOML file of SLOs: \\[defaults] and \\[features.NAME] tables of METRIC = "OP VALUE".',
        ),
    ] = None,
    no_default_slos: Annotated[
        bool,
        typer.Option(
            "--no-default-slos",
            envvar="ENVPRINT_FRESHNESS_NO_DEFAULT_SLOS",
            help="Start from no SLOs instead of hit_rate>=0.95, staleness_p95<=10s, fetch_p99<=5ms.",
        ),
    ] = False,
    stale_after: Annotated[
        str | None,
        typer.Option(
            "--stale-after",
            envvar="ENVPRINT_FRESHNESS_STALE_AFTER",
            help="Age above which a value is stale (stale column, stale_rate) \\[default: the staleness SLO bound].",
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            envvar="ENVPRINT_FRESHNESS_BASELINE",
            help="Training fingerprint with a freshness profile, e.g. model/envprint.fp: report the age skew.",
        ),
    ] = None,
    key: Annotated[
        list[Path] | None,
        typer.Option(
            "--key", envvar="ENVPRINT_TRUSTED_KEYS", help="Trusted public key or keyring: the baseline must verify."
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            envvar="ENVPRINT_FRESHNESS_PLOT",
            help="Also write a PNG: staleness p95, hit rate and fetch p99 over time (needs matplotlib).",
        ),
    ] = None,
    format: Annotated[
        Format, typer.Option("--format", "-f", envvar="ENVPRINT_FRESHNESS_FORMAT", help="Output format.")
    ] = Format.text,
) -> None:
    """Summarise fetch logs per feature against SLOs: exit 0 within SLOs, 1 any breach, 2 unreadable."""
    slos = build_slos(
        slo or (),
        file=slo_file,
        defaults=not no_default_slos,
        stale_after=None if stale_after is None else parse_duration(stale_after, what="--stale-after"),
    )
    profile, source, trust = None, None, None
    if baseline is not None:
        profile, loaded = load_profile(baseline, trusted_keys=key_paths(key))
        source, trust = str(baseline), loaded.trust
    report = analyze(
        logs, slos=slos, baseline=profile, baseline_source=source, baseline_trust=trust, timeline=plot is not None
    )
    if plot is not None:
        plot_freshness(report, plot)
        stderr().print(f"wrote {plot}")
    width = shutil.get_terminal_size((120, 24)).columns
    sys.stdout.write(render_freshness(report, format, width=width, color=sys.stdout.isatty()))
    raise typer.Exit(report.exit_code)
