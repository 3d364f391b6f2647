"""Benchmarks of feature-freshness recording and analysis, printed as timings and ratios.

    .venv/bin/python scripts/bench_freshness.py [--quick]

1. `Recorder.observe`: the caller's cost per call (background drain idle), the end-to-end CPU per
   observation (observe + binning + request-log row, wall time of N observations and a flush), single
   thread and 4 contending threads; budget 2 µs per call.
2. Quantile sketches on 1M log-normal values (ages 2 ms .. 35 days): per-insert cost from Python, bulk
   ingest, merge of two halves, worst relative error over p50..p99.9 against numpy's exact
   ``method="lower"`` quantiles. Libraries not installed are listed as skipped.
3. `envprint freshness` reading speed: JSON Lines, CSV and Parquet rows per second.

Timings are medians of repeats (wall clock, ``time.perf_counter``); the machine is whatever runs it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from envprint.freshness import AGE, Recorder, analyze, build_slos

QUANTILES = (0.5, 0.9, 0.95, 0.99, 0.999)
BUDGET_US = 2.0


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    """Returns the median wall time of `fn` in seconds over `repeats` runs."""
    return median_times(fn, repeats)[0]


def median_times(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Returns the median wall time and the median CPU time of the whole process (all threads) of `fn`, in seconds."""
    walls, cpus = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


# ------------------------------------------------------------------------------------------ recorder


def _observe_loop(rec: Recorder, n: int, feature: str) -> None:
    observe = rec.observe
    for i in range(n):
        observe(feature, hit=True, age_s=1.5 + (i & 1023), fetch_ms=0.8, request_id="req-12345")


def bench_recorder(n: int, repeats: int) -> list[tuple[str, float, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for log in (None, Path(tmp) / "fetches.jsonl"):
            name = "with request log" if log else "no request log"
            # the caller's cost: the drainer sleeps for the whole loop (max_pending above n)
            with Recorder(log, flush_interval_s=3600, max_pending=n * 8 + 1) as rec:
                wall, cpu = median_times(lambda rec=rec: (_observe_loop(rec, n, "f"), rec._queue.clear()), repeats)
            rows.append((f"observe(), caller only, 1 thread, {name}", wall / n * 1e6, cpu / n * 1e6))
            with Recorder(log) as rec:
                wall, cpu = median_times(lambda rec=rec: (_observe_loop(rec, n, "f"), rec.flush()), repeats)
            rows.append((f"observe() + binning + log, end to end, 1 thread, {name}", wall / n * 1e6, cpu / n * 1e6))
            with Recorder(log) as rec:

                def contended(rec: Recorder = rec) -> None:
                    threads = [threading.Thread(target=_observe_loop, args=(rec, n // 4, f"f{t}")) for t in range(4)]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                    rec.flush()

                wall, cpu = median_times(contended, repeats)
            rows.append((f"observe() + binning + log, end to end, 4 threads, {name}", wall / n * 1e6, cpu / n * 1e6))
    return rows


# ------------------------------------------------------------------------------------------ sketches


class Candidate:
    """One sketch library: how to insert one value, ingest many, merge two, and answer quantiles."""

    def __init__(
        self,
        name: str,
        module: str,
        make: Callable[[], Any],
        insert: Callable[[Any, float], None],
        bulk: Callable[[np.ndarray], Any] | None,
        merge: Callable[[Any, Any], Any],
        quantile: Callable[[Any, float], float],
        note: str,
    ) -> None:
        self.name, self.module, self.make, self.insert = name, module, make, insert
        self.bulk, self.merge, self.quantile, self.note = bulk, merge, quantile, note


def candidates() -> list[Candidate]:
    """Returns the sketch libraries compared (each imported lazily, so a missing one is skipped)."""

    def dd() -> Any:
        return importlib.import_module("ddsketch").DDSketch(0.01)

    def hdr() -> Any:  # microseconds from 1 µs to 100 days, 2 significant digits (≤ 1 % error)
        return importlib.import_module("hdrh.histogram").HdrHistogram(1, 100 * 86400 * 10**6, 2)

    def hdr_merge(a: Any, b: Any) -> Any:
        a.add(b)
        return a

    def td() -> Any:
        return importlib.import_module("tdigest").TDigest()

    def ptd() -> Any:
        return importlib.import_module("pytdigest").TDigest(compression=100)

    def fd() -> Any:
        return importlib.import_module("fastdigest").TDigest()

    def envprint_ingest(values: np.ndarray) -> Any:
        return AGE.sketch(values)

    return [
        Candidate(
            "envprint (DDSketch buckets + ddsketch query)",
            "ddsketch",
            AGE.empty,
            lambda s, v: None,  # recording is Recorder.observe + numpy binning, measured above
            envprint_ingest,
            lambda a, b: a.merge(b),
            lambda s, q: s.quantile(q),
            "α = 1 % guaranteed; fixed 1384 counters",
        ),
        Candidate(
            "ddsketch.DDSketch (pure Python)",
            "ddsketch",
            dd,
            lambda s, v: s.add(v),
            None,
            lambda a, b: (a.merge(b), a)[1],
            lambda s, q: s.get_quantile_value(q),
            "α = 1 % guaranteed; unbounded dense store",
        ),
        Candidate(
            "hdrhistogram (HdrHistogram, 2 digits)",
            "hdrh",
            hdr,
            lambda s, v: s.record_value(max(1, int(v * 1e6))),
            None,
            hdr_merge,
            lambda s, q: s.get_value_at_percentile(q * 100) / 1e6,
            "integers only, fixed range; ~1 % by significant digits",
        ),
        Candidate(
            "tdigest (pure Python t-digest)",
            "tdigest",
            td,
            lambda s, v: s.update(v),
            None,
            lambda a, b: a + b,
            lambda s, q: s.percentile(q * 100),
            "rank error, no relative-error bound",
        ),
        Candidate(
            "pytdigest (C t-digest)",
            "pytdigest",
            ptd,
            lambda s, v: s.update(v),
            lambda values: importlib.import_module("pytdigest").TDigest.compute(values, compression=100),
            lambda a, b: importlib.import_module("pytdigest").TDigest.combine(a, b),
            lambda s, q: float(s.inverse_cdf(q)),
            "rank error, no relative-error bound",
        ),
        Candidate(
            "fastdigest (Rust t-digest)",
            "fastdigest",
            fd,
            lambda s, v: s.update(v),
            lambda values: importlib.import_module("fastdigest").TDigest.from_values(values),
            lambda a, b: a.merge(b),
            lambda s, q: s.quantile(q),
            "rank error, no relative-error bound",
        ),
    ]


def bench_sketches(values: np.ndarray, inserts: int) -> list[list[str]]:
    exact = [float(np.quantile(values, q, method="lower")) for q in QUANTILES]
    half = values.size // 2
    out = []
    for c in candidates():
        try:
            importlib.import_module(c.module)
        except ImportError:
            out.append([c.name, "skipped: not installed", "", "", "", c.note])
            continue
        s = c.make()
        sample = values[:inserts].tolist()
        t0 = time.perf_counter()
        for v in sample:
            c.insert(s, v)
        per_insert = (time.perf_counter() - t0) / inserts * 1e6
        if c.name.startswith("envprint"):
            per_insert = math.nan  # see the Recorder rows: observe() is the insert
        if c.bulk is not None:
            t0 = time.perf_counter()
            a, b = c.bulk(values[:half]), c.bulk(values[half:])
            ingest = (time.perf_counter() - t0) / values.size * 1e6
        else:  # build the two halves one value at a time (this is what the library offers)
            t0 = time.perf_counter()
            a, b = c.make(), c.make()
            for v in values[:half].tolist():
                c.insert(a, v)
            for v in values[half:].tolist():
                c.insert(b, v)
            ingest = (time.perf_counter() - t0) / values.size * 1e6
        t0 = time.perf_counter()
        merged = c.merge(a, b)
        merge_ms = (time.perf_counter() - t0) * 1e3
        errors = [abs(c.quantile(merged, q) - e) / e for q, e in zip(QUANTILES, exact, strict=True)]
        out.append(
            [
                c.name,
                "–" if math.isnan(per_insert) else f"{per_insert:.2f}",
                f"{ingest:.3f}",
                f"{merge_ms:.2f}",
                f"{max(errors):.3%}",
                c.note,
            ]
        )
    return out


# ------------------------------------------------------------------------------------------- reading


def bench_reading(rows: int) -> list[tuple[str, float]]:
    rng = np.random.default_rng(3)
    features = np.array(["last_click_ts", "user_embedding", "country", "basket"])[rng.integers(0, 4, rows)]
    ages = rng.lognormal(1.5, 2.0, rows)
    fetch = rng.gamma(2.0, 0.6, rows)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        jsonl = Path(tmp) / "log.jsonl"
        with jsonl.open("w") as f:
            for i in range(rows):
                f.write(
                    json.dumps(
                        {
                            "request_id": f"r{i}",
                            "feature": str(features[i]),
                            "hit": True,
                            "age_s": float(ages[i]),
                            "fetch_ms": float(fetch[i]),
                            "ts": 1.7e9 + i,
                        }
                    )
                    + "\n"
                )
        csv_path = Path(tmp) / "log.csv"
        with csv_path.open("w") as f:
            f.write("request_id,feature,hit,age_s,fetch_ms,ts\n")
            for i in range(rows):
                f.write(f"r{i},{features[i]},true,{float(ages[i])!r},{float(fetch[i])!r},{1.7e9 + i}\n")
        paths = [("JSON Lines", jsonl), ("CSV", csv_path)]
        try:
            pa = importlib.import_module("pyarrow")
            pq = importlib.import_module("pyarrow.parquet")
            table = pa.table(
                {
                    "request_id": [f"r{i}" for i in range(rows)],
                    "feature": features.tolist(),
                    "hit": np.ones(rows, bool),
                    "age_s": ages,
                    "fetch_ms": fetch,
                    "ts": 1.7e9 + np.arange(rows, dtype=float),
                }
            )
            pq.write_table(table, Path(tmp) / "log.parquet")
            paths.append(("Parquet", Path(tmp) / "log.parquet"))
        except ImportError:
            pass
        slos = build_slos()
        for name, path in paths:
            seconds = median_time(lambda path=path: analyze([path], slos=slos), 3)
            out.append((f"analyze() {name}, {rows} rows ({os.path.getsize(path) / 1e6:.0f} MB)", rows / seconds))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (for a smoke run)")
    args = parser.parse_args()
    n, repeats, values_n, inserts, rows = (
        (50_000, 3, 100_000, 20_000, 20_000) if args.quick else (400_000, 5, 1_000_000, 100_000, 200_000)
    )
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPU(s)\n")
    print(f"1. Recorder.observe ({n} calls, median of {repeats}); budget {BUDGET_US} µs per call")
    print(f"   {'':<66} {'wall':>6}  {'CPU':>6}  (wall ÷ budget)")
    for label, wall, cpu in bench_recorder(n, repeats):
        print(f"   {label:<66} {wall:6.2f}  {cpu:6.2f}  µs/call ({wall / BUDGET_US:.2f} × budget)")
    values = np.random.default_rng(16).lognormal(math.log(5.0), 2.5, values_n).clip(2e-3, 3e6)
    print(f"\n2. Quantile sketches: {values_n} log-normal ages; per-insert over {inserts} Python calls")
    header = ["library", "insert µs", "ingest µs/value", "merge ms", "max rel. error", "guarantee"]
    table = [header, *bench_sketches(values, inserts)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        print("   " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)))
    print("\n3. Reading fetch logs (envprint freshness, median of 3)")
    for label, per_s in bench_reading(rows):
        print(f"   {label:<52} {per_s / 1e6:6.2f} M rows/s")


if __name__ == "__main__":
    main()
