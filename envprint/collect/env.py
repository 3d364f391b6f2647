"""Collects the environment variables that can change numbers, and nothing else.

Only names on the allow-list (`envprint.privacy`) are read; names that look like secrets are
dropped even when allow-listed, values that look like credentials are redacted, and home
directories in values are replaced by ``~``. The determinism variables and the locale variables
live in their own sections, so this one holds the rest (NCCL_*, CUDA_* beyond the known flags,
LD_PRELOAD, ...).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from envprint.collect.determinism import VARIABLES
from envprint.privacy import is_allowed_name, safe_value


def collect(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Returns the allow-listed variables not recorded by another section, with safe values."""
    env = os.environ if environ is None else environ
    return {
        name: safe_value(value)
        for name, value in sorted(env.items())
        if name not in VARIABLES and is_allowed_name(name)
    }
