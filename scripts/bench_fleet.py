"""Benchmarks fleet grouping: reading, grouping and diffing 2,000 replica fingerprints.

    .venv/bin/python scripts/bench_fleet.py [--count N] [--dir DIR] [--json]

The fingerprints are one real capture of this environment (without probes unless --probes) varied per file: a
handful of identity variants (a thread variable, a numpy build, a locale) spread over five groups
of unequal size, and descriptive fields (hostname, PID, time, label, tags, free memory) different
in every file, as a fleet of replicas would write them. `bench_grouping(workdir, count)` returns a
plain dict for scripts/bench.py; the budget (issue 8) is "thousands of fingerprints in seconds".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import envprint  # noqa: E402
from envprint.fleet import find_files, group, read_files  # noqa: E402
from envprint.model import Fingerprint, Unavailable  # noqa: E402

#: identity variants and how many of the fleet's files have each (a share, or a count); the rest are the first
VARIANTS: tuple[tuple[float, dict[str, str]], ...] = (
    (0.0, {}),
    (0.20, {"OMP_NUM_THREADS": "1"}),
    (0.10, {"OPENBLAS_NUM_THREADS": "4"}),
    (0.05, {"numpy": "+local1"}),
    (3, {"LC_ALL": "C"}),  # a handful of odd ones out
)


def variant(base: Fingerprint, changes: dict[str, str], index: int) -> Fingerprint:
    """Returns `base` with the identity `changes` applied and every descriptive field made per-file."""
    fp = base
    det = fp.determinism
    if not isinstance(det, Unavailable):
        updated = {k: v for k, v in changes.items() if k in det.variables}
        fp = fp.replace(determinism=dataclasses.replace(det, variables={**det.variables, **updated}))
    if "numpy" in changes and not isinstance(fp.packages, Unavailable) and "numpy" in fp.packages:
        numpy = fp.packages["numpy"]
        fp = fp.replace(packages={**fp.packages, "numpy": dataclasses.replace(numpy, local=changes["numpy"][1:])})
    if "LC_ALL" in changes and not isinstance(fp.locale_time, Unavailable):
        lt = fp.locale_time
        fp = fp.replace(locale_time=dataclasses.replace(lt, locale_env={**lt.locale_env, "LC_ALL": changes["LC_ALL"]}))
    meta = dataclasses.replace(
        fp.meta,
        hostname=f"replica-{index:05d}",
        pid=1000 + index,
        created=f"2026-01-01T00:{index // 60 % 60:02d}:{index % 60:02d}+00:00",
        label=f"serve-{index}",
        tags={"role": "replica", "host": f"node-{index % 97}", "pod": f"model-{index:05d}"},
    )
    memory = fp.memory
    if not isinstance(memory, Unavailable):
        memory = dataclasses.replace(memory, available_bytes=1_000_000_000 + index * 4096)
    return fp.replace(meta=meta, memory=memory)


def generate(workdir: Path, count: int, *, probes: bool = False) -> int:
    """Returns the number of identity variants used, after writing `count` fingerprints under `workdir`."""
    base = envprint.capture(probes=probes)
    workdir.mkdir(parents=True, exist_ok=True)
    plan: list[dict[str, str]] = []
    for share, changes in VARIANTS[1:]:
        plan += [changes] * (int(share) if share >= 1 else int(count * share))
    plan = [VARIANTS[0][1]] * (count - len(plan)) + plan
    for i, changes in enumerate(plan):  # plain writes: an fsync per file (Fingerprint.save) is not what is timed
        (workdir / f"replica-{i:05d}.fp").write_bytes(variant(base, changes, i).envelope().encode())
    return len(VARIANTS)


def bench_grouping(workdir: Path | str, count: int = 2000, *, probes: bool = False) -> dict[str, Any]:
    """Returns {count, seconds, groups, read_s, group_s, file_kib}: reading + grouping + diffing `count` files.

    `probes` makes the files full size (the core probes' results in each), as replicas would write them.
    """
    workdir = Path(workdir)
    generate(workdir, count, probes=probes)
    start = time.perf_counter()
    loaded, unreadable = read_files(find_files([workdir]))
    read_s = time.perf_counter() - start
    report = group(loaded)
    seconds = time.perf_counter() - start
    assert not unreadable and report.fingerprints == count
    size = sum(f.stat().st_size for f in workdir.glob("*.fp")) / count / 1024
    return {
        "count": count,
        "seconds": round(seconds, 3),
        "groups": len(report.groups),
        "read_s": round(read_s, 3),
        "group_s": round(seconds - read_s, 3),
        "file_kib": round(size, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--dir", type=Path, help="work directory [default: a temporary one]")
    parser.add_argument("--probes", action="store_true", help="full-size files, with the core probes' results")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="envprint-fleet-")) if args.dir is None else args.dir
    try:
        res = bench_grouping(tmp / "fleet", args.count, probes=args.probes)
    finally:
        if args.dir is None:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(res))
        return
    print(f"fleet grouping of {res['count']} fingerprints ({res['file_kib']} KiB each, {res['groups']} groups)")
    print(f"  read        {res['read_s']:7.2f} s  ({res['read_s'] / res['count'] * 1000:.2f} ms per file)")
    print(f"  group+diff  {res['group_s']:7.2f} s")
    print(f"  total       {res['seconds']:7.2f} s  (budget: seconds)")


if __name__ == "__main__":
    main()
