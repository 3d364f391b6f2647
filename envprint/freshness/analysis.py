"""`analyze`: summarise fetch logs per feature and hold them to SLOs (``envprint freshness``).

    report = analyze(["fetches.jsonl"], slos=build_slos(["staleness_p95<=30s"]),
                     baseline=load_profile("model/envprint.fp")[0])
    report.exit_code      # 0 within SLOs, 1 any breach

The logs are read in batches and binned into one DDSketch bucket array per feature and metric
(`envprint.freshness.sketch`), so memory stays flat whatever their size; only ``timeline=True``
(the --plot figure) keeps the columns, about 40 bytes a row.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from envprint.errors import UsageError
from envprint.freshness.log import FetchBatch, read_logs
from envprint.freshness.report import SKEW_QUANTILE, AgeSkew, FeatureReport, FreshnessReport, SloResult, Timeline
from envprint.freshness.sketch import AGE, FETCH, RELATIVE_ACCURACY, Sketch
from envprint.freshness.slo import Slo, SloSet, build_slos
from envprint.freshness.stats import FetchStats
from envprint.freshness.training import FeatureProfile, FreshnessProfile

__all__ = ["analyze", "summarize"]

#: bins of the --plot timeline
TIMELINE_BINS = 100


@dataclass
class _Feature:
    """Running totals of one feature while the logs are read."""

    requests: int = 0
    hits: int = 0
    stale: int = 0
    age_sum: float = 0.0
    fetch_sum: float = 0.0
    age: npt.NDArray[np.int64] | None = None
    fetch: npt.NDArray[np.int64] | None = None


def analyze(
    paths: Sequence[str | os.PathLike[str]],
    *,
    slos: SloSet | None = None,
    baseline: FreshnessProfile | None = None,
    baseline_source: str | None = None,
    baseline_trust: str | None = None,
    timeline: bool = False,
) -> FreshnessReport:
    """Returns the freshness report of the fetch logs at `paths` against `slos` (default: the built-in SLOs).

    With `baseline` (a training profile, see `load_profile`) each feature's serving ages are put
    beside its training ages (age skew), and ``age_skew_pQ`` SLOs can be held. Raises
    `FetchLogError` for an unreadable log and `UsageError` when the logs hold no rows.
    """
    if not paths:
        raise UsageError("no fetch log given")
    return summarize(
        read_logs(paths),
        sources=tuple(str(p) for p in paths),
        slos=slos,
        baseline=baseline,
        baseline_source=baseline_source,
        baseline_trust=baseline_trust,
        timeline=timeline,
    )


def summarize(
    batches: Iterable[FetchBatch],
    *,
    sources: tuple[str, ...],
    slos: SloSet | None = None,
    baseline: FreshnessProfile | None = None,
    baseline_source: str | None = None,
    baseline_trust: str | None = None,
    timeline: bool = False,
) -> FreshnessReport:
    """Returns the report of `batches` of fetch rows (what `analyze` does after reading the files)."""
    slos = slos if slos is not None else build_slos()
    if baseline is None and any(s.metric == "age_skew" for s in _all_slos(slos)):
        raise UsageError(
            "an age_skew SLO needs the training profile to compare with", hint="pass --baseline model/envprint.fp"
        )
    totals: dict[str, _Feature] = {}
    notes: list[str] = []
    kept: list[FetchBatch] = []
    rows = 0
    for batch in batches:
        notes.extend(batch.notes)
        if not len(batch):
            continue
        rows += len(batch)
        _add(totals, batch, slos)
        if timeline:
            kept.append(batch)
    if rows == 0:
        raise UsageError(f"no fetch rows in {', '.join(sources)}: nothing to report")
    features = tuple(_feature_report(name, totals[name], slos, baseline) for name in sorted(totals))
    not_served = tuple(sorted(set(baseline.features) - set(totals))) if baseline else ()
    if baseline is not None:
        for name in sorted(set(baseline.features) & set(totals)):
            fp = baseline.features[name]
            if fp.future:
                notes.append(
                    f"{name}: {fp.future} training row(s) have a feature time after the event time (label leakage?); "
                    "they are left out of the training ages"
                )
    return FreshnessReport(
        sources=sources,
        rows=rows,
        features=features,
        slos=slos,
        relative_accuracy=RELATIVE_ACCURACY,
        baseline=baseline_source,
        baseline_trust=baseline_trust,
        not_served=not_served,
        notes=tuple(notes),
        timeline=_timeline(kept) if timeline else None,
    )


def _all_slos(slos: SloSet) -> list[Slo]:
    out = [s for s in slos.defaults.values() if s is not None]
    out += [s for table in slos.features.values() for s in table.values() if s is not None]
    return out


def _add(totals: dict[str, _Feature], batch: FetchBatch, slos: SloSet) -> None:
    names, codes = np.unique(np.array(batch.feature, dtype=object), return_inverse=True)
    aged = ~np.isnan(batch.age_s)
    age_index = AGE.index(np.where(aged, batch.age_s, 0.0))
    fetch_index = FETCH.index(batch.fetch_ms)
    n = len(names)
    age_counts = np.bincount(codes[aged] * AGE.size + age_index[aged], minlength=n * AGE.size).reshape(n, AGE.size)
    fetch_counts = np.bincount(codes * FETCH.size + fetch_index, minlength=n * FETCH.size).reshape(n, FETCH.size)
    requests = np.bincount(codes, minlength=n)
    hits = np.bincount(codes, weights=batch.hit, minlength=n)
    age_sum = np.bincount(codes[aged], weights=batch.age_s[aged], minlength=n)
    fetch_sum = np.bincount(codes, weights=batch.fetch_ms, minlength=n)
    stale_after = np.array([slos.stale_after(str(name)) for name in names])
    with np.errstate(invalid="ignore"):  # NaN ages (misses) are not stale
        stale = np.bincount(codes, weights=batch.age_s > stale_after[codes], minlength=n)
    for i, name in enumerate(names):
        t = totals.setdefault(str(name), _Feature())
        t.requests += int(requests[i])
        t.hits += int(hits[i])
        t.stale += int(stale[i])
        t.age_sum += float(age_sum[i])
        t.fetch_sum += float(fetch_sum[i])
        t.age = age_counts[i].copy() if t.age is None else t.age + age_counts[i]
        t.fetch = fetch_counts[i].copy() if t.fetch is None else t.fetch + fetch_counts[i]


def _feature_report(name: str, t: _Feature, slos: SloSet, baseline: FreshnessProfile | None) -> FeatureReport:
    assert t.age is not None and t.fetch is not None
    stats = FetchStats(t.requests, t.hits, Sketch(AGE, t.age, t.age_sum), Sketch(FETCH, t.fetch, t.fetch_sum))
    stale_after = slos.stale_after(name)
    profile = baseline.features.get(name) if baseline is not None else None
    skew = None
    if profile is not None:
        skew = AgeSkew(SKEW_QUANTILE, profile.age(SKEW_QUANTILE), stats.age.quantile(SKEW_QUANTILE))
    stale_rate = t.stale / t.requests if t.requests else None
    results = tuple(_result(s, stats, stale_rate, profile) for s in slos.for_feature(name))
    counts = (profile.count, profile.future, profile.missing) if profile is not None else None
    return FeatureReport(name, stats, t.stale, stale_after, results, skew, counts)


def _result(slo: Slo, stats: FetchStats, stale_rate: float | None, profile: FeatureProfile | None) -> SloResult:
    if slo.metric == "hit_rate":
        return SloResult(slo, stats.hit_rate)
    if slo.metric == "stale_rate":
        return SloResult(slo, stale_rate)
    assert slo.q is not None
    if slo.metric == "staleness":
        value = stats.age.quantile(slo.q)
        return SloResult(slo, value, "" if value is not None else "no fetch served a value with an age")
    if slo.metric == "fetch":
        return SloResult(slo, stats.fetch.quantile(slo.q))
    if profile is None:  # age_skew
        return SloResult(slo, None, "not in the training profile")
    skew = AgeSkew(slo.q, profile.age(slo.q), stats.age.quantile(slo.q))
    return SloResult(slo, skew.ratio, "" if skew.ratio is not None else "no ages to compare")


def _timeline(batches: list[FetchBatch]) -> Timeline:
    ts = np.concatenate([b.ts for b in batches])
    by_time = bool(ts.size) and not np.isnan(ts).any()
    x = ts if by_time else np.arange(ts.size, dtype=np.float64)
    feature = np.array([f for b in batches for f in b.feature], dtype=object)
    hit = np.concatenate([b.hit for b in batches])
    age = np.concatenate([b.age_s for b in batches])
    fetch = np.concatenate([b.fetch_ms for b in batches])
    lo, hi = float(x.min()), float(x.max())
    width = max((hi - lo) / TIMELINE_BINS, 1e-9)
    bins = np.minimum(((x - lo) / width).astype(np.intp), TIMELINE_BINS - 1)
    series = {}
    for name in sorted(set(feature.tolist())):
        mask = feature == name
        requests = np.bincount(bins[mask], minlength=TIMELINE_BINS).astype(np.float64)
        hits = np.bincount(bins[mask], weights=hit[mask], minlength=TIMELINE_BINS)
        with np.errstate(invalid="ignore", divide="ignore"):
            hit_rate = hits / requests
        p95, p99 = np.full(TIMELINE_BINS, np.nan), np.full(TIMELINE_BINS, np.nan)
        for b in np.unique(bins[mask]):
            rows = mask & (bins == b)
            ages = age[rows]
            ages = ages[~np.isnan(ages)]
            if ages.size:
                p95[b] = AGE.sketch(ages).quantile(0.95)
            p99[b] = FETCH.sketch(fetch[rows]).quantile(0.99)
        series[str(name)] = (requests, hit_rate, p95, p99)
    starts = lo + width * np.arange(TIMELINE_BINS, dtype=np.float64)
    return Timeline(starts, width, by_time, series)
