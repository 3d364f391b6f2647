"""Feature freshness skew: measure it at serving, hold it to SLOs, compare it with training, explain shadows.

Serving::

    from envprint.freshness import Recorder
    rec = Recorder(log="fetches.jsonl")
    rec.register()                      # Prometheus: hit ratio, staleness and fetch-latency summaries
    rec.observe("last_click_ts", hit=True, age_s=4.2, fetch_ms=0.9, request_id=rid)

Training::

    prof = envprint.freshness.profile(df, event_time="label_ts", feature_times={"last_click_ts": "clicked_at"})
    prof.attach(envprint.capture(artifact="model/")).save("model/envprint.fp", key="train.key")

Investigation: ``envprint freshness fetches.jsonl --baseline model/envprint.fp`` (per-feature table,
SLO breaches, age skew; `analyze`) and ``envprint shadow base.csv cand.csv --requests fetches.jsonl``
(`attribute`). See docs/freshness.md.

Importing this package needs only numpy; quantiles need ``ddsketch`` and Prometheus export needs
``prometheus_client`` (``pip install 'envprint[freshness]'``), and say so when they are missing.
"""

from __future__ import annotations

from envprint.freshness.analysis import analyze, summarize
from envprint.freshness.attribution import Attribution, FeatureAttribution, attribute
from envprint.freshness.errors import FetchLogError, SloError
from envprint.freshness.log import FetchBatch, read_log, read_logs
from envprint.freshness.recorder import FeatureSnapshot, Fetch, Recorder, RecorderSnapshot
from envprint.freshness.report import AgeSkew, FeatureReport, FreshnessReport, SloResult, Timeline
from envprint.freshness.sketch import AGE, FETCH, RELATIVE_ACCURACY, Layout, Sketch
from envprint.freshness.slo import DEFAULT_SLOS, Slo, SloSet, build_slos, parse_duration, parse_slo
from envprint.freshness.stats import FetchStats
from envprint.freshness.training import FeatureProfile, FreshnessProfile, load_profile, profile

__all__ = [
    "AGE",
    "DEFAULT_SLOS",
    "FETCH",
    "RELATIVE_ACCURACY",
    "AgeSkew",
    "Attribution",
    "FeatureAttribution",
    "FeatureProfile",
    "FeatureReport",
    "FeatureSnapshot",
    "Fetch",
    "FetchBatch",
    "FetchLogError",
    "FetchStats",
    "FreshnessProfile",
    "FreshnessReport",
    "Layout",
    "Recorder",
    "RecorderSnapshot",
    "Sketch",
    "Slo",
    "SloError",
    "SloResult",
    "SloSet",
    "Timeline",
    "analyze",
    "attribute",
    "build_slos",
    "load_profile",
    "parse_duration",
    "parse_slo",
    "profile",
    "read_log",
    "read_logs",
    "summarize",
]
