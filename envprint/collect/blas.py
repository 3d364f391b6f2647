"""Collects the BLAS and OpenMP libraries loaded in this process (threadpoolctl's view).

Capture only: the thread counts are read, never changed. Libraries are keyed by the distribution
that ships them and their internal API ("numpy/openblas", "torch/openmp"), so two hosts line up
even when the bundled file names carry build hashes.

Importing threadpoolctl sets ``KMP_DUPLICATE_LIB_OK=True`` in `os.environ` (for its own use with
Intel OpenMP): when envprint is the one importing it, the environment is put back as it was, so the
fingerprint records the user's value and child processes inherit the user's environment.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from envprint.model import BlasInfo, BlasLibrary, Unavailable
from envprint.privacy import redact_path

_SITE = re.compile(r"[/\\](?:site|dist)-packages[/\\]([^/\\]+)")


def collect() -> BlasInfo:
    """Returns every BLAS/OpenMP library threadpoolctl finds loaded in this process."""
    threadpoolctl = _import_threadpoolctl()

    libraries: dict[str, BlasLibrary] = {}
    for info in threadpoolctl.threadpool_info():
        lib = _library(info)
        key = f"{lib.owner}/{lib.internal_api}"
        n = 2
        while key in libraries:
            key = f"{lib.owner}/{lib.internal_api}#{n}"
            n += 1
        libraries[key] = lib
    return BlasInfo(libraries=libraries)


def _import_threadpoolctl() -> Any:
    """Returns the threadpoolctl module, importing it without leaving its changes to `os.environ` behind."""
    module = sys.modules.get("threadpoolctl")
    if module is not None:
        return module  # imported by the application: what it set is part of the application's environment
    before = dict(os.environ)
    try:
        import threadpoolctl  # ~10 ms; captures that skip the BLAS section never pay it
    finally:
        _restore_environ(before)
    return threadpoolctl


def _restore_environ(before: dict[str, str]) -> None:
    """Puts `os.environ` back to `before`: variables added are removed, changed ones restored."""
    for name in [n for n in os.environ if n not in before]:
        del os.environ[name]
    for name, value in before.items():
        if os.environ.get(name) != value:
            os.environ[name] = value


def _library(info: dict[str, Any]) -> BlasLibrary:
    filepath = str(info.get("filepath") or "")
    return BlasLibrary(
        user_api=str(info.get("user_api", "")),
        internal_api=str(info.get("internal_api", "")),
        owner=owner_of(filepath),
        version=_optional(info, "version"),
        architecture=_optional(info, "architecture"),
        threading_layer=_optional(info, "threading_layer"),
        num_threads=_threads(info.get("num_threads")),
        prefix=str(info.get("prefix", "")),
        filepath=redact_path(filepath),
    )


def owner_of(filepath: str) -> str:
    """Returns the distribution directory a shared library ships in ("numpy" for numpy.libs/...)."""
    m = _SITE.search(filepath)
    if m is None:
        return "system" if filepath.startswith(("/usr/", "/lib", "/opt/")) else os.path.basename(filepath) or "?"
    top = m.group(1)
    return top.removesuffix(".libs").removesuffix(".dylibs")


def _optional(info: dict[str, Any], key: str) -> str | Unavailable | None:
    if key not in info:
        return Unavailable(f"this threadpoolctl does not report {key} for {info.get('internal_api')}")
    value = info[key]
    return None if value is None else str(value)


def _threads(value: Any) -> int | Unavailable:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return Unavailable(f"threadpoolctl reported num_threads={value!r}")
