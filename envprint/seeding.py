"""`seed_everything()`: set the seeds of every random number generator a model pipeline uses, and record them.

The recorded seeds appear in the fingerprint's ``determinism.seeds`` so a serving fingerprint can be
checked against the seeds training used.
"""

from __future__ import annotations

import importlib.util
import random
import sys
import threading
from typing import Literal

from envprint.errors import UsageError

__all__ = ["recorded_seeds", "seed_everything"]

_lock = threading.Lock()
_seeds: dict[str, int] = {}


def seed_everything(seed: int, *, frameworks: Literal["importable", "imported"] = "importable") -> dict[str, int]:
    """Returns {library: seed} after seeding `random`, numpy, TensorFlow and torch.

    With ``frameworks="importable"`` (the default) TensorFlow and torch are seeded when installed,
    importing them if needed, so a pipeline that seeds before importing its framework is still
    seeded. With ``"imported"`` only frameworks already imported are seeded (no import cost).
    PYTHONHASHSEED cannot change inside a running process; set it in the environment instead.
    """
    value: object = seed  # validated at runtime: callers pass anything
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise UsageError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    done: dict[str, int] = {}
    random.seed(seed)
    done["random"] = seed
    if _available("numpy", frameworks):
        import numpy as np

        np.random.seed(seed)
        done["numpy"] = seed
    if _available("tensorflow", frameworks):
        import tensorflow as tf

        tf.random.set_seed(seed)
        done["tensorflow"] = seed
    if _available("torch", frameworks):
        import torch

        torch.manual_seed(seed)
        done["torch"] = seed
    with _lock:
        _seeds.update(done)
    return dict(done)


def recorded_seeds() -> dict[str, int]:
    """Returns the seeds set through `seed_everything()` in this process."""
    with _lock:
        return dict(_seeds)


def _available(module: str, frameworks: str) -> bool:
    if module in sys.modules:
        return True
    if frameworks == "imported" and module != "numpy":
        return False
    return importlib.util.find_spec(module) is not None
