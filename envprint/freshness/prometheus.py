"""Prometheus metrics of a `Recorder` (imported only when asked: prometheus_client is an optional extra).

Per feature (label ``feature``), in base units (seconds):

- ``envprint_feature_requests_total``, ``envprint_feature_hits_total``: counters since start; the
  hit rate of any range and any set of replicas is ``rate(hits) / rate(requests)``.
- ``envprint_feature_hit_ratio``: hits / requests over the recorder's sliding window.
- ``envprint_feature_staleness_seconds``: a summary of the age of the values served, quantiles over
  the sliding window (±1 % relative accuracy), ``_count`` and ``_sum`` since start.
- ``envprint_feature_fetch_seconds``: the same for fetch latency.

And ``envprint_freshness_log_rows_lost_total``: request-log rows that could not be written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from envprint.freshness.recorder import Recorder

__all__ = ["FreshnessCollector"]


class FreshnessCollector(Collector):
    """A prometheus_client collector that reads a recorder's snapshot at every scrape."""

    def __init__(self, recorder: Recorder, *, quantiles: tuple[float, ...] = (0.5, 0.95, 0.99)) -> None:
        if not quantiles or any(not 0.0 <= q <= 1.0 for q in quantiles):
            raise ValueError(f"quantiles must be between 0 and 1, not {quantiles!r}")
        self.recorder = recorder
        self.quantiles = tuple(quantiles)

    def describe(self) -> Iterator[Metric]:
        """Yields the metric families without samples, so registering does not take a snapshot."""
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        """Yields the metric families with one sample set per feature, from a fresh snapshot."""
        snap = self.recorder.snapshot()
        requests, hits, ratio, staleness, fetch, lost = self._families()
        for name, f in sorted(snap.features.items()):
            requests.add_metric([name], f.total.requests)
            hits.add_metric([name], f.total.hits)
            if f.window.hit_rate is not None:
                ratio.add_metric([name], f.window.hit_rate)
            _summary(staleness, name, self.quantiles, f.window.age.quantiles(self.quantiles), 1.0)
            staleness.add_metric([name], count_value=f.total.age.count, sum_value=f.total.age.total)
            _summary(fetch, name, self.quantiles, f.window.fetch.quantiles(self.quantiles), 1e-3)
            fetch.add_metric([name], count_value=f.total.fetch.count, sum_value=f.total.fetch.total / 1000.0)
        lost.add_metric([], snap.log_rows_lost)
        yield from (requests, hits, ratio, staleness, fetch, lost)

    def _families(
        self,
    ) -> tuple[
        CounterMetricFamily,
        CounterMetricFamily,
        GaugeMetricFamily,
        SummaryMetricFamily,
        SummaryMetricFamily,
        CounterMetricFamily,
    ]:
        window = f"{self.recorder.window_s:g} s"
        return (
            CounterMetricFamily("envprint_feature_requests", "Feature fetches since start.", labels=["feature"]),
            CounterMetricFamily("envprint_feature_hits", "Feature fetches served from the cache.", labels=["feature"]),
            GaugeMetricFamily(
                "envprint_feature_hit_ratio", f"Hits / fetches over the last {window}.", labels=["feature"]
            ),
            SummaryMetricFamily(
                "envprint_feature_staleness_seconds",
                f"Age of the feature values served; quantiles over the last {window} (±1 % relative).",
                labels=["feature"],
            ),
            SummaryMetricFamily(
                "envprint_feature_fetch_seconds",
                f"Feature fetch latency; quantiles over the last {window} (±1 % relative).",
                labels=["feature"],
            ),
            CounterMetricFamily("envprint_freshness_log_rows_lost", "Request-log rows that could not be written."),
        )


def _summary(
    family: SummaryMetricFamily,
    feature: str,
    quantiles: tuple[float, ...],
    values: tuple[float | None, ...],
    scale: float,
) -> None:
    """Adds the quantile samples of one feature (none over an empty window, as prometheus_client does)."""
    for q, v in zip(quantiles, values, strict=True):
        if v is not None:
            family.add_sample(family.name, {"feature": feature, "quantile": f"{q:g}"}, v * scale)
