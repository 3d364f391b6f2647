"""Reads this process's cgroup files (v2 unified hierarchy or v1 controllers)."""

from __future__ import annotations

import functools
import os


@functools.cache
def _own_paths() -> dict[str, str]:
    """Returns {controller or "": cgroup path} from /proc/self/cgroup."""
    out: dict[str, str] = {}
    try:
        with open("/proc/self/cgroup", encoding="utf-8", errors="replace") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for c in controllers.split(",") if controllers else [""]:
                    out[c] = path
    except (OSError, ValueError):
        pass
    return out


def read_cgroup_file(name: str, *, controller: str | None = None) -> str | None:
    """Returns the stripped content of a cgroup file of this process, or None when absent.

    With `controller` the v1 hierarchy ``/sys/fs/cgroup/<controller>/<path>/<name>`` is read,
    otherwise the v2 unified ``/sys/fs/cgroup/<path>/<name>``; the namespace root is tried last.
    """
    rel = _own_paths().get(controller or "", "/").lstrip("/")
    base = os.path.join("/sys/fs/cgroup", controller) if controller else "/sys/fs/cgroup"
    for directory in dict.fromkeys((os.path.join(base, rel), base)):
        try:
            with open(os.path.join(directory, name), encoding="ascii", errors="replace") as f:
                return f.read().strip()
        except OSError:
            continue
    return None
