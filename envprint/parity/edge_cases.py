"""Edge-case input rows for transform probes: the values that break feature code at serving time."""

from __future__ import annotations

import datetime
import math
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from envprint.errors import UsageError
from envprint.probes.transforms import EdgeCases

if TYPE_CHECKING:
    pass


_UTC = datetime.timezone.utc
_TYPICAL_TIME = datetime.datetime(2024, 6, 15, 12, 0, tzinfo=_UTC)
_ABSENT = object()  # marks an edge case that removes the key from the row


def edge_cases(
    columns: Mapping[str, Any] | Sequence[str] = (),
    *,
    categories: Mapping[str, Sequence[str]] | None = None,
    timestamps: Sequence[str] = (),
    text: Sequence[str] = (),
    zones: Sequence[str] = ("America/New_York", "Europe/Berlin"),
    year: int = 2024,
    unseen: str = "<unseen>",
    base: Mapping[str, Any] | None = None,
) -> EdgeCases:
    """Returns rows that expose the classic tabular skews, one edge case per row, each labelled.

    The first row is typical: `columns` (numeric; a mapping gives each its typical value, default
    1.0) at their typical value, each of `categories` at its first known value, `timestamps` at
    noon UTC, `text` columns "text", plus `base`'s extra columns. Every other row changes one
    column to one edge value, so a difference names the column and the case:

    * numeric: None, key absent, NaN, ±inf, ±0.0, ±1e308, the subnormal 5e-324, 3.5e38 (overflows
      float32), 2^53 + 1 (not a float64), the empty string (a CSV or JSON field left blank);
    * categorical: the `unseen` category, None, key absent, "", NaN, upper-case and padded variants
      of a known category;
    * timestamps (timezone-aware `datetime`s): midnight UTC, local midnight in each of `zones`, one
      second before and at each DST change of `year` in each zone, and inside the repeated hour, a
      naive midnight (no time zone), the epoch and a second before it, a leap day, the last
      microsecond of the year before, 2^31 seconds (beyond int32), None and key absent;
    * text: "", whitespace, None, key absent, "café" composed (NFC) and decomposed (NFD), "Straße",
      an emoji, and a 10,000-character string.

    Raises `UsageError` for a zone this machine's tz database does not know.
    """
    numeric = dict(columns) if isinstance(columns, Mapping) else dict.fromkeys(columns, 1.0)
    cats = {k: list(v) for k, v in (categories or {}).items()}
    for name, known in cats.items():
        if not known:
            raise UsageError(f"edge_cases: category column {name!r} needs at least one known category")
    typical: dict[str, Any] = dict(base or {})
    typical.update(numeric)
    typical.update({k: v[0] for k, v in cats.items()})
    typical.update(dict.fromkeys(timestamps, _TYPICAL_TIME))
    typical.update(dict.fromkeys(text, "text"))

    cases: list[tuple[str, str, Any]] = []
    for col in numeric:
        cases.extend((col, label, value) for label, value in _NUMERIC_EDGES)
    for col, known in cats.items():
        cases.extend((col, label, value) for label, value in _category_edges(known, unseen))
    if timestamps:
        moments = _timestamp_edges(zones, year)
        for col in timestamps:
            cases.extend((col, label, value) for label, value in moments)
    for col in text:
        cases.extend((col, label, value) for label, value in _TEXT_EDGES)

    rows, labels = [dict(typical)], ["typical"]
    for col, label, value in cases:
        row = dict(typical)
        if value is _ABSENT:
            del row[col]
        else:
            row[col] = value
        rows.append(row)
        labels.append(f"{col}={label}")
    return EdgeCases(rows, labels)


_NUMERIC_EDGES: tuple[tuple[str, Any], ...] = (
    ("None", None),
    ("absent", _ABSENT),
    ("NaN", math.nan),
    ("+inf", math.inf),
    ("-inf", -math.inf),
    ("0.0", 0.0),
    ("-0.0", -0.0),
    ("1e308", 1e308),
    ("-1e308", -1e308),
    ("5e-324", 5e-324),
    ("3.5e38", 3.5e38),
    ("2^53+1", 2**53 + 1),
    ("''", ""),
)

_TEXT_EDGES: tuple[tuple[str, Any], ...] = (
    ("''", ""),
    ("' '", " "),
    ("None", None),
    ("absent", _ABSENT),
    ("NFC 'café'", "caf\u00e9"),
    ("NFD 'café'", "cafe\u0301"),
    ("'Straße'", "Stra\u00dfe"),
    ("emoji", "\U0001f600"),
    ("10000 chars", "x" * 10_000),
)


def _category_edges(known: Sequence[str], unseen: str) -> list[tuple[str, Any]]:
    first = str(known[0])
    case = first.upper() if first.upper() != first else first.lower()
    edges: list[tuple[str, Any]] = [
        (unseen, unseen),
        ("None", None),
        ("absent", _ABSENT),
        ("''", ""),
        ("NaN", math.nan),
        (repr(f" {first} "), f" {first} "),
    ]
    if case != first:
        edges.append((repr(case), case))
    return edges


def _timestamp_edges(zones: Sequence[str], year: int) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [("UTC midnight", datetime.datetime(year, 1, 1, tzinfo=_UTC))]
    for key in zones:
        try:
            zone = zoneinfo.ZoneInfo(key)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise UsageError(
                f"edge_cases: time zone {key!r} is not in this machine's tz database",
                hint="install the tzdata package (pip install tzdata) or pass other zones=",
            ) from None
        out.append((f"{key} midnight", datetime.datetime(year, 1, 1, tzinfo=zone)))
        for instant, before, after in _transitions(zone, year):
            change = "DST start" if after > before else "DST end"
            out.append((f"{key} {change} -1s", (instant - datetime.timedelta(seconds=1)).astimezone(zone)))
            out.append((f"{key} {change}", instant.astimezone(zone)))
            if after < before:  # the repeated hour: the same wall time twice
                out.append((f"{key} repeated hour", (instant + datetime.timedelta(minutes=30)).astimezone(zone)))
    naive = datetime.datetime(year, 1, 1)
    out += [
        ("naive midnight", naive),
        ("epoch", datetime.datetime(1970, 1, 1, tzinfo=_UTC)),
        ("epoch -1s", datetime.datetime(1969, 12, 31, 23, 59, 59, tzinfo=_UTC)),
        ("leap day", datetime.datetime(2024, 2, 29, 12, 0, tzinfo=_UTC)),
        ("last microsecond", datetime.datetime(year - 1, 12, 31, 23, 59, 59, 999999, tzinfo=_UTC)),
        ("2^31 s", datetime.datetime(2038, 1, 19, 3, 14, 8, tzinfo=_UTC)),
        ("None", None),
        ("absent", _ABSENT),
    ]
    return out


def _transitions(zone: zoneinfo.ZoneInfo, year: int) -> list[tuple[datetime.datetime, float, float]]:
    """Returns (UTC instant, offset before, offset after) of each UTC-offset change of `zone` in `year`."""

    def offset(seconds: int) -> float:
        delta = datetime.datetime.fromtimestamp(seconds, zone).utcoffset()
        return delta.total_seconds() if delta is not None else 0.0

    start = int(datetime.datetime(year, 1, 1, tzinfo=_UTC).timestamp())
    end = int(datetime.datetime(year + 1, 1, 1, tzinfo=_UTC).timestamp())
    out = []
    day = 86_400
    for t in range(start, end, day):  # offsets change at most once a day: find the day, bisect the second
        before, after = offset(t), offset(t + day)
        if before == after:
            continue
        lo, hi = t, t + day
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if offset(mid) == before else (lo, mid)
        out.append((datetime.datetime.fromtimestamp(hi, _UTC), before, after))
    return out
