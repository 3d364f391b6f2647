"""SLO parsing, files and precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from envprint.freshness import SloError, build_slos, parse_duration, parse_slo
from envprint.freshness.slo import Slo


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hit_rate>=0.95", (None, "hit_rate", Slo("hit_rate", None, ">=", 0.95))),
        ("hit_rate >= 95%", (None, "hit_rate", Slo("hit_rate", None, ">=", 0.95))),
        ("staleness_p95<=10s", (None, "staleness_p95", Slo("staleness", 0.95, "<=", 10.0))),
        ("staleness_p99<2h", (None, "staleness_p99", Slo("staleness", 0.99, "<", 7200.0))),
        ("staleness_p50<=250ms", (None, "staleness_p50", Slo("staleness", 0.5, "<=", 0.25))),
        ("fetch_p99<=5ms", (None, "fetch_p99", Slo("fetch", 0.99, "<=", 5.0))),
        ("fetch_p99<=5", (None, "fetch_p99", Slo("fetch", 0.99, "<=", 5.0))),
        ("fetch_p99.9<=1s", (None, "fetch_p99.9", Slo("fetch", 0.999, "<=", 1000.0))),
        ("stale_rate<=5%", (None, "stale_rate", Slo("stale_rate", None, "<=", 0.05))),
        ("age_skew_p95<=3x", (None, "age_skew_p95", Slo("age_skew", 0.95, "<=", 3.0))),
        ("last_click_ts:staleness_p95<=2min", ("last_click_ts", "staleness_p95", Slo("staleness", 0.95, "<=", 120.0))),
        ("fetch_p99=off", (None, "fetch_p99", None)),
    ],
)
def test_slos_parse_to_base_units(text: str, expected: tuple) -> None:
    assert parse_slo(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("latency_p99<=5ms", "unknown metric 'latency'"),
        ("hit_rate>=1.5", "between 0 and 1"),
        ("staleness<=10s", "write staleness_pQ"),
        ("hit_rate_p95>=0.9", "without a percentile"),
        ("fetch_p99<=5 parsecs", "unknown unit 'parsecs'"),
        ("staleness_p0<=1s", "percentile must be in (0, 100]"),
        ("hit_rate", "not METRIC OP VALUE"),
    ],
)
def test_bad_slos_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SloError, match=message.replace("(", r"\(").replace("]", r"\]")) as e:
        parse_slo(text)
    assert e.value.exit_code == 2


def test_defaults_are_the_issue_targets() -> None:
    assert [s.text for s in build_slos().for_feature("any")] == [
        "hit_rate >= 95%",
        "staleness_p95 <= 10 s",
        "fetch_p99 <= 5 ms",
    ]


def test_more_specific_wins_and_the_command_line_wins_at_equal_specificity(tmp_path: Path) -> None:
    file = tmp_path / "slos.toml"
    file.write_text(
        """
[defaults]
hit_rate = ">= 0.99"
fetch_p99 = "<= 20ms"

[features.last_click_ts]
staleness_p95 = "<= 1min"
fetch_p99 = "off"
stale_after = "90s"

[features.user_embedding]
hit_rate = ">= 0.5"
"""
    )
    slos = build_slos(["fetch_p99<=8ms", "user_embedding:hit_rate>=0.6"], file=file)
    assert [s.text for s in slos.for_feature("other")] == [
        "hit_rate >= 99%",
        "staleness_p95 <= 10 s",
        "fetch_p99 <= 8 ms",
    ]
    assert [s.text for s in slos.for_feature("last_click_ts")] == ["hit_rate >= 99%", "staleness_p95 <= 1 min"]
    assert slos.for_feature("user_embedding")[0].text == "hit_rate >= 60%"
    assert slos.stale_after("last_click_ts") == 90.0
    assert slos.stale_after("other") == 10.0


def test_stale_after_follows_the_tightest_staleness_bound_unless_given() -> None:
    slos = build_slos(["staleness_p50<=2s", "staleness_p99<=30s"])
    assert slos.stale_after("f") == 2.0
    assert build_slos(["staleness_p50<=2s"], stale_after=60.0).stale_after("f") == 60.0
    assert build_slos(defaults=False).stale_after("f") == 10.0


def test_no_default_slos_starts_empty() -> None:
    assert build_slos(["hit_rate>=0.9"], defaults=False).for_feature("f") == (Slo("hit_rate", None, ">=", 0.9),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[defaults]\nhit_rate = 0.95\n", "write the target as a string"),
        ('[defaults]\nhit_rate = ">= lots"\n', r"\[defaults\] SLO 'hit_rate>= lots'"),
        ("[slos]\n", "unknown key"),
        ("[defaults\n", "not valid TOML"),
        ('[features.a]\nstale_after = "soon"\n', "not a duration"),
    ],
)
def test_a_bad_slo_file_names_the_file_and_place(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "slos.toml"
    file.write_text(text)
    with pytest.raises(SloError, match=message) as e:
        build_slos(file=file)
    assert str(file) in str(e.value)


def test_durations_take_units() -> None:
    assert [parse_duration(t) for t in ("10", "10s", "250ms", "5min", "2h", "1d")] == [10, 10, 0.25, 300, 7200, 86400]
    with pytest.raises(SloError, match="not a duration"):
        parse_duration("ten")
