"""Collects the environment variables that can change numbers, and nothing else.

Only the exact names of `envprint.collect.variables.KNOWN` are read — never a prefix, so Terraform's
``TF_VAR_*`` or a CI system's variables are never recorded. Names that look like secrets are dropped
even when known, values that look like credentials are redacted, and home directories in values are
replaced by ``~``. The determinism variables (`ALWAYS`) and the locale variables live in their own
sections, so this one holds the other known names that are set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from envprint.collect.variables import KNOWN
from envprint.privacy import is_secret_name, safe_value


def collect(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Returns the known variables that are set and not recorded by another section, with safe values."""
    env = os.environ if environ is None else environ
    return {
        name: safe_value(env[name])
        for name in sorted(KNOWN.keys() & env.keys())
        if not KNOWN[name].always and not is_secret_name(name)
    }
