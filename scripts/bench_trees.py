"""Times envprint's everyday commands from two source trees, alternated in one run, and prints new/old.

    git worktree add /tmp/envprint-old REV        # e.g. the commit before a restructure
    .venv/bin/python scripts/bench_trees.py /tmp/envprint-old [--rounds 7]

Both trees run with this virtualenv's interpreter and dependencies, each first on PYTHONPATH, with
compiled bytecode. Commands alternate old, new, old, new, ... with `pip freeze` once per round, so a
load that comes and goes weighs on both trees; the first round only warms caches. A ratio below 1 means
the new tree is faster. Nothing here fails on timing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path, help="a checkout of the tree to compare with (git worktree add)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if not (args.old / "envprint" / "__init__.py").is_file():
        parser.error(f"{args.old} is not an envprint checkout (no envprint/__init__.py)")

    py = sys.executable
    work = Path(tempfile.mkdtemp(prefix="envprint-trees-"))
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    trees = {"old": args.old.resolve(), "new": ROOT}
    commands = {
        "envprint capture -o X": ["-m", "envprint", "capture", "-o", "{w}/{t}.fp"],
        "envprint capture --no-probes": ["-m", "envprint", "capture", "--no-probes", "-o", "{w}/{t}-np.fp"],
        "envprint diff A B": ["-m", "envprint", "diff", "{w}/{t}.fp", "{w}/{t}-np.fp"],
        "envprint show A": ["-m", "envprint", "show", "{w}/{t}.fp"],
        "capture() in process": ["-c", "import numpy, envprint; envprint.capture()"],
        "first guard() in process": [
            "-c",
            "import numpy, envprint; envprint.guard('{w}/model', trusted_keys=['{w}/k.pub'], verify_artifact=False)",
        ],
    }
    # the guard's model: a signed fingerprint with probes, bound to a small file, made by this tree
    (work / "model").mkdir()
    (work / "model" / "weights.bin").write_bytes(os.urandom(1 << 20))
    for argv in (
        ["keygen", "-o", f"{work}/k"],
        ["capture", "-q", "--artifact", f"{work}/model", "--key", f"{work}/k.key"],
    ):
        subprocess.run(
            [py, "-m", "envprint", *argv], env=dict(base, PYTHONPATH=str(ROOT)), check=True, capture_output=True
        )
    times: dict[tuple[str, str], list[float]] = {(c, t): [] for c in commands for t in trees}
    freeze: list[float] = []
    for rnd in range(args.rounds + 1):
        for name, argv in commands.items():
            for tree, path in trees.items():
                cmd = [py, *(a.format(w=work, t=tree) for a in argv)]
                start = time.perf_counter()
                env = dict(base, PYTHONPATH=str(path))
                proc = subprocess.run(cmd, env=env, cwd=path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                if proc.returncode not in ((0, 1) if name.startswith("envprint diff") else (0,)):
                    # a failed run is no timing: stop rather than compare a crash with a command
                    sys.exit(f"{tree} tree: {name} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
                if rnd:
                    times[(name, tree)].append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([py, "-m", "pip", "freeze"], env=base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if rnd:
            freeze.append(time.perf_counter() - start)

    anchor = statistics.median(freeze)
    print(f"medians of {args.rounds} rounds, load average {os.getloadavg()[0]:.2f}; pip freeze {anchor * 1000:.0f} ms")
    for name in commands:
        old = statistics.median(times[(name, "old")])
        new = statistics.median(times[(name, "new")])
        print(
            f"  {name:30} old {old * 1000:5.0f} ms ({old / anchor:.2f}x)  new {new * 1000:5.0f} ms "
            f"({new / anchor:.2f}x)  new/old {new / old:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
