"""Benchmarks envprint against the anchors DESIGN.md names, on this machine, in this run; prints ratios.

    .venv/bin/python scripts/bench.py [--only capture,probes,cli,diff,guard,artifact,fleet] [--json FILE]

Each section times envprint and its anchor side by side (medians unless said otherwise) so the
ratio holds on any machine. Budgets are printed next to the numbers; nothing here fails on timing.
Record the output in docs/benchmarks.md.

Sections:
* capture  — in-process capture without probes in an environment of ~150 distributions (the venv
             plus synthetic copies of real dist-info directories on PYTHONPATH), vs a full
             `importlib.metadata` scan and `pip freeze` in the same environment (budget ≤ 15 ms);
* probes   — the core probe suite warm and cold with numpy imported, per-probe times, and the bytes
             the probes add to the file (budgets ≤ 30 ms warm, ≤ 48 KiB);
* cli      — `envprint capture` whole process with probes vs `pip freeze` wall time; file size with
             ~150 packages and probes (budget ≤ 64 KiB);
* diff     — diff of two full fingerprints in-process (≤ 20 ms) and `envprint diff` whole process (≤ 300 ms);
* guard    — guard() without artifact hashing and probes (≤ 25 ms), with the core probes (≤ 60 ms),
             vs a "pip freeze and compare requirements" check;
* artifact — hashing 1 GiB + 100 files vs cores × single-core hashlib, per-small-file cost, sign/verify;
* fleet    — grouping 2,000 fingerprints.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
TARGET_DISTRIBUTIONS = 150


def median_ms(fn: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    """Returns the median wall time of fn() in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def run_ms(cmd: list[str], env: dict[str, str], repeat: int = 5) -> float:
    """Returns the median wall time of a whole process in milliseconds."""

    def once() -> None:
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

    return median_ms(once, repeat)


def ratio(value: float, anchor: float) -> str:
    return f"{value / anchor:.2f}×" if anchor else "n/a"


def verdict(value: float, budget: float, *, lower_is_better: bool = True) -> str:
    ok = value <= budget if lower_is_better else value >= budget
    return "within budget" if ok else "OVER BUDGET"


def synthetic_site(directory: Path, target: int) -> int:
    """Returns the number of distributions after adding copies of real dist-infos to `directory`."""
    import importlib.metadata

    real = [d for d in importlib.metadata.distributions() if getattr(d, "_path", None)]
    need = max(0, target - len(real))
    for i in range(need):
        src = Path(real[i % len(real)]._path)  # type: ignore[attr-defined]
        name = f"benchpkg_{i:03d}"
        dst = directory / f"{name}-1.{i}.0.dist-info"
        dst.mkdir(parents=True)
        for f in ("METADATA", "INSTALLER", "WHEEL"):
            if (src / f).exists():
                text = (src / f).read_bytes()
                if f == "METADATA":
                    lines = text.split(b"\n")
                    lines = [b"Name: " + name.encode() if ln.startswith(b"Name:") else ln for ln in lines]
                    lines = [b"Version: 1.%d.0" % i if ln.startswith(b"Version:") else ln for ln in lines]
                    text = b"\n".join(lines)
                (dst / f).write_bytes(text)
    return len(real) + need


_CHILD_CAPTURE = r"""
import json, statistics, time, importlib.metadata
import numpy
import envprint
from envprint.collect import packages
def med(fn, n):
    fn(); ts = []
    for _ in range(n):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000
def scan():
    return {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()}
fp = envprint.capture(probes=False)
print(json.dumps({
    "distributions": len(fp.packages),
    "capture_ms": med(lambda: envprint.capture(probes=False), 30),
    "packages_ms": med(packages.collect, 30),
    "metadata_scan_ms": med(scan, 10),
    "timings": fp.meta.timings,
}))
"""


def bench_capture(env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run([PY, "-c", _CHILD_CAPTURE], env=env, capture_output=True, text=True, check=True)
    res: dict[str, Any] = json.loads(out.stdout)
    res["pip_freeze_ms"] = run_ms([PY, "-m", "pip", "freeze"], env)
    print(f"\n## capture without probes ({res['distributions']} distributions, numpy imported)")
    print(f"  envprint.capture(probes=False)  {res['capture_ms']:7.1f} ms  (budget ≤ 15 ms: "
          f"{verdict(res['capture_ms'], 15)})")  # fmt: skip
    print(f"    of which packages collector   {res['packages_ms']:7.1f} ms")
    print(f"  importlib.metadata full scan    {res['metadata_scan_ms']:7.1f} ms  → envprint is "
          f"{ratio(res['capture_ms'], res['metadata_scan_ms'])} of it")  # fmt: skip
    print(f"  pip freeze (whole process)      {res['pip_freeze_ms']:7.1f} ms  → envprint is "
          f"{ratio(res['capture_ms'], res['pip_freeze_ms'])} of it")  # fmt: skip
    return res


_CHILD_PROBES = r"""
import json, time, msgpack
import numpy
from envprint import probes
from envprint._serde import to_data
t = time.perf_counter(); first = probes.run_suite(); cold = (time.perf_counter() - t) * 1000
runs = []
for _ in range(15):
    t = time.perf_counter(); res = probes.run_suite(); runs.append((time.perf_counter() - t) * 1000)
runs.sort()
per = {name: r.seconds * 1000 for name, r in res.items()}
print(json.dumps({"cold_ms": cold, "warm_ms": runs[len(runs) // 2], "per_probe_ms": per,
                  "bytes": len(msgpack.packb(to_data(res), use_bin_type=True)), "count": len(res)}))
"""


def bench_probes(env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run([PY, "-c", _CHILD_PROBES], env=env, capture_output=True, text=True, check=True)
    res: dict[str, Any] = json.loads(out.stdout)
    print(f"\n## core probes ({res['count']} probes, numpy imported; each probe runs twice)")
    print(f"  warm (median of 15)  {res['warm_ms']:7.1f} ms  (budget ≤ 30 ms: {verdict(res['warm_ms'], 30)})")
    print(f"  cold (first run)     {res['cold_ms']:7.1f} ms   research prototype ≈ 13 ms warm / 27 ms cold")
    print(f"  probe data in file   {res['bytes'] / 1024:7.1f} KiB (budget ≤ 48 KiB: "
          f"{verdict(res['bytes'] / 1024, 48)})")  # fmt: skip
    for name, ms in sorted(res["per_probe_ms"].items(), key=lambda kv: -kv[1]):
        print(f"    {name:<24} {ms:6.2f} ms")
    return res


def bench_cli(env: dict[str, str], work: Path) -> dict[str, Any]:
    out = work / "cli.fp"
    envprint_ms = run_ms([PY, "-m", "envprint", "capture", "-q", "-o", str(out)], env)
    freeze_ms = run_ms([PY, "-m", "pip", "freeze"], env)
    bare_ms = run_ms([PY, "-c", "pass"], env)
    size = out.stat().st_size
    print("\n## `envprint capture` whole process, with probes")
    print(f"  envprint capture     {envprint_ms:7.1f} ms  vs pip freeze {freeze_ms:.1f} ms → "
          f"{ratio(envprint_ms, freeze_ms)} (budget < 1×: {verdict(envprint_ms, freeze_ms)})")  # fmt: skip
    print(f"  python -c pass       {bare_ms:7.1f} ms   torch collect_env ≈ 1000 ms (research)")
    print(f"  fingerprint file     {size / 1024:7.1f} KiB (budget ≤ 64 KiB: {verdict(size / 1024, 64)})")
    return {"capture_cli_ms": envprint_ms, "pip_freeze_ms": freeze_ms, "file_bytes": size, "python_ms": bare_ms}


def bench_diff(env: dict[str, str], work: Path) -> dict[str, Any]:
    a, b = work / "a.fp", work / "b.fp"
    subprocess.run([PY, "-m", "envprint", "capture", "-q", "-o", str(a)], env=env, check=True)
    env_b = dict(env, OPENBLAS_NUM_THREADS="1", TZ="America/New_York")
    subprocess.run([PY, "-m", "envprint", "capture", "-q", "-o", str(b)], env=env_b, check=True)
    code = (
        "import json, statistics, time, envprint; from envprint.diff import diff\n"
        f"a = envprint.load({str(a)!r}); b = envprint.load({str(b)!r})\n"
        "ts = []\n"
        "for _ in range(30):\n"
        "    t = time.perf_counter(); r = diff(a, b); ts.append(time.perf_counter() - t)\n"
        "print(json.dumps({'diff_ms': statistics.median(ts) * 1000, 'findings': len(r.findings)}))"
    )
    res: dict[str, Any] = json.loads(subprocess.run([PY, "-c", code], env=env, capture_output=True, text=True,
                                                    check=True).stdout)  # fmt: skip

    def cli() -> None:
        subprocess.run([PY, "-m", "envprint", "diff", str(a), str(b)], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)  # fmt: skip

    res["diff_cli_ms"] = median_ms(cli, 5)
    print(f"\n## diff ({res['findings']} findings between a default and an OPENBLAS_NUM_THREADS=1, TZ capture)")
    print(f"  diff() in-process    {res['diff_ms']:7.2f} ms  (budget ≤ 20 ms: {verdict(res['diff_ms'], 20)})")
    print(f"  envprint diff        {res['diff_cli_ms']:7.1f} ms  (budget ≤ 300 ms: "
          f"{verdict(res['diff_cli_ms'], 300)})")  # fmt: skip
    return res


_CHILD_GUARD = r"""
import json, statistics, subprocess, sys, time, logging
import numpy
import envprint
from envprint.serving import guard
model, key = sys.argv[1], sys.argv[2]
def med(fn, n):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000, min(ts) * 1000
t = time.perf_counter()
guard(model, trusted_keys=[key], probes=False, verify_artifact=False)
first = (time.perf_counter() - t) * 1000
no_probes = med(lambda: guard(model, trusted_keys=[key], probes=False, verify_artifact=False), 20)
with_probes = med(lambda: guard(model, trusted_keys=[key], verify_artifact=False), 10)
def pip_check():
    from importlib.metadata import version, PackageNotFoundError
    from packaging.requirements import Requirement
    lines = open(model + "/requirements.txt").read().splitlines()
    reqs = [Requirement(ln) for ln in lines if ln and not ln.startswith(("#", "-"))]
    out = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True).stdout
    installed = dict(l.split("==", 1) for l in out.splitlines() if "==" in l)
    return [r.name for r in reqs if r.name not in installed or not r.specifier.contains(installed[r.name])]
pip = med(pip_check, 5)
print(json.dumps({"first_ms": first, "no_probes_ms": no_probes[0], "with_probes_ms": with_probes[0],
                  "pip_check_ms": pip[0]}))
"""


def bench_guard(env: dict[str, str], work: Path) -> dict[str, Any]:
    model = work / "model"
    model.mkdir(exist_ok=True)
    (model / "weights.bin").write_bytes(os.urandom(1 << 20))
    key = work / "bench"
    subprocess.run([PY, "-m", "envprint", "keygen", "-o", str(key)], env=env, check=True, capture_output=True)
    subprocess.run([PY, "-m", "envprint", "capture", "-q", "--artifact", str(model), "--key", f"{key}.key"],
                   env=env, check=True)  # fmt: skip
    freeze = subprocess.run([PY, "-m", "pip", "freeze"], env=env, capture_output=True, text=True, check=True).stdout
    (model / "requirements.txt").write_text(freeze)
    out = subprocess.run([PY, "-c", _CHILD_GUARD, str(model), f"{key}.pub"], env=env, capture_output=True,
                         text=True, check=True)  # fmt: skip
    res: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    print("\n## guard() at serving startup (numpy imported; artifact hashing excluded)")
    print(f"  first call, no probes        {res['first_ms']:7.1f} ms  (includes imports)")
    print(f"  no probes (median)           {res['no_probes_ms']:7.1f} ms  (budget ≤ 25 ms: "
          f"{verdict(res['no_probes_ms'], 25)})")  # fmt: skip
    print(f"  with core probes (median)    {res['with_probes_ms']:7.1f} ms  (budget ≤ 60 ms: "
          f"{verdict(res['with_probes_ms'], 60)})")  # fmt: skip
    print(f"  pip freeze + compare reqs    {res['pip_check_ms']:7.1f} ms  → guard without probes is "
          f"{ratio(res['no_probes_ms'], res['pip_check_ms'])} of it")  # fmt: skip
    return res


def bench_artifact_section(work: Path) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "scripts"))
    import bench_artifact

    print("\n## artifact hashing (1 GiB file + 100 small files; 5000 x 4 KiB files) and sign/verify")
    area = work / "artifact"
    area.mkdir(exist_ok=True)
    res: dict[str, Any] = {
        "hashing": bench_artifact.bench_artifact(area),
        "signing": bench_artifact.bench_sign_verify(area),
    }
    for section, values in res.items():
        for k, v in values.items():
            print(f"  {section}.{k:<42} {v}")
    return res


def bench_fleet(work: Path) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "scripts"))
    import bench_fleet

    res: dict[str, Any] = bench_fleet.bench_grouping(work / "fleet", 2000)
    print(f"\n## fleet grouping of {res['count']} fingerprints ({res['file_kib']:.0f} KiB each)")
    print(f"  read + group + diff groups   {res['seconds']:7.2f} s  ({res['groups']} groups; "
          f"read {res['read_s']:.2f} s, group {res['group_s']:.2f} s)")  # fmt: skip
    return res


SECTIONS = ("capture", "probes", "cli", "diff", "guard", "artifact", "fleet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON here")
    args = parser.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    results: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="envprint-bench-") as tmp:
        work = Path(tmp)
        site = work / "site"
        site.mkdir()
        total = synthetic_site(site, TARGET_DISTRIBUTIONS)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENVPRINT_")}
        env.update(PYTHONPATH=str(site), PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="3")
        print(f"# envprint benchmarks — {os.cpu_count()} CPUs, Python {results['python']}, {total} distributions")
        runners: dict[str, Callable[[], dict[str, Any]]] = {
            "capture": lambda: bench_capture(env),
            "probes": lambda: bench_probes(env),
            "cli": lambda: bench_cli(env, work),
            "diff": lambda: bench_diff(env, work),
            "guard": lambda: bench_guard(env, work),
            "artifact": lambda: bench_artifact_section(work),
            "fleet": lambda: bench_fleet(work),
        }
        for name in only:
            if name not in runners:
                raise SystemExit(f"unknown section {name!r}; choose from {', '.join(SECTIONS)}")
            results[name] = runners[name]()
        shutil.rmtree(site, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
