"""The bundle encoding: floats bit-exact through JSON, the $float rule, rows, datetimes, and unreadable lines."""

from __future__ import annotations

import datetime
import math
import struct
import zoneinfo
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from envprint.errors import UsageError
from envprint.golden.errors import GoldenFormatError
from envprint.golden.jsonl import dumps_row, encode_rows, json_value, loads_row, parse_time, read_rows, to_datetime


def bits(value: float) -> bytes:
    return struct.pack("<d", value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (5e-324, "5e-324"),  # the smallest subnormal
        (-5e-324, "-5e-324"),
        (2.225073858507201e-308, "2.225073858507201e-308"),  # the largest subnormal
        (2.2250738585072014e-308, "2.2250738585072014e-308"),  # the smallest normal
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (0.1, "0.1"),
        (1e16, "1e+16"),
        (9007199254740993.0, "9007199254740992.0"),  # 2^53 + 1 is not a double: it rounds to 2^53
        (math.nan, '{"$float":"NaN"}'),
        (math.inf, '{"$float":"Infinity"}'),
        (-math.inf, '{"$float":"-Infinity"}'),
    ],
)
def test_special_floats_are_written_in_shortest_form_and_read_back_to_the_bit(value: float, text: str) -> None:
    line = dumps_row({"x": value})
    assert line == '{"x":' + text + "}"
    back = loads_row(line)["x"]
    assert type(back) is float
    assert bits(back) == bits(value) or (math.isnan(back) and math.isnan(value))


@given(st.floats(allow_nan=False, allow_infinity=True, allow_subnormal=True))
def test_every_float_round_trips_bit_exactly(value: float) -> None:
    assert bits(loads_row(dumps_row({"x": value}))["x"]) == bits(value)


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_every_bit_pattern_round_trips(pattern: int) -> None:
    value = struct.unpack("<Q", pattern.to_bytes(8, "little"))[0]
    value = struct.unpack("<d", struct.pack("<Q", value))[0]
    back = loads_row(dumps_row({"x": value}))["x"]
    assert (math.isnan(value) and math.isnan(back)) or bits(back) == bits(value)


def test_the_string_nan_stays_a_string_and_the_float_stays_a_float() -> None:
    row = loads_row(dumps_row({"text": "NaN", "number": math.nan, "inf": "Infinity"}))
    assert row["text"] == "NaN" and type(row["text"]) is str
    assert type(row["number"]) is float and math.isnan(row["number"])
    assert row["inf"] == "Infinity"


def test_none_is_null_and_a_missing_field_stays_absent() -> None:
    line = dumps_row({"a": None, "c": 1})
    assert line == '{"a":null,"c":1}'
    assert loads_row(line) == {"a": None, "c": 1}
    assert "b" not in loads_row(line)


def test_integers_and_floats_stay_apart() -> None:
    row = loads_row(dumps_row({"i": 3, "f": 3.0, "big": 2**70, "b": True}))
    assert (type(row["i"]), type(row["f"]), row["big"], row["b"]) == (int, float, 2**70, True)


def test_json_value_unwraps_numpy_pandas_and_datetimes() -> None:
    pd = pytest.importorskip("pandas")
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    assert json_value(np.float32(0.1)) == 0.10000000149011612  # the float32's exact value, widened
    assert type(json_value(np.int64(7))) is int and json_value(np.bool_(True)) is True
    assert json_value(datetime.datetime(2024, 3, 31, 1, 59, 59, tzinfo=berlin)) == "2024-03-31T01:59:59+01:00"
    assert json_value(datetime.datetime(2024, 3, 31, 3, 0, tzinfo=berlin)) == "2024-03-31T03:00:00+02:00"
    assert json_value(datetime.datetime(2024, 1, 1)) == "2024-01-01T00:00:00"  # naive: no offset
    assert json_value(pd.NaT) is None and json_value(pd.NA) is None
    for bad in (b"x", [1], {"a": 1}, datetime.date(2024, 1, 1)):
        with pytest.raises(TypeError, match="not part of the golden encoding"):
            json_value(bad)


def test_a_lone_surrogate_is_a_usage_error_naming_the_row() -> None:
    with pytest.raises(UsageError, match=r"input row 1: a string holds '\\ud800'"):
        encode_rows([{"s": "ok"}, {"s": "\ud800"}], what="input row")


def test_rows_are_lines_with_a_newline_after_each(tmp_path: Path) -> None:
    data = encode_rows([{"a": 1}, {"a": "é\u2028"}])
    assert data == '{"a":1}\n{"a":"é\u2028"}\n'.encode()
    path = tmp_path / "x.jsonl"
    path.write_bytes(data)
    assert read_rows(path) == [{"a": 1}, {"a": "é\u2028"}]  # U+2028 inside a string is not a line break


def test_crlf_a_bom_and_a_missing_final_newline_are_read(tmp_path: Path) -> None:
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a":1}\r\n{"a":{"$float":"-Infinity"}}')
    assert read_rows(path) == [{"a": 1}, {"a": -math.inf}]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"a": NaN}', r'line 2: NaN is not JSON: write \{"\$float": "NaN"\}'),
        ('{"a": Infinity}', r'line 2: Infinity is not JSON: write \{"\$float": "Infinity"\}'),
        ('{"a": 1e400}', r"line 2: the number 1e400 is beyond the float64 range"),
        ('{"a": {"$float": "nan"}}', r'line 2: \{"\$float": "nan"\}: the value must be "NaN", "Infinity" or'),
        ('{"a": {"$float": "NaN", "b": 1}}', r'line 2: an object with "\$float" must have no other key'),
        ('{"a": 1, "a": 2}', r"line 2: duplicate key 'a'"),
        ("[1, 2]", r"line 2: expected a JSON object \(one row\), found list"),
        ("", r"line 2: an empty line"),
        ('{"a": 1', r"line 2: column 8: Expecting ',' delimiter"),
        ("[" * 100_000 + "]" * 100_000, r"line 2: values nested too deeply"),
    ],
)
def test_an_unreadable_line_names_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text('{"a": 0.5}\n' + line + '\n{"a": 1}\n')
    with pytest.raises(GoldenFormatError, match=problem) as info:
        read_rows(path)
    assert str(path) in info.value.message
    assert "$float" in info.value.diagnostics()  # the hint says how NaN and infinities are written


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": "caf\xe9"}\n')
    with pytest.raises(GoldenFormatError, match=r"line 3: not UTF-8"):
        read_rows(path)


def test_a_directory_or_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(GoldenFormatError, match="is a directory"):
        read_rows(tmp_path)
    with pytest.raises(GoldenFormatError, match="no such"):
        read_rows(tmp_path / "absent.jsonl")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("2024-03-10T07:00:00+00:00", "2024-03-10T07:00Z", True),  # Java's OffsetDateTime.toString()
        ("2024-03-10T07:00:00+00:00", "2024-03-10 07:00:00.000000+0000", True),
        ("2024-03-10T02:00:00-05:00", "2024-03-10T07:00:00+00:00", False),  # same instant, other offset
        ("2024-01-01T00:00:00", "2024-01-01T00:00:00+00:00", False),  # naive is not UTC
        ("2024-01-01T00:00:00.5", "2024-01-01T00:00:00.500000000", True),
        ("1969-12-31T23:59:59.999999+00:00", "1969-12-31T23:59:59.999999Z", True),
    ],
)
def test_datetimes_compare_by_wall_clock_and_offset_however_written(a: str, b: str, same: bool) -> None:
    ta, tb = parse_time(a), parse_time(b)
    assert ta is not None and tb is not None
    assert (ta == tb) is same


def test_parse_time_refuses_what_is_not_a_datetime() -> None:
    for text in ("2024-02-30T00:00:00", "2024-01-01", "yesterday", "2024-01-01T24:00:00", "2024-01-01T00:00+25:00"):
        assert parse_time(text) is None, text
    instant = parse_time("1970-01-01T01:00:00+01:00")
    assert instant is not None and instant.instant_ns == 0
    assert parse_time("2024-06-01T12:00:00+05:45:30").offset_us == (5 * 3600 + 45 * 60 + 30) * 1_000_000  # type: ignore[union-attr]


def test_to_datetime_gives_a_fixed_offset_or_a_naive_datetime() -> None:
    at = to_datetime("2024-11-03T01:30:00-05:00")
    assert at == datetime.datetime(2024, 11, 3, 6, 30, tzinfo=datetime.timezone.utc)
    assert at is not None and at.utcoffset() == datetime.timedelta(hours=-5)
    assert to_datetime("2024-01-01T00:00:00").tzinfo is None  # type: ignore[union-attr]
    assert to_datetime("not a time") is None
