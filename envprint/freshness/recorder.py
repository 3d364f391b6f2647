"""`Recorder`: per-feature hit rate, staleness and fetch latency, measured in the serving process.

    rec = Recorder(log="fetches.jsonl")          # the request log is optional
    rec.register()                                # Prometheus metrics on the default registry
    ...
    value, updated_at = cache.get(key)
    rec.observe("last_click_ts", hit=value is not None, age_s=time.time() - updated_at,
                fetch_ms=elapsed_ms, request_id=request.id)

How it stays cheap: `observe` validates its arguments and appends one tuple to a deque (thread-safe
and lock-free in CPython), nothing else. A background thread drains the deque every
`flush_interval_s`: it bins the values into fixed DDSketch bucket arrays with numpy
(`envprint.freshness.sketch`) and appends the rows to the log. Every read (`snapshot`, a Prometheus
scrape, `flush`, `close`) drains first, so it sees every observation made before it. When the
deque holds `max_pending` rows (the thread is starved), the observing thread drains it itself:
nothing is dropped and memory stays bounded.

Memory is fixed per feature: two bucket arrays (ages, 1384 counters; fetch latencies, 1038) for
each of the `window_slots` slots of the sliding window (int32) plus one all-time copy (int64),
about 66 KiB per feature with the defaults. Quantiles over the window answer "what is the
staleness p95 now" (the Prometheus summaries); the all-time arrays give `snapshot(window=False)`.
"""

from __future__ import annotations

import atexit
import collections
import json
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from envprint.errors import UsageError
from envprint.freshness.sketch import AGE, FETCH, Sketch
from envprint.freshness.stats import FetchStats

__all__ = ["FeatureSnapshot", "Fetch", "FetchStats", "Recorder", "RecorderSnapshot"]

_INF = math.inf
_encode = json.encoder.encode_basestring_ascii  # the C encoder json.dumps uses
#: every live recorder, so a forked child can give each a fresh lock and thread
_RECORDERS: weakref.WeakSet[Recorder] = weakref.WeakSet()


@dataclass(frozen=True)
class FeatureSnapshot:
    """One feature as recorded: over the sliding window and since the recorder started."""

    feature: str
    window: FetchStats
    total: FetchStats


@dataclass(frozen=True)
class RecorderSnapshot:
    """Every feature of a recorder at one moment."""

    taken_at: float  # epoch seconds
    window_s: float
    features: Mapping[str, FeatureSnapshot]
    log: str | None
    #: rows the request log could not take (disk full, file gone) and the last such error
    log_rows_lost: int = 0
    log_error: str | None = None


class Recorder:
    """Records feature fetches: hit or miss, the age of the value served, the fetch latency.

    `log`: a JSON Lines file the rows are appended to (one per fetch: request_id, feature, hit,
    age_s, fetch_ms, ts), read later by ``envprint freshness`` and ``envprint shadow --requests``.
    `window_s`: the sliding window of the quantiles and hit ratio exported to Prometheus, kept as
    `window_slots` slots that expire one at a time (like prometheus_client's summaries in Go).
    """

    def __init__(
        self,
        log: str | os.PathLike[str] | None = None,
        *,
        window_s: float = 600.0,
        window_slots: int = 5,
        flush_interval_s: float = 0.5,
        max_pending: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not (math.isfinite(window_s) and window_s > 0) or window_slots < 1:
            raise UsageError(f"window_s must be > 0 and window_slots >= 1, not {window_s!r} and {window_slots!r}")
        if not (math.isfinite(flush_interval_s) and flush_interval_s > 0) or max_pending < 1:
            raise UsageError(
                f"flush_interval_s must be > 0 and max_pending >= 1, not {flush_interval_s!r} and {max_pending!r}"
            )
        self.window_s = float(window_s)
        self._slot_s = self.window_s / window_slots
        self._slots = window_slots
        self._flush_interval_s = flush_interval_s
        self._max_pending = max_pending
        self._clock = clock
        self._queue: collections.deque[tuple[Any, ...]] = collections.deque()
        self._known: set[str] = set()  # names observe() has checked once
        self._log_error: str | None = None
        self._log_rows_lost = 0
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        # per feature: window slots 0..slots-1 (int32: a slot never sees 2^31 fetches), then the all-time row
        self._age = np.zeros((0, window_slots, AGE.size), np.int32)
        self._fetch = np.zeros((0, window_slots, FETCH.size), np.int32)
        self._age_total = np.zeros((0, AGE.size), np.int64)
        self._fetch_total = np.zeros((0, FETCH.size), np.int64)
        # per feature and slot (the last column: all time): [requests, hits] and [age_s sum, fetch_ms sum]
        self._counts = np.zeros((2, 0, window_slots + 1), np.int64)
        self._sums = np.zeros((2, 0, window_slots + 1), np.float64)
        self._slot_epoch = np.full(window_slots, -1, np.int64)
        self._log_path = None if log is None else Path(log)
        self._log: IO[bytes] | None = None
        if self._log_path is not None:
            try:
                self._log = self._log_path.open("ab")
            except OSError as e:
                raise UsageError(f"{self._log_path}: cannot open the request log ({e.strerror or e})") from None
        self._closed = False
        self._start()
        _RECORDERS.add(self)
        atexit.register(_close_at_exit, weakref.ref(self))

    # ------------------------------------------------------------------------------------ recording

    def observe(
        self,
        feature: str,
        *,
        hit: bool,
        age_s: float | None,
        fetch_ms: float,
        request_id: str | int | None = None,
    ) -> None:
        """Records one fetch of `feature`: whether it hit, the age of the value served, the fetch latency.

        `age_s` is None only for a miss that served no value (a default). Raises `UsageError` for a
        negative, NaN or infinite age or latency: compute ages as ``max(0.0, now - updated_at)`` when
        the clocks of the writer and the server may disagree.
        """
        try:
            ok = 0.0 <= fetch_ms < _INF and (not hit if age_s is None else 0.0 <= age_s < _INF)
        except TypeError:
            ok = False
        if not ok or self._closed or feature not in self._known:
            self._refuse(feature, hit, age_s, fetch_ms, ok)
        queue = self._queue
        queue.append((feature, hit, age_s, fetch_ms, request_id, self._clock()))
        if len(queue) >= self._max_pending:  # the drainer is starved: drain here rather than grow or drop
            self._drain()

    def fetch(self, feature: str, *, request_id: str | int | None = None) -> Fetch:
        """Returns a context manager that times a fetch of `feature` and records it on exit (see `Fetch`)."""
        return Fetch(self, feature, request_id)

    def _refuse(self, feature: Any, hit: Any, age_s: Any, fetch_ms: Any, ok: bool) -> None:
        """Raises for an observation that cannot be recorded; admits a new, valid feature name and returns."""
        if self._closed:
            raise UsageError(f"observe({feature!r}): the recorder is closed")
        if not isinstance(feature, str) or not feature:
            raise UsageError(f"observe({feature!r}): a feature is named by a non-empty string")
        if ok:
            self._known.add(feature)
            return
        if age_s is None and hit:
            problem = "a hit needs the age of the value it served (age_s=None is for a miss only)"
        else:
            problem = f"age_s={age_s!r} and fetch_ms={fetch_ms!r} must be finite numbers >= 0"
        raise UsageError(
            f"observe({feature!r}): {problem}",
            hint="compute ages as max(0.0, now - updated_at) when clocks may disagree",
        )

    # -------------------------------------------------------------------------------------- reading

    def flush(self) -> None:
        """Bins every pending observation and writes its log row (flushed to the OS)."""
        self._drain()

    def snapshot(self) -> RecorderSnapshot:
        """Returns every feature's counts and sketches, over the window and all time, after a flush."""
        with self._lock:
            self._drain_locked()
            now = self._clock()
            live = self._slot_epoch > math.floor(now / self._slot_s) - self._slots
            features = {}
            for i, name in enumerate(self._names):
                window = FetchStats(
                    requests=int(self._counts[0, i, :-1][live].sum()),
                    hits=int(self._counts[1, i, :-1][live].sum()),
                    age=Sketch(
                        AGE, self._age[i][live].sum(axis=0, dtype=np.int64), float(self._sums[0, i, :-1][live].sum())
                    ),
                    fetch=Sketch(
                        FETCH,
                        self._fetch[i][live].sum(axis=0, dtype=np.int64),
                        float(self._sums[1, i, :-1][live].sum()),
                    ),
                )
                total = FetchStats(
                    requests=int(self._counts[0, i, -1]),
                    hits=int(self._counts[1, i, -1]),
                    age=Sketch(AGE, self._age_total[i].copy(), float(self._sums[0, i, -1])),
                    fetch=Sketch(FETCH, self._fetch_total[i].copy(), float(self._sums[1, i, -1])),
                )
                features[name] = FeatureSnapshot(name, window, total)
            log = None if self._log_path is None else str(self._log_path)
            return RecorderSnapshot(now, self.window_s, features, log, self._log_rows_lost, self._log_error)

    def memory_bytes(self) -> int:
        """Returns the bytes held by the bucket arrays and counters: a fixed amount per feature seen."""
        arrays = (self._age, self._fetch, self._age_total, self._fetch_total, self._counts, self._sums)
        return sum(a.nbytes for a in arrays)

    def collector(self, *, quantiles: tuple[float, ...] = (0.5, 0.95, 0.99)) -> Any:
        """Returns a prometheus_client collector of this recorder's metrics (see docs/freshness.md)."""
        try:  # deferred: prometheus_client is the optional [freshness] extra
            from envprint.freshness.prometheus import FreshnessCollector
        except ImportError:
            from envprint.freshness.errors import missing_extra

            raise missing_extra("prometheus_client", "exporting Prometheus metrics") from None
        return FreshnessCollector(self, quantiles=quantiles)

    def register(self, registry: Any = None, *, quantiles: tuple[float, ...] = (0.5, 0.95, 0.99)) -> Any:
        """Returns the collector after registering it on `registry` (default: prometheus_client's REGISTRY)."""
        collector = self.collector(quantiles=quantiles)
        if registry is None:
            from prometheus_client import REGISTRY  # present: collector() above imported prometheus_client

            registry = REGISTRY
        registry.register(collector)
        return collector

    def close(self) -> None:
        """Stops the background thread after binning and writing everything pending; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        self._drain()
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------- draining

    def _start(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="envprint-freshness", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._flush_interval_s):
            self._drain()

    def _drain(self) -> None:
        with self._lock:
            self._drain_locked()

    def _drain_locked(self) -> None:
        queue = self._queue
        n = len(queue)
        if not n:
            return
        rows = [queue.popleft() for _ in range(n)]
        self._bin(rows)
        if self._log is not None:
            self._write(rows)

    def _bin(self, rows: list[tuple[Any, ...]]) -> None:
        features, hits, ages, fetches, _, stamps = zip(*rows, strict=True)
        try:  # the common case: every feature seen before, one C-level map
            codes = np.fromiter(map(self._index.__getitem__, features), np.intp, len(rows))
        except KeyError:
            codes = np.fromiter(map(self._code, features), np.intp, len(rows))
        hit = np.fromiter(hits, bool, len(rows))
        age = np.array(ages, dtype=np.float64)  # None (a miss without a value) becomes NaN
        fetch = np.array(fetches, dtype=np.float64)
        epoch = np.floor(np.array(stamps, dtype=np.float64) / self._slot_s).astype(np.int64)
        self._rotate(int(epoch.max()))
        slot = epoch % self._slots
        in_window = self._slot_epoch[slot] == epoch  # rows older than the window count all-time only
        aged = ~np.isnan(age)
        age_index, fetch_index = AGE.index(np.where(aged, age, 0.0)), FETCH.index(fetch)
        w = in_window
        _accumulate(self._age_total, codes[aged] * AGE.size + age_index[aged])
        _accumulate(self._fetch_total, codes * FETCH.size + fetch_index)
        window_cell = codes * self._slots + slot
        _accumulate(self._age, window_cell[w & aged] * AGE.size + age_index[w & aged])
        _accumulate(self._fetch, window_cell[w] * FETCH.size + fetch_index[w])
        # counters and sums: the row's window slot (when in the window) and the all-time column
        columns = self._slots + 1
        cells = np.concatenate([codes * columns + self._slots, (codes * columns + slot)[w]])
        aged_cells = np.concatenate([aged, aged[w]])
        _accumulate(self._counts[0], cells)
        _accumulate(self._counts[1], cells, np.concatenate([hit, hit[w]]))
        _accumulate(self._sums[0], cells[aged_cells], np.concatenate([age, age[w]])[aged_cells])
        _accumulate(self._sums[1], cells, np.concatenate([fetch, fetch[w]]))

    def _rotate(self, newest: int) -> None:
        """Clears the slots whose epoch left the window, up to the `newest` epoch seen."""
        for epoch in range(max(newest - self._slots + 1, int(self._slot_epoch.max()) + 1), newest + 1):
            slot = epoch % self._slots
            self._age[:, slot] = 0
            self._fetch[:, slot] = 0
            self._counts[:, :, slot] = 0
            self._sums[:, :, slot] = 0.0
            self._slot_epoch[slot] = epoch

    def _code(self, feature: str) -> int:
        code = self._index.get(feature)
        if code is None:
            code = self._index[feature] = len(self._names)
            self._grow(str(feature))  # str(): a str subclass (an enum) is named by its value
        return code

    def _grow(self, feature: str) -> None:
        self._names.append(feature)
        self._age = _append_zeros(self._age)
        self._fetch = _append_zeros(self._fetch)
        self._age_total = _append_zeros(self._age_total)
        self._fetch_total = _append_zeros(self._fetch_total)
        column = (2, 1, self._slots + 1)
        self._counts = np.concatenate([self._counts, np.zeros(column, self._counts.dtype)], axis=1)
        self._sums = np.concatenate([self._sums, np.zeros(column, self._sums.dtype)], axis=1)

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        assert self._log is not None
        names: dict[Any, str] = {}
        lines = []
        for feature, hit, age, fetch, request_id, ts in rows:
            name = names.get(feature)
            if name is None:
                name = names[feature] = _encode(str(feature))
            rid = "null" if request_id is None else _encode(str(request_id))
            age_s = "null" if age is None else repr(float(age))
            lines.append(
                f'{{"request_id":{rid},"feature":{name},"hit":{"true" if hit else "false"},'
                f'"age_s":{age_s},"fetch_ms":{float(fetch)!r},"ts":{float(ts)!r}}}\n'
            )
        try:
            self._log.write("".join(lines).encode())  # one write per batch: whole lines, appended
            self._log.flush()
        except OSError as e:  # a full disk must not take the serving process down: count and report it
            self._log_error = f"{self._log_path}: cannot write the request log ({e.strerror or e})"
            self._log_rows_lost += len(rows)

    def _after_fork(self) -> None:
        """In a forked child: a fresh lock and thread (the parent's may have been mid-drain), no inherited rows."""
        self._queue = collections.deque()
        if not self._closed:
            self._start()


def _append_zeros(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return np.concatenate([a, np.zeros((1, *a.shape[1:]), a.dtype)])


def _accumulate(target: npt.NDArray[Any], index: npt.NDArray[np.intp], weights: npt.NDArray[Any] | None = None) -> None:
    """Adds 1 (or `weights`) at each flat `index` of the contiguous array `target`."""
    flat = target.reshape(-1)  # a view: every target is C-contiguous
    if index.size * 8 >= flat.size:  # many rows: one pass of bincount over the whole array
        flat += np.bincount(index, weights=weights, minlength=flat.size).astype(flat.dtype, copy=False)
    else:  # few rows into many cells: touch only those
        np.add.at(flat, index, 1 if weights is None else weights.astype(flat.dtype, copy=False))


def _close_at_exit(ref: weakref.ref[Recorder]) -> None:
    recorder = ref()
    if recorder is not None:
        recorder.close()


def _reinit_after_fork() -> None:
    for recorder in list(_RECORDERS):
        recorder._after_fork()


os.register_at_fork(after_in_child=_reinit_after_fork)


class Fetch:
    """Times one fetch and records it when the ``with`` block ends.

        with rec.fetch("last_click_ts", request_id=rid) as f:
            value, updated_at = cache.get(key)
            if value is not None:
                f.value_time = updated_at      # epoch seconds; or set f.age_s directly

    A fetch with a value time or an age is a hit unless `hit` is set; one with neither is a miss.
    An exception in the block records a miss and propagates. A value time in the future (clock
    skew between the feature writer and this host) counts as age 0.
    """

    __slots__ = ("_start", "age_s", "feature", "hit", "recorder", "request_id", "value_time")

    def __init__(self, recorder: Recorder, feature: str, request_id: str | int | None) -> None:
        self.recorder = recorder
        self.feature = feature
        self.request_id = request_id
        self.hit: bool | None = None
        self.age_s: float | None = None
        self.value_time: float | None = None
        self._start = 0.0

    def __enter__(self) -> Fetch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        fetch_ms = (time.perf_counter() - self._start) * 1000.0
        age = self.age_s
        if age is None and self.value_time is not None:
            age = max(0.0, self.recorder._clock() - self.value_time)
        hit = (age is not None) if self.hit is None else self.hit
        if exc_type is not None:
            hit, age = False, None
        self.recorder.observe(self.feature, hit=hit, age_s=age, fetch_ms=fetch_ms, request_id=self.request_id)
