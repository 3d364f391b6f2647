"""Shadow comparison: a candidate's predictions against the baseline's, row by row.

A shadow deployment runs a candidate (new image, new library, new hardware) on the same requests as
the serving baseline and compares the predictions. `compare()` reads two prediction files (``.npy``,
``.csv``, ``.parquet`` with pyarrow) or arrays, pairs rows by position and reports:

* the fraction of rows that **diverge**: a row diverges when any of its values differs by more
  than ``atol + rtol·|baseline|`` (NaN matches NaN; an infinity matches only itself);
* the worst rows, ranked by how far outside that tolerance they are;
* a histogram of the relative difference ``|candidate − baseline| / |baseline|`` per row (the
  largest over its columns), and with matplotlib a PNG plot of it (`ShadowReport.plot`).

The comparison passes when the fraction is at most `max_fraction`: exactly at the limit passes.
The fraction is ``diverging / rows`` in float64, compared with `max_fraction` as given, so 10 of
100 rows at ``max_fraction=0.10`` pass and 11 fail. Files that cannot be paired (row or column
counts differ, column names differ, a value is not a number, the file is unreadable) raise
`UsageError` with a message that names the file, row and column. See docs/shadow.md.
"""

from __future__ import annotations

import csv
import importlib
import math
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from envprint.errors import UsageError

__all__ = [
    "DEFAULT_MAX_FRACTION",
    "DEFAULT_RTOL",
    "Predictions",
    "ShadowReport",
    "ShadowRow",
    "compare",
    "read_predictions",
]

DEFAULT_RTOL = 0.05
DEFAULT_ATOL = 0.0
DEFAULT_MAX_FRACTION = 0.10
#: upper edges of the histogram's bins of relative difference (after an "identical" bin)
HISTOGRAM_EDGES = (1e-12, 1e-9, 1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)

Source = str | os.PathLike[str] | npt.ArrayLike


@dataclass(frozen=True)
class Predictions:
    """The numbers of one prediction file: a float64 (rows, columns) array and the column names."""

    values: npt.NDArray[np.float64]
    columns: tuple[str, ...]
    #: the names came from the file (a CSV header, parquet or structured-array fields), not positions
    named: bool
    source: str


@dataclass(frozen=True)
class ShadowRow:
    """One of the worst rows: its most divergent value."""

    row: int
    column: str
    baseline: float
    candidate: float
    abs_diff: float
    rel_diff: float  # |candidate − baseline| / |baseline|; inf when the baseline is 0 or not finite
    diverges: bool


@dataclass(frozen=True)
class ShadowReport:
    """The row-by-row comparison of two prediction sets, with its own counts and verdict."""

    baseline: str
    candidate: str
    rows: int
    columns: tuple[str, ...]
    rtol: float
    atol: float
    max_fraction: float
    diverging: int  # rows with any value outside atol + rtol·|baseline|
    identical: int  # rows whose values are all equal (NaN matching NaN)
    max_rel_diff: float
    worst: tuple[ShadowRow, ...]
    #: (bin label, rows) over the relative difference per row
    histogram: tuple[tuple[str, int], ...]
    #: per-row relative difference and the paired values, kept for `plot`
    row_rel_diff: npt.NDArray[np.float64] = field(repr=False, compare=False)
    baseline_values: npt.NDArray[np.float64] = field(repr=False, compare=False)
    candidate_values: npt.NDArray[np.float64] = field(repr=False, compare=False)

    @property
    def fraction(self) -> float:
        """Returns the fraction of rows that diverge."""
        return self.diverging / self.rows

    @property
    def passed(self) -> bool:
        """Returns whether the fraction of diverging rows is at most `max_fraction` (the limit passes)."""
        return self.fraction <= self.max_fraction

    @property
    def exit_code(self) -> int:
        """Returns the CLI exit status: 0 within the limit, 1 above it."""
        return 0 if self.passed else 1

    @property
    def verdict(self) -> str:
        """Returns one line, e.g. "PASS: 3 of 100 rows diverge (3.00%), limit 10.00%"."""
        head = "PASS" if self.passed else "FAIL"
        relation = "within" if self.passed else "exceeds"
        return (
            f"{head}: {self.diverging} of {self.rows} rows diverge ({self.fraction:.2%}), "
            f"{relation} the limit {self.max_fraction:.2%}"
        )


def compare(
    baseline: Source,
    candidate: Source,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    max_fraction: float = DEFAULT_MAX_FRACTION,
    column: str | None = None,
    worst: int = 10,
) -> ShadowReport:
    """Returns how the candidate's predictions diverge from the baseline's, row by row.

    `baseline` and `candidate` are paths (``.npy``, ``.csv``, ``.parquet``) or arrays of shape
    (rows,) or (rows, columns). `column` keeps one column: by name, or by position in a file without
    names, where a single unnamed column (an .npy vector) is taken as the one named. Raises
    `UsageError` for unreadable or malformed input and for rows or columns that do not pair up.
    """
    for what, value in (("rtol", rtol), ("atol", atol)):
        if not (math.isfinite(value) and value >= 0):
            raise UsageError(f"--{what} must be a finite number >= 0, not {value!r}")
    if not (0.0 <= max_fraction <= 1.0):
        raise UsageError(f"--max-fraction must be between 0 and 1, not {max_fraction!r}")
    if worst < 0:
        raise UsageError(f"--worst must be >= 0, not {worst!r}")
    base = read_predictions(baseline, column=column, label="baseline")
    cand = read_predictions(candidate, column=column, label="candidate")
    _check_pairing(base, cand)
    b, c = base.values, cand.values
    with np.errstate(all="ignore"):
        equal = (b == c) | (np.isnan(b) & np.isnan(c))
        diff = np.abs(c - b)
        finite = np.isfinite(b) & np.isfinite(c)
        allowed = atol + rtol * np.abs(b)
        within = equal | (finite & (diff <= allowed))
        rel = np.where(equal, 0.0, np.where(finite & (b != 0), diff / np.abs(b), np.inf))
        score = np.where(equal, 0.0, np.where(finite & (allowed > 0), diff / allowed, np.inf))
    diff = np.where(equal, 0.0, np.where(finite, diff, np.inf))
    row_diverges = ~within.all(axis=1)
    row_rel = rel.max(axis=1)
    row_score = score.max(axis=1)
    worst_col = score.argmax(axis=1)
    ranked = [int(i) for i in np.lexsort((np.arange(len(row_score)), -row_score)) if row_score[i] > 0][:worst]
    return ShadowReport(
        baseline=base.source,
        candidate=cand.source,
        rows=b.shape[0],
        columns=base.columns if base.named or not cand.named else cand.columns,
        rtol=float(rtol),
        atol=float(atol),
        max_fraction=float(max_fraction),
        diverging=int(row_diverges.sum()),
        identical=int(equal.all(axis=1).sum()),
        max_rel_diff=float(row_rel.max()),
        worst=tuple(
            ShadowRow(
                row=i,
                column=base.columns[worst_col[i]],
                baseline=float(b[i, worst_col[i]]),
                candidate=float(c[i, worst_col[i]]),
                abs_diff=float(diff[i, worst_col[i]]),
                rel_diff=float(rel[i, worst_col[i]]),
                diverges=bool(row_diverges[i]),
            )
            for i in ranked
        ),
        histogram=_histogram(row_rel),
        row_rel_diff=row_rel,
        baseline_values=b,
        candidate_values=c,
    )


def _histogram(rel: npt.NDArray[np.float64]) -> tuple[tuple[str, int], ...]:
    bins = [("0 (identical)", int(np.sum(rel == 0)))]
    finite = rel[np.isfinite(rel) & (rel > 0)]
    index = np.searchsorted(np.array(HISTOGRAM_EDGES), finite, side="left")
    lower = "0"
    for i, edge in enumerate(HISTOGRAM_EDGES):
        bins.append((f"({lower}, {edge:g}]", int(np.sum(index == i))))
        lower = f"{edge:g}"
    bins.append((f"> {lower}", int(np.sum(index == len(HISTOGRAM_EDGES)))))
    bins.append(("inf (baseline 0, NaN or inf)", int(np.sum(np.isinf(rel)))))
    return tuple(bins)


def _check_pairing(base: Predictions, cand: Predictions) -> None:
    hint = "export both from the same requests, in the same order and with the same columns"
    for p in (base, cand):
        if p.values.shape[1] == 0 or p.values.shape[0] == 0:
            raise UsageError(f"{p.source} holds no predictions ({p.values.shape[0]} rows, {p.values.shape[1]} columns)")
    if base.values.shape[0] != cand.values.shape[0]:
        raise UsageError(
            f"{base.source} has {base.values.shape[0]} rows but {cand.source} has {cand.values.shape[0]}: "
            "shadow comparison pairs rows by position",
            hint=hint,
        )
    if base.values.shape[1] != cand.values.shape[1]:
        raise UsageError(
            f"{base.source} has {base.values.shape[1]} column(s) ({', '.join(base.columns)}) but {cand.source} "
            f"has {cand.values.shape[1]} ({', '.join(cand.columns)})",
            hint=hint + ", or pick one with --column",
        )
    if base.named and cand.named and base.columns != cand.columns:
        raise UsageError(
            f"column names differ: {base.source} ({', '.join(base.columns)}), "
            f"{cand.source} ({', '.join(cand.columns)})",
            hint=hint + ", or pick one with --column",
        )
    if base.values.shape[0] == 0:
        raise UsageError(f"{base.source} and {cand.source} hold no rows: nothing to compare")


# ------------------------------------------------------------------------------------------ reading


def read_predictions(source: Source, *, column: str | None = None, label: str = "predictions") -> Predictions:
    """Returns the predictions in a ``.npy``, ``.csv`` or ``.parquet`` file, or an array, as float64 columns.

    CSV: an optional header (a first row with a cell that is not a number), empty cells are NaN.
    Parquet needs pyarrow; nulls are NaN. `column` keeps one column, by name or position.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        suffix = path.suffix.lower()
        if suffix == ".npy":
            values, columns, named = _read_npy(path)
        elif suffix == ".csv":
            values, columns, named = _read_csv(path, column)
        elif suffix == ".parquet":
            values, columns, named = _read_parquet(path, column)
        else:
            raise UsageError(f"{path}: unknown prediction file type {suffix or '(none)'!r}: use .npy, .csv or .parquet")
        name = str(path)
    else:
        values, columns, named = _from_array(np.asarray(source), label)
        name = label
    return _select(Predictions(values, columns, named, name), column)


def _select(p: Predictions, column: str | None) -> Predictions:
    if column is None or p.columns == (column,):
        return p
    index = _column_index(p.columns, p.named, column, p.source)
    return Predictions(p.values[:, index : index + 1], (p.columns[index],), p.named, p.source)


def _column_index(columns: tuple[str, ...], named: bool, column: str, source: str) -> int:
    if column in columns:
        return columns.index(column)
    if not named and column.isdigit() and int(column) < len(columns):
        return int(column)
    if not named and len(columns) == 1:  # one unnamed column (an .npy vector) is the column asked for
        return 0
    raise UsageError(f"{source}: no column {column!r}; columns: {', '.join(columns)}")


def _from_array(arr: npt.NDArray[Any], source: str) -> tuple[npt.NDArray[np.float64], tuple[str, ...], bool]:
    if arr.dtype.names:
        columns = tuple(arr.dtype.names)
        parts = [_numeric(arr[name], source, f"field {name!r}") for name in columns]
        if any(p.ndim != 1 for p in parts) or arr.ndim != 1:
            raise UsageError(f"{source}: a structured array needs one scalar field per column and one record per row")
        return np.stack(parts, axis=1), columns, True
    values = _numeric(arr, source, "values")
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    if values.ndim != 2:
        raise UsageError(
            f"{source}: predictions of shape {arr.shape}: need (rows,) or (rows, columns)",
            hint="reshape to two dimensions before saving, e.g. preds.reshape(len(preds), -1)",
        )
    return values, tuple(str(i) for i in range(values.shape[1])), False


def _numeric(arr: npt.NDArray[Any], source: str, what: str) -> npt.NDArray[np.float64]:
    if arr.dtype.kind not in "biuf":
        raise UsageError(f"{source}: {what} of dtype {arr.dtype} are not numbers (need bool, int or float)")
    return np.asarray(arr, dtype=np.float64)


def _read_npy(path: Path) -> tuple[npt.NDArray[np.float64], tuple[str, ...], bool]:
    """Returns the array of an .npy file, after checking that its header describes the bytes that follow.

    A header is parsed by numpy with `ast.literal_eval` (a malformed one raises tokenize or syntax
    errors) and may claim any shape: the claimed size must match the file before numpy allocates it.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read it as .npy ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{path}: is a directory, not a prediction file")
    if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
        raise UsageError(f"{path}: is not a regular file, not a prediction file")
    try:
        with path.open("rb") as f:
            if f.read(4) == b"PK\x03\x04":  # a zip file: np.savez
                raise UsageError(f"{path}: an .npz archive, not one .npy array: save the predictions with np.save")
            f.seek(0)
            shape, dtype = _npy_header(f, path)
            data_bytes = st.st_size - f.tell()
            claimed = math.prod(shape) * dtype.itemsize
            if claimed != data_bytes:
                raise UsageError(
                    f"{path}: the .npy header claims {math.prod(shape)} values of {dtype} ({claimed} bytes) but "
                    f"{data_bytes} bytes follow it: the file is truncated or not a valid .npy file"
                )
            f.seek(0)
            loaded = np.load(f, allow_pickle=False)
    except UsageError:
        raise
    except OSError as e:
        raise UsageError(f"{path}: cannot read it as .npy ({e})") from None
    except Exception as e:  # numpy's header parser raises ValueError, SyntaxError, tokenize.TokenError...
        raise UsageError(f"{path}: not a valid .npy file of numbers ({type(e).__name__}: {e})") from None
    return _from_array(loaded, str(path))


def _npy_header(f: Any, path: Path) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """Returns (shape, dtype) from the header of the .npy file open at `f`, leaving `f` at the data."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    elif version in ((2, 0), (3, 0)):  # 3.0 is 2.0 with a UTF-8 header (non-latin-1 field names)
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        major, minor = version
        raise UsageError(f"{path}: not a valid .npy file (format version {major}.{minor} is not one numpy writes)")
    if dtype.hasobject:
        raise UsageError(f"{path}: an .npy array of Python objects (pickled): save numbers, not objects")
    return tuple(shape), dtype


def _read_csv(path: Path, column: str | None) -> tuple[npt.NDArray[np.float64], tuple[str, ...], bool]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r]
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a prediction file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text, so not a CSV file") from None
    except (OSError, csv.Error) as e:
        raise UsageError(f"{path}: cannot read it as CSV ({e})") from None
    if not rows:
        raise UsageError(f"{path}: empty file: no rows")
    named = any(cell.strip() and not _is_number(cell) for cell in rows[0])
    header = tuple(cell.strip() for cell in rows[0]) if named else tuple(str(i) for i in range(len(rows[0])))
    data = rows[1:] if named else rows
    first_line = 2 if named else 1
    for i, row in enumerate(data):
        if len(row) != len(header):
            raise UsageError(
                f"{path}: line {i + first_line} has {len(row)} field(s), expected {len(header)} ({', '.join(header)})"
            )
    keep = range(len(header)) if column is None else [_column_index(header, named, column, str(path))]
    columns = [_parse_column([row[j] for row in data], path, header[j], first_line) for j in keep]
    return np.stack(columns, axis=1), tuple(header[j] for j in keep), named


def _parse_column(cells: Sequence[str], path: Path, name: str, first_line: int) -> npt.NDArray[np.float64]:
    try:
        return np.array([c.strip() or "nan" for c in cells], dtype=str).astype(np.float64)
    except ValueError:
        for i, cell in enumerate(cells):
            if cell.strip() and not _is_number(cell):
                raise UsageError(
                    f"{path}: row {i} (line {i + first_line}), column {name!r}: {cell!r} is not a number"
                ) from None
        raise


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_parquet(path: Path, column: str | None) -> tuple[npt.NDArray[np.float64], tuple[str, ...], bool]:
    try:  # imported by name: pyarrow is an optional extra
        pa = importlib.import_module("pyarrow")
        pc = importlib.import_module("pyarrow.compute")
        pq = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise UsageError(
            f"{path}: reading .parquet needs pyarrow, which is not installed in this environment",
            hint="pip install 'envprint[parquet]' (or pip install pyarrow), or export the predictions as .npy or .csv",
        ) from None
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as e:
        raise UsageError(f"{path}: cannot read it as Parquet ({e})") from None
    names = tuple(str(n) for n in table.column_names)
    keep = list(names) if column is None else [names[_column_index(names, True, column, str(path))]]
    columns = []
    for name in keep:
        col = table.column(name)
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_boolean(col.type)):
            raise UsageError(f"{path}: column {name!r} of type {col.type} is not numeric")
        columns.append(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False))
    values = np.stack(columns, axis=1) if columns else np.empty((table.num_rows, 0))
    return np.asarray(values, dtype=np.float64), tuple(keep), True
