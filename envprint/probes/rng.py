"""Random-number stream definitions and edge casts: what a retrain or a cast produces on this stack."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import numpy.typing as npt

from envprint.probes._base import Raw, builtin

__all__ = ["casts_edge", "rng_streams"]


@builtin(
    "rng_streams",
    "rng",
    "the streams behind seeded splits and shuffles (RandomState, Generator/PCG64, random.Random)",
    heavy=True,
    repeat=False,
)
def rng_streams() -> Raw:
    # private generators: the global numpy and Python random states are left untouched
    legacy = np.random.RandomState(0)
    gen = np.random.Generator(np.random.PCG64(0))
    rnd = random.Random(0)
    shuffled = list(range(16))
    rnd_shuffle = random.Random(0)
    rnd_shuffle.shuffle(shuffled)
    floats = {
        "RandomState.normal": legacy.normal(size=8),
        "Generator.normal": gen.normal(size=8),
        "Generator.random": gen.random(8),
        "random.random": np.array([rnd.random() for _ in range(8)]),
        "random.gauss": np.array([rnd.gauss(0.0, 1.0) for _ in range(8)]),
    }
    ints = {
        "RandomState.randint": legacy.randint(0, 1000, size=8),
        "Generator.integers": gen.integers(0, 1000, size=8),
        "Generator.choice": gen.choice(100, size=8, replace=False),
        "Generator.permutation": gen.permutation(16),
        "random.sample": np.array(rnd.sample(range(100), 8)),
        "random.randrange": np.array([rnd.randrange(1000) for _ in range(8)]),
        "random.shuffle": np.array(shuffled),
    }
    return Raw({"floats": floats, "ints": ints}, elementwise=frozenset({"floats"}))


# NaN, ±inf, beyond int32/uint32/uint8, negative into unsigned, halves (round half to even),
# the float16 limits (65504 is its max, 65520 rounds to inf)
_CAST_VALUES = np.array(
    [np.nan, np.inf, -np.inf, 1e10, -1e10, 3e9, -3.5, 255.5, 256.0, -1.0, 1e20, 2.5, -2.5, 0.5, 1.5, 65504.0, 65520.0,
     1e-8, -0.0, 2147483647.5]
)  # fmt: skip


@builtin(
    "casts_edge",
    "casts",
    "float→int casts of NaN/inf/out-of-range values (x86 vs ARM), rounding of halves, float16 overflow",
    repeat=False,
)
def casts_edge() -> Raw:
    v = _CAST_VALUES
    ints: dict[str, npt.NDArray[Any]] = {
        "int32": v.astype(np.int32),
        "int64": v.astype(np.int64),
        "uint8": v.astype(np.uint8),
        "uint32": v.astype(np.uint32),
        "float16_bits": v.astype(np.float32).astype(np.float16).view(np.uint16),
    }
    floats = {"rint": np.rint(v), "round_1": np.round(v * 1.05, 1)}
    return Raw({"ints": ints, "floats": floats}, elementwise=frozenset({"floats"}))
