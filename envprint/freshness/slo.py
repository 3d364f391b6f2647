"""Freshness SLOs: what each feature's hit rate, staleness and fetch latency must be.

An SLO is ``[FEATURE:]METRIC OP VALUE``::

    hit_rate>=0.95          staleness_p95<=10s        fetch_p99<=5ms
    stale_rate<=5%          age_skew_p95<=3x          last_click_ts:staleness_p95<=2min

Metrics: ``hit_rate`` and ``stale_rate`` (fractions: 0.95 or 95%; stale = a served value older than
the feature's stale-after age), ``staleness_pQ`` (age of the value served; units us, ms, s, m/min,
h, d; default s), ``fetch_pQ`` (fetch latency; default unit ms), ``age_skew_pQ`` (serving pQ age ÷
training pQ age, needs a baseline; ``x`` optional). ``METRIC=off`` drops an SLO.

The defaults are the targets of issue 16: ``hit_rate>=0.95``, ``staleness_p95<=10s``,
``fetch_p99<=5ms``. More specific wins, and the command line wins at equal specificity: built-in
defaults < the file's ``[defaults]`` < ``--slo METRIC…`` < the file's ``[features.NAME]`` <
``--slo NAME:METRIC…``. A feature's stale-after age is its ``stale_after`` (file) or
``--stale-after``, else the bound of its tightest staleness SLO, else 10 s.
"""

from __future__ import annotations

import math
import operator
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envprint.freshness.errors import SloError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["DEFAULT_SLOS", "DEFAULT_STALE_AFTER_S", "Slo", "SloSet", "build_slos", "parse_duration", "parse_slo"]

DEFAULT_STALE_AFTER_S = 10.0
#: seconds per unit, for ages and durations
_SECONDS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
#: milliseconds per unit, for fetch latencies
_MILLIS = {k: v * 1000.0 for k, v in _SECONDS.items()}
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_SPEC = re.compile(
    r"\s*(?:(?P<feature>[^:=<>]+?)\s*:\s*)?(?P<metric>[a-z_]+?)(?:_p(?P<q>\d+(?:\.\d+)?))?\s*"
    r"(?:(?P<op>>=|<=|>|<)\s*(?P<value>[^\s].*?)|=\s*(?P<off>off))\s*",
)
_VALUE = re.compile(r"(?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<unit>[a-zµ%]*)")
#: metric → (takes a quantile, unit table or kind)
_METRICS = {"hit_rate": False, "stale_rate": False, "staleness": True, "fetch": True, "age_skew": True}
_ORDER = ("hit_rate", "stale_rate", "staleness", "fetch", "age_skew")


@dataclass(frozen=True)
class Slo:
    """One target: `metric` (at quantile `q`) compared with `threshold` by `op`.

    Thresholds are in base units: fractions for rates, seconds for staleness, milliseconds for
    fetch latency, a ratio for age skew.
    """

    metric: str
    q: float | None
    op: str
    threshold: float

    @property
    def name(self) -> str:
        """Returns the metric as written, e.g. "staleness_p95"."""
        return self.metric if self.q is None else f"{self.metric}_p{_percent(self.q)}"

    @property
    def text(self) -> str:
        """Returns the SLO as people read it, e.g. "staleness_p95 <= 10 s"."""
        return f"{self.name} {self.op} {format_value(self.metric, self.threshold)}"

    def holds(self, observed: float) -> bool:
        """Returns whether the observed value meets the target."""
        return _OPS[self.op](observed, self.threshold)

    @property
    def upper_age(self) -> float | None:
        """Returns the age bound of a staleness SLO that caps ages ("<=" or "<"), else None."""
        return self.threshold if self.metric == "staleness" and self.op in ("<=", "<") else None


def _percent(q: float) -> str:
    return f"{q * 100:.10g}"


def format_value(metric: str, value: float) -> str:
    """Returns a value of `metric` in its unit: "95%", "10 s", "2 h", "5 ms", "3x"."""
    if metric in ("hit_rate", "stale_rate"):
        return f"{value * 100:.4g}%"
    if metric == "age_skew":
        return f"{value:.3g}x"
    if metric == "fetch":
        return f"{value * 1000:.3g} µs" if value < 1 else f"{value:.3g} ms" if value < 1000 else f"{value / 1000:.3g} s"
    return format_age(value)


def format_age(seconds: float) -> str:
    """Returns an age for people: "850 ms", "10 s", "2.5 min", "2 h", "3.1 d"."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds * 1000:.3g} ms"


DEFAULT_SLOS = (
    Slo("hit_rate", None, ">=", 0.95),
    Slo("staleness", 0.95, "<=", 10.0),
    Slo("fetch", 0.99, "<=", 5.0),
)


def parse_duration(text: str, *, what: str = "duration") -> float:
    """Returns the seconds of a duration such as "10s", "250ms", "2h" or "30" (seconds)."""
    m = _VALUE.fullmatch(text.strip())
    unit = m.group("unit") if m else ""
    if m is None or (unit and unit not in _SECONDS):
        raise SloError(f"{what} {text!r}: not a duration", hint="write e.g. 10s, 250ms, 5min, 2h, 1d")
    seconds = float(m.group("number")) * _SECONDS[unit or "s"]
    if not (math.isfinite(seconds) and seconds > 0):
        raise SloError(f"{what} {text!r}: must be a duration > 0")
    return seconds


def parse_slo(text: str) -> tuple[str | None, str, Slo | None]:
    """Returns (feature or None, metric name, SLO or None for "off") of one ``[FEATURE:]METRIC OP VALUE``."""
    m = _SPEC.fullmatch(text)
    if m is None:
        raise SloError(f"SLO {text!r}: not METRIC OP VALUE")
    feature, metric, q_text = m.group("feature"), m.group("metric"), m.group("q")
    if metric not in _METRICS:
        raise SloError(f"SLO {text!r}: unknown metric {metric!r}; known: {', '.join(_ORDER)}")
    if _METRICS[metric] != (q_text is not None):
        want = f"{metric}_pQ, e.g. {metric}_p95" if _METRICS[metric] else f"{metric} without a percentile"
        raise SloError(f"SLO {text!r}: write {want}")
    q = None if q_text is None else round(float(q_text) / 100, 12)  # 99.9 / 100 is 0.9990000000000001
    if q is not None and not 0 < q <= 1:
        raise SloError(f"SLO {text!r}: the percentile must be in (0, 100]")
    name = metric if q is None else f"{metric}_p{_percent(q)}"  # p95 and p95.0 are one SLO
    if m.group("off"):
        return feature, name, None
    return feature, name, Slo(metric, q, m.group("op"), _threshold(text, metric, m.group("value")))


def _threshold(text: str, metric: str, value: str) -> float:
    m = _VALUE.fullmatch(value)
    if m is None:
        raise SloError(f"SLO {text!r}: {value!r} is not a number with an optional unit")
    number, unit = float(m.group("number")), m.group("unit")
    if metric in ("hit_rate", "stale_rate"):
        if unit not in ("", "%"):
            raise SloError(f"SLO {text!r}: a rate is a fraction (0.95) or a percentage (95%), not {unit!r}")
        x = number / 100 if unit == "%" else number
        if not 0 <= x <= 1:
            raise SloError(f"SLO {text!r}: a rate must be between 0 and 1 (0% and 100%)")
        return x
    if metric == "age_skew":
        if unit not in ("", "x"):
            raise SloError(f"SLO {text!r}: age skew is a ratio such as 3x, not {unit!r}")
        x = number
    else:
        table = _MILLIS if metric == "fetch" else _SECONDS
        if unit and unit not in table:
            raise SloError(f"SLO {text!r}: unknown unit {unit!r}; use one of {', '.join(table)}")
        x = number * table[unit or ("ms" if metric == "fetch" else "s")]
    if not (math.isfinite(x) and x >= 0):
        raise SloError(f"SLO {text!r}: the value must be a finite number >= 0")
    return x


@dataclass(frozen=True)
class SloSet:
    """The SLOs of every feature: defaults, per-feature overrides, and the stale-after ages."""

    defaults: Mapping[str, Slo | None] = field(default_factory=lambda: {s.name: s for s in DEFAULT_SLOS})
    features: Mapping[str, Mapping[str, Slo | None]] = field(default_factory=dict)
    stale_after_default: float | None = None
    stale_after_features: Mapping[str, float] = field(default_factory=dict)

    def for_feature(self, feature: str) -> tuple[Slo, ...]:
        """Returns the SLOs that apply to `feature`, in a stable order (rates, staleness, fetch, skew)."""
        return _ordered({**self.defaults, **self.features.get(feature, {})})

    def stale_after(self, feature: str) -> float:
        """Returns the age above which a value of `feature` counts as stale, in seconds."""
        if feature in self.stale_after_features:
            return self.stale_after_features[feature]
        if self.stale_after_default is not None:
            return self.stale_after_default
        bounds = [b for s in self.for_feature(feature) if (b := s.upper_age) is not None]
        return min(bounds, default=DEFAULT_STALE_AFTER_S)

    def describe(self) -> list[str]:
        """Returns the SLOs as lines: the defaults, then each feature's overrides."""
        lines = [", ".join(s.text for s in _ordered(self.defaults)) or "no default SLOs"]
        for feature, slos in sorted(self.features.items()):
            parts = [s.text if s is not None else f"{name} off" for name, s in slos.items()]
            lines.append(f"{feature}: {', '.join(parts)}")
        return lines


def _ordered(slos: Mapping[str, Slo | None]) -> tuple[Slo, ...]:
    """Returns the SLOs that are not off, in a stable order: rates, staleness, fetch, skew."""
    kept = [s for s in slos.values() if s is not None]
    return tuple(sorted(kept, key=lambda s: (_ORDER.index(s.metric), s.q or 0.0, s.op)))


def build_slos(
    specs: Sequence[str] = (),
    *,
    file: str | Path | None = None,
    defaults: bool = True,
    stale_after: float | None = None,
) -> SloSet:
    """Returns the SLO set from the built-in defaults (unless `defaults` is False), an SLO file and `specs`."""
    base: dict[str, Slo | None] = {s.name: s for s in DEFAULT_SLOS} if defaults else {}
    per_feature: dict[str, dict[str, Slo | None]] = {}
    stale_default: float | None = None
    stale_features: dict[str, float] = {}
    if file is not None:
        file_defaults, file_features, stale_default, stale_features = _read_file(Path(file))
        base.update(file_defaults)
    cli_features: dict[str, dict[str, Slo | None]] = {}
    for spec in specs:
        feature, name, slo = parse_slo(spec)
        if feature is None:
            base[name] = slo
        else:
            cli_features.setdefault(feature, {})[name] = slo
    if file is not None:
        for feature, slos in file_features.items():
            per_feature.setdefault(feature, {}).update(slos)
    for feature, slos in cli_features.items():
        per_feature.setdefault(feature, {}).update(slos)
    return SloSet(base, per_feature, stale_after if stale_after is not None else stale_default, stale_features)


def _read_file(
    path: Path,
) -> tuple[dict[str, Slo | None], dict[str, dict[str, Slo | None]], float | None, dict[str, float]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SloError(f"{path}: no such SLO file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SloError(f"{path}: cannot read the SLO file ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise SloError(f"{path}: not valid TOML ({e})") from None
    unknown = sorted(set(data) - {"defaults", "features"})
    if unknown:
        raise SloError(f"{path}: unknown key(s) {', '.join(unknown)}; an SLO file has [defaults] and [features.NAME]")
    defaults, stale_default = _table(path, "defaults", data.get("defaults", {}))
    features, stale_features = {}, {}
    tables = data.get("features", {})
    if not isinstance(tables, dict):
        raise SloError(f"{path}: features must be tables, [features.NAME]")
    for feature, table in tables.items():
        features[feature], stale = _table(path, f"features.{feature}", table)
        if stale is not None:
            stale_features[feature] = stale
    return defaults, features, stale_default, stale_features


def _table(path: Path, where: str, table: Any) -> tuple[dict[str, Slo | None], float | None]:
    if not isinstance(table, dict):
        raise SloError(f'{path}: [{where}] must be a table of METRIC = "OP VALUE"')
    slos: dict[str, Slo | None] = {}
    stale_after = None
    for key, value in table.items():
        if key == "stale_after":
            stale_after = parse_duration(str(value), what=f"{path}: [{where}] stale_after")
            continue
        if not isinstance(value, str):
            raise SloError(f'{path}: [{where}] {key} = {value!r}: write the target as a string, e.g. ">= 0.95"')
        spec = f"{key}={value.strip()}" if value.strip() == "off" else f"{key}{value.strip()}"
        try:
            feature, name, slo = parse_slo(spec)
        except SloError as e:
            raise SloError(f"{path}: [{where}] {e.message}") from None
        if feature is not None:
            raise SloError(f"{path}: [{where}] {key}: name the feature by its table, not with FEATURE:")
        slos[name] = slo
    return slos, stale_after
