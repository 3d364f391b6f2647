"""The feature transforms of docs/golden.md, registered as transform probes on 10,000 synthetic profiles.

    envprint golden export --probes-from examples/golden_transforms.py -o golden/

* ``fill_age``: a missing age (None, absent, NaN or "") becomes the training mean, 37.5;
* ``encode_color``: a colour becomes its vocabulary id, an unseen one the out-of-vocabulary id 0;
* ``signup_day``: a timestamp becomes its day number (days since 1970-01-01) in **UTC**; a naive
  timestamp is taken as UTC, a missing one gives -1.

examples/java/ is the same three transforms ported to Java (with flags that inject the classic
serving skews); scripts/bench_golden.py and the Spark path run them at training scale.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

import envprint
from envprint.golden import synthetic

MEAN_AGE = 37.5
VOCAB = {"red": 1, "green": 2, "blue": 3}
UNSEEN_ID = 0
MISSING_DAY = -1
_EPOCH = datetime.date(1970, 1, 1)

PROFILES = synthetic(
    10_000,
    columns={"age": 40.0},
    categories={"color": list(VOCAB)},
    timestamps=["signup_at"],
    seed=0,
)


def missing(value: Any) -> bool:
    """Returns whether a raw age counts as missing: None, absent, NaN or the empty string."""
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


@envprint.probe("fill_age", inputs=PROFILES, rtol=1e-5)
def fill_age(rows: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Returns the age column with missing values filled with the training mean."""
    return {"age": [MEAN_AGE if missing(r.get("age")) else float(r["age"]) for r in rows]}


@envprint.probe("encode_color", inputs=PROFILES)
def encode_color(rows: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Returns the colour ids: the vocabulary's, or UNSEEN_ID for anything it does not hold."""
    return {"color_id": [VOCAB.get(r.get("color"), UNSEEN_ID) for r in rows]}


@envprint.probe("signup_day", inputs=PROFILES)
def signup_day(rows: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Returns the UTC day number of each signup time; MISSING_DAY when there is none."""
    days = []
    for r in rows:
        at = r.get("signup_at")
        if at is None:
            days.append(MISSING_DAY)
            continue
        if at.tzinfo is None:  # naive timestamps are UTC in this pipeline
            at = at.replace(tzinfo=datetime.timezone.utc)
        days.append((at.astimezone(datetime.timezone.utc).date() - _EPOCH).days)
    return {"signup_day": days}
