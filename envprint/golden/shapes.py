"""Between a transform's Python values and a bundle's rows: inputs to rows, rows back to inputs, outputs to rows.

A transform probe's inputs may be a list of row dicts (`edge_cases()`, `synthetic()`), a pandas
DataFrame, a dict of columns, a list of values or a numpy array; its result a dict of columns, a
list of row dicts, a DataFrame, a Series or an array, as for `envprint parity`. A bundle holds
both as rows of JSON scalars: `input_rows` and `output_rows` make them, `rebuild_inputs` hands a
bundle's decoded rows back to the function in the form it was registered with (the export's
re-run and the Spark path call the function that way, so both see only what a port sees).
"""

from __future__ import annotations

import datetime
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from envprint.errors import UsageError
from envprint.golden.jsonl import JsonScalar, json_value, to_datetime
from envprint.golden.manifest import Column

__all__ = [
    "ABSENT",
    "apply",
    "decode_inputs",
    "input_rows",
    "json_rows",
    "kind_of",
    "output_rows",
    "rebuild_inputs",
    "same_value",
]

#: a field absent from a row (distinct from None, which is null)
ABSENT: Any = object()

Row = dict[str, Any]


def kind_of(values: Sequence[Any]) -> str:
    """Returns a column's kind: float, int, bool, str or datetime, whichever most of its values have.

    None and absent values do not count; ints count as floats in a column that has floats. Edge
    cases deliberately put other kinds in a column (``""`` in a float column): the majority wins.
    """
    counts: Counter[str] = Counter()
    for v in values:
        if v is None or v is ABSENT:
            continue
        if isinstance(v, (bool, np.bool_)):
            counts["bool"] += 1
        elif isinstance(v, datetime.datetime) or type(v).__name__ == "datetime64":
            counts["datetime"] += 1
        elif isinstance(v, (int, np.integer)):
            counts["int"] += 1
        elif isinstance(v, (float, np.floating)):
            counts["float"] += 1
        else:
            counts["str"] += 1
    if counts["float"]:
        counts["float"] += counts.pop("int", 0)
    order = ("float", "int", "bool", "datetime", "str")
    return max(order, key=lambda k: (counts.get(k, 0), -order.index(k))) if counts else "str"


# ------------------------------------------------------------------------------------------- inputs


def input_rows(inputs: Any, *, probe: str) -> tuple[list[Row], str, str | None]:
    """Returns (rows of Python values, input form, numpy dtype or None) of a transform probe's inputs.

    Raises `UsageError` for inputs a bundle cannot hold: not row-shaped, no rows, non-string keys.
    """
    if _is_pandas(inputs, "DataFrame"):
        names = [_key(k, probe) for k in inputs.columns]
        rows = [dict(zip(names, values, strict=True)) for values in inputs.itertuples(index=False, name=None)]
        return rows, "dataframe", None
    if isinstance(inputs, np.ndarray):
        if inputs.ndim == 1:
            return [{"input": v} for v in inputs.tolist()], "array", str(inputs.dtype)
        if inputs.ndim == 2:
            names = [f"input[{j}]" for j in range(inputs.shape[1])]
            return [dict(zip(names, row, strict=True)) for row in inputs.tolist()], "array", str(inputs.dtype)
        raise _not_rows(probe, f"a {inputs.ndim}-d array")
    if isinstance(inputs, Mapping):
        names = [_key(k, probe) for k in inputs]
        columns = [list(v) if not isinstance(v, np.ndarray) else v.tolist() for v in inputs.values()]
        if len({len(c) for c in columns}) > 1:
            raise _not_rows(probe, "a dict of columns of different lengths")
        return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)], "columns", None
    if isinstance(inputs, (list, tuple)) and inputs:
        if all(isinstance(r, Mapping) for r in inputs):
            return [{_key(k, probe): v for k, v in r.items()} for r in inputs], "rows", None
        if not any(isinstance(r, (Mapping, list, tuple, np.ndarray)) for r in inputs):
            return [{"input": v} for v in inputs], "values", None
    raise _not_rows(probe, f"{type(inputs).__name__} inputs" if not isinstance(inputs, (list, tuple)) else "no rows")


def _key(key: Any, probe: str) -> str:
    if not isinstance(key, str):
        raise UsageError(f"transform probe {probe!r}: input column {key!r} is not a string; JSON keys are strings")
    return key


def _not_rows(probe: str, what: str) -> UsageError:
    return UsageError(
        f"transform probe {probe!r}: {what} cannot be written as a golden bundle's rows",
        hint="give it row-shaped inputs: a list of row dicts (edge_cases(), synthetic()), a DataFrame, "
        "a dict of equal-length columns, a list of values or a 1-d/2-d numpy array",
    )


def decode_inputs(rows: Sequence[Row], columns: Mapping[str, Column]) -> list[Row]:
    """Returns decoded bundle rows with the ISO 8601 strings of datetime columns turned into datetimes."""
    times = [name for name, c in columns.items() if c.kind == "datetime"]
    if not times:
        return list(rows)
    out = []
    for row in rows:
        row = dict(row)
        for name in times:
            value = row.get(name)
            if isinstance(value, str):
                parsed = to_datetime(value)
                if parsed is not None:
                    row[name] = parsed
        out.append(row)
    return out


def rebuild_inputs(rows: Sequence[Row], form: str, dtype: str | None, columns: Sequence[str]) -> Any:
    """Returns decoded rows in the form the function was registered with (`input_rows`'s form)."""
    if form == "rows":
        return [dict(r) for r in rows]
    if form == "values":
        return [r.get("input") for r in rows]
    if form == "columns":
        return {name: [r.get(name) for r in rows] for name in columns}
    if form == "array":
        if list(columns) == ["input"]:
            return np.asarray([r.get("input") for r in rows], dtype=dtype)
        return np.asarray([[r.get(c) for c in columns] for r in rows], dtype=dtype)
    if form == "dataframe":
        import pandas as pd  # type: ignore[import-untyped]  # only DataFrame inputs need pandas

        return pd.DataFrame([[r.get(c) for c in columns] for r in rows], columns=list(columns))
    raise UsageError(f"input form {form!r} is not one this envprint can rebuild")


# ------------------------------------------------------------------------------------------ outputs


def output_rows(result: Any, n: int, *, probe: str) -> tuple[list[Row], dict[str, str]]:
    """Returns (one row of Python values per input row, the kind of each output column) of a result.

    Columns are named as `envprint parity` names them: a dict's keys, a DataFrame's columns, a
    single result ``output``; a 2-d column ``proba`` becomes ``proba[0]``, ``proba[1]``... Raises
    `UsageError` when a column does not hold one value per input row.
    """
    if isinstance(result, (list, tuple)) and result and all(isinstance(r, Mapping) for r in result):
        rows = [{str(k): v for k, v in r.items()} for r in result]
        _check_length(probe, "the list of output rows", len(rows), n)
        names = list(dict.fromkeys(k for r in rows for k in r))
        return rows, {c: kind_of([r.get(c, ABSENT) for r in rows]) for c in names}
    columns: dict[str, list[Any]] = {}
    if _is_pandas(result, "DataFrame"):
        for key, series in result.items():
            _add_column(columns, str(key), series.tolist(), probe)
    elif _is_pandas(result, "Series"):
        _add_column(columns, "output" if result.name is None else str(result.name), result.tolist(), probe)
    elif isinstance(result, Mapping):
        for key, value in result.items():
            _add_column(columns, str(key), value, probe)
    else:
        _add_column(columns, "output", result, probe)
    for name, values in columns.items():
        _check_length(probe, f"output column {name!r}", len(values), n)
    names = list(columns)
    rows = [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    return rows, {name: kind_of(values) for name, values in columns.items()}


def _add_column(columns: dict[str, list[Any]], name: str, value: Any, probe: str) -> None:
    if _is_pandas(value, "Series"):
        value = value.tolist()
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple, np.ndarray)):
        try:
            value = np.asarray(value)
        except ValueError:
            raise UsageError(
                f"transform probe {probe!r}: output column {name!r} is ragged (rows of different lengths)"
            ) from None
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            value = value.item()
        elif value.ndim == 1:
            value = value.tolist()
        else:
            flat = value.reshape(value.shape[0], -1)
            for j in range(flat.shape[1]):
                index = ",".join(str(int(i)) for i in np.unravel_index(j, value.shape[1:]))
                _add_unique(columns, f"{name}[{index}]", flat[:, j].tolist(), probe)
            return
    if not isinstance(value, (list, tuple)):
        raise UsageError(
            f"transform probe {probe!r}: output {name!r} is a single value ({type(value).__name__}), "
            "not one value per input row",
            hint="golden bundles compare outputs row by row: return a column per output",
        )
    _add_unique(columns, name, list(value), probe)


def _add_unique(columns: dict[str, list[Any]], name: str, values: list[Any], probe: str) -> None:
    if name in columns:
        raise UsageError(f"transform probe {probe!r}: two output columns are named {name!r}")
    columns[name] = values


def _check_length(probe: str, what: str, length: int, n: int) -> None:
    if length != n:
        raise UsageError(
            f"transform probe {probe!r}: {what} has {length} value(s) for {n} input row(s)",
            hint="a golden bundle pairs each input row with one output row: the transform must not drop or add rows",
        )


def json_rows(rows: Sequence[Row], *, probe: str, what: str) -> list[dict[str, JsonScalar]]:
    """Returns rows with every value a JSON scalar (`json_value`); absent fields left out.

    Raises `UsageError` naming the row and column of a value the encoding cannot hold.
    """
    out = []
    for i, row in enumerate(rows):
        encoded: dict[str, JsonScalar] = {}
        for key, value in row.items():
            if value is ABSENT:
                continue
            try:
                encoded[key] = json_value(value)
            except TypeError as e:
                raise UsageError(
                    f"transform probe {probe!r}: {what} row {i}, column {key!r}: {e}",
                    hint="golden rows hold None, bool, int, float, str and datetime values only",
                ) from None
        out.append(encoded)
    return out


def apply(
    fn: Any, rows: Sequence[Row], input_columns: Mapping[str, Column], form: str, dtype: str | None, *, probe: str
) -> tuple[list[dict[str, JsonScalar]], dict[str, str]]:
    """Returns (output rows as JSON scalars, output kinds) of `fn` run on decoded bundle rows.

    The rows are handed over in the registered form (`rebuild_inputs`); this is how the export's
    re-run and the Spark executors call a transform, seeing exactly what a port sees.
    """
    inputs = rebuild_inputs(decode_inputs(rows, input_columns), form, dtype, list(input_columns))
    out, kinds = output_rows(fn(inputs), len(rows), probe=probe)
    return json_rows(out, probe=probe, what="output"), kinds


def same_value(a: Any, b: Any) -> bool:
    """Returns whether decoded input value `b` is the value `a` it was encoded from.

    Floats compare by bits (-0.0 is not 0.0) except that every NaN is the same; datetimes by wall
    clock and UTC offset (a zone name is not carried); everything else by type and value.
    """
    a, b = (None if _missing(v) else v for v in (a, b))
    if isinstance(a, datetime.datetime) or isinstance(b, datetime.datetime):
        if not (isinstance(a, datetime.datetime) and isinstance(b, datetime.datetime)):
            return False
        return a.utcoffset() == b.utcoffset() and a.replace(tzinfo=None) == b.replace(tzinfo=None)
    try:
        a, b = json_value(a), json_value(b)
    except TypeError:
        return False
    if type(a) is float and type(b) is float:
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1.0, a) == math.copysign(1.0, b))
    return type(a) is type(b) and a == b


def _missing(value: Any) -> bool:
    return type(value).__name__ in ("NaTType", "NAType")


def _is_pandas(value: Any, cls: str) -> bool:
    kind = type(value)
    return kind.__module__.startswith("pandas") and kind.__name__ == cls
