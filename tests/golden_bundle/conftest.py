"""Fixtures of the golden bundle tests: a clean transform registry, the docs example, small probes."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envprint import parity
from envprint.parity import EdgeCases, edge_cases

REPO = Path(__file__).resolve().parents[2]
#: the docs example module (examples/golden_transforms.py): fill_age, encode_color, signup_day on 10k profiles
EXAMPLE = REPO / "examples" / "golden_transforms.py"
JAVA_SOURCES = REPO / "examples" / "java" / "src" / "envprint" / "golden"

MEAN_AGE = 37.5
VOCAB = {"red": 1, "green": 2, "blue": 3}


@pytest.fixture
def registry() -> Iterator[None]:
    """Leaves the transform registry as the test found it: probes the test registered are removed."""
    before = {t.name for t in parity.registered()}
    yield
    for t in parity.registered():
        if t.name not in before:
            parity.unregister(t.name)


def labels(bundle: Path, probe: str) -> list[str]:
    """Returns the row labels of a probe of a bundle, so tests name rows by their edge case, not by number."""
    return [json.loads(line) for line in (bundle / f"{probe}.labels.jsonl").read_text().splitlines()]


def small_cases() -> EdgeCases:
    """Returns the edge cases of one numeric, one categorical and one timestamp column (the docs' columns)."""
    return edge_cases(columns={"age": 40.0}, categories={"color": list(VOCAB)}, timestamps=["signup_at"])


def missing(value: Any) -> bool:
    """Returns whether an age counts as missing in the docs example."""
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def fill_age(rows: list[dict[str, Any]]) -> dict[str, list[float]]:
    """The docs example's mean fill."""
    return {"age": [MEAN_AGE if missing(r.get("age")) else float(r["age"]) for r in rows]}


def encode_color(rows: list[dict[str, Any]]) -> dict[str, list[int]]:
    """The docs example's vocabulary encoding, unseen colours to id 0."""
    return {"color_id": [VOCAB.get(r.get("color"), 0) for r in rows]}
