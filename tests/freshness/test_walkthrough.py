"""docs/freshness.md's walkthrough, run as written: its files and its commands, in a fresh directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import host_env

DOC = Path(__file__).resolve().parents[2] / "docs" / "freshness.md"
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.M | re.S)


def walkthrough() -> list[tuple[str, str]]:
    """Returns the walkthrough's steps in order: ("file", NAME\\0TEXT) and ("run", COMMAND\\0EXIT)."""
    section = DOC.read_text(encoding="utf-8").split("## Walkthrough", 1)[1].split("\n## ", 1)[0]
    steps = []
    for m in FENCE.finditer(section):
        info, body = m.group("info"), m.group("body")
        title = re.search(r'title="([^"]+)"', info)
        if title:
            steps.append(("file", f"{title.group(1)}\0{body}"))
        elif info.strip() == "console":
            for line in body.splitlines():
                if line.startswith("$ "):
                    code = re.search(r"#\s*exit (\d)", line)
                    steps.append(("run", f"{line[2:]}\0{code.group(1) if code else 0}"))
    return steps


@pytest.mark.slow
def test_the_walkthrough_runs_and_shows_the_breach_the_skew_and_the_stale_feature(tmp_path: Path) -> None:
    steps = walkthrough()
    assert [kind for kind, _ in steps].count("file") == 2 and [kind for kind, _ in steps].count("run") == 6
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, command in (("envprint", f'"{sys.executable}" -m envprint'), ("python", f'"{sys.executable}"')):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec {command} "$@"\n')  # a script: a symlink would lose the venv
        (bin_dir / name).chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    root = str(Path(__file__).resolve().parents[2])
    env = host_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=root)
    outputs = {}
    for kind, step in steps:
        first, second = step.split("\0")
        if kind == "file":
            (work / first).write_text(second, encoding="utf-8")
            continue
        proc = subprocess.run(
            ["bash", "-c", first], cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert proc.returncode == int(second), f"{first}\n{proc.stdout}\n{proc.stderr}"
        outputs[first.split()[0] + " " + first.split()[1]] = proc.stdout
    # the training ages come from numpy's Generator, whose streams numpy may change between releases: assert
    # the distribution's p95 (exponential, mean 8 s: 8 ln 20 = 24.0 s) within sampling and sketch error
    trained = re.search(r"'last_click_ts': (\d+\.\d)", outputs["python train.py"])
    assert trained is not None and 21.0 <= float(trained.group(1)) <= 27.0, outputs["python train.py"]
    assert (
        'feature="last_click_ts",quantile="0.95"} 72' in outputs["grep 'staleness_seconds{feature=\"last_click_ts\"'"]
    )
    report = outputs["envprint freshness"]
    assert "BREACH: 1 of 2 feature(s) miss an SLO" in report and "[VERIFIED]" in report
    assert "last_click_ts: staleness_p95 = 2.02 h, target <= 10 s" in report
    skew = re.search(r"last_click_ts: (\d+\.\d) s in training → 2\.0\d h serving \(×(\d+)\)", report)
    assert skew is not None and skew.group(1) == trained.group(1) and 250 <= int(skew.group(2)) <= 360, report
    shadow = outputs["envprint shadow"]
    assert "INVESTIGATE: " in shadow and "check feature availability first: likely last_click_ts" in shadow
    assert "<- likely cause" in shadow.split("last_click_ts: ", 3)[-1]
