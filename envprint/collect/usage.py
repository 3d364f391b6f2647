"""Which installed distributions a process uses: imported, or required (transitively) by one that was.

A distribution installed only for tests and never imported by training cannot have shaped the model's
numbers; one that training imported — or that a package it imported depends on, even if not loaded
yet — can. This module answers that at capture time, from the process's `sys.modules` and each
distribution's own metadata: `top_level.txt` (or its RECORD) for the modules it provides, and its
``Requires-Dist`` headers (extras left out) for what it depends on.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Mapping

from envprint._files import read_prefix
from envprint.model import Package

__all__ = ["mark_usage"]

_NORMALISE = re.compile(r"[-_.]+")
_REQUIRES = re.compile(rb"^Requires-Dist[ \t]*:[ \t]*([A-Za-z0-9][A-Za-z0-9._-]*)([^\r\n]*)", re.MULTILINE)
_LIMIT = 4 * 1024 * 1024
_NOT_MODULES = (".dist-info", ".egg-info", ".data", ".pth")


def mark_usage(packages: Mapping[str, Package], metadata: Mapping[str, str]) -> dict[str, Package]:
    """Returns `packages` with `used` set: True when imported or required by a used one, else False.

    `metadata` maps a normalised name to its ``.dist-info`` / ``.egg-info`` directory. A distribution
    whose modules cannot be determined is counted as used: unknown is never read as unused.
    """
    loaded = {name.partition(".")[0] for name in list(sys.modules)}
    used: set[str] = set()
    for name, directory in metadata.items():
        provides = _top_levels(directory, name)
        if provides is None or provides & loaded:
            used.add(name)
    pending = list(used)
    while pending:
        for dependency in _requirements(metadata[pending.pop()]):
            if dependency in metadata and dependency not in used:
                used.add(dependency)
                pending.append(dependency)
    return {name: dataclasses.replace(pkg, used=name in used) for name, pkg in packages.items()}


def _normalise(name: str) -> str:
    return _NORMALISE.sub("-", name).lower()


def _read(path: str) -> bytes | None:
    try:
        return read_prefix(path, _LIMIT)
    except OSError:
        return None


def _top_levels(directory: str, name: str) -> set[str] | None:
    """Returns the top-level module names a distribution provides, None when they cannot be told."""
    top_level = _read(f"{directory}/top_level.txt")
    if top_level is not None:
        return {line.strip() for line in top_level.decode("utf-8", "replace").splitlines() if line.strip()}
    record = _read(f"{directory}/RECORD")
    if record is None:
        return None
    names = {name.replace("-", "_")}
    # only each line's first path component matters, so lines are cut at their first "/" and deduplicated
    # before any Python-level work (a framework's RECORD has tens of thousands of lines)
    for first in {line.split(b"/", 1)[0] for line in record.split(b"\n")}:
        raw, comma, _ = first.partition(b",")  # a comma before any "/": the line names a top-level file
        head = raw.decode("utf-8", "replace")
        if not head or head.startswith("..") or head == "__pycache__" or head.endswith(_NOT_MODULES):
            continue
        if not comma:
            names.add(head)  # a package directory
        elif head.endswith((".py", ".so", ".pyd")):
            names.add(head.partition(".")[0])  # a single-file module or extension
    return names


def _requirements(directory: str) -> set[str]:
    """Returns the normalised names a distribution requires, leaving out those only its extras need."""
    data = _read(f"{directory}/METADATA") or _read(f"{directory}/PKG-INFO") or b""
    header = data.split(b"\n\n", 1)[0]
    return {_normalise(m.group(1).decode()) for m in _REQUIRES.finditer(header) if b"extra" not in m.group(2)}
