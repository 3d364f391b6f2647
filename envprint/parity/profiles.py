"""Synthetic profiles: every edge case, then seeded random rows that are the same bits on every machine.

``synthetic(10_000, columns={"age": 40.0}, categories={"color": [...]}, timestamps=["signup_at"])``
gives the `edge_cases()` rows first, then random profiles mixing typical values with the values
feature code mishandles: numbers of every magnitude (subnormals included), missing values in all
their forms, known and unseen categories, timestamps near DST changes in several zones.

The random rows come from SplitMix64 used as a counter-based generator, in integer arithmetic only,
so they are identical on every platform and Python version, with or without numpy, and a Java or Go
port can reproduce them (docs/golden.md, "Synthetic profiles", specifies every step):

* the stream of column C is SplitMix64 seeded with ``mix64(seed XOR key(C))``, where ``key(C)`` is
  the first 8 bytes of SHA-256 of C's UTF-8 name, big-endian; so columns are independent, and
  adding one changes no other;
* draw ``k`` (0-7) of random profile ``r`` is output number ``8r + k + 1`` of that stream;
* a value's class is draw 0 modulo 1000 against the cumulative weights of its kind's table; the
  other draws give its value. Floats are built from bits or with one rounding step of IEEE
  arithmetic, never with library functions whose last bit may vary.

Timestamp offsets come from the tz database (zone rules of 2000-2024, settled history).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import math
import numbers
import struct
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from envprint.errors import UsageError
from envprint.parity.edge_cases import edge_cases
from envprint.probes.transforms import EdgeCases

__all__ = ["DEFAULT_ZONES", "GAMMA", "column_key", "mix64", "splitmix64", "synthetic"]

MASK64 = (1 << 64) - 1
#: SplitMix64's increment (the golden ratio in 64 bits)
GAMMA = 0x9E3779B97F4A7C15
#: independent 64-bit draws each value may use
DRAWS = 8
#: zones of the edge cases and of random timestamps (UTC is always added for random ones)
DEFAULT_ZONES = ("America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe")
#: random instants lie in [2000-01-01, 2025-01-01) UTC, whose zone rules are settled history
START = 946_684_800
SPAN = 1_735_689_600 - START
FIRST_YEAR, YEARS = 2000, 25
#: the text values random text columns draw from, besides generated words
TEXT_POOL = (
    "",
    " ",
    "\t",
    "caf\u00e9",  # composed (NFC)
    "cafe\u0301",  # decomposed (NFD)
    "Stra\u00dfe",
    "\U0001f600",
    "\u0130stanbul",  # dotted capital I: lower-casing differs between languages' defaults
    "\ufb01le",  # the "fi" ligature
    "\u05e9\u05dc\u05d5\u05dd",  # right-to-left
    "a\u0000b",
    "NaN",  # a string, not a float: the $float rule keeps it one
    "null",
    "1e5",
    "line\nbreak",
    '"quoted"',
    "back\\slash",
)

_ABSENT = object()  # a value that removes its key from the row
_UNIT = 1.0 / (1 << 53)

# cumulative weights (out of 1000) of each kind's value classes; the first class of each is "typical"
_NUMERIC = ((550, "typical"), (700, "magnitude"), (740, "subnormal"), (760, "0.0"), (770, "-0.0"), (785, "+inf"),
            (800, "-inf"), (850, "NaN"), (900, "None"), (950, "absent"), (970, "''"), (1000, "int"))  # fmt: skip
_CATEGORY = ((700, "known"), (800, "unseen"), (850, "None"), (900, "absent"), (930, "''"), (950, "NaN"),
             (975, "padded"), (1000, "case"))  # fmt: skip
_TIMESTAMP = ((600, "uniform"), (800, "DST"), (850, "naive"), (925, "None"), (1000, "absent"))
_TEXT = ((600, "word"), (900, "pool"), (950, "None"), (1000, "absent"))


def mix64(z: int) -> int:
    """Returns SplitMix64's output function of the 64-bit `z` (a bijection with strong avalanche)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def splitmix64(seed: int, count: int) -> list[int]:
    """Returns the first `count` outputs of SplitMix64 seeded with `seed` (its reference sequence)."""
    return [mix64((seed + (i + 1) * GAMMA) & MASK64) for i in range(count)]


def column_key(name: str) -> int:
    """Returns the 64-bit key of column `name`: the first 8 bytes of SHA-256 of its UTF-8 name, big-endian."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")


@dataclass(frozen=True)
class _Stream:
    """The draws of one column: draw(r, k) is output 8r + k + 1 of SplitMix64 seeded with mix64(seed ^ key)."""

    state: int

    @classmethod
    def of(cls, seed: int, column: str) -> _Stream:
        return cls(mix64((seed & MASK64) ^ column_key(column)))

    def draws(self, profile: int) -> list[int]:
        first = profile * DRAWS + 1
        return [mix64((self.state + (first + k) * GAMMA) & MASK64) for k in range(DRAWS)]


def _unit(u: int) -> float:
    """Returns a float in [0, 1): the top 53 bits of `u` times 2^-53 (exact)."""
    return (u >> 11) * _UNIT


def _from_bits(bits: int) -> float:
    value: float = struct.unpack("<d", bits.to_bytes(8, "little"))[0]
    return value


def _class(u0: int, table: Sequence[tuple[int, str]]) -> str:
    c = u0 % 1000
    return next(name for bound, name in table if c < bound)


def synthetic(
    n: int,
    *,
    columns: Mapping[str, Any] | Sequence[str] = (),
    categories: Mapping[str, Sequence[str]] | None = None,
    timestamps: Sequence[str] = (),
    text: Sequence[str] = (),
    zones: Sequence[str] = DEFAULT_ZONES,
    unseen: str = "<unseen>",
    base: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> EdgeCases:
    """Returns `n` labelled rows: every `edge_cases()` row first, then seeded random profiles.

    Arguments are those of `edge_cases()` (`columns` numeric with typical values, `categories` with
    their known values, `timestamps`, `text`, `zones`, `unseen`, `base`), plus `seed`. A random
    row's label names its profile number and its unusual values: ``random 17: age=subnormal,
    color=unseen``. The rows are the same on every platform and numpy version (module docstring).
    Raises `UsageError` when `n` is smaller than the number of edge-case rows.
    """
    edges = edge_cases(
        columns, categories=categories, timestamps=timestamps, text=text, zones=zones, unseen=unseen, base=base
    )
    if type(n) is not int or n < len(edges):
        raise UsageError(
            f"synthetic({n!r}): needs at least {len(edges)} rows, the edge cases of these columns",
            hint="ask for more rows, or use edge_cases() alone",
        )
    numeric = dict(columns) if isinstance(columns, Mapping) else dict.fromkeys(columns, 1.0)
    generators: list[tuple[str, _Stream, Callable[[list[int]], tuple[str, Any]]]] = []
    for name, typical in numeric.items():
        generators.append((name, _Stream.of(seed, name), _numeric_values(name, typical)))
    for name, known in (categories or {}).items():
        generators.append((name, _Stream.of(seed, name), _category_values([str(k) for k in known], unseen)))
    generators.extend((name, _Stream.of(seed, name), _timestamp_values(tuple(zones))) for name in timestamps)
    generators.extend((name, _Stream.of(seed, name), _text_value) for name in text)

    rows, labels = list(edges), list(edges.labels)
    typical_row = dict(base or {})
    for profile in range(n - len(edges)):
        row = dict(typical_row)
        unusual = []
        for name, stream, generate in generators:
            label, value = generate(stream.draws(profile))
            if value is _ABSENT:
                row.pop(name, None)
            else:
                row[name] = value
            if label:
                unusual.append(f"{name}={label}")
        rows.append(row)
        labels.append(f"random {profile}" + (": " + ", ".join(unusual) if unusual else ""))
    return EdgeCases(rows, labels)


# ------------------------------------------------------------------------------- the value classes


def _numeric_values(name: str, typical: Any) -> Callable[[list[int]], tuple[str, Any]]:
    if isinstance(typical, bool) or not isinstance(typical, numbers.Real) or not math.isfinite(typical):
        raise UsageError(f"synthetic: numeric column {name!r} needs a finite typical value, not {typical!r}")
    t = float(typical)
    scale = abs(t) if t != 0.0 else 1.0
    whole = int(t) if abs(t) < 2.0**53 else 0

    def generate(u: list[int]) -> tuple[str, Any]:
        c = _class(u[0], _NUMERIC)
        if c == "typical":
            return "", t + scale * (2.0 * _unit(u[1]) - 1.0)
        if c == "magnitude":  # any normal float: random sign, biased exponent 1..2046, mantissa
            return c, _from_bits((u[1] >> 63) << 63 | (1 + u[1] % 2046) << 52 | (u[2] & ((1 << 52) - 1)))
        if c == "subnormal":  # a mantissa of 1..52 significant bits: every subnormal magnitude alike
            width = 1 + u[3] % 52
            return c, _from_bits((u[1] >> 63) << 63 | 1 << (width - 1) | (u[2] & ((1 << (width - 1)) - 1)))
        if c == "int":
            return c, whole + u[1] % 2001 - 1000
        return c, _NUMERIC_CONSTANTS[c]

    return generate


_NUMERIC_CONSTANTS: dict[str, Any] = {
    "0.0": 0.0,
    "-0.0": -0.0,
    "+inf": math.inf,
    "-inf": -math.inf,
    "NaN": math.nan,
    "None": None,
    "absent": _ABSENT,
    "''": "",
}


def _category_values(known: list[str], unseen: str) -> Callable[[list[int]], tuple[str, Any]]:
    if not known:
        raise UsageError("synthetic: a category column needs at least one known category")

    def generate(u: list[int]) -> tuple[str, Any]:
        c = _class(u[0], _CATEGORY)
        k = known[u[1] % len(known)]
        if c == "known":
            return "", k
        if c == "unseen":
            return c, f"{unseen}-{u[1] % 1000}"
        if c == "padded":
            return c, f" {k} "
        if c == "case":
            return c, k.upper() if k.upper() != k else k.lower()
        return c, {"None": None, "absent": _ABSENT, "''": "", "NaN": math.nan}[c]

    return generate


def _timestamp_values(zones: tuple[str, ...]) -> Callable[[list[int]], tuple[str, Any]]:
    every = ("UTC", *zones)
    for key in zones:
        _zone(key)  # an unknown zone fails here, with the fix, not on the first row that draws it

    def generate(u: list[int]) -> tuple[str, Any]:
        c = _class(u[0], _TIMESTAMP)
        if c == "DST" and zones:
            key = zones[u[1] % len(zones)]
            changes = _transitions(key, FIRST_YEAR + u[2] % YEARS)
            if changes:
                seconds = changes[u[3] % len(changes)] + u[4] % 7201 - 3600
                return f"{key} DST±1h", datetime.datetime.fromtimestamp(seconds, _zone(key))
            c = "uniform"  # a zone without offset changes that year: an ordinary instant instead
        if c in ("uniform", "DST"):
            key = every[u[2] % len(every)]
            micro = u[3] % 1_000_000 if u[4] % 2 else 0
            moment = datetime.datetime.fromtimestamp(START + u[1] % SPAN, _zone(key)).replace(microsecond=micro)
            return ("" if key == "UTC" else key), moment
        if c == "naive":  # a wall clock without zone, as a log line or a CSV export has it
            return c, datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=START + u[1] % SPAN)
        return c, None if c == "None" else _ABSENT

    return generate


def _text_value(u: list[int]) -> tuple[str, Any]:
    c = _class(u[0], _TEXT)
    if c == "word":
        letters, rest = [], u[1]
        for _ in range(1 + u[2] % 12):
            rest, letter = divmod(rest, 26)
            letters.append(chr(97 + letter))
        return "", "".join(letters)
    if c == "pool":
        value = TEXT_POOL[u[1] % len(TEXT_POOL)]
        return repr(value)[:24], value
    return c, None if c == "None" else _ABSENT


def _zone(key: str) -> datetime.tzinfo:
    if key == "UTC":
        return datetime.timezone.utc
    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"synthetic: time zone {key!r} is not in this machine's tz database",
            hint="install the tzdata package (pip install tzdata) or pass other zones=",
        ) from None


@functools.lru_cache(maxsize=1024)
def _transitions(key: str, year: int) -> tuple[int, ...]:
    """Returns the UTC seconds at which `key`'s UTC offset changes in `year`, as `edge_cases()` finds them."""
    rows = edge_cases(timestamps=("t",), zones=(key,), year=year)
    changes = (f"t={key} DST start", f"t={key} DST end")
    return tuple(int(row["t"].timestamp()) for row, label in zip(rows, rows.labels, strict=True) if label in changes)
