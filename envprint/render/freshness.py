"""Renders a `FreshnessReport` (``envprint freshness``) as text, JSON or Markdown, the --plot figure, and
the attribution section of ``envprint shadow --requests``.

JSON shape, version 1 (docs/freshness.md)::

    {"format": "envprint-freshness", "version": 1, "verdict": ..., "passed": bool, "exit_code": 0|1,
     "counts": {"rows", "features", "breaching_features", "slos", "breaches"},
     "sources": [...], "relative_accuracy": 0.01, "slos": [TEXT...],
     "baseline": {"file", "trust", "not_served": [...]} | null,
     "features": [{"feature", "requests", "hits", "hit_rate", "stale", "stale_rate", "stale_after_s",
                   "staleness_s": {"p50", "p95", "p99"}, "fetch_ms": {"p50", "p99"}, "passed",
                   "slos": [{"slo", "metric", "quantile", "op", "threshold", "observed", "status", "reason"}],
                   "age_skew": {"quantile", "training_s", "serving_s", "ratio"} | null}],
     "notes": [...]}

Numbers are in base units (fractions, seconds, milliseconds); an infinite ratio is the string "inf".
A new field is added without a version change; a renamed or removed field bumps "version".
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Any

from envprint._files import atomic_write
from envprint.errors import UsageError
from envprint.freshness.attribution import Attribution
from envprint.freshness.report import (
    FETCH_QUANTILES,
    SKEW_QUANTILE,
    STALENESS_QUANTILES,
    FeatureReport,
    FreshnessReport,
    SloResult,
)
from envprint.freshness.sketch import AGE, FETCH
from envprint.freshness.slo import format_age, format_value
from envprint.render import Format
from envprint.render.formats import assert_never
from envprint.render.safe_json import dumps

__all__ = [
    "ATTRIBUTION_JSON_VERSION",
    "FRESHNESS_JSON_VERSION",
    "attribution_data",
    "attribution_text",
    "freshness_data",
    "plot_freshness",
    "render_freshness",
]

FRESHNESS_JSON_VERSION = 1
ATTRIBUTION_JSON_VERSION = 1
_COLUMNS = ("feature", "fetches", "hit rate", "stale", "age p50", "age p95", "age p99", "fetch p50", "fetch p99")


def render_freshness(report: FreshnessReport, format: Format, *, width: int = 100, color: bool = False) -> str:
    """Returns `report` rendered in `format`; `width` and `color` apply to text only."""
    if format is Format.text:
        return _text(report, width=width, color=color)
    if format is Format.json:
        return dumps(freshness_data(report)) + "\n"
    if format is Format.markdown:
        return _markdown(report)
    assert_never(format)


def freshness_data(report: FreshnessReport) -> dict[str, Any]:
    """Returns the JSON document of a freshness report as plain data."""
    baseline = None
    if report.baseline is not None:
        baseline = {"file": report.baseline, "trust": report.baseline_trust, "not_served": list(report.not_served)}
    return {
        "format": "envprint-freshness",
        "version": FRESHNESS_JSON_VERSION,
        "verdict": report.verdict,
        "passed": report.passed,
        "exit_code": report.exit_code,
        "counts": report.counts,
        "sources": list(report.sources),
        "relative_accuracy": report.relative_accuracy,
        "slos": report.slos.describe(),
        "baseline": baseline,
        "features": [_feature_data(f) for f in report.features],
        "notes": list(report.notes),
    }


def _feature_data(f: FeatureReport) -> dict[str, Any]:
    skew = None
    if f.skew is not None:
        skew = {
            "quantile": f.skew.q,
            "training_s": f.skew.training,
            "serving_s": f.skew.serving,
            "ratio": _finite(f.skew.ratio),
        }
    return {
        "feature": f.feature,
        "requests": f.requests,
        "hits": f.stats.hits,
        "hit_rate": f.hit_rate,
        "stale": f.stale,
        "stale_rate": f.stale_rate,
        "stale_after_s": f.stale_after,
        "staleness_s": {_p(q): f.staleness(q) for q in STALENESS_QUANTILES},
        "fetch_ms": {_p(q): f.fetch(q) for q in FETCH_QUANTILES},
        "passed": f.passed,
        "slos": [
            {
                "slo": r.slo.text,
                "metric": r.slo.metric,
                "quantile": r.slo.q,
                "op": r.slo.op,
                "threshold": r.slo.threshold,
                "observed": _finite(r.observed),
                "status": r.status,
                "reason": r.reason,
            }
            for r in f.slos
        ],
        "age_skew": skew,
    }


def _finite(x: float | None) -> float | str | None:
    return "inf" if x == math.inf else x


def _p(q: float) -> str:
    return f"p{q * 100:g}"


# --------------------------------------------------------------------------------------------- cells


def _cells(f: FeatureReport) -> list[str]:
    return [
        f.feature,
        str(f.requests),
        _pct(f.hit_rate),
        _pct(f.stale_rate),
        *(_age(f.staleness(q)) for q in STALENESS_QUANTILES),
        *(_ms(f.fetch(q)) for q in FETCH_QUANTILES),
    ]


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _age(x: float | None) -> str:
    if x == 0:  # the sketch's zero bucket: at most its low end
        return f"≤{format_age(AGE.low)}"
    return "–" if x is None else format_age(x)


def _ms(x: float | None) -> str:
    if x == 0:
        return f"≤{format_value('fetch', FETCH.low)}"
    return "–" if x is None else format_value("fetch", x)


def _breach_line(feature: str, r: SloResult) -> str:
    if r.observed is None:
        return f"{feature}: {r.slo.text}: no data ({r.reason or 'nothing to measure'})"
    observed, target = format_value(r.slo.metric, r.observed), format_value(r.slo.metric, r.slo.threshold)
    return f"{feature}: {r.slo.name} = {observed}, target {r.slo.op} {target}"


def _skew_lines(report: FreshnessReport) -> list[str]:
    lines = [f"{f.feature}: {f.skew.text}" for f in report.features if f.skew is not None]
    lines += [f"{name}: in the training profile, never fetched in these logs" for name in report.not_served]
    lines += [f"{f.feature}: not in the training profile" for f in report.features if f.skew is None]
    return lines


def _header(report: FreshnessReport) -> list[str]:
    lines = [
        f"logs: {', '.join(report.sources)} ({report.rows} fetches); quantiles within ±{report.relative_accuracy:.0%}",
        f"SLOs: {'; '.join(report.slos.describe())}",
    ]
    if report.baseline is not None:
        lines.append(f"baseline: {report.baseline} [{(report.baseline_trust or 'unsigned').upper()}]")
    return lines


# ---------------------------------------------------------------------------------------------- text


def _text(report: FreshnessReport, *, width: int, color: bool) -> str:
    from rich.console import Console  # deferred: rich costs ~30 ms, JSON output never needs it
    from rich.table import Table
    from rich.text import Text

    out = io.StringIO()
    console = Console(
        file=out, width=width, color_system="standard" if color else None, force_terminal=color, highlight=False
    )
    console.print(
        Text.assemble(("envprint freshness: ", "bold"), (report.verdict, "bold green" if report.passed else "bold red"))
    )
    for line in _header(report):
        console.print(line, markup=False)
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for name in (*_COLUMNS, "SLOs"):
        table.add_column(name, justify="left" if name in ("feature", "SLOs") else "right", overflow="fold")
    for f in report.features:
        status = Text("ok", "green") if f.passed else Text("BREACH " + ", ".join(r.slo.name for r in f.breaches), "red")
        table.add_row(*_cells(f), status)
    console.print()
    console.print(table)
    if report.breaches:
        console.print()
        console.print("breaches:", style="bold")
        for feature, r in report.breaches:
            console.print(f"  {_breach_line(feature, r)}", markup=False)
    if report.baseline is not None:
        console.print()
        console.print(f"age skew against training (p{SKEW_QUANTILE * 100:g} age of the values served):", style="bold")
        for line in _skew_lines(report):
            console.print(f"  {line}", markup=False)
    if report.notes:
        console.print()
        for note in report.notes:
            console.print(f"note: {note}", style="yellow", markup=False)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


# ------------------------------------------------------------------------------------------ markdown


def _markdown(report: FreshnessReport) -> str:
    lines = [f"## envprint freshness: {report.verdict}", ""]
    lines += [f"- {_md(line)}" for line in _header(report)]
    lines += ["", "| " + " | ".join((*_COLUMNS, "SLOs")) + " |", "|" + "---|" * (len(_COLUMNS) + 1)]
    for f in report.features:
        status = "ok" if f.passed else "**BREACH** " + ", ".join(r.slo.name for r in f.breaches)
        lines.append("| " + " | ".join([f"`{_md(f.feature)}`", *(_md(c) for c in _cells(f)[1:]), status]) + " |")
    if report.breaches:
        lines += ["", "### Breaches", ""] + [f"- {_md(_breach_line(n, r))}" for n, r in report.breaches]
    if report.baseline is not None:
        lines += ["", f"### Age skew against training (p{SKEW_QUANTILE * 100:g})", ""]
        lines += [f"- {_md(line)}" for line in _skew_lines(report)]
    if report.notes:
        lines += ["", *[f"> {_md(note)}" for note in report.notes]]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# -------------------------------------------------------------------------------------- attribution


def attribution_text(result: Attribution) -> str:
    """Returns the attribution section shown after the shadow report: rule verdict, ranked features, notes."""
    lines = [
        "",
        "",
        f"feature freshness ({', '.join(result.request_logs)}): {result.verdict}",
        f"shadowed requests: {result.shadowed}"
        + (f" of {result.logged_requests} logged ({result.coverage:.1%})" if result.coverage is not None else ""),
    ]
    if result.features:
        lines.append("divergence by feature freshness (stale = older than the feature's stale-after age), ranked:")
        for a in result.features:
            mark = "  <- likely cause" if result.likely_cause is a else ""
            p = "" if a.p_value is None else f", p={a.p_value:.2g}"
            lines.append(
                f"  {a.feature}: {_pct(a.degraded_rate)} of {a.degraded} stale or missed "
                f"({a.stale} stale > {format_age(a.stale_after)}, {a.missed} missed) vs {_pct(a.fresh_rate)} of "
                f"{a.fresh} fresh{p}{mark}"
            )
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def attribution_data(result: Attribution) -> dict[str, Any]:
    """Returns the attribution as plain data: the "freshness" member of ``envprint shadow --requests -f json``."""
    cause = result.likely_cause
    return {
        "format": "envprint-shadow-freshness",
        "version": ATTRIBUTION_JSON_VERSION,
        "verdict": result.verdict,
        "rule": {
            "divergence_limit": result.divergence_limit,
            "min_coverage": result.min_coverage,
            "fraction": result.fraction,
            "coverage": result.coverage,
            "breached": result.rule_breached,
        },
        "request_logs": list(result.request_logs),
        "shadowed": result.shadowed,
        "logged_requests": result.logged_requests,
        "only_baseline": result.only_baseline,
        "only_candidate": result.only_candidate,
        "unlogged": result.unlogged,
        "rows_without_id": result.rows_without_id,
        "likely_cause": None if cause is None else cause.feature,
        "features": [
            {
                "feature": a.feature,
                "stale_after_s": a.stale_after,
                "fetched": a.fetched,
                "stale": a.stale,
                "missed": a.missed,
                "fresh": a.fresh,
                "degraded_diverging": a.degraded_diverging,
                "fresh_diverging": a.fresh_diverging,
                "degraded_rate": a.degraded_rate,
                "fresh_rate": a.fresh_rate,
                "difference": a.difference,
                "p_value": a.p_value,
                "significant": a.significant,
            }
            for a in result.features
        ],
        "notes": list(result.notes),
    }


# ---------------------------------------------------------------------------------------------- plot


def plot_freshness(report: FreshnessReport, path: str | os.PathLike[str]) -> Path:
    """Returns `path` after writing a PNG (atomically): staleness p95, hit rate and fetch p99 over time.

    Needs matplotlib (``pip install 'envprint[plot]'``) and a report built with ``timeline=True``.
    Uses matplotlib's object API, so the caller's pyplot state and backend stay as they are.
    """
    if report.timeline is None:
        raise UsageError("the report has no timeline: analyze(..., timeline=True) keeps what --plot draws")
    try:  # deferred: matplotlib is the optional [plot] extra and costs ~300 ms to import
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError(
            "--plot needs matplotlib, which is not installed in this environment",
            hint="pip install 'envprint[plot]' (or pip install matplotlib), or leave out --plot",
        ) from None
    t = report.timeline
    fig = Figure(figsize=(11, 8))
    FigureCanvasAgg(fig)
    ages, hits, fetches = fig.subplots(3, 1, sharex=True)
    x: Any = t.starts + t.width / 2
    if t.by_time:
        x = (x * 1e6).astype("datetime64[us]")
    for name, (_, hit_rate, age_p95, fetch_p99) in t.series.items():
        (line,) = ages.plot(x, age_p95, marker=".", label=name)
        hits.plot(x, hit_rate, marker=".", color=line.get_color())
        fetches.plot(x, fetch_p99, marker=".", color=line.get_color())
    for axis, metric in ((ages, "staleness"), (hits, "hit_rate"), (fetches, "fetch")):
        for slo in report.slos.defaults.values():
            if slo is not None and slo.metric == metric:
                axis.axhline(slo.threshold, color="#c0392b", linestyle="--", linewidth=1, label=f"SLO {slo.text}")
    ages.set_yscale("log")
    ages.set_ylabel("staleness p95 (s)")
    hits.set_ylabel("hit rate")
    hits.set_ylim(-0.02, 1.02)
    fetches.set_ylabel("fetch p99 (ms)")
    fetches.set_xlabel("time (UTC)" if t.by_time else "row")
    ages.legend(loc="upper left", fontsize="small")
    fig.suptitle(f"envprint freshness: {report.verdict}", fontsize="medium")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return atomic_write(path, buffer.getvalue())
