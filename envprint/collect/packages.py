"""Collects installed distributions and the top-level modules imported in this process.

Reads only what it needs: the header of each METADATA file (up to the first blank line), INSTALLER
and the Tag lines of WHEEL, found by scanning `sys.path` for ``*.dist-info`` / ``*.egg-info``. That
gives the same name/version pairs as `importlib.metadata` at a fraction of its cost. A broken
distribution is recorded with `unreadable` set; it never breaks capture.
"""

from __future__ import annotations

import os
import re
import sys
import sysconfig
from collections.abc import Iterable

from envprint._files import read_prefix
from envprint.collect.origins import read_origin
from envprint.collect.usage import mark_usage
from envprint.model import Package, Unavailable
from envprint.privacy import redact_path

_NORMALISE = re.compile(r"[-_.]+")
_HEADER_LIMIT = 64 * 1024
_META_SUFFIXES = (".dist-info", ".egg-info")
# Name and Version appear once each in a valid header block
_HEADER = re.compile(rb"^(Name|Version)[ \t]*:[ \t]*([^\r\n]*)", re.MULTILINE | re.IGNORECASE)


def normalise(name: str) -> str:
    """Returns the PEP 503 normalised form of a distribution name."""
    return _NORMALISE.sub("-", name).lower()


def collect(paths: Iterable[object] | None = None, *, usage: bool = False) -> dict[str, Package]:
    """Returns every installed distribution on `paths` (default `sys.path`), keyed by normalised name.

    The first distribution of a name on the path wins, as for `importlib.metadata`. Entries of
    `sys.path` that are `pathlib.Path` or bytes are read like their text (the import system does);
    entries of any other type are skipped, as the import system skips them. One distribution that
    cannot be read is recorded `unreadable`; the rest are still measured.

    With `usage`, each distribution also records whether this process imported it or something it
    imported depends on it (`Package.used`, see `mark_usage`).
    """
    found: dict[str, Package] = {}
    metadata: dict[str, str] = {}  # name -> its metadata directory, for `usage`
    purelib = os.path.normpath(sysconfig.get_path("purelib"))
    for raw in sys.path if paths is None else paths:
        entry = _entry_text(raw)
        if entry is None:
            continue
        directory = entry or "."
        try:
            names = sorted(n for n in os.listdir(directory) if n.endswith(_META_SUFFIXES))
        except OSError:
            continue
        location = "" if os.path.normpath(directory) == purelib else redact_path(entry)
        for meta_name in names:
            key, pkg = _read_distribution(f"{directory}/{meta_name}", meta_name, location)
            if key not in found:
                found[key], metadata[key] = pkg, f"{directory}/{meta_name}"
    return mark_usage(found, metadata) if usage else found


def _entry_text(entry: object) -> str | None:
    """Returns a sys.path entry as text: str as is, Path or bytes decoded; None for what imports skip."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, (bytes, os.PathLike)):
        try:
            return os.fsdecode(entry)
        except (TypeError, ValueError):
            return None
    return None


def _read_distribution(path: str, meta_name: str, location: str) -> tuple[str, Package]:
    """Returns (normalised name, Package) of one metadata directory; a broken one is recorded unreadable."""
    try:
        return _read_metadata(path, meta_name, location)
    except Exception as e:  # one broken distribution is one recorded problem, never a lost section
        stem = meta_name.rsplit(".", 1)[0]
        name, _, version = stem.partition("-")
        return normalise(name), _broken(version, f"cannot read its metadata: {type(e).__name__}: {e}", location)


def _read_metadata(path: str, meta_name: str, location: str) -> tuple[str, Package]:
    stem = meta_name.rsplit(".", 1)[0]
    dir_name, _, dir_version = stem.partition("-")
    is_dist_info = meta_name.endswith(".dist-info")
    meta_file = f"{path}/METADATA" if is_dist_info else f"{path}/PKG-INFO"
    try:
        try:
            headers = _read_headers(meta_file)
        except (NotADirectoryError, FileNotFoundError):
            if is_dist_info:
                raise
            headers = _read_headers(path)  # a single-file .egg-info
    except (OSError, UnicodeDecodeError, ValueError) as e:
        reason = f"cannot read {os.path.basename(meta_file)}: {type(e).__name__}: {e}"
        return normalise(dir_name), _broken(dir_version, reason, location)
    name, version = headers.get("name"), headers.get("version")
    if not name or not version:
        missing = " and ".join(k for k, v in (("Name", name), ("Version", version)) if not v)
        return normalise(name or dir_name), _broken(version or dir_version, f"metadata has no {missing}", location)
    installer: str | None = None
    tags: tuple[str, ...] = ()
    if is_dist_info:
        installer = _read_small(f"{path}/INSTALLER")
        wheel = _read_small(f"{path}/WHEEL")
        if wheel:
            tags = tuple(line[4:].strip() for line in wheel.splitlines() if line.startswith("Tag:"))
    _, plus, local = version.partition("+")
    return normalise(name), Package(
        version=version,
        local=local if plus else None,
        installer=installer,
        wheel_tags=tags,
        location=location,
        origin=read_origin(path) if is_dist_info else None,
    )


def _broken(version: str, reason: str, location: str) -> Package:
    return Package(
        version=version or Unavailable(reason),
        local=None,
        installer=Unavailable(reason),
        wheel_tags=(),
        unreadable=reason,
        location=location,
    )


def _read_headers(path: str) -> dict[str, str]:
    """Returns the lowercased Name/Version headers of a core-metadata file (RFC 822 style)."""
    data = read_prefix(path, 4096)
    if b"\n\n" not in data and len(data) == 4096:
        data = read_prefix(path, _HEADER_LIMIT)  # a long header block (many classifiers)
    end = data.find(b"\n\n")
    block = data if end < 0 else data[:end]
    headers = {m.group(1).lower().decode(): m.group(2).strip().decode("utf-8") for m in _HEADER.finditer(block)}
    if not headers:
        text = block.decode("utf-8")  # undecodable bytes raise here: the metadata is unreadable
        if text.strip() and ":" not in text.splitlines()[0]:
            raise ValueError("not an RFC 822 metadata header")
    return headers


def _read_small(path: str) -> str | None:
    try:
        return read_prefix(path, 4096).decode("utf-8", "replace").strip() or None
    except OSError:
        return None


def imported_modules() -> dict[str, str | Unavailable | None]:
    """Returns the non-standard-library top-level modules imported in this process and their versions.

    Reads ``__version__`` from the module's namespace directly, so lazy modules are not triggered.
    """
    stdlib: frozenset[str] = getattr(sys, "stdlib_module_names", frozenset())
    out: dict[str, str | Unavailable | None] = {}
    for name, module in list(sys.modules.items()):
        if "." in name or name.startswith("_") or name in stdlib or name in sys.builtin_module_names:
            continue
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        version = namespace.get("__version__")
        if version is None or isinstance(version, str):
            out[name] = version
        elif isinstance(version, (tuple, int, float)):
            out[name] = ".".join(map(str, version)) if isinstance(version, tuple) else str(version)
        else:
            # an object without its own __str__ would print its address, which differs every run
            has_str = getattr(type(version), "__str__", None) is not object.__str__
            out[name] = str(version) if has_str else None
    return out
