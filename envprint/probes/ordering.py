"""Orders that decide ids and top-k: sort order among ties, and set/dict iteration order (hash seed)."""

from __future__ import annotations

import datetime
import functools
import hashlib
import os
import sys
from typing import Any

import numpy as np
import numpy.typing as npt

from envprint.probes._base import Raw, builtin
from envprint.probes._inputs import splitmix64

__all__ = ["hash_order", "hash_seed_is_random", "sort_ties"]


@builtin(
    "sort_ties",
    "sort",
    "the order of equal keys in argsort/argpartition (numpy's SIMD sort, its version): top-k and ids change",
)
def sort_ties() -> Raw:
    ints, keys, signs = _sort_keys()
    return Raw(
        {
            "indices": {
                "argsort_f32": np.argsort(keys),
                "argsort_i64": np.argsort(ints),
                "argpartition_10": np.argpartition(keys, 10)[:10],
                "stable_control": np.argsort(keys, kind="stable"),
                "sort_signed_zeros": np.signbit(np.sort(signs)),
            }
        }
    )


@functools.cache
def _sort_keys() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """Returns 2048 keys with 16 distinct values (int64 and float32) and 64 values among ±0.0 and ±1.0."""
    ints = (splitmix64(101, 2048) % np.uint64(16)).astype(np.int64)
    signs = np.array([0.0, -0.0, 1.0, -1.0])[splitmix64(103, 64) % np.uint64(4)]
    for a in (ints, signs):
        a.setflags(write=False)
    keys = ints.astype(np.float32)
    keys.setflags(write=False)
    return ints, keys, signs


_WORDS = (
    "age",
    "income",
    "zip",
    "city",
    "state",
    "country",
    "gender",
    "device",
    "browser",
    "os",
    "hour",
    "weekday",
    "month",
    "year",
    "clicks",
    "views",
    "price",
    "discount",
    "category",
    "brand",
    "color",
    "size",
    "rating",
    "reviews",
    "stock",
    "region",
    "channel",
    "campaign",
    "segment",
    "tier",
    "score",
    "label",
)


def hash_seed_is_random() -> bool:
    """Returns whether str/bytes hashes are randomized per process (no fixed PYTHONHASHSEED)."""
    if not sys.flags.hash_randomization:
        return False  # PYTHONHASHSEED=0
    seed = None if sys.flags.ignore_environment else os.environ.get("PYTHONHASHSEED")
    return seed in (None, "", "random")


def _order(items: list[Any]) -> list[int]:
    position = {item: i for i, item in enumerate(items)}
    return [position[item] for item in set(items)]


@builtin(
    "hash_order",
    "hash",
    "set/dict iteration order of str, bytes, tuples and dates (PYTHONHASHSEED): vocabulary and category ids",
    repeat=False,
)
def hash_order() -> Raw:
    day = datetime.date(2024, 1, 1)
    ints = [i * 7919 for i in range(len(_WORDS))]
    table = {
        "str": _order(list(_WORDS)),
        "bytes": _order([w.encode() for w in _WORDS]),
        "tuple": _order([(w, i) for i, w in enumerate(_WORDS)]),
        "date": _order([day + datetime.timedelta(days=i) for i in range(len(_WORDS))]),
        "dict_from_set": [_WORDS.index(w) for w in dict.fromkeys(set(_WORDS))],
        "int_control": _order(ints),
    }
    # equal seeds give equal hashes; the digest shows that without recording the hash itself
    seed_digest = hashlib.sha256(str(hash("envprint-probe")).encode()).hexdigest()[:16]
    random = hash_seed_is_random()
    return Raw(
        {"order": {k: np.array(v) for k, v in table.items()}, "seed": (f"hash digest {seed_digest}",)},
        {"hash_seed_fixed": not random, "hash_algorithm": sys.hash_info.algorithm},
        random_per_process=random,
    )
