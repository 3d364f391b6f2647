"""Benchmarks envprint against the anchors DESIGN.md and issue 18 name, on this machine, in this run; prints ratios.

    .venv/bin/python scripts/bench.py [--only SECTION,...] [--repeat N] [--quick] [--json FILE]

Each section times envprint and its anchor side by side, in the same run, so the ratio holds on any
machine; whole processes are timed alternately (envprint, anchor, envprint, ...) so a load that comes
and goes weighs on both. Budgets and targets are printed next to the numbers; nothing here fails on
timing. Record the output in docs/benchmarks.md.

Child processes run as a wheel installs them: with compiled bytecode (a private PYTHONPYCACHEPREFIX,
warmed once), whatever PYTHONDONTWRITEBYTECODE says in the calling shell. A *busy neighbour* is a
second process spinning on one core, the "one other busy process" of issue 18.

Sections:
* startup  — issue 18's table, quiet and with a busy neighbour: `envprint capture -o X` (with and without
             probes) and the first `guard()` of a serving process (numpy imported, probes on, no hashing)
             against `pip freeze`; the probe suite's first run after numpy's import, and how many times
             it wakes the BLAS worker threads (each wake-up is one wait for a core when the machine is busy);
* verify   — verify of one 1 GiB file bound with the default sharded manifest (envprint.artifact), in
             process and as `envprint verify`, against one core of `hashlib.sha256` over the same bytes;
* capture  — in-process capture without probes, ~150 distributions, vs `importlib.metadata` and `pip freeze`;
* probes   — the core probe suite warm and cold (numpy imported), per-probe times, bytes in the file;
* cli      — the fingerprint file's size with ~150 packages and probes;
* diff     — diff() of two full fingerprints in-process, and `envprint diff` whole process;
* guard    — guard() medians without probes and with them, after a first call;
* artifact — scripts/bench_artifact.py: hashing 1 GiB + 100 files vs cores × hashlib, sign/verify;
* fleet    — scripts/bench_fleet.py: grouping 2,000 fingerprints;
* freshness, golden — scripts/bench_freshness.py and scripts/bench_golden.py (their own features).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
PY = sys.executable
TARGET_DISTRIBUTIONS = 150
MIB = 1 << 20
GIB = 1 << 30

#: issue 18's targets: ratio to the anchor, quiet and with a busy neighbour
TARGETS = {
    "capture": (0.5, 0.8),
    "capture_no_probes": (None, None),
    "first_guard": (0.25, 0.4),
}


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


def ratio(value: float, anchor: float) -> str:
    """Returns value / anchor as "0.42×"."""
    return f"{value / anchor:.2f}×" if anchor else "n/a"


def verdict(value: float, budget: float | None, *, lower_is_better: bool = True) -> str:
    """Returns whether `value` meets `budget`, for the printed table."""
    if budget is None:
        return "no target"
    ok = value <= budget if lower_is_better else value >= budget
    return "met" if ok else "NOT MET"


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


@contextlib.contextmanager
def busy_neighbour() -> Iterator[None]:
    """Runs a second process spinning on one core while the block runs."""
    spinner = subprocess.Popen([PY, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let the scheduler place it
        yield
    finally:
        spinner.kill()
        spinner.wait()


def run_child(code: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    """Returns the JSON object the last line of `python -c code args` printed."""
    out = subprocess.run([PY, "-c", code, *args], env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def alternate(commands: dict[str, list[str]], env: dict[str, str], repeat: int) -> dict[str, float]:
    """Returns the median wall time (ms) of each whole-process command, run in turn `repeat` times after a warm-up,
    and its median CPU time (user + system, every thread) under "NAME cpu"."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for rnd in range(repeat + 1):
        for name, cmd in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if rnd:  # the first round compiles bytecode and fills the page cache
                times[name].append(wall * 1000)
                used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                cpu[name].append(used * 1000)
    return {name: statistics.median(ts) for name, ts in times.items()} | {
        f"{name} cpu": statistics.median(ts) for name, ts in cpu.items()
    }


# --------------------------------------------------------------------------------------------- startup

_CHILD_FIRST_GUARD = r"""
import json, sys, time
import numpy  # a serving process has imported its frameworks before its startup check
t0 = time.perf_counter()
import envprint, envprint.serving  # the modules the first guard() loads (import envprint alone is lazy)
t1 = time.perf_counter()
result = envprint.guard(sys.argv[1], trusted_keys=[sys.argv[2]], verify_artifact=False)
t2 = time.perf_counter()
skipped = sorted(f.path for f in result.report.findings if f.kind == "probe.skipped")
print(json.dumps({"first_guard_ms": (t2 - t0) * 1000, "import_ms": (t1 - t0) * 1000,
                  "passed": result.passed, "skipped_probes": skipped}))
"""

_CHILD_SUITE = r"""
import json, os, threading, time
import numpy
from envprint.probes import registry, run_suite
registry()  # the probe modules are imported; what follows is the suite's own work

def switches():
    out, me = 0, threading.get_native_id()
    for tid in os.listdir("/proc/self/task"):
        if int(tid) != me:
            with open(f"/proc/self/task/{tid}/status") as f:
                out += sum(int(l.split()[1]) for l in f if l.startswith("voluntary_ctxt_switches"))
    return out

linux = os.path.isdir("/proc/self/task")
time.sleep(0.4)  # OpenBLAS workers spin for ~0.1 s after numpy's import, then sleep: a process's first capture
before = switches() if linux else 0
t = time.perf_counter(); first = run_suite(); first_ms = (time.perf_counter() - t) * 1000
time.sleep(0.4)
wakeups = (switches() - before) if linux else None
warm = []
for _ in range(7):
    t = time.perf_counter(); res = run_suite(); warm.append((time.perf_counter() - t) * 1000)
warm.sort()
print(json.dumps({"first_ms": first_ms, "warm_ms": warm[len(warm) // 2], "wakeups": wakeups,
                  "skipped": sorted(n for n, r in first.items() if r.status == "skipped"), "count": len(first)}))
"""


def _keypair(work: Path, env: dict[str, str]) -> Path:
    """Returns the PREFIX of this run's key pair (PREFIX.key, PREFIX.pub), made on first use."""
    prefix = work / "bench"
    if not prefix.with_suffix(".key").exists():
        subprocess.run([PY, "-m", "envprint", "keygen", "-o", str(prefix)], env=env, check=True, capture_output=True)
    return prefix


def _model_with_key(work: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """Returns (model dir, public key) after capturing a signed fingerprint bound to a 1 MiB model, with probes."""
    model = work / "model"
    key = _keypair(work, env)
    if not (model / "envprint.fp").exists():
        model.mkdir(exist_ok=True)
        (model / "weights.bin").write_bytes(os.urandom(MIB))
        subprocess.run([PY, "-m", "envprint", "capture", "-q", "--artifact", str(model), "--key",
                        f"{key}.key"], env=env, check=True)  # fmt: skip
    return model, key.with_suffix(".pub")


def bench_startup(env: dict[str, str], work: Path, repeat: int) -> dict[str, Any]:
    """Returns issue 18's table, quiet and with a busy neighbour."""
    model, pub = _model_with_key(work, env)
    out = str(work / "startup.fp")
    commands = {
        "capture": [PY, "-m", "envprint", "capture", "-q", "-o", out],
        "capture_no_probes": [PY, "-m", "envprint", "capture", "-q", "--no-probes", "-o", out],
        "pip_freeze": [PY, "-m", "pip", "freeze"],
        "python": [PY, "-c", "pass"],
    }
    res: dict[str, Any] = {}
    for condition in ("quiet", "busy"):
        with busy_neighbour() if condition == "busy" else contextlib.nullcontext():
            times = alternate(commands, env, repeat)
            guards = [run_child(_CHILD_FIRST_GUARD, env, str(model), str(pub)) for _ in range(repeat)]
            suites = [run_child(_CHILD_SUITE, env) for _ in range(max(3, repeat // 2))]
        first_guard = statistics.median(g["first_guard_ms"] for g in guards)
        res[condition] = {
            **times,
            "first_guard_ms": first_guard,
            "first_guard_import_ms": statistics.median(g["import_ms"] for g in guards),
            "guard_passed": all(g["passed"] for g in guards),
            "guard_skipped_probes": sorted({p for g in guards for p in g["skipped_probes"]}),
            "suite_first_ms": statistics.median(s["first_ms"] for s in suites),
            "suite_warm_ms": statistics.median(s["warm_ms"] for s in suites),
            "suite_wakeups": [s["wakeups"] for s in suites],
            "suite_skipped": sorted({p for s in suites for p in s["skipped"]}),
        }
    print("\n## startup (issue 18): whole processes vs `pip freeze`, medians, quiet and with a busy neighbour")
    print(f"  {'what':<46} {'quiet':>17} {'busy neighbour':>17}  target (quiet / busy)")
    freeze = {c: res[c]["pip_freeze"] for c in res}
    rows = (
        ("envprint capture -o X (probes on)", "capture", "capture"),
        ("envprint capture --no-probes -o X", "capture_no_probes", "capture_no_probes"),
        ("first guard(): numpy imported, probes, no hashing", "first_guard_ms", "first_guard"),
    )
    for label, key, target in rows:
        cells = []
        verdicts = []
        for i, c in enumerate(("quiet", "busy")):
            value = res[c][key]
            cells.append(f"{value:6.0f} ms {ratio(value, freeze[c]):>6}")
            verdicts.append(verdict(value / freeze[c], TARGETS[target][i]))
        goal = "/".join("—" if t is None else f"≤ {t}×" for t in TARGETS[target])
        print(f"  {label:<46} {cells[0]:>17} {cells[1]:>17}  {goal} ({', '.join(verdicts)})")
    print(f"  {'pip freeze (the anchor)':<46} {freeze['quiet']:9.0f} ms {'':>7} {freeze['busy']:9.0f} ms")
    for key, label in (
        ("capture", "envprint capture"),
        ("capture_no_probes", "  --no-probes"),
        ("pip_freeze", "pip freeze"),
    ):
        q, b = res["quiet"][f"{key} cpu"], res["busy"][f"{key} cpu"]
        print(f"  {'CPU time, all threads: ' + label:<46} {q:9.0f} ms {'':>7} {b:9.0f} ms")
    print(f"  {'python -c pass':<46} {res['quiet']['python']:9.0f} ms {'':>7} {res['busy']['python']:9.0f} ms")
    print(f"  {'  of the first guard: its imports':<46} {res['quiet']['first_guard_import_ms']:9.0f} ms "
          f"{'':>7} {res['busy']['first_guard_import_ms']:9.0f} ms")  # fmt: skip
    for c in ("quiet", "busy"):
        r = res[c]
        print(f"  probe suite, {c}: first run {r['suite_first_ms']:.1f} ms, warm {r['suite_warm_ms']:.1f} ms; "
              f"BLAS worker wake-ups per first run {r['suite_wakeups']}; skipped for time: "
              f"{r['suite_skipped'] or 'none'}; guard passed: {r['guard_passed']} "
              f"(probes skipped: {r['guard_skipped_probes'] or 'none'})")  # fmt: skip
    return res


# --------------------------------------------------------------------------------------------- verify


def bench_verify(env: dict[str, str], work: Path, size: int, repeat: int) -> dict[str, Any]:
    """Returns verify of one `size`-byte file (default sharded manifest) vs single-core hashlib, best of `repeat`."""
    sys.path.insert(0, str(REPO))
    from envprint import artifact

    timing = _script("bench_artifact")  # the same anchor and best-of timing as the artifact section
    model = work / "big-model"
    model.mkdir(exist_ok=True)
    big = model / "model.safetensors"
    block = os.urandom(16 * MIB)
    with open(big, "wb") as f:
        for _ in range(size // len(block)):
            f.write(block)
    key = _keypair(work, env)
    subprocess.run([PY, "-m", "envprint", "capture", "-q", "--no-probes", "--artifact", str(model), "--key",
                    f"{key}.key"], env=env, check=True)  # fmt: skip
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    manifest = artifact.manifest(big)  # the default: sharded above DEFAULT_SHARD_SIZE
    shards = sum(len(s) for s in manifest.shards.values())
    hashlib_s = timing.best_of(lambda: timing.single_core_sha256(big), repeat)
    library_s = timing.best_of(lambda: artifact.verify(manifest, big), repeat)
    command = [PY, "-m", "envprint", "verify", str(model / "envprint.fp"), "--key", f"{key}.pub"]
    cli_s = timing.best_of(lambda: subprocess.run(command, env=env, check=True, capture_output=True), repeat)
    res = {
        "file_mib": size // MIB,
        "cores": cores,
        "shard_mib": artifact.DEFAULT_SHARD_SIZE // MIB,
        "shards": shards,
        "hashlib_single_core_s": hashlib_s,
        "verify_library_s": library_s,
        "verify_cli_s": cli_s,
    }
    target = 0.6 if cores == 2 else None
    print(f"\n## verify of one {size // MIB} MiB file, default sharded manifest ({shards} shards of "
          f"{res['shard_mib']} MiB), {cores} cores, best of {repeat}")  # fmt: skip
    print(f"  single-core hashlib.sha256      {hashlib_s:6.3f} s ({size / hashlib_s / 1e9:.2f} GB/s, the anchor)")
    print(f"  artifact.verify (in process)    {library_s:6.3f} s → {ratio(library_s, hashlib_s)} "
          f"(target ≤ 0.6× on 2 cores: {verdict(library_s / hashlib_s, target)})")  # fmt: skip
    print(f"  envprint verify (whole process) {cli_s:6.3f} s → {ratio(cli_s, hashlib_s)} "
          f"(target ≤ 0.6× on 2 cores: {verdict(cli_s / hashlib_s, target)})")  # fmt: skip
    big.unlink()
    return res


# --------------------------------------------------------------------------------------------- the others

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
}))
"""


def bench_capture(env: dict[str, str], repeat: int) -> dict[str, Any]:
    """Returns in-process capture without probes against a metadata scan and `pip freeze`."""
    res = run_child(_CHILD_CAPTURE, env)
    res["pip_freeze_ms"] = alternate({"freeze": [PY, "-m", "pip", "freeze"]}, env, repeat)["freeze"]
    print(f"\n## in-process capture without probes ({res['distributions']} distributions, numpy imported)")
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
                  "bytes": len(msgpack.packb(to_data(res), use_bin_type=True)), "count": len(res),
                  "repeating": sum(1 for p in probes.registry() if p.repeat and p.name in res)}))
"""


def bench_probes(env: dict[str, str]) -> dict[str, Any]:
    """Returns the core probe suite's warm and cold times, per probe, and its bytes in the file."""
    res = run_child(_CHILD_PROBES, env)
    print(f"\n## core probes ({res['count']} probes, {res['repeating']} of them run twice; numpy imported)")
    print(f"  warm (median of 15)  {res['warm_ms']:7.1f} ms  (budget ≤ 30 ms: {verdict(res['warm_ms'], 30)})")
    print(f"  cold (first run)     {res['cold_ms']:7.1f} ms   research prototype ≈ 13 ms warm / 27 ms cold")
    print(f"  probe data in file   {res['bytes'] / 1024:7.1f} KiB (budget ≤ 48 KiB: "
          f"{verdict(res['bytes'] / 1024, 48)})")  # fmt: skip
    per = sorted(res["per_probe_ms"].items(), key=lambda kv: -kv[1])
    print("    " + ", ".join(f"{name} {ms:.2f}" for name, ms in per))
    return res


def bench_cli(env: dict[str, str], work: Path) -> dict[str, Any]:
    """Returns the size of a fingerprint with ~150 packages and probes."""
    out = work / "cli.fp"
    subprocess.run([PY, "-m", "envprint", "capture", "-q", "-o", str(out)], env=env, check=True)
    size = out.stat().st_size
    print(f"\n## fingerprint file with probes: {size / 1024:.1f} KiB (budget ≤ 64 KiB: {verdict(size / 1024, 64)})")
    return {"file_bytes": size}


def bench_diff(env: dict[str, str], work: Path, repeat: int) -> dict[str, Any]:
    """Returns diff() in-process and `envprint diff` whole process, on two fingerprints that differ."""
    a, b = work / "a.fp", work / "b.fp"
    subprocess.run([PY, "-m", "envprint", "capture", "-q", "-o", str(a)], env=env, check=True)
    env_b = dict(env, OPENBLAS_NUM_THREADS="1", TZ="America/New_York")
    subprocess.run([PY, "-m", "envprint", "capture", "-q", "-o", str(b)], env=env_b, check=True)
    code = (
        "import json, statistics, time, envprint\n"
        f"a = envprint.load({str(a)!r}); b = envprint.load({str(b)!r})\n"
        "ts = []\n"
        "for _ in range(30):\n"
        "    t = time.perf_counter(); r = envprint.diff(a, b); ts.append(time.perf_counter() - t)\n"
        "print(json.dumps({'diff_ms': statistics.median(ts) * 1000, 'findings': len(r.findings)}))"
    )
    res = run_child(code, env)
    cmd = [PY, "-m", "envprint", "diff", str(a), str(b)]
    res["diff_cli_ms"] = median_ms(lambda: subprocess.run(cmd, env=env, capture_output=True, check=False), repeat)
    print(f"\n## diff ({res['findings']} findings between a default and an OPENBLAS_NUM_THREADS=1, TZ capture)")
    print(f"  diff() in-process    {res['diff_ms']:7.2f} ms  (budget ≤ 20 ms: {verdict(res['diff_ms'], 20)})")
    print(f"  envprint diff        {res['diff_cli_ms']:7.1f} ms  (budget ≤ 300 ms: "
          f"{verdict(res['diff_cli_ms'], 300)})")  # fmt: skip
    return res


_CHILD_GUARD = r"""
import json, statistics, sys, time
import numpy
import envprint
model, key = sys.argv[1], sys.argv[2]
envprint.guard(model, trusted_keys=[key], verify_artifact=False)
def med(fn, n):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000
print(json.dumps({
    "no_probes_ms": med(lambda: envprint.guard(model, trusted_keys=[key], probes=False, verify_artifact=False), 20),
    "with_probes_ms": med(lambda: envprint.guard(model, trusted_keys=[key], verify_artifact=False), 10),
}))
"""


def bench_guard(env: dict[str, str], work: Path) -> dict[str, Any]:
    """Returns guard() medians after a first call, without probes and with them (no hashing)."""
    model, pub = _model_with_key(work, env)
    res = run_child(_CHILD_GUARD, env, str(model), str(pub))
    print("\n## guard() after a first call (numpy imported; artifact hashing excluded), medians")
    print(f"  no probes           {res['no_probes_ms']:7.1f} ms  (budget ≤ 25 ms: {verdict(res['no_probes_ms'], 25)})")
    print(f"  with core probes    {res['with_probes_ms']:7.1f} ms  (budget ≤ 60 ms: "
          f"{verdict(res['with_probes_ms'], 60)})")  # fmt: skip
    return res


def _script(name: str) -> Any:
    sys.path.insert(0, str(SCRIPTS))
    sys.path.insert(0, str(REPO))
    return __import__(name)


def bench_artifact_section(work: Path) -> dict[str, Any]:
    """Returns scripts/bench_artifact.py's hashing and sign/verify numbers."""
    bench_artifact = _script("bench_artifact")
    print("\n## artifact hashing (1 GiB + 100 small files; 5000 x 4 KiB files) and sign/verify (bench_artifact.py)")
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
    """Returns scripts/bench_fleet.py's grouping of 2,000 fingerprints."""
    res: dict[str, Any] = _script("bench_fleet").bench_grouping(work / "fleet", 2000)
    print(f"\n## fleet grouping of {res['count']} fingerprints ({res['file_kib']:.0f} KiB each, bench_fleet.py)")
    print(f"  read + group + diff groups   {res['seconds']:7.2f} s  ({res['groups']} groups; "
          f"read {res['read_s']:.2f} s, group {res['group_s']:.2f} s)")  # fmt: skip
    return res


def bench_freshness(quick: bool) -> dict[str, Any]:
    """Returns scripts/bench_freshness.py's recorder and reading numbers (its sketch comparison stays there)."""
    fresh = _script("bench_freshness")
    n, repeats, rows = (50_000, 3, 20_000) if quick else (400_000, 5, 200_000)
    recorder = fresh.bench_recorder(n, repeats)
    reading = fresh.bench_reading(rows)
    print(f"\n## feature freshness (bench_freshness.py; budget {fresh.BUDGET_US} µs per observe() call)")
    for label, wall, cpu in recorder:
        print(f"  {label:<66} {wall:6.2f} µs wall {cpu:6.2f} µs CPU ({wall / fresh.BUDGET_US:.2f} × budget)")
    for label, per_s in reading:
        print(f"  {label:<66} {per_s / 1e6:6.2f} M rows/s")
    return {"recorder_us": {label: [wall, cpu] for label, wall, cpu in recorder}, "reading_rows_per_s": dict(reading)}


def bench_golden(work: Path, quick: bool) -> dict[str, Any]:
    """Returns scripts/bench_golden.py's synthetic, export and compare timings."""
    res: dict[str, Any] = _script("bench_golden").bench_golden(work / "golden", 2_000 if quick else 10_000)
    print(f"\n## golden bundles, {res['rows']} rows × {res['columns']} columns (bench_golden.py)")
    print(f"  synthetic() {res['synthetic_ms']} ms, export {res['export_ms']} ms, whole `envprint golden compare` "
          f"{res['cli_compare_ms']} ms (python -c pass {res['python_startup_ms']} ms)")  # fmt: skip
    for name, ms in res["compare_ms"].items():
        print(f"  compare, {name:<18} {ms:8.1f} ms  (budget 1000 ms: {verdict(ms, 1000)})")
    return res


SECTIONS = (
    "startup",
    "verify",
    "capture",
    "probes",
    "cli",
    "diff",
    "guard",
    "artifact",
    "fleet",
    "freshness",
    "golden",
)


def child_env(site: Path, pycache: Path) -> dict[str, str]:
    """Returns the environment of the measured processes: ~150 distributions, compiled bytecode, no ENVPRINT_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVPRINT_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=os.pathsep.join([str(site), str(REPO)]), PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPYCACHEPREFIX=str(pycache))  # fmt: skip
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--repeat", type=int, default=9, help="runs per whole-process timing (median)")
    parser.add_argument("--verify-mib", type=int, default=1024, help="size of the verify section's file")
    parser.add_argument("--quick", action="store_true", help="smaller freshness and golden sizes")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON here")
    args = parser.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        raise SystemExit(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    results: dict[str, Any] = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
        "started": time.strftime("%Y-%m-%d %H:%M"),
    }
    with tempfile.TemporaryDirectory(prefix="envprint-bench-") as tmp:
        work = Path(tmp)
        site = work / "site"
        site.mkdir()
        total = synthetic_site(site, TARGET_DISTRIBUTIONS)
        env = child_env(site, work / "pycache")
        print(f"# envprint benchmarks — {os.cpu_count()} CPUs, Python {results['python']}, {total} distributions, "
              f"load average {results['load_average_at_start']:.2f} at {results['started']}")  # fmt: skip
        runners: dict[str, Callable[[], dict[str, Any]]] = {
            "startup": lambda: bench_startup(env, work, args.repeat),
            "verify": lambda: bench_verify(env, work, args.verify_mib * MIB, 3),
            "capture": lambda: bench_capture(env, args.repeat),
            "probes": lambda: bench_probes(env),
            "cli": lambda: bench_cli(env, work),
            "diff": lambda: bench_diff(env, work, args.repeat),
            "guard": lambda: bench_guard(env, work),
            "artifact": lambda: bench_artifact_section(work),
            "fleet": lambda: bench_fleet(work),
            "freshness": lambda: bench_freshness(args.quick),
            "golden": lambda: bench_golden(work, args.quick),
        }
        for name in only:
            results[name] = runners[name]()
        shutil.rmtree(site, ignore_errors=True)
    results["load_average_at_end"] = os.getloadavg()[0]
    print(f"\nload average at the end: {results['load_average_at_end']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
