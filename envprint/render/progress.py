"""Progress displays on stderr: a byte bar for hashing model files, a count bar for reading many files.

Both draw only when stderr is a terminal and the work is large enough to be worth a bar, and both
are transient: nothing of them stays in logs. rich is imported only once a bar is drawn.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["BYTES_THRESHOLD", "byte_progress", "count_progress"]

#: hashing at least this many bytes shows a bar
BYTES_THRESHOLD = 100 * 1000 * 1000

#: progress(done, total)
Callback = Callable[[int, int], None]


@contextlib.contextmanager
def byte_progress(*, description: str = "hashing", threshold: int = BYTES_THRESHOLD) -> Iterator[Callback | None]:
    """Yields a progress(bytes_done, bytes_total) callback drawing a transfer bar, or None when stderr is no terminal.

    The callback may be called from several worker threads; the bar appears once the total is known
    to be at least `threshold` bytes.
    """
    if not sys.stderr.isatty():
        yield None
        return
    bar = _Bar(description, threshold, byte_columns=True)
    try:
        yield bar
    finally:
        bar.close()


@contextlib.contextmanager
def count_progress(description: str = "reading fingerprints", *, threshold: int = 20) -> Iterator[Callback]:
    """Yields a progress(items_done, items_total) callback drawing an N-of-M bar once there are `threshold` items."""
    bar = _Bar(description, threshold, byte_columns=False)
    try:
        yield bar
    finally:
        bar.close()


class _Bar:
    """A rich progress bar started on the first update whose total reaches the threshold."""

    def __init__(self, description: str, threshold: int, *, byte_columns: bool) -> None:
        self.description = description
        self.threshold = threshold
        self.byte_columns = byte_columns
        self.lock = threading.Lock()
        self.progress: Any = None
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if total < self.threshold or not sys.stderr.isatty():
            return
        with self.lock:
            if self.progress is None:
                self.progress = self._start(total)
            self.progress.update(self.task, completed=done, total=total)

    def _start(self, total: int) -> Any:
        # rich costs ~30 ms to import: paid only when a bar is actually drawn
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns = (
            (DownloadColumn(), TransferSpeedColumn())
            if self.byte_columns
            else (MofNCompleteColumn(), TimeRemainingColumn())
        )
        p = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            *columns,
            console=Console(stderr=True),
            transient=True,
        )
        p.start()
        self.task = p.add_task(self.description, total=total)
        return p

    def close(self) -> None:
        with self.lock:
            if self.progress is not None:
                self.progress.stop()
