"""synthetic(): edge cases first, then random profiles that are the same bits on every machine."""

from __future__ import annotations

import datetime
import hashlib
import math
import struct
from typing import Any

import pytest

from envprint.errors import UsageError
from envprint.golden import synthetic
from envprint.golden.jsonl import encode_rows
from envprint.golden.shapes import json_rows, same_value
from envprint.parity import edge_cases
from envprint.parity.profiles import DEFAULT_ZONES, splitmix64

COLUMNS = {"age": 40.0, "income": 52_000.0}
CATEGORIES = {"color": ["red", "green", "blue"]}
PINNED: dict[str, Any] = {
    "columns": COLUMNS,
    "categories": CATEGORIES,
    "timestamps": ["signup_at"],
    "text": ["comment"],
    "seed": 7,
}


def edges(**kw: Any) -> int:
    return len(edge_cases(kw["columns"], categories=kw.get("categories"), timestamps=kw.get("timestamps", ()),
                          text=kw.get("text", ()), zones=kw.get("zones", DEFAULT_ZONES)))  # fmt: skip


def test_splitmix64_is_the_reference_generator() -> None:
    # the published first outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c; Java's SplittableRandom(0))
    assert splitmix64(0, 3) == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_random_profiles_are_pinned_bit_for_bit() -> None:
    """The random rows and labels of a fixed call hash to fixed digests: any platform, any numpy, any Python."""
    rows = synthetic(3000, **PINNED)
    k = edges(**PINNED)
    data = encode_rows(json_rows(rows[k:], probe="pinned", what="input"))
    assert hashlib.sha256(data).hexdigest() == "4ae958753c296330a24db09b2a767ef3254de9dcc1dce7ffda56939aa8ad661a"
    labels = "\n".join(rows.labels[k:]).encode()
    assert hashlib.sha256(labels).hexdigest() == "be2a6201b06ff112a7e16cdaa2a92fe674cc4f728830e81669dd1f3f5b8e13d5"
    assert data.startswith(
        b'{"age":70.09346557113935,"income":-6.672909747658268e-163,"color":"","signup_at":"2012-03-11T03:50:36-04:00",'
    )
    assert rows.labels[k] == "random 0: income=magnitude, color='', signup_at=America/New_York DST±1h, comment='NaN'"


def _spec_numeric(seed: int, column: str, typical: float, profile: int) -> tuple[str, Any]:
    """The numeric value of docs/golden.md's generator, written again from the document, independently."""
    mask, gamma = 2**64 - 1, 0x9E3779B97F4A7C15

    def mix(z: int) -> int:
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
        return z ^ (z >> 31)

    key = int.from_bytes(hashlib.sha256(column.encode()).digest()[:8], "big")
    state = mix((seed & mask) ^ key)
    u = [mix((state + (8 * profile + k + 1) * gamma) % 2**64) for k in range(8)]
    c = u[0] % 1000
    as_float = lambda b: struct.unpack(">d", b.to_bytes(8, "big"))[0]  # noqa: E731
    if c < 550:
        return "", typical + abs(typical) * (2.0 * ((u[1] >> 11) / 2**53) - 1.0)
    if c < 700:
        return "magnitude", as_float((u[1] >> 63) << 63 | (1 + u[1] % 2046) << 52 | u[2] % 2**52)
    if c < 740:
        width = 1 + u[3] % 52  # significant bits of the mantissa
        return "subnormal", as_float((u[1] >> 63) << 63 | 2 ** (width - 1) + u[2] % 2 ** (width - 1))
    table = [(760, "0.0", 0.0), (770, "-0.0", -0.0), (785, "+inf", math.inf), (800, "-inf", -math.inf),
             (850, "NaN", math.nan), (900, "None", None), (950, "absent", "ABSENT"), (970, "''", "")]  # fmt: skip
    for bound, label, value in table:
        if c < bound:
            return label, value
    return "int", int(typical) + u[1] % 2001 - 1000


def test_numeric_values_follow_the_documented_algorithm() -> None:
    rows = synthetic(edges(columns={"age": 40.0}) + 400, columns={"age": 40.0}, seed=3)
    k = edges(columns={"age": 40.0})
    for profile in range(400):
        label, value = _spec_numeric(3, "age", 40.0, profile)
        row, row_label = rows[k + profile], rows.labels[k + profile]
        if value == "ABSENT":
            assert "age" not in row
        else:
            assert same_value(row["age"], value), (profile, row, value)
        assert row_label == f"random {profile}" + (f": age={label}" if label else "")


def test_edge_cases_come_first_then_random_profiles() -> None:
    rows = synthetic(200, columns={"age": 40.0}, categories=CATEGORIES, timestamps=["signup_at"])
    cases = edge_cases({"age": 40.0}, categories=CATEGORIES, timestamps=["signup_at"], zones=DEFAULT_ZONES)
    assert rows.labels[: len(cases)] == cases.labels
    assert all(same_value(a.get(c), b.get(c)) for a, b in zip(rows[: len(cases)], cases, strict=True) for c in {*a, *b})
    assert rows.labels[len(cases)].startswith("random 0")
    assert rows.labels[-1].startswith(f"random {200 - len(cases) - 1}")
    assert len(rows) == 200


def test_random_profiles_cover_magnitudes_missing_values_categories_and_dst_edges() -> None:
    rows = synthetic(10_000, columns={"age": 40.0}, categories=CATEGORIES, timestamps=["signup_at"])
    random_rows = rows[edges(columns={"age": 40.0}, categories=CATEGORIES, timestamps=["signup_at"]) :]
    ages = [r["age"] for r in random_rows if "age" in r]
    floats = [a for a in ages if type(a) is float and math.isfinite(a) and a != 0.0]
    assert sum(1 for a in floats if abs(a) < 2.2250738585072014e-308) > 200  # subnormals
    assert min(abs(a) for a in floats) < 1e-320 and max(abs(a) for a in floats) > 1e300
    assert {"nan", "inf", "-inf", "None", "''", "int", "-0.0"} <= {_numeric_kind(a) for a in ages}
    assert sum(1 for r in random_rows if "age" not in r) > 300  # absent

    colors = [r.get("color", "ABSENT") for r in random_rows]
    assert sum(c in CATEGORIES["color"] for c in colors) > 6000
    assert sum(isinstance(c, str) and c.startswith("<unseen>-") for c in colors) > 800
    assert {" red ", "RED", "", None, "ABSENT"} <= {c for c in colors if not isinstance(c, float)}
    assert any(isinstance(c, float) and math.isnan(c) for c in colors)

    times = [r["signup_at"] for r in random_rows if r.get("signup_at") is not None]
    offsets = {t.utcoffset() for t in times if t.tzinfo is not None}
    assert {datetime.timedelta(hours=5, minutes=30), datetime.timedelta(hours=10, minutes=30)} <= offsets
    assert any(t.tzinfo is None for t in times)  # naive
    assert any(getattr(t, "fold", 0) == 1 for t in times)  # inside a repeated hour
    near_dst = [t for t in times if t.tzinfo is not None and _hours_from_offset_change(t) <= 1.0]
    assert len(near_dst) > 1000


def _numeric_kind(value: Any) -> str:
    if value is None:
        return "None"
    if value == "":
        return "''"
    if type(value) is int:
        return "int"
    if math.isnan(value) or math.isinf(value):
        return repr(value)
    return "-0.0" if value == 0.0 and math.copysign(1.0, value) < 0 else "float"


def _hours_from_offset_change(t: datetime.datetime) -> float:
    """Returns hours from `t` to the nearest change of its zone's UTC offset (within two hours, else inf)."""
    zone = t.tzinfo
    for minutes in range(0, 121, 5):
        for sign in (1, -1):
            other = (t + sign * datetime.timedelta(minutes=minutes)).astimezone(datetime.timezone.utc).astimezone(zone)
            if other.utcoffset() != t.utcoffset():
                return minutes / 60
    return math.inf


def test_adding_a_column_changes_no_other_column() -> None:
    one = synthetic(edges(columns={"age": 40.0}) + 300, columns={"age": 40.0}, seed=11)
    two = synthetic(edges(columns=COLUMNS) + 300, columns=COLUMNS, seed=11)
    a, b = one[edges(columns={"age": 40.0}) :], two[edges(columns=COLUMNS) :]
    assert all(same_value(x.get("age", "ABSENT"), y.get("age", "ABSENT")) for x, y in zip(a, b, strict=True))


def test_the_seed_changes_the_random_rows_not_the_edge_cases() -> None:
    k = edges(columns={"age": 40.0})
    first, second = synthetic(k + 50, columns={"age": 40.0}, seed=0), synthetic(k + 50, columns={"age": 40.0}, seed=1)
    assert first.labels[:k] == second.labels[:k]
    assert sum(not same_value(x.get("age"), y.get("age")) for x, y in zip(first[k:], second[k:], strict=True)) > 40


def test_fewer_rows_than_edge_cases_or_a_bad_column_is_a_usage_error() -> None:
    k = edges(columns={"age": 40.0})
    with pytest.raises(UsageError, match=rf"needs at least {k} rows"):
        synthetic(k - 1, columns={"age": 40.0})
    with pytest.raises(UsageError, match="numeric column 'age' needs a finite typical value"):
        synthetic(100, columns={"age": "forty"})
    with pytest.raises(UsageError, match="not in this machine's tz database"):
        synthetic(100, timestamps=["t"], zones=("Mars/Olympus_Mons",))
