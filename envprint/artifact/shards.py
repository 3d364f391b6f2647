"""Sharded digests: a large file's fixed-size shards, each with its own sha256, verified on all cores at once.

The whole-file sha256 stays in the manifest (it equals `sha256sum`, and the directory digest is built
from it); shards are an addition, recorded at capture from the same bytes. At verification only the
shards are hashed: they cover the file exactly (offsets 0, S, 2S, …, the last one ending at the
file's size), so equal shards mean equal bytes, and they are independent, so every core takes some.
A manifest whose shards overlap, leave a gap, or end elsewhere than the file's size is refused before
anything is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from envprint.artifact.changes import ChangeKind, FileChange, byte_span
from envprint.artifact.hashing import Result
from envprint.errors import UsageError
from envprint.model import ArtifactFile, ArtifactShard

MIB = 1024 * 1024
#: shard size of new manifests: files larger than this are sharded (docs/signing.md, "Sharded digests")
DEFAULT_SHARD_SIZE = 64 * MIB
#: the smallest shard size a manifest may record (a smaller one would only bloat the manifest)
MIN_SHARD_SIZE = 1 * MIB


#: a file is sharded only when it holds more than 1/SPREAD of the artifact's bytes: smaller files already
#: spread over SPREAD cores without shards, and sharding them would double capture's work for no gain
SPREAD = 16


def plan(size: int, shard_size: int, total: int | None = None) -> list[tuple[int, int]]:
    """Returns (offset, length) of each shard of a file of `size` bytes; [] when it is not sharded.

    A file is sharded when `shard_size` is positive, the file is larger than one shard and, given
    the artifact's `total` bytes, holds more than 1/`SPREAD` of them.
    """
    if shard_size <= 0 or size <= shard_size or (total is not None and size * SPREAD <= total):
        return []
    return [(offset, min(shard_size, size - offset)) for offset in range(0, size, shard_size)]


def layout_problems(
    size: int, shards: Sequence[ArtifactShard], shard_size: int
) -> list[tuple[str, tuple[int, int] | None]]:
    """Returns why `shards` do not cover a file of `size` bytes exactly in `shard_size` pieces, with the bytes at fault.

    Each problem is (text, (first, last) byte range or None). No problem means the shards are
    contiguous from byte 0, each `shard_size` long but the last (1 to `shard_size` bytes), and end at `size`.
    """
    problems: list[tuple[str, tuple[int, int] | None]] = []
    expected = 0
    for i, s in enumerate(shards):
        label = f"shard {i + 1} of {len(shards)}"
        if s.length <= 0:
            problems.append((f"{label} has length {s.length}", None))
            return problems
        if s.offset < expected:
            first, last = s.offset, min(expected, s.offset + s.length) - 1
            text = f"{label} overlaps the one before it: {byte_span(first, last)} covered twice"
            problems.append((text, (first, last)))
        elif s.offset > expected:
            first, last = expected, s.offset - 1
            problems.append((f"{label} leaves a gap before it: {byte_span(first, last)} not covered", (first, last)))
        if s.length != shard_size and i != len(shards) - 1:
            problems.append((f"{label} is {s.length} bytes, not the shard size {shard_size}", None))
        elif s.length > shard_size:
            problems.append((f"{label} is {s.length} bytes, more than the shard size {shard_size}", None))
        if not _is_hex64(s.sha256):
            problems.append((f"{label}'s sha256 is not 64 lowercase hex digits", None))
        expected = max(expected, s.offset + s.length)
    if expected != size:
        first, last = min(expected, size), max(expected, size) - 1
        problems.append((f"the shards end at byte {expected}, but the file has {size} bytes", (first, last)))
    return problems


def _is_hex64(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def to_check(shards: Sequence[ArtifactShard], disk_size: int) -> list[int]:
    """Returns the indices of the shards worth hashing for a file now `disk_size` bytes long: those it still holds."""
    return [i for i, s in enumerate(shards) if s.offset + s.length <= disk_size]


def judge(
    path: str, f: ArtifactFile, shards: Sequence[ArtifactShard], disk_size: int, results: Mapping[int, Result]
) -> FileChange | None:
    """Returns the report line of a sharded file from its shards' `results` (by index), None when it matches.

    The line names the first bad byte range: the first shard that differs, else the first one the
    file no longer holds (truncated), else the bytes appended after the last shard.
    """
    n = len(shards)
    for result in results.values():
        if isinstance(result, str):
            return FileChange(ChangeKind.UNREADABLE, path, detail=result)
    bad = sorted(i for i, r in results.items() if r != (shards[i].sha256, shards[i].length))
    size = "" if disk_size == f.size else f"size {f.size} → {disk_size} bytes; "
    if bad:
        i = bad[0]
        s = shards[i]
        span = (s.offset, s.offset + s.length - 1)
        detail = f"{size}{len(bad)} of {n} shards differ, first: shard {i + 1} of {n}, {byte_span(*span)}"
        got = results[i]
        assert not isinstance(got, str)
        moved = next((j for j, other in enumerate(shards) if other.sha256 == got[0] and j != i), None)
        if moved is not None:
            m = shards[moved]
            detail += f" (it holds the bytes of shard {moved + 1}, {byte_span(m.offset, m.offset + m.length - 1)})"
        return FileChange(ChangeKind.CHANGED, path, detail=detail, byte_range=span)
    if disk_size < f.size:
        i = next(i for i, s in enumerate(shards) if s.offset + s.length > disk_size)
        s = shards[i]
        span = (s.offset, s.offset + s.length - 1)
        detail = f"{size}truncated at byte {disk_size}, first bad: shard {i + 1} of {n}, {byte_span(*span)}"
        return FileChange(ChangeKind.CHANGED, path, detail=detail, byte_range=span)
    if disk_size > f.size:
        span = (f.size, disk_size - 1)
        detail = f"{size}{disk_size - f.size} byte(s) appended after the last shard, {byte_span(*span)}"
        return FileChange(ChangeKind.CHANGED, path, detail=detail, byte_range=span)
    return None


_UNITS = {"": 1, "K": 1024, "M": MIB, "G": 1024 * MIB}


def parse_size(text: str) -> int:
    """Returns a size in bytes from text like "64M", "1G", "65536" or "0" (K, M, G are powers of 1024)."""
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = value[-1:] if value[-1:] in _UNITS else ""
    number = value[: len(value) - len(unit)]
    if not number.isdigit():
        raise UsageError(f"shard size {text!r}: expected a number of bytes, optionally with K, M or G (e.g. 64M)")
    return int(number) * _UNITS[unit]
