"""Shadow attribution: which feature's staleness explains the rows where a shadow's predictions diverge.

    result = attribute("baseline.csv", "candidate.csv", ["fetches.jsonl"])
    result.likely_cause.feature     # "last_click_ts"
    result.verdict                  # the shadow rule: > 5 % divergence → look at feature availability first

Both prediction files carry a ``request_id`` column; their rows are paired by it (not by position)
and compared by `envprint.shadow.compare`, whose rule decides which rows diverge. The request log
(what `Recorder` writes) says, per request and feature, whether the value served was fresh,
stale (older than the feature's stale-after age, see `envprint.freshness.slo`) or missed. Per
feature, the divergence rate among requests where it was stale or missed is set against the rate
among requests where it was fresh, with a one-sided two-proportion z-test; features are ranked by
the difference, significant ones first. A request that fetched a feature several times counts by
its worst fetch (missed, then stale, then fresh).
"""

from __future__ import annotations

import csv
import dataclasses
import importlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from envprint.errors import UsageError
from envprint.freshness.errors import missing_extra
from envprint.freshness.log import read_logs
from envprint.freshness.slo import SloSet, build_slos
from envprint.shadow import DEFAULT_ATOL, DEFAULT_MAX_FRACTION, DEFAULT_RTOL, ShadowReport, compare, read_predictions

__all__ = ["DIVERGENCE_LIMIT", "MIN_COVERAGE", "Attribution", "FeatureAttribution", "attribute"]

#: the shadow rule: more than 5 % of shadowed requests diverging calls for a look at feature availability…
DIVERGENCE_LIMIT = 0.05
#: …when the shadow sees at least 10 % of the requests
MIN_COVERAGE = 0.10
#: a difference in divergence rates counts as significant below this one-sided p-value…
SIGNIFICANCE = 0.01
#: …with at least this many requests on each side
MIN_GROUP = 10
REQUEST_ID = "request_id"
# per request and feature: not fetched, fresh, stale, missed (the worst fetch wins)
_NONE, _FRESH, _STALE, _MISSED = -1, 0, 1, 2


@dataclass(frozen=True)
class FeatureAttribution:
    """One feature: how often shadowed requests diverged when its value was stale or missed vs fresh."""

    feature: str
    stale_after: float
    fetched: int  # shadowed requests that fetched the feature
    stale: int
    missed: int
    degraded_diverging: int  # diverging requests among the stale or missed ones
    fresh_diverging: int
    p_value: float | None  # one-sided: divergence is more frequent when degraded; None without both groups

    @property
    def degraded(self) -> int:
        """Returns the requests where the feature was stale or missed."""
        return self.stale + self.missed

    @property
    def fresh(self) -> int:
        """Returns the requests where the feature was fresh."""
        return self.fetched - self.degraded

    @property
    def degraded_rate(self) -> float | None:
        """Returns the divergence rate among requests with the feature stale or missed."""
        return self.degraded_diverging / self.degraded if self.degraded else None

    @property
    def fresh_rate(self) -> float | None:
        """Returns the divergence rate among requests with the feature fresh."""
        return self.fresh_diverging / self.fresh if self.fresh else None

    @property
    def difference(self) -> float:
        """Returns degraded rate − fresh rate (0 when a group is empty): how much staleness adds."""
        if self.degraded_rate is None or self.fresh_rate is None:
            return 0.0
        return self.degraded_rate - self.fresh_rate

    @property
    def significant(self) -> bool:
        """Returns whether divergence is significantly more frequent when the feature is stale or missed."""
        return (
            self.p_value is not None
            and self.p_value < SIGNIFICANCE
            and min(self.degraded, self.fresh) >= MIN_GROUP
            and self.difference > 0
        )

    @property
    def text(self) -> str:
        """Returns e.g. "diverging: 31.0% with stale or missed last_click_ts (n=150) vs 2.0% fresh (n=850)"."""
        deg = "–" if self.degraded_rate is None else f"{self.degraded_rate:.1%}"
        fresh = "–" if self.fresh_rate is None else f"{self.fresh_rate:.1%}"
        return (
            f"diverging: {deg} with stale or missed {self.feature} (n={self.degraded}) "
            f"vs {fresh} fresh (n={self.fresh})"
        )


@dataclass(frozen=True)
class Attribution:
    """A shadow comparison joined with request freshness: ranked features and the shadow rule's verdict."""

    shadow: ShadowReport
    shadowed: int  # requests in both prediction files
    only_baseline: int
    only_candidate: int
    logged_requests: int  # distinct request ids in the request logs
    unlogged: int  # shadowed requests the logs do not mention
    rows_without_id: int  # log rows without a request_id (cannot be joined)
    features: tuple[FeatureAttribution, ...]  # ranked: significant first, then by difference
    request_logs: tuple[str, ...]
    divergence_limit: float = DIVERGENCE_LIMIT
    min_coverage: float = MIN_COVERAGE

    @property
    def fraction(self) -> float:
        """Returns the fraction of shadowed requests whose predictions diverge."""
        return self.shadow.fraction

    @property
    def coverage(self) -> float | None:
        """Returns shadowed requests ÷ requests in the logs (the share of traffic the shadow saw)."""
        return self.shadowed / self.logged_requests if self.logged_requests else None

    @property
    def rule_breached(self) -> bool:
        """Returns whether more than `divergence_limit` of the shadowed requests diverge."""
        return self.fraction > self.divergence_limit

    @property
    def likely_cause(self) -> FeatureAttribution | None:
        """Returns the top-ranked feature when its staleness significantly raises divergence, else None."""
        return self.features[0] if self.features and self.features[0].significant else None

    @property
    def verdict(self) -> str:
        """Returns the shadow rule's verdict in one line, naming the likely cause when there is one."""
        head = (
            f"{self.fraction:.1%} of {self.shadowed} shadowed requests diverge "
            f"({'>' if self.rule_breached else '<='} {self.divergence_limit:.0%})"
        )
        if not self.rule_breached:
            return f"OK: {head}"
        cause = self.likely_cause
        if cause is None:
            return f"INVESTIGATE: {head}; check feature availability first: no feature's staleness explains it"
        return f"INVESTIGATE: {head}; check feature availability first: likely {cause.feature} ({cause.text})"

    @property
    def notes(self) -> tuple[str, ...]:
        """Returns caveats: low coverage, unpaired rows, requests missing from the logs."""
        out = []
        if self.coverage is not None and self.coverage < self.min_coverage:
            out.append(
                f"the shadow saw {self.coverage:.1%} of the {self.logged_requests} logged requests; "
                f"the rule assumes at least {self.min_coverage:.0%}"
            )
        if self.only_baseline or self.only_candidate:
            out.append(
                f"{self.only_baseline} request(s) only in the baseline and {self.only_candidate} only in the "
                "candidate were left out"
            )
        if self.unlogged:
            out.append(f"{self.unlogged} shadowed request(s) have no row in the request logs")
        if self.rows_without_id:
            out.append(f"{self.rows_without_id} log row(s) without a request_id could not be joined")
        return tuple(out)


def attribute(
    baseline: str | os.PathLike[str],
    candidate: str | os.PathLike[str],
    requests: Sequence[str | os.PathLike[str]],
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    max_fraction: float = DEFAULT_MAX_FRACTION,
    column: str | None = None,
    worst: int = 10,
    slos: SloSet | None = None,
) -> Attribution:
    """Returns the shadow comparison of the two prediction files, paired by request_id, attributed to features.

    `slos` gives each feature's stale-after age (default: the built-in SLOs, 10 s). Raises
    `UsageError` when a prediction file has no request_id column, a request id repeats, or no
    request is in both files; `FetchLogError` for an unreadable request log.
    """
    if not requests:
        raise UsageError("no request log given")
    slos = slos if slos is not None else build_slos()
    base_ids, base_values, names = _predictions(Path(baseline), column)
    cand_ids, cand_values, cand_names = _predictions(Path(candidate), column)
    if names != cand_names:
        raise UsageError(
            f"prediction columns differ: {baseline} ({', '.join(names)}), {candidate} ({', '.join(cand_names)})",
            hint="export both with the same columns, or pick one with --column",
        )
    cand_row = {rid: i for i, rid in enumerate(cand_ids)}
    pairs = [(i, cand_row[rid]) for i, rid in enumerate(base_ids) if rid in cand_row]
    if not pairs:
        raise UsageError(f"no request_id is in both {baseline} and {candidate}: nothing to compare")
    b_rows = np.array([i for i, _ in pairs])
    c_rows = np.array([j for _, j in pairs])
    shadowed_ids = [base_ids[i] for i in b_rows]
    dtype = np.dtype([(n, np.float64) for n in names])
    report = compare(
        _structured(base_values[b_rows], dtype),
        _structured(cand_values[c_rows], dtype),
        rtol=rtol,
        atol=atol,
        max_fraction=max_fraction,
        worst=len(pairs),  # every row that differs, each with its `diverges` verdict from the one rule
    )
    diverges = np.zeros(len(pairs), bool)
    for row in report.worst:
        diverges[row.row] = row.diverges
    report = dataclasses.replace(report, baseline=str(baseline), candidate=str(candidate), worst=report.worst[:worst])
    status, logged, rows_without_id = _statuses(requests, shadowed_ids, slos)
    features = [_feature(name, s, diverges, slos.stale_after(name)) for name, s in status.items()]
    features.sort(key=lambda f: (not f.significant, -f.difference, f.feature))
    unlogged = int(np.sum(np.all(np.stack(list(status.values())) == _NONE, axis=0))) if status else len(pairs)
    return Attribution(
        shadow=report,
        shadowed=len(pairs),
        only_baseline=len(base_ids) - len(pairs),
        only_candidate=len(cand_ids) - len(pairs),
        logged_requests=logged,
        unlogged=unlogged,
        rows_without_id=rows_without_id,
        features=tuple(features),
        request_logs=tuple(str(r) for r in requests),
    )


def _structured(values: npt.NDArray[np.float64], dtype: np.dtype[np.void]) -> npt.NDArray[np.void]:
    out = np.empty(values.shape[0], dtype=dtype)
    for j, name in enumerate(dtype.names or ()):
        out[name] = values[:, j]
    return out


def _predictions(path: Path, column: str | None) -> tuple[list[str], npt.NDArray[np.float64], tuple[str, ...]]:
    """Returns the request ids, the prediction values (rows, columns) and the column names of a file."""
    ids, names = _request_ids(path)
    if column is not None:
        if column not in names:
            raise UsageError(f"{path}: no prediction column {column!r}; columns: {', '.join(names)}")
        names = (column,)
    if not names:
        raise UsageError(f"{path}: no prediction column besides {REQUEST_ID}")
    values = np.stack([read_predictions(path, column=n).values[:, 0] for n in names], axis=1)
    seen: dict[str, int] = {}
    for i, rid in enumerate(ids):
        if not rid:
            raise UsageError(f"{path}: row {i + 1} has an empty {REQUEST_ID}")
        if rid in seen:
            raise UsageError(
                f"{path}: {REQUEST_ID} {rid!r} appears in rows {seen[rid] + 1} and {i + 1}",
                hint="a shadow pairs one prediction per request: deduplicate the export",
            )
        seen[rid] = i
    return ids, values, names


def _request_ids(path: Path) -> tuple[list[str], tuple[str, ...]]:
    """Returns the request_id column as text and the names of the other columns."""
    suffix = path.suffix.lower()
    hint = f"export the predictions as .csv or .parquet with a {REQUEST_ID} column"
    if suffix == ".csv":
        try:
            with path.open(newline="", encoding="utf-8-sig") as f:
                rows = [r for r in csv.reader(f) if r]
        except FileNotFoundError:
            raise UsageError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise UsageError(f"{path}: cannot read it as CSV ({e})") from None
        header = [h.strip() for h in rows[0]] if rows else []
        if REQUEST_ID not in header:
            raise UsageError(f"{path}: no {REQUEST_ID} column in the header ({', '.join(header)})", hint=hint)
        j = header.index(REQUEST_ID)
        return [r[j].strip() if j < len(r) else "" for r in rows[1:]], tuple(h for h in header if h != REQUEST_ID)
    if suffix == ".parquet":
        try:  # deferred and by name: pyarrow is an optional, untyped extra that costs ~100 ms to import
            pa = importlib.import_module("pyarrow")
            pq = importlib.import_module("pyarrow.parquet")
        except ImportError:
            raise missing_extra("pyarrow", f"reading {path.name}") from None
        try:
            table = pq.read_table(path)
        except FileNotFoundError:
            raise UsageError(f"{path}: no such file") from None
        except (OSError, pa.ArrowException) as e:
            raise UsageError(f"{path}: cannot read it as Parquet ({e})") from None
        if REQUEST_ID not in table.column_names:
            raise UsageError(f"{path}: no {REQUEST_ID} column ({', '.join(table.column_names)})", hint=hint)
        ids = ["" if v is None else str(v) for v in table.column(REQUEST_ID).to_pylist()]
        return ids, tuple(n for n in table.column_names if n != REQUEST_ID)
    raise UsageError(
        f"{path}: --requests pairs predictions by {REQUEST_ID}, which a {suffix or 'file'} cannot hold", hint=hint
    )


def _statuses(
    logs: Sequence[str | os.PathLike[str]], shadowed: list[str], slos: SloSet
) -> tuple[dict[str, npt.NDArray[np.int8]], int, int]:
    """Returns per feature the worst status of each shadowed request, the distinct logged requests, rows without id."""
    index = {rid: i for i, rid in enumerate(shadowed)}
    status: dict[str, npt.NDArray[np.int8]] = {}
    logged: set[str] = set()
    without_id = 0
    for batch in read_logs(logs):
        for k, rid in enumerate(batch.request_id):
            if rid is None:
                without_id += 1
                continue
            logged.add(rid)
            i = index.get(rid)
            if i is None:
                continue
            feature = batch.feature[k]
            if not batch.hit[k]:
                s = _MISSED
            elif batch.age_s[k] > slos.stale_after(feature):
                s = _STALE
            else:
                s = _FRESH
            column = status.get(feature)
            if column is None:
                column = status[feature] = np.full(len(shadowed), _NONE, np.int8)
            if s > column[i]:
                column[i] = s
    return dict(sorted(status.items())), len(logged), without_id


def _feature(
    name: str, status: npt.NDArray[np.int8], diverges: npt.NDArray[np.bool_], stale_after: float
) -> FeatureAttribution:
    fetched = status != _NONE
    degraded = status >= _STALE
    fresh = status == _FRESH
    a = FeatureAttribution(
        feature=name,
        stale_after=stale_after,
        fetched=int(fetched.sum()),
        stale=int(np.sum(status == _STALE)),
        missed=int(np.sum(status == _MISSED)),
        degraded_diverging=int(np.sum(degraded & diverges)),
        fresh_diverging=int(np.sum(fresh & diverges)),
        p_value=None,
    )
    return dataclasses.replace(a, p_value=_p_value(a))


def _p_value(a: FeatureAttribution) -> float | None:
    """Returns the one-sided p-value of "divergence is more frequent when degraded" (pooled two-proportion z-test)."""
    n1, n2 = a.degraded, a.fresh
    if not n1 or not n2:
        return None
    pooled = (a.degraded_diverging + a.fresh_diverging) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return 1.0  # every request alike: no evidence either way
    z = a.difference / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return 0.5 * math.erfc(z / math.sqrt(2))
