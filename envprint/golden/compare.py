"""Compare an implementation's outputs with a golden bundle's expected outputs, row by row, within tolerance.

A float matches when |got − expected| <= atol + rtol·|expected| (the column's tolerance in the
manifest); NaN matches NaN (and null, as `envprint parity` treats None in a numeric column); an
infinity matches only itself. Integers, booleans and strings must be equal (an integer written
``3.0`` is the integer 3: JSON does not tell them apart); a boolean never equals a number. Values
of a datetime column match when they are the same instant with the same UTC offset, however
written (``Z`` or ``+00:00``, with or without seconds).

Rows pair in order. When the outputs have fewer or more rows than the bundle, equal leading and
trailing rows are paired first, then the rows between in order, looking ahead up to `LOOKAHEAD`
rows for where rows were dropped or added (with a total allowance, so a hopeless alignment stays
linear); the rows left over are reported missing or extra.
"""

from __future__ import annotations

import heapq
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from envprint.errors import UsageError
from envprint.golden.errors import GoldenFormatError
from envprint.golden.jsonl import parse_time, read_rows
from envprint.golden.manifest import Column, Manifest, ProbeEntry, read_expected, read_labels, read_manifest
from envprint.golden.report import GoldenReport, ProbeComparison, RowRef, ValueMismatch

__all__ = ["LOOKAHEAD", "SHOWN", "compare_bundle", "compare_rows", "show"]

#: mismatches, missing and extra rows kept per probe in a report
SHOWN = 20
#: rows looked ahead for dropped or added rows when the row counts differ
LOOKAHEAD = 256
#: row comparisons spent looking ahead, per row of the longer side: bounds the time of hopeless alignments
_LOOKAHEAD_WORK = 16

_ABSENT: Any = object()
_INF = math.inf

Row = Mapping[str, Any]


def compare_bundle(
    bundle: str | Path, outputs: str | Path, *, names: Iterable[str] | None = None, shown: int = SHOWN
) -> GoldenReport:
    """Returns every probe of the bundle in `bundle` compared with ``NAME.outputs.jsonl`` in `outputs`.

    `names` restricts the comparison to those probes. A probe without an outputs file is
    "missing" (a failure). Raises `GoldenFormatError` (exit 2) for an unreadable bundle or outputs
    file, naming the file and line, and `UsageError` for an outputs directory that does not exist.
    """
    manifest = read_manifest(bundle)
    out_dir = Path(outputs)
    if not out_dir.is_dir():
        raise UsageError(
            f"{out_dir}: no such outputs directory",
            hint="run the implementation under test first: it reads NAME.inputs.jsonl, writes NAME.outputs.jsonl there",
        )
    chosen = _chosen(manifest, names)
    results = []
    for entry in chosen:
        expected = read_expected(bundle, entry)
        labels = read_labels(bundle, entry)
        path = out_dir / entry.outputs
        if not path.exists():
            results.append(ProbeComparison(entry.name, "missing", str(path), entry.rows, 0, 0, 0, 0, 0))
            continue
        got = read_rows(path, what="outputs")
        compared = compare_rows(
            expected, got, entry.columns, name=entry.name, labels=labels, shown=shown, outputs=str(path)
        )
        results.append(compared)
    known = {e.outputs for e in manifest.probes.values()}
    unexpected = tuple(sorted(p.name for p in out_dir.glob("*.outputs.jsonl") if p.name not in known))
    baseline = None
    if manifest.baseline is not None:
        baseline = f"{manifest.baseline.file} ({manifest.baseline.trust.upper()})"
    return GoldenReport(str(bundle), str(outputs), tuple(results), unexpected, baseline)


def _chosen(manifest: Manifest, names: Iterable[str] | None) -> list[ProbeEntry]:
    if not manifest.probes:  # a comparison that compares nothing must not pass
        raise GoldenFormatError("the bundle holds no probe, so there is nothing to compare")
    if names is None:
        return list(manifest.probes.values())
    wanted = list(dict.fromkeys(names))
    unknown = [n for n in wanted if n not in manifest.probes]
    if unknown:
        raise UsageError(
            f"the bundle holds no probe {', '.join(map(repr, unknown))}; it holds {', '.join(manifest.probes)}"
        )
    return [manifest.probes[n] for n in wanted]


# ------------------------------------------------------------------------------------- row compare


def compare_rows(
    expected: Sequence[Row],
    got: Sequence[Row],
    columns: Mapping[str, Column],
    *,
    name: str,
    labels: Sequence[str] | None = None,
    shown: int = SHOWN,
    outputs: str = "",
) -> ProbeComparison:
    """Returns how output rows `got` compare with `expected`, column by column within `columns`' tolerance."""
    pairs, missing, extra = _align(expected, got, columns)
    raw: list[tuple[float, int, int, str, Any, Any, float | None, float]] = []
    per_column: Counter[str] = Counter()
    unknown: dict[str, None] = {}
    compared = 0
    bad_rows = 0
    for i, j in pairs:
        e_row, g_row = expected[i], got[j]
        row_bad = False
        for column in _columns_of(e_row, g_row):
            spec = columns.get(column)
            if spec is None:
                unknown[column] = None
                continue
            compared += 1
            e, g = e_row.get(column, _ABSENT), g_row.get(column, _ABSENT)
            verdict = _differs(e, g, spec)
            if verdict is None:
                continue
            row_bad = True
            per_column[column] += 1
            diff, allowed = verdict
            score = _INF if diff is None or not allowed else diff / allowed
            raw.append((-score, i, len(raw), column, e, g, diff, allowed))
        bad_rows += row_bad
    worst = heapq.nsmallest(shown, raw)

    def label(i: int) -> str | None:
        return labels[i] if labels is not None and i < len(labels) else None

    failed = bool(raw or missing or extra)
    return ProbeComparison(
        name=name,
        status="fail" if failed else "pass",
        outputs=outputs,
        rows_expected=len(expected),
        rows_got=len(got),
        rows_compared=len(pairs),
        values_compared=compared,
        values_mismatched=len(raw),
        rows_mismatched=bad_rows,
        by_column=tuple((c, per_column[c]) for c in columns if per_column[c]),
        mismatches=tuple(
            ValueMismatch(i, label(i), column, show(e), show(g), diff, allowed)
            for _, i, _, column, e, g, diff, allowed in worst
        ),
        missing_rows=tuple(RowRef(i, label(i)) for i in missing[:shown]),
        missing_count=len(missing),
        extra_rows=tuple(RowRef(j + 1) for j in extra[:shown]),
        extra_count=len(extra),
        unknown_columns=tuple(unknown),
    )


def _columns_of(e_row: Row, g_row: Row) -> Iterable[str]:
    if e_row.keys() == g_row.keys():
        return e_row.keys()
    return [*e_row, *(k for k in g_row if k not in e_row)]


def _differs(e: Any, g: Any, spec: Column) -> tuple[float | None, float] | None:
    """Returns None when `g` matches `e` under `spec`, else (|Δ| or None when not two numbers, allowed)."""
    te, tg = type(e), type(g)
    if te is tg and e == g:  # equal text, ints, bools, floats (0.0 == -0.0, within any tolerance)
        return None
    if te is float or te is int:
        if tg is float or tg is int:
            return _numbers(e, g, spec)
        if g is None and spec.kind == "float" and te is float and math.isnan(e):
            return None  # None in a numeric column is a missing value: NaN, as envprint parity records it
        return None, 0.0
    if e is None and tg is float and spec.kind == "float" and math.isnan(g):
        return None
    if te is str and tg is str and spec.kind == "datetime":
        when = parse_time(e)
        if when is not None and when == parse_time(g):
            return None
    return None, 0.0


def _numbers(e: float, g: float, spec: Column) -> tuple[float | None, float] | None:
    if type(e) is int and type(g) is int and spec.exact:
        return None if e == g else (_as_float(abs(g - e)), 0.0)
    x, y = _as_float(e), _as_float(g)
    allowed = spec.atol + spec.rtol * abs(x) if math.isfinite(x) else 0.0
    if math.isnan(x) or math.isnan(y):
        return None if math.isnan(x) and math.isnan(y) else (_INF, allowed)
    if math.isinf(x) or math.isinf(y):
        return None if x == y else (_INF, allowed)
    diff = abs(y - x)
    return None if diff <= allowed else (diff, allowed)


def _as_float(value: float) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer beyond float64: compare it as the infinity it rounds to
        return math.copysign(_INF, value)


def show(value: Any) -> str:
    """Returns a value as it reads in a report: JSON text, NaN and infinities bare, "(absent)"."""
    if value is _ABSENT:
        return "(absent)"
    if type(value) is float:
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)[:200]
    except (TypeError, ValueError):
        return repr(value)[:200]


# --------------------------------------------------------------------------------------- alignment


def _align(
    expected: Sequence[Row], got: Sequence[Row], columns: Mapping[str, Column]
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Returns (pairs of expected/got row indices, expected rows left unpaired, got rows left unpaired)."""
    ne, ng = len(expected), len(got)
    if ne == ng:
        return [(i, i) for i in range(ne)], [], []

    def same(i: int, j: int) -> bool:
        e_row, g_row = expected[i], got[j]
        for column in _columns_of(e_row, g_row):
            spec = columns.get(column)
            if spec is not None and _differs(e_row.get(column, _ABSENT), g_row.get(column, _ABSENT), spec):
                return False
        return True

    short = min(ne, ng)
    head = 0
    while head < short and same(head, head):
        head += 1
    tail = 0
    while tail < short - head and same(ne - 1 - tail, ng - 1 - tail):
        tail += 1
    pairs = [(k, k) for k in range(head)]
    missing: list[int] = []
    extra: list[int] = []
    i = j = head
    end_e, end_g = ne - tail, ng - tail
    work = _LOOKAHEAD_WORK * max(ne, ng)
    while i < end_e and j < end_g:
        if same(i, j):
            pairs.append((i, j))
            i, j = i + 1, j + 1
            continue
        budget = (end_e - i) - (end_g - j)
        limit = min(abs(budget), LOOKAHEAD, work)
        skip = _skip(same, i, j, end_e, end_g, limit=limit, missing=budget > 0)
        work -= abs(skip) if skip else limit
        if skip > 0:
            missing.extend(range(i, i + skip))
            i += skip
        elif skip < 0:
            extra.extend(range(j, j - skip))
            j -= skip
        else:
            pairs.append((i, j))  # the same row, with different values
            i, j = i + 1, j + 1
    missing.extend(range(i, end_e))
    extra.extend(range(j, end_g))
    pairs.extend((ne - tail + k, ng - tail + k) for k in range(tail))
    return pairs, missing, extra


def _skip(same: Any, i: int, j: int, end_e: int, end_g: int, *, limit: int, missing: bool) -> int:
    """Returns how many expected rows (> 0) or output rows (< 0) to skip to pair rows again; 0 for none.

    Looks `limit` rows ahead at most: among the expected rows when rows are `missing` (the outputs
    are shorter), else among the output rows.
    """
    for d in range(1, limit + 1):
        if missing and i + d < end_e and same(i + d, j):
            return d
        if not missing and j + d < end_g and same(i, j + d):
            return -d
    return 0
