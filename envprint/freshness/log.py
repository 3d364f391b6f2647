"""Reading fetch logs: one row per feature fetch, from JSON Lines, CSV or Parquet files.

A row has ``feature`` (text), ``hit`` (true/false), ``age_s`` (seconds >= 0, the age of the value
served; empty only for a miss that served no value), ``fetch_ms`` (milliseconds >= 0) and
optionally ``request_id`` (text or integer) and ``ts`` (epoch seconds, or ISO 8601 with a time
zone). That is what `Recorder` writes. Other columns are ignored.

Files are read in chunks (`FetchBatch`, numpy columns), so a log of any size is summarised in
bounded memory. A row that does not fit raises `FetchLogError` naming the file and the line (JSON
Lines, CSV) or row (Parquet, counted from 1). One leniency: a JSON Lines file whose last line has no
newline and does not parse is being written right now; that line is skipped and a note says so.
Files ending in ``.gz`` are decompressed on the fly.
"""

from __future__ import annotations

import csv
import gzip
import importlib
import io
import json
import math
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from envprint.freshness.errors import FetchLogError, missing_extra

__all__ = ["COLUMNS", "REQUIRED", "FetchBatch", "read_log", "read_logs"]

REQUIRED = ("feature", "hit", "age_s", "fetch_ms")
COLUMNS = ("request_id", *REQUIRED, "ts")
#: rows per batch: large enough for numpy to pay off, small enough to keep memory flat
CHUNK_ROWS = 65_536
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


@dataclass(frozen=True, eq=False)
class FetchBatch:
    """Consecutive rows of one fetch log, as columns."""

    source: str
    feature: list[str]
    hit: npt.NDArray[np.bool_]
    age_s: npt.NDArray[np.float64]  # NaN: a miss that served no value
    fetch_ms: npt.NDArray[np.float64]
    ts: npt.NDArray[np.float64]  # epoch seconds; NaN where the row has none
    request_id: list[str | None]
    #: things worth knowing about the file that are not errors (a skipped partial last line)
    notes: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.feature)


def read_logs(paths: Iterable[str | os.PathLike[str]], *, chunk_rows: int = CHUNK_ROWS) -> Iterator[FetchBatch]:
    """Yields the batches of every log in `paths`, in order (see `read_log`)."""
    for path in paths:
        yield from read_log(path, chunk_rows=chunk_rows)


def read_log(path: str | os.PathLike[str], *, chunk_rows: int = CHUNK_ROWS) -> Iterator[FetchBatch]:
    """Yields the rows of the fetch log at `path` in batches; the format comes from the suffix.

    ``.jsonl``/``.ndjson``/``.json`` (JSON Lines), ``.csv``, ``.parquet``/``.pq``; ``.gz`` after
    JSON Lines or CSV. Raises `FetchLogError` for an unreadable file or a row that does not fit.
    """
    p = Path(path)
    name = p.name.lower()
    compressed = name.endswith(".gz")
    kind = Path(name.removesuffix(".gz")).suffix
    if kind in (".jsonl", ".ndjson", ".json"):
        yield from _read_jsonl(p, compressed, chunk_rows)
    elif kind == ".csv":
        yield from _read_csv(p, compressed, chunk_rows)
    elif kind in (".parquet", ".pq") and not compressed:
        yield from _read_parquet(p, chunk_rows)
    else:
        raise FetchLogError(
            str(p),
            "",
            f"unknown log type {''.join(p.suffixes[-2:]) or '(no suffix)'!r}",
            hint="name the file .jsonl, .csv or .parquet (.jsonl.gz and .csv.gz are read too)",
        )


def _open(path: Path, compressed: bool) -> IO[bytes]:
    if path.is_dir():
        raise FetchLogError(str(path), "", "is a directory, not a fetch log")
    try:
        raw = path.open("rb")
    except FileNotFoundError:
        raise FetchLogError(str(path), "", "no such file", hint="check the path of the log") from None
    except OSError as e:
        raise FetchLogError(str(path), "", f"cannot read it ({e.strerror or e})") from None
    return gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw  # type: ignore[return-value]


class _Columns:
    """Accumulates validated rows and hands them out as batches."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._clear()

    def _clear(self) -> None:
        self.feature: list[str] = []
        self.hit: list[bool] = []
        self.age: list[float] = []
        self.fetch: list[float] = []
        self.ts: list[float] = []
        self.request_id: list[str | None] = []

    def __len__(self) -> int:
        return len(self.feature)

    def add(self, row: Mapping[str, Any], where: str, *, text: bool) -> None:
        """Validates one row (JSON values, or CSV text when `text`) and keeps it; raises `FetchLogError`."""
        missing = [c for c in REQUIRED if c not in row]
        if missing:
            raise FetchLogError(self.source, where, f"missing {_names(missing)}")
        feature = row["feature"]
        if not isinstance(feature, str) or not feature.strip():
            raise FetchLogError(self.source, where, f"feature {feature!r} is not a non-empty text")
        hit = _flag(row["hit"], text)
        if hit is None:
            raise FetchLogError(self.source, where, f"hit {row['hit']!r} is not true or false")
        age = _number(self.source, where, "age_s", row["age_s"], text, empty_ok=True)
        if age is None and hit:
            raise FetchLogError(
                self.source, where, "age_s is empty on a hit (only a miss may serve a value of unknown age)"
            )
        fetch = _number(self.source, where, "fetch_ms", row["fetch_ms"], text, empty_ok=False)
        self.feature.append(feature.strip())
        self.hit.append(hit)
        self.age.append(math.nan if age is None else age)
        self.fetch.append(fetch)  # type: ignore[arg-type]  # not empty: empty_ok=False raised
        self.ts.append(_time(self.source, where, row.get("ts"), text))
        self.request_id.append(_request_id(self.source, where, row.get("request_id"), text))

    def batch(self, notes: tuple[str, ...] = ()) -> FetchBatch:
        """Returns the rows kept so far as a batch and starts a new one."""
        b = FetchBatch(
            self.source,
            self.feature,
            np.array(self.hit, dtype=bool),
            np.array(self.age, dtype=np.float64),
            np.array(self.fetch, dtype=np.float64),
            np.array(self.ts, dtype=np.float64),
            self.request_id,
            notes,
        )
        self._clear()
        return b


def _names(columns: list[str]) -> str:
    return ", ".join(repr(c) for c in columns)


def _flag(value: Any, text: bool) -> bool | None:
    if text:
        s = str(value).strip().lower()
        return True if s in _TRUE else False if s in _FALSE else None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def _number(source: str, where: str, name: str, value: Any, text: bool, *, empty_ok: bool) -> float | None:
    if value is None or (text and not str(value).strip()):
        if empty_ok:
            return None
        raise FetchLogError(source, where, f"{name} is empty")
    if text:
        try:
            x = float(str(value).strip())
        except ValueError:
            raise FetchLogError(source, where, f"{name} {value!r} is not a number") from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        x = float(value)
    else:
        raise FetchLogError(source, where, f"{name} {value!r} is not a number")
    if not math.isfinite(x):
        raise FetchLogError(source, where, f"{name} {value!r} is not a finite number")
    if x < 0:
        raise FetchLogError(
            source,
            where,
            f"{name} {x:g} is negative",
            hint="an age is now − the time the value was written, never below 0: if the clocks disagree, "
            "record max(0, age); a latency is never negative",
        )
    return x


def _time(source: str, where: str, value: Any, text: bool) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        x = float(value)
    elif isinstance(value, str):
        try:
            x = float(value) if text else math.nan
        except ValueError:
            x = math.nan
        if math.isnan(x):
            try:
                stamp = datetime.fromisoformat(value.strip())
            except ValueError:
                raise FetchLogError(
                    source, where, f"ts {value!r} is neither epoch seconds nor an ISO 8601 time"
                ) from None
            if stamp.tzinfo is None:
                raise FetchLogError(
                    source, where, f"ts {value!r} has no time zone", hint="write ts as epoch seconds or with Z / +00:00"
                )
            x = stamp.timestamp()
    else:
        raise FetchLogError(source, where, f"ts {value!r} is neither epoch seconds nor an ISO 8601 time")
    if not math.isfinite(x):
        raise FetchLogError(source, where, f"ts {value!r} is not a finite time")
    return x


def _request_id(source: str, where: str, value: Any, text: bool) -> str | None:
    if value is None or (text and not str(value).strip()):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise FetchLogError(source, where, f"request_id {value!r} is not a text or an integer")


# ------------------------------------------------------------------------------------- JSON Lines


def _read_jsonl(path: Path, compressed: bool, chunk_rows: int) -> Iterator[FetchBatch]:
    source = str(path)
    cols = _Columns(source)
    notes: tuple[str, ...] = ()
    with _open(path, compressed) as f:
        number = 0
        try:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"line {number}"
                try:
                    row = json.loads(line)
                except ValueError as e:
                    if not line.endswith(b"\n"):  # a writer is appending this line right now
                        notes = (f"{source}: skipped line {number}: incomplete (no newline; still being written?)",)
                        break
                    raise FetchLogError(source, where, f"not valid JSON ({e})") from None
                if not isinstance(row, dict):
                    raise FetchLogError(source, where, f"a JSON {type(row).__name__}, not an object")
                cols.add(row, where, text=False)
                if len(cols) >= chunk_rows:
                    yield cols.batch()
        except (OSError, EOFError, zlib.error) as e:  # gzip damage, a vanished file
            raise FetchLogError(source, f"line {number + 1}", f"cannot read further ({e})") from None
    yield cols.batch(notes)


# -------------------------------------------------------------------------------------------- CSV


def _read_csv(path: Path, compressed: bool, chunk_rows: int) -> Iterator[FetchBatch]:
    source = str(path)
    cols = _Columns(source)
    with _open(path, compressed) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
            if header is None:
                raise FetchLogError(source, "", "empty file: no header", hint="the first line names the columns")
            names = [h.strip() for h in header]
            missing = [c for c in REQUIRED if c not in names]
            if missing:
                raise FetchLogError(
                    source,
                    "line 1 (header)",
                    f"missing column {_names(missing)}; columns: {', '.join(names)}",
                )
            for row in reader:
                where = f"line {reader.line_num}"
                if not row:
                    continue
                if len(row) != len(names):
                    raise FetchLogError(source, where, f"{len(row)} field(s), expected {len(names)} like the header")
                cols.add(dict(zip(names, row, strict=True)), where, text=True)
                if len(cols) >= chunk_rows:
                    yield cols.batch()
        except UnicodeDecodeError:
            raise FetchLogError(source, f"line {reader.line_num + 1}", "not UTF-8 text") from None
        except (OSError, EOFError, zlib.error, csv.Error) as e:
            raise FetchLogError(source, f"line {reader.line_num + 1}", f"cannot read further ({e})") from None
    yield cols.batch()


# ---------------------------------------------------------------------------------------- Parquet


def _read_parquet(path: Path, chunk_rows: int) -> Iterator[FetchBatch]:
    try:  # deferred and by name: pyarrow is an optional, untyped extra that costs ~100 ms to import
        pa = importlib.import_module("pyarrow")
        pc = importlib.import_module("pyarrow.compute")
        pq = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise missing_extra("pyarrow", f"reading {path.name}") from None
    source = str(path)
    if path.is_dir():
        raise FetchLogError(source, "", "is a directory, not a fetch log")
    try:
        file = pq.ParquetFile(path)
    except FileNotFoundError:
        raise FetchLogError(source, "", "no such file", hint="check the path of the log") from None
    except (OSError, pa.ArrowException) as e:
        raise FetchLogError(source, "", f"cannot read it as Parquet ({e})") from None
    names = file.schema_arrow.names
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise FetchLogError(source, "", f"missing column {_names(missing)}; columns: {', '.join(names)}")
    schema = file.schema_arrow
    _check_types(source, schema, pa)
    first = 1
    try:
        batches = file.iter_batches(batch_size=chunk_rows, columns=[c for c in COLUMNS if c in names])
        for rb in batches:
            yield _arrow_batch(source, rb, first, pa, pc)
            first += rb.num_rows
    except pa.ArrowException as e:
        raise FetchLogError(source, f"row {first}", f"cannot read further ({e})") from None


def _check_types(source: str, schema: Any, pa: Any) -> None:
    t = pa.types

    def is_number(x: Any) -> bool:
        return bool(t.is_integer(x) or t.is_floating(x))

    def is_text(x: Any) -> bool:
        return bool(t.is_string(x) or t.is_large_string(x) or (t.is_dictionary(x) and t.is_string(x.value_type)))

    checks = {
        "feature": (is_text, "text"),
        "hit": (lambda x: t.is_boolean(x) or t.is_integer(x), "boolean"),
        "age_s": (is_number, "numeric"),
        "fetch_ms": (is_number, "numeric"),
        "ts": (lambda x: is_number(x) or t.is_timestamp(x), "numeric (epoch seconds) or timestamp"),
        "request_id": (lambda x: is_text(x) or t.is_integer(x), "text or integer"),
    }
    for name, (ok, want) in checks.items():
        if name in schema.names and not ok(schema.field(name).type):
            raise FetchLogError(source, "", f"column {name!r} is {schema.field(name).type}, not {want}")
    if "ts" in schema.names and t.is_timestamp(schema.field("ts").type) and schema.field("ts").type.tz is None:
        raise FetchLogError(
            source, "", "column 'ts' is a timestamp without time zone", hint="store ts in UTC with tz='UTC'"
        )


def _arrow_batch(source: str, rb: Any, first: int, pa: Any, pc: Any) -> FetchBatch:
    def bad(mask: npt.NDArray[np.bool_], problem: str, column: str) -> None:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            value = rb.column(column)[i].as_py()
            raise FetchLogError(source, f"row {first + i}", problem.format(value=value))

    feature_col = rb.column("feature")
    if feature_col.type != pa.string():
        feature_col = pc.cast(feature_col, pa.string())
    features = feature_col.to_pylist()
    bad(
        np.array([f is None or not f.strip() for f in features]), "feature {value!r} is not a non-empty text", "feature"
    )
    hit_col = rb.column("hit")
    bad(np.asarray(hit_col.is_null()), "hit is empty", "hit")
    hits = np.asarray(pc.cast(hit_col, pa.int64()).to_numpy(zero_copy_only=False))
    bad((hits != 0) & (hits != 1), "hit {value!r} is not true or false", "hit")
    hit = hits.astype(bool)
    age = np.asarray(pc.cast(rb.column("age_s"), pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    age_null = np.asarray(rb.column("age_s").is_null())
    bad(age_null & hit, "age_s is empty on a hit (only a miss may serve a value of unknown age)", "age_s")
    with np.errstate(invalid="ignore"):
        bad(~age_null & ~np.isfinite(age), "age_s {value!r} is not a finite number", "age_s")
        bad(~age_null & (age < 0), "age_s {value} is negative", "age_s")
    age = np.where(age_null, np.nan, age)
    fetch_col = rb.column("fetch_ms")
    bad(np.asarray(fetch_col.is_null()), "fetch_ms is empty", "fetch_ms")
    fetch = np.asarray(pc.cast(fetch_col, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad(~np.isfinite(fetch), "fetch_ms {value!r} is not a finite number", "fetch_ms")
        bad(fetch < 0, "fetch_ms {value} is negative", "fetch_ms")
    n = rb.num_rows
    ts = np.full(n, np.nan)
    if "ts" in rb.schema.names:
        col = rb.column("ts")
        if pa.types.is_timestamp(col.type):
            col = pc.divide(pc.cast(pc.cast(col, pa.timestamp("us", tz=col.type.tz)), pa.int64()), 1e6)
        ts = np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    rids: list[str | None] = [None] * n
    if "request_id" in rb.schema.names:
        rids = [None if r is None else str(r) for r in rb.column("request_id").to_pylist()]
    return FetchBatch(source, [f.strip() for f in features], hit, age, fetch, ts, rids)
