"""What every part of the walk shares: the two sides (`Context`), values as plain data and as titles,
and the constructors of findings."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

from envprint._base import PENDING, is_pending, is_unavailable
from envprint._serde import to_data
from envprint.model import Fingerprint, Unavailable
from envprint.report import Finding, Severity


class Absent:
    """The value of a mapping entry on the side that lacks it."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = Absent()


CRIT, WARN, INFO = Severity.critical, Severity.warning, Severity.info


def plain(value: Any) -> Any:
    """Returns a field value as plain data (to_data's shape); an absent entry is None."""
    if value is ABSENT:
        return None

    return to_data(value)


def show(value: Any, none: str = "none") -> str:
    """Returns a short human rendering of a plain value for titles."""
    if value is ABSENT:
        return "absent"
    if value is None:
        return none
    if is_unavailable(value):
        return "unavailable"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(show(v) for v in value) if value else "none"
    if dataclasses.is_dataclass(value) or isinstance(value, Mapping):
        data = plain(value) if dataclasses.is_dataclass(value) else value
        for key in ("version", "name", "digest"):
            if isinstance(data.get(key), str):
                return str(data[key])
        return "present"
    text = str(value)
    return text if len(text) <= 48 else text[:47] + "…"


def arrow(old: Any, new: Any, none: str = "none") -> str:
    return f"{show(old, none)} → {show(new, none)}"


class Context(NamedTuple):
    """The two fingerprints and their labels, for findings that name a side or look across fields."""

    a: Fingerprint
    b: Fingerprint
    a_label: str
    b_label: str

    def side(self, present_in_a: bool) -> str:
        """Returns the label of side a when `present_in_a`, else of side b."""
        return self.a_label if present_in_a else self.b_label


@functools.cache
def fields_of(cls: type) -> tuple[tuple[str, bool], ...]:
    return tuple((f.name, bool(f.metadata.get("descriptive"))) for f in dataclasses.fields(cls))


def finding(
    path: str,
    kind: str,
    severity: Severity,
    a: Any,
    b: Any,
    title: str,
    *,
    identity: bool = True,
) -> Finding:
    """Returns a finding with the values as plain data (an absent side as None)."""
    return Finding(kind, path, severity, plain(a), plain(b), title, identity=identity)


def unavailable_finding(ctx: Context, path: str, a: Any, b: Any) -> Finding:
    """Returns the finding for a value Unavailable on one side or both.

    Measured in the reference (a) and unavailable in b is critical: nothing that could not be
    measured may pass — unless b can measure it only later in the process (`is_pending`), which is a
    warning saying how. Unavailable in the reference only is a warning (nothing to hold b to); on
    both sides, info (a difference of what could be measured, not of the environments).
    """
    what = readable(path)
    if isinstance(a, Unavailable) and isinstance(b, Unavailable):
        title = f"{what}: unavailable on both sides, for different reasons"
        return finding(path, "measured.unavailable", INFO, a, b, title, identity=False)
    if isinstance(a, Unavailable):
        title = f"{what}: unavailable in {ctx.a_label} ({a.reason}) → measured"
        return finding(path, "measured.unavailable", WARN, a, b, title)
    if is_pending(b):
        reason = b.reason.removeprefix(PENDING).split(": ", 1)[-1]
        title = f"{what} not measured yet in {ctx.b_label}: {reason}"
        return finding(path, "measured.pending", WARN, a, b, title)
    title = f"{what}: measured in {ctx.a_label} ({show(a)}), cannot be measured in {ctx.b_label} ({b.reason})"
    return finding(path, "measured.unavailable", CRIT, a, b, title)


def readable(path: str) -> str:
    """Returns a field path as a title names it: "tensorflow visible_devices", "OMP_NUM_THREADS", "numpy version"."""
    parts = path.split(".")
    if parts[0] == "determinism" and len(parts) >= 3 and parts[1] in ("frameworks", "variables", "seeds"):
        return " ".join(parts[2:])
    if parts[0] == "packages" and len(parts) >= 2:
        return " ".join(parts[1:])
    return path


def present_detail(value: Any) -> str:
    shown = show(value)
    return "" if shown in ("present", "none") else f" ({shown})"


UTC_ALIASES = frozenset(
    {"UTC", "UCT", "Universal", "Zulu", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich"}
    | {f"Etc/{z}" for z in ("UTC", "UCT", "Universal", "Zulu", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich")}
)


def zone_of(fp: Fingerprint) -> Any:
    """Returns the local zone with the names of UTC merged into "UTC" (they compute alike)."""
    if isinstance(fp.locale_time, Unavailable):
        return fp.locale_time
    zone = fp.locale_time.local_zone
    return "UTC" if zone in UTC_ALIASES else zone


def same_zone(ctx: Context) -> bool:
    """Returns whether both sides resolve to one local zone (the names of UTC merged), or neither could be measured."""
    za, zb = zone_of(ctx.a), zone_of(ctx.b)
    if isinstance(za, Unavailable) or isinstance(zb, Unavailable):
        return isinstance(za, Unavailable) and isinstance(zb, Unavailable)
    return bool(za == zb)


def effective_tzdata(fp: Fingerprint) -> str | None:
    """Returns the tz database version local-time code reads: the system one when present, else the tzdata package.

    zoneinfo looks up zones in the system directories (TZPATH) first and falls back to the tzdata
    distribution, so which package provides a fallback does not matter while the system one exists.
    """
    lt = fp.locale_time
    if isinstance(lt, Unavailable):
        return None
    if isinstance(lt.tzdata_system, str):
        return f"system {lt.tzdata_system}"
    return f"package {lt.tzdata_package}" if lt.tzdata_package else None


def same_tzdata(ctx: Context) -> bool:
    """Returns whether both sides read the same tz database (the version actually used)."""
    return effective_tzdata(ctx.a) is not None and effective_tzdata(ctx.a) == effective_tzdata(ctx.b)
