"""A stand-in root directory: collectors read real-format files written by a test instead of /proc and /sys."""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from envprint.collect import cgroup

FIXTURES = Path(__file__).with_name("fixtures")

#: fake_root(files, *modules) -> the directory standing in for "/"
FakeRoot = Callable[..., Path]


def fixture_text(name: str) -> str:
    """Returns the text of a fixture file (real /proc and /sys content from named hosts)."""
    return (FIXTURES / name).read_text(encoding="utf-8")


@pytest.fixture
def fake_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> FakeRoot:
    """Returns a function that writes `files` (absolute path -> text) under a fresh directory and makes
    the given collector modules open every absolute path there instead of under "/".

    Only the modules' own `open` is redirected, so the collector's parsing code runs unchanged on a
    real file; a path the test did not write is missing, as on a host without it.
    """
    root = tmp_path / "root"
    root.mkdir()

    def rooted_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str) and os.path.isabs(file):
            file = str(root / file.lstrip("/"))
        return builtins.open(file, *args, **kwargs)

    def use(files: Mapping[str, str], *modules: ModuleType) -> Path:
        for path, text in files.items():
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        for module in modules:
            monkeypatch.setattr(module, "open", rooted_open, raising=False)
        # /proc/self/cgroup is read once per process: read it again from this root, and afresh afterwards
        cgroup._own_paths.cache_clear()
        request.addfinalizer(cgroup._own_paths.cache_clear)
        return root

    return use
