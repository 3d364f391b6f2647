"""The training-time freshness profile: how old each feature's value was when the label was observed.

    prof = envprint.freshness.profile(train_df, event_time="label_ts",
                                      feature_times={"last_click_ts": "last_click_updated_at"})
    fp = envprint.capture(artifact="model/")
    fp.replace(freshness=prof.to_data()).save("model/envprint.fp", key="train.key")

A model learns from features of a certain age: a point-in-time join serves it the last click as it
was when the label happened, typically seconds old. At serving, the same feature may come from a
cache that lags by hours. `profile` records, per feature, the distribution of ``event_time −
feature_time`` in the training data (quantiles from a ±1 % DDSketch), so
``envprint freshness LOG --baseline model/envprint.fp`` can put the serving ages beside them: the
age skew. The profile is plain data signed with the rest of the fingerprint.

Rows whose feature time is missing are counted (`FeatureProfile.missing`), and rows whose feature
time is *after* the event time are counted as `future` and left out of the ages: that is label
leakage in the training data, worth its own look.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from envprint.errors import FingerprintFormatError, UsageError
from envprint.freshness.sketch import AGE, RELATIVE_ACCURACY

if TYPE_CHECKING:
    from envprint.codec import Loaded
    from envprint.model import Fingerprint
    from envprint.signing import TrustedKeysLike

__all__ = ["PROFILE_QUANTILES", "FeatureProfile", "FreshnessProfile", "load_profile", "profile"]

PROFILE_VERSION = 1
#: the quantiles of the age distribution a profile records
PROFILE_QUANTILES = (0.5, 0.9, 0.95, 0.99, 0.999)


@dataclass(frozen=True)
class FeatureProfile:
    """The ages of one feature's values at event time in the training data, in seconds."""

    feature: str
    column: str  # the column holding the feature's timestamp
    count: int  # rows with an age
    missing: int  # rows without a feature time
    future: int  # rows whose feature time is after the event time (leakage), left out of the ages
    ages: Mapping[float, float | None]  # quantile → age in seconds (None when count is 0)
    mean: float | None

    def age(self, q: float) -> float | None:
        """Returns the recorded age at quantile `q`; raises `UsageError` for a quantile not recorded."""
        for recorded, value in self.ages.items():
            if math.isclose(recorded, q):
                return value
        known = ", ".join(f"p{r * 100:g}" for r in self.ages)
        raise UsageError(f"the training profile of {self.feature} records the ages at {known}, not p{q * 100:g}")


@dataclass(frozen=True)
class FreshnessProfile:
    """Feature ages at event time over a training set: what `Fingerprint.freshness` holds."""

    event_time: str
    rows: int
    missing_event_time: int
    relative_accuracy: float
    features: Mapping[str, FeatureProfile]

    def to_data(self) -> dict[str, Any]:
        """Returns the profile as plain data for ``fp.replace(freshness=...)``."""
        return {
            "version": PROFILE_VERSION,
            "event_time": self.event_time,
            "rows": self.rows,
            "missing_event_time": self.missing_event_time,
            "relative_accuracy": self.relative_accuracy,
            "quantiles": list(PROFILE_QUANTILES),
            "features": {
                name: {
                    "column": f.column,
                    "count": f.count,
                    "missing": f.missing,
                    "future": f.future,
                    "ages": [f.ages[q] for q in PROFILE_QUANTILES],
                    "mean": f.mean,
                }
                for name, f in sorted(self.features.items())
            },
        }

    @classmethod
    def from_data(cls, data: Any, *, source: str = "fingerprint") -> FreshnessProfile:
        """Returns the profile held in plain data; raises `FingerprintFormatError` if it does not fit."""
        try:
            version = data["version"]
            if not isinstance(version, int) or version > PROFILE_VERSION:
                raise FingerprintFormatError(
                    f"{source}: freshness profile version {version!r} is newer than this envprint reads",
                    hint="upgrade envprint (pip install -U envprint)",
                )
            quantiles = tuple(float(q) for q in data["quantiles"])
            features = {}
            for name, f in data["features"].items():
                ages = [None if a is None else float(a) for a in f["ages"]]
                if len(ages) != len(quantiles):
                    raise ValueError(f"{name}: {len(ages)} ages for {len(quantiles)} quantiles")
                features[str(name)] = FeatureProfile(
                    str(name),
                    str(f["column"]),
                    int(f["count"]),
                    int(f["missing"]),
                    int(f["future"]),
                    dict(zip(quantiles, ages, strict=True)),
                    None if f["mean"] is None else float(f["mean"]),
                )
            return cls(
                str(data["event_time"]),
                int(data["rows"]),
                int(data["missing_event_time"]),
                float(data["relative_accuracy"]),
                features,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise FingerprintFormatError(f"{source}: not a valid freshness profile ({type(e).__name__}: {e})") from None

    def attach(self, fp: Fingerprint) -> Fingerprint:
        """Returns a copy of `fp` carrying this profile (save it to sign it with the rest)."""
        return fp.replace(freshness=self.to_data())


def load_profile(
    path: str | os.PathLike[str], *, trusted_keys: TrustedKeysLike | None = None
) -> tuple[FreshnessProfile, Loaded]:
    """Returns the freshness profile of the fingerprint at `path` and the file as read (its trust state).

    With `trusted_keys` the file must verify first (`SignatureError`, exit 3). Raises `UsageError`
    when the fingerprint has no freshness profile.
    """
    from envprint.codec import read  # deferred: the codec pulls in msgpack and the model (~15 ms) only for baselines

    loaded = read(path, trusted_keys=trusted_keys)
    data = loaded.fingerprint.freshness
    if data is None:
        raise UsageError(
            f"{path}: the fingerprint has no freshness profile",
            hint="record one at training time: fp.replace(freshness=envprint.freshness.profile(...).to_data()) "
            "and save it; see docs/freshness.md",
        )
    return FreshnessProfile.from_data(data, source=str(path)), loaded


def profile(frame: Any, *, event_time: str, feature_times: Mapping[str, str]) -> FreshnessProfile:
    """Returns the age distribution of each feature at event time: ``frame[event_time] − frame[column]``.

    `frame` is anything indexable by column name: a pandas or polars DataFrame, a pyarrow Table,
    a dict of arrays. `feature_times` maps each feature to the column of its value's timestamp.
    Times are datetimes (numpy, pandas, pyarrow or Python; time-zone aware or not, but the same on
    both sides) or epoch seconds. Raises `UsageError` for a missing column or mixed time kinds.
    """
    if not feature_times:
        raise UsageError("profile(): feature_times is empty: map each feature to the column of its timestamp")
    events, event_kind = _seconds(frame, event_time)
    features = {}
    for feature, column in feature_times.items():
        times, kind = _seconds(frame, column)
        if kind != event_kind:
            raise UsageError(
                f"profile(): {event_time!r} holds {event_kind} but {column!r} holds {kind}",
                hint="convert both columns to the same kind (time-zone aware UTC datetimes, or epoch seconds); "
                "mixing them is itself a source of skew",
            )
        if times.shape != events.shape:
            raise UsageError(f"profile(): {column!r} has {times.size} rows but {event_time!r} has {events.size}")
        with np.errstate(invalid="ignore"):
            ages = events - times
        known = ~np.isnan(ages)
        future = known & (ages < 0)
        kept = ages[known & ~future]
        sketch = AGE.sketch(kept)
        features[feature] = FeatureProfile(
            feature,
            column,
            int(kept.size),
            int(np.sum(np.isnan(times) & ~np.isnan(events))),
            int(future.sum()),
            dict(zip(PROFILE_QUANTILES, sketch.quantiles(PROFILE_QUANTILES), strict=True)),
            sketch.mean,
        )
    return FreshnessProfile(event_time, int(events.size), int(np.isnan(events).sum()), RELATIVE_ACCURACY, features)


def _column(frame: Any, name: str) -> Any:
    try:
        return frame[name]
    except (KeyError, IndexError, TypeError, ValueError):
        pass
    except Exception as e:  # polars raises its own ColumnNotFoundError; anything else is a real problem
        if "NotFound" not in type(e).__name__:
            raise
    names = getattr(frame, "columns", None)  # pandas, polars
    if names is None:
        names = getattr(frame, "column_names", None)  # pyarrow
    if names is None and isinstance(frame, Mapping):
        names = list(frame)
    listed = f"; columns: {', '.join(map(str, names))}" if names is not None else ""
    raise UsageError(f"profile(): no column {name!r}{listed}")


def _seconds(frame: Any, name: str) -> tuple[npt.NDArray[np.float64], str]:
    """Returns a time column as float64 seconds (NaN where missing) and its kind, for comparing kinds."""
    col = _column(frame, name)
    module = type(col).__module__
    if module.startswith("pyarrow"):
        return _arrow_seconds(col, name)
    if module.startswith("pandas") and getattr(getattr(col, "dtype", None), "tz", None) is not None:
        # a time-zone-aware pandas column: its UTC instants, without the zone numpy cannot hold
        utc = col.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
        return _datetime64_seconds(utc), "time-zone-aware datetimes"
    values = np.asarray(col.to_numpy() if hasattr(col, "to_numpy") else col)
    if values.dtype.kind == "M":
        return _datetime64_seconds(values), "naive datetimes"
    if values.dtype.kind in "iuf":
        return values.astype(np.float64), "epoch seconds"
    if values.dtype.kind == "O":
        return _object_seconds(values, name)
    raise UsageError(f"profile(): column {name!r} of dtype {values.dtype} holds neither times nor epoch seconds")


def _datetime64_seconds(values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    ns = values.astype("datetime64[ns]")
    out = ns.astype(np.int64).astype(np.float64) / 1e9
    out[np.isnat(ns)] = np.nan
    return out


def _arrow_seconds(col: Any, name: str) -> tuple[npt.NDArray[np.float64], str]:
    pa = importlib.import_module("pyarrow")  # by name (untyped); present: the column is a pyarrow array
    pc = importlib.import_module("pyarrow.compute")

    if pa.types.is_timestamp(col.type):
        kind = "naive datetimes" if col.type.tz is None else "time-zone-aware datetimes"
        micros = pc.cast(pc.cast(col, pa.timestamp("us", tz=col.type.tz)), pa.int64())
        seconds = np.asarray(pc.cast(micros, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64) / 1e6
        return seconds, kind
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64), "epoch seconds"
    raise UsageError(f"profile(): column {name!r} of type {col.type} holds neither timestamps nor epoch seconds")


def _object_seconds(values: npt.NDArray[Any], name: str) -> tuple[npt.NDArray[np.float64], str]:
    out = np.full(values.shape, np.nan)
    kinds = set()
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if isinstance(v, datetime):
            aware = v.tzinfo is not None and v.utcoffset() is not None
            kinds.add("time-zone-aware datetimes" if aware else "naive datetimes")
            out[i] = v.timestamp() if aware else (v - datetime(1970, 1, 1)).total_seconds()
        elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            kinds.add("epoch seconds")
            out[i] = float(v)
        elif type(v).__name__ in ("NaTType", "NAType"):  # pandas' missing values in an object column
            continue
        else:
            raise UsageError(f"profile(): column {name!r} row {i}: {v!r} is neither a time nor epoch seconds")
    if len(kinds) > 1:
        raise UsageError(f"profile(): column {name!r} mixes {' and '.join(sorted(kinds))}")
    return out, kinds.pop() if kinds else "epoch seconds"
