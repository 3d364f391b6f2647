"""Local time and time-zone rules: what hour-of-day and weekday features see on this host."""

from __future__ import annotations

import calendar
import datetime
import functools
import time
import zoneinfo

from envprint.probes._base import Raw, builtin

__all__ = ["time_tz"]

# UTC instants at the US and EU DST switches (one second before and at), a midnight, the epoch,
# one second before it, and both sides of 2^31 seconds
_INSTANTS = (
    *(
        calendar.timegm(t)
        for t in (
            (2024, 3, 10, 9, 59, 59),
            (2024, 3, 10, 10, 0, 0),
            (2024, 11, 3, 8, 59, 59),
            (2024, 11, 3, 9, 0, 0),
            (2024, 3, 31, 0, 59, 59),
            (2024, 3, 31, 1, 0, 0),
            (2024, 10, 27, 0, 59, 59),
            (2024, 10, 27, 1, 0, 0),
            (2023, 12, 31, 23, 59, 59),
            (2024, 1, 1, 0, 0, 0),
        )
    ),
    0,
    -1,
    2**31 - 1,
    2**31,
)
# naive wall-clock times: a US gap, a US overlap (both folds), an EU gap, an ordinary noon
_NAIVE = (
    datetime.datetime(2024, 3, 10, 2, 30),
    datetime.datetime(2024, 11, 3, 1, 30),
    datetime.datetime(2024, 11, 3, 1, 30, fold=1),
    datetime.datetime(2024, 3, 31, 2, 30),
    datetime.datetime(2024, 6, 1, 12, 0),
)
# zones whose rules changed in recent tzdata releases (Mexico 2022, Iran 2022, Paraguay 2024,
# Greenland 2023, Kazakhstan 2024), renamed or added (Kyiv, Ciudad_Juarez), and two plain ones
_ZONES = (
    "America/Los_Angeles",
    "Europe/Berlin",
    "America/Mexico_City",
    "Asia/Tehran",
    "America/Asuncion",
    "America/Nuuk",
    "Asia/Almaty",
    "Europe/Kyiv",
    "America/Ciudad_Juarez",
    "Australia/Lord_Howe",
)
_ZONE_INSTANTS = tuple(
    calendar.timegm(t)
    for t in ((2019, 11, 15, 12, 0, 0), (2023, 6, 1, 12, 0, 0), (2026, 1, 15, 12, 0, 0), (2026, 7, 15, 12, 0, 0))
)


@functools.cache
def _zone(key: str) -> zoneinfo.ZoneInfo | None:
    # our own cache of uncached zones: zoneinfo's shared cache (and its eviction order) stays
    # the application's, and the files are read once per process (~0.1 ms per zone)
    try:
        return zoneinfo.ZoneInfo.no_cache(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _offsets(key: str) -> str:
    zone = _zone(key)
    if zone is None:
        return "missing"
    offsets = []
    for t in _ZONE_INSTANTS:
        offset = datetime.datetime.fromtimestamp(t, zone).utcoffset()
        offsets.append(str(int(offset.total_seconds())) if offset is not None else "none")
    return " ".join(offsets)


@builtin(
    "time_tz",
    "time",
    "local time (TZ, /etc/localtime) at DST edges and midnights, naive timestamps, and tzdata rules per zone",
    heavy=True,
    repeat=False,
)
def time_tz() -> Raw:
    local = [f"tzname {time.tzname} timezone {time.timezone} altzone {time.altzone} daylight {time.daylight}"]
    local += [
        f"{t} {time.strftime('%Y-%m-%dT%H:%M:%S%z %Z %a', time.localtime(t))} "
        f"{datetime.datetime.fromtimestamp(t).isoformat()}"
        for t in _INSTANTS
    ]
    local += [f"naive {dt.isoformat()} fold={dt.fold} -> {dt.timestamp()!r}" for dt in _NAIVE]
    zones = tuple(f"{key} {_offsets(key)}" for key in _ZONES)
    return Raw({"local": tuple(local), "zones": zones})
