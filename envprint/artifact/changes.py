"""The file-by-file report of an artifact check: what differs between a manifest and the files on disk."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from envprint._base import Record, record

#: lines of a report shown in an error message (the `changes` attribute holds them all)
REPORT_LIMIT = 20


class ChangeKind(str, enum.Enum):
    """What differs between a manifest and the files on disk."""

    CHANGED = "changed"  # same path, different content
    ADDED = "added"  # on disk, not in the manifest
    MISSING = "missing"  # in the manifest, not on disk
    RENAMED = "renamed"  # a missing file found again, same size and sha256, under another path
    UNSUPPORTED = "unsupported"  # a symlink, FIFO, socket, device or unrepresentable name on disk
    UNREADABLE = "unreadable"  # a file that could not be read
    INVALID = "invalid"  # an unsafe or inconsistent manifest entry (nothing was read)


@record
class FileChange(Record):
    """One line of an artifact verification report."""

    kind: ChangeKind
    path: str  # the path on disk now; for MISSING and INVALID the manifest's path
    old_path: str | None = None  # RENAMED: the path the manifest has
    detail: str = ""
    #: the first bad bytes, (first, last) inclusive: a sharded file's first differing shard, the bytes
    #: appended past its end, or the bytes a manifest's shards fail to cover exactly; None otherwise
    byte_range: tuple[int, int] | None = None

    def __str__(self) -> str:
        text = f"{self.kind.value:<11} {self.path}"
        if self.old_path is not None:
            text += f" (was {self.old_path})"
        return f"{text}: {self.detail}" if self.detail else text


def format_changes(changes: Sequence[FileChange], *, limit: int | None = None) -> str:
    """Returns the report as indented lines, the first `limit` of them (all when None)."""
    shown = changes if limit is None else changes[:limit]
    lines = [f"  {c}" for c in shown]
    if len(shown) < len(changes):
        lines.append(f"  … and {len(changes) - len(shown)} more")
    return "\n".join(lines)


def byte_span(first: int, last: int) -> str:
    """Returns an inclusive byte range as text: "bytes 0–67108863"."""
    return f"byte {first}" if first == last else f"bytes {first}–{last}"
