"""Renders a shadow comparison: the human report, the JSON document, and the PNG plot."""

from __future__ import annotations

import importlib
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from envprint.errors import UsageError
from envprint.shadow import ShadowReport

__all__ = ["shadow_data", "shadow_plot", "shadow_text"]

_BAR = 40


def shadow_text(report: ShadowReport) -> str:
    """Returns the human report: verdict, rule, histogram and worst rows."""
    lines = [
        f"shadow comparison: {report.candidate} against {report.baseline}: "
        f"{report.rows} rows × {len(report.columns)} column(s) ({', '.join(report.columns)})",
        report.verdict,
        f"a row diverges when a value differs by more than atol {report.atol:g} + rtol {report.rtol:g} × |baseline|; "
        f"{report.identical} row(s) identical, max relative difference {report.max_rel_diff:.3g}",
        "",
        "relative difference per row (largest over its columns):",
    ]
    top = max((n for _, n in report.histogram), default=0)
    width = max(len(label) for label, _ in report.histogram)
    for label, n in report.histogram:
        bar = "█" * (math.ceil(_BAR * n / top) if top and n else 0)
        lines.append(f"  {label:<{width}} {n:>9}  {bar}".rstrip())
    if report.worst:
        lines += ["", "worst rows:"]
        for w in report.worst:
            mark = "DIVERGES" if w.diverges else "within tolerance"
            lines.append(
                f"  row {w.row}, column {w.column!r}: {_num(w.baseline)} → {_num(w.candidate)} "
                f"(|Δ| {w.abs_diff:.3g}, relative {w.rel_diff:.3g}) {mark}"
            )
    return "\n".join(lines)


def shadow_data(report: ShadowReport) -> dict[str, Any]:
    """Returns the report as JSON-safe plain data (``envprint shadow --format json``)."""
    return {
        "format": "envprint-shadow",
        "version": 1,
        "baseline": report.baseline,
        "candidate": report.candidate,
        "rows": report.rows,
        "columns": list(report.columns),
        "rtol": report.rtol,
        "atol": report.atol,
        "max_fraction": report.max_fraction,
        "diverging": report.diverging,
        "fraction": report.fraction,
        "passed": report.passed,
        "identical": report.identical,
        "max_rel_diff": _json(report.max_rel_diff),
        "histogram": [{"bin": label, "rows": n} for label, n in report.histogram],
        "worst": [
            {
                "row": w.row,
                "column": w.column,
                "baseline": _json(w.baseline),
                "candidate": _json(w.candidate),
                "abs_diff": _json(w.abs_diff),
                "rel_diff": _json(w.rel_diff),
                "diverges": w.diverges,
            }
            for w in report.worst
        ],
    }


def shadow_plot(report: ShadowReport, path: str | os.PathLike[str]) -> Path:
    """Returns `path` after writing a PNG: the histogram of relative differences and candidate vs baseline.

    Needs matplotlib (``pip install 'envprint[plot]'``); raises `UsageError` when it is missing.
    Uses matplotlib's object API, so the caller's pyplot state and backend stay as they are.
    """
    try:  # imported by name: matplotlib is an optional extra
        agg = importlib.import_module("matplotlib.backends.backend_agg")
        figure = importlib.import_module("matplotlib.figure")
    except ImportError:
        raise UsageError(
            "--plot needs matplotlib, which is not installed in this environment",
            hint="pip install 'envprint[plot]' (or pip install matplotlib), or leave out --plot",
        ) from None
    fig = figure.Figure(figsize=(11, 4.5))
    agg.FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    rel = report.row_rel_diff
    positive = rel[np.isfinite(rel) & (rel > 0)]
    if positive.size:
        logs = np.log10(positive)
        lo, hi = math.floor(float(logs.min())), math.ceil(float(logs.max()))
        hi = max(hi, lo + 1)  # ten bins per decade, on decade boundaries, even when every row is alike
        left.hist(logs, bins=np.linspace(lo, hi, 10 * (hi - lo) + 1), color="#4878a8")
    if report.rtol > 0:
        left.axvline(math.log10(report.rtol), color="#c0392b", linestyle="--", label=f"rtol {report.rtol:g}")
        left.legend()
    left.set_xlabel("log10 relative difference per row")
    left.set_ylabel("rows")
    left.set_title(f"{report.identical} identical, {int(np.sum(~np.isfinite(rel)))} non-finite, not shown")
    b, c = report.baseline_values.reshape(-1), report.candidate_values.reshape(-1)
    step = max(1, b.size // 20_000)  # a fixed stride keeps big files plottable and the plot reproducible
    right.scatter(b[::step], c[::step], s=4, alpha=0.5, color="#4878a8")
    finite = np.concatenate([b[np.isfinite(b)], c[np.isfinite(c)]])
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
        right.plot([low, high], [low, high], color="#c0392b", linewidth=1)
    right.set_xlabel(f"baseline ({report.baseline})")
    right.set_ylabel(f"candidate ({report.candidate})")
    right.set_title(report.verdict.split(",")[0])
    fig.suptitle(f"shadow comparison: {report.fraction:.2%} of {report.rows} rows diverge")
    fig.tight_layout()
    out = Path(path)
    try:
        fig.savefig(out, format="png", dpi=100)
    except OSError as e:
        raise UsageError(f"{out}: cannot write the plot ({e.strerror or e})") from None
    return out


def _num(x: float) -> str:
    return repr(float(x)) if not math.isfinite(x) else f"{x:.6g}"


def _json(x: float) -> float | str:
    return x if math.isfinite(x) else repr(x)


# ----------------------------------------------------------------------------------------- compare
