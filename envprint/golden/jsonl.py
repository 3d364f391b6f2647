"""The JSON Lines encoding of golden bundles: one JSON object per row, floats bit-exact in any language.

Rules (docs/golden.md, "Encoding"):

* one JSON object per line, in row order, UTF-8, ``\\n`` after every line;
* a missing field is absent from its object; None is ``null``;
* a finite float is a JSON number in shortest round-trip form (``0.1``, ``-0.0``, ``5e-324``); NaN and
  the infinities are the object ``{"$float": "NaN" | "Infinity" | "-Infinity"}``, so the string
  ``"NaN"`` stays a string; an integer is a JSON number without fraction or exponent;
* a datetime is an ISO 8601 string with its UTC offset (``2024-03-10T01:59:59-05:00``); a naive one
  (no time zone) is written without offset.

Values in memory are "JSON scalars": None, bool, int, float and str (datetimes already as text);
`json_value` brings numpy, pandas and datetime values to that form.
"""

from __future__ import annotations

import datetime
import json
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envprint._files import read_regular
from envprint.errors import UsageError
from envprint.golden.errors import GoldenFormatError

__all__ = [
    "FLOAT_KEY",
    "Time",
    "dumps_row",
    "encode_rows",
    "json_value",
    "loads_row",
    "parse_time",
    "read_rows",
    "to_datetime",
]

#: the key of the one-key object that stands for a non-finite float
FLOAT_KEY = "$float"
_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
#: largest JSON Lines file read (bundle inputs, expected outputs, an implementation's outputs)
MAX_FILE_BYTES = 1 << 32

JsonScalar = None | bool | int | float | str


class _Invalid(ValueError):
    """A line that is JSON but not the golden encoding; the reader adds file and line."""


# ------------------------------------------------------------------------------------------ writing


def json_value(value: Any) -> JsonScalar:
    """Returns `value` as a JSON scalar: numpy/pandas scalars unwrapped, datetimes as ISO 8601 text.

    Missing markers (pandas NaT and NA) become None. Raises TypeError for anything else (lists,
    dicts, bytes, dates without time): a golden row holds scalars only.
    """
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is float or kind is str:
        return value  # type: ignore[no-any-return]
    name = kind.__name__
    if name in ("NaTType", "NAType"):
        return None
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, str):
        return str(value)
    if kind.__module__ == "numpy" and name in ("bool", "bool_"):  # numpy's bool is not a numbers.Integral
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if name == "datetime64":
        text = str(value)
        return None if text == "NaT" else text
    raise TypeError(f"{name} values are not part of the golden encoding (None, bool, int, float, str, datetime)")


def dumps_row(row: Mapping[str, JsonScalar]) -> str:
    """Returns one row as a line of JSON (without the newline); NaN and ±inf become {"$float": ...}."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if type(value) is float and not math.isfinite(value):
            out[key] = {FLOAT_KEY: "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}
        else:
            out[key] = value
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode_rows(rows: Iterable[Mapping[str, JsonScalar]], *, what: str = "row") -> bytes:
    """Returns the rows as JSON Lines bytes (UTF-8, a newline after every row).

    Raises `UsageError` naming the row for a string that UTF-8 cannot hold (a lone surrogate).
    """
    text = "".join(dumps_row(row) + "\n" for row in rows)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        row = text.count("\n", 0, e.start)
        raise UsageError(
            f"{what} {row}: a string holds {text[e.start]!r}, a lone surrogate that UTF-8 cannot encode",
            hint="golden bundles are UTF-8 text: give the transform valid Unicode strings",
        ) from None


# ------------------------------------------------------------------------------------------ reading


def _object(pairs: list[tuple[str, Any]]) -> Any:
    """Returns a decoded JSON object: a float for {"$float": ...}, else a dict (duplicate keys refused)."""
    if len(pairs) == 1 and pairs[0][0] == FLOAT_KEY:
        text = pairs[0][1]
        if isinstance(text, str) and text in _SPECIAL:
            return _SPECIAL[text]
        raise _Invalid(f'{{"$float": {json.dumps(text)}}}: the value must be "NaN", "Infinity" or "-Infinity"')
    row = dict(pairs)
    if len(row) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Invalid(f"duplicate key {key!r}")
            seen.add(key)
    if FLOAT_KEY in row:
        raise _Invalid(f'an object with "{FLOAT_KEY}" must have no other key')
    return row


def _constant(text: str) -> Any:
    raise _Invalid(f'{text} is not JSON: write {{"$float": "{text}"}}')


def _number(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Invalid(f'the number {text} is beyond the float64 range: write {{"$float": "Infinity"}} for infinity')
    return value


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant, parse_float=_number)


def loads_row(line: str) -> dict[str, Any]:
    """Returns the row a line of JSON holds; raises ValueError when it is not one golden row."""
    if not line.strip():
        raise _Invalid("an empty line (one JSON object per line, no blank lines)")
    try:
        row = _DECODER.decode(line)
    except json.JSONDecodeError as e:
        raise _Invalid(f"column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise _Invalid("values nested too deeply") from None
    if type(row) is not dict:
        found = "a number" if isinstance(row, (int, float)) else type(row).__name__
        raise _Invalid(f"expected a JSON object (one row), found {found}")
    return row


def read_rows(path: str | Path, *, what: str = "JSON Lines") -> list[dict[str, Any]]:
    """Returns the rows of a JSON Lines file; raises `GoldenFormatError` naming the file and the line."""
    p = Path(path)
    data = read_regular(p, MAX_FILE_BYTES, what, error=GoldenFormatError)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        where = data.count(b"\n", 0, e.start) + 1
        raise GoldenFormatError(f"{p} line {where}: not UTF-8 ({e.reason} at byte {e.start})") from None
    lines = text.removeprefix("\ufeff").split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last row
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            rows.append(loads_row(line))
        except ValueError as e:
            raise GoldenFormatError(f"{p} line {number}: {e}") from None
    return rows


# ---------------------------------------------------------------------------------------- datetimes

_ISO = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[Tt ](?P<h>\d{2}):(?P<mi>\d{2})"
    r"(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
    r"(?P<z>[Zz]|(?P<sign>[+-])(?P<oh>\d{2})(?::?(?P<om>\d{2})(?::?(?P<os>\d{2})(?:\.(?P<of>\d{1,6}))?)?)?)?"
)


@dataclass(frozen=True)
class Time:
    """A parsed ISO 8601 date-time: its wall clock and its UTC offset (None when naive), both exact."""

    wall_ns: int  # nanoseconds since 1970-01-01T00:00 on the wall clock (proleptic Gregorian)
    offset_us: int | None  # microseconds east of UTC; None for a naive date-time

    @property
    def instant_ns(self) -> int | None:
        """Returns nanoseconds since the epoch (UTC), None for a naive date-time."""
        return None if self.offset_us is None else self.wall_ns - self.offset_us * 1000


def parse_time(text: str) -> Time | None:
    """Returns the date-time an ISO 8601 string holds, None when it holds none.

    Accepts what Python, Java and Go write: ``T`` or a space, seconds and up to nine fraction digits
    optional, ``Z`` or ``±HH[:MM[:SS[.ffffff]]]`` (or none: naive).
    """
    m = _ISO.fullmatch(text)
    if m is None:
        return None
    year, month, day = int(m["y"]), int(m["mo"]), int(m["d"])
    hour, minute, second = int(m["h"]), int(m["mi"]), int(m["s"] or 0)
    if not (1 <= month <= 12 and 1 <= day <= _days_in_month(year, month) and hour < 24 and minute < 60):
        return None
    if second > 59:
        return None
    fraction = int((m["f"] or "").ljust(9, "0") or 0)
    wall = ((_days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60 + second
    offset: int | None = None
    if m["z"] is not None:
        if m["z"] in "Zz":
            offset = 0
        else:
            seconds = int(m["oh"]) * 3600 + int(m["om"] or 0) * 60 + int(m["os"] or 0)
            micro = seconds * 1_000_000 + int((m["of"] or "").ljust(6, "0") or 0)
            if int(m["oh"]) > 23 or int(m["om"] or 0) > 59 or int(m["os"] or 0) > 59:
                return None
            offset = -micro if m["sign"] == "-" else micro
    return Time(wall * 1_000_000_000 + fraction, offset)


def to_datetime(text: str) -> datetime.datetime | None:
    """Returns the `datetime` an ISO 8601 string holds (offset as a fixed zone), None when it holds none.

    Python keeps microseconds: finer fractions are truncated.
    """
    t = parse_time(text)
    if t is None:
        return None
    seconds, ns = divmod(t.wall_ns, 1_000_000_000)
    try:
        wall = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=seconds, microseconds=ns // 1000)
    except OverflowError:
        return None
    if t.offset_us is None:
        return wall
    return wall.replace(tzinfo=datetime.timezone(datetime.timedelta(microseconds=t.offset_us)))


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Returns days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's exact integer algorithm)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
