"""Benchmarks artifact hashing and sign/verify against limits measured in the same run, same machine.

    .venv/bin/python scripts/bench_artifact.py [--workers N] [--dir DIR] [--json]
        [--only hashing,shards,cache,hub,signing] [--size-mib N]

Budgets (DESIGN.md, docs/signing.md "Performance", issue 18):
* hashing ≥ 0.9 × (cores used × single-core hashlib sha256, 1 MiB reads);
* one large file verified (sharded) ≥ 0.9 × (cores × single-core hashlib);
* ≤ 30 µs per small file (5000 × 4 KiB);
* sign / verify fixed cost ≤ 50 ms including imports (fresh process).

`bench_artifact`, `bench_shards`, `bench_digest_cache`, `bench_hub_resolve` and `bench_sign_verify`
return plain dicts for scripts/bench.py; every ratio is taken against an anchor measured in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from envprint import artifact  # noqa: E402

GIB = 1024**3
MIB = 1024**2


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Returns the shortest of `repeat` timed calls of `fn`, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _write(path: Path, size: int, block: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        left = size
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def single_core_sha256(path: Path) -> None:
    """Hashes `path` with hashlib on this thread, 1 MiB at a time: the anchor of every hashing ratio."""
    h = hashlib.sha256()
    buf = bytearray(MIB)
    view = memoryview(buf)
    with path.open("rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])


def make_model(root: Path, *, big: int = GIB, small: int = 100, split: int = 1) -> int:
    """Returns the total bytes of a model written under `root`: `big` bytes in `split` files + small files."""
    rng = random.Random(0)
    block = os.urandom(16 * MIB)
    for i in range(split):
        _write(root / f"weights-{i:02d}.bin", big // split, block)
    for i in range(small):
        _write(root / "extra" / f"f{i:03d}.json", rng.randint(4_000, 130_000), block)
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def bench_artifact(workdir: Path, *, workers: int | None = None, repeat: int = 3) -> dict[str, Any]:
    """Returns hashing throughputs (GB/s), ratios to the single-core limit, and µs per small file."""
    n = workers or artifact.default_workers()
    one = workdir / "one-big"  # the case: 1 GiB file + 100 small files
    total = make_model(one)
    split = workdir / "split"  # the same bytes in 8 files, so every core can work
    total_split = make_model(split, split=8, small=0)
    single = GIB / best_of(lambda: single_core_sha256(one / "weights-00.bin"), repeat) / 1e9
    # the hashing engine, as before sharded digests existed (shard_size=0); their cost is measured below
    t1 = best_of(lambda: artifact.manifest(one, workers=1, shard_size=0), repeat)
    tn = best_of(lambda: artifact.manifest(one, workers=n, shard_size=0), repeat)
    ts = best_of(lambda: artifact.manifest(split, workers=n, shard_size=0), repeat)
    ts_sharded = best_of(lambda: artifact.manifest(split, workers=n), repeat)  # default: 64 MiB shards
    # the machine's parallel ceiling right now (noisy neighbours show here): plain hashlib loops in n threads
    parts = sorted(split.glob("*.bin"))
    with ThreadPoolExecutor(n) as pool:
        tp = best_of(lambda: list(pool.map(single_core_sha256, parts)), repeat)
    cores = min(n, os.cpu_count() or 1)
    # sha256 is sequential: one file is one core's work, so the 1 GiB file bounds the wall time
    critical = max(GIB, total / cores) / (single * 1e9)
    small_dir = workdir / "small"
    rng_block = os.urandom(4096)
    for i in range(5000):
        _write(small_dir / f"d{i % 50:02d}" / f"f{i:04d}", 4096, rng_block)
    s1 = best_of(lambda: artifact.manifest(small_dir, workers=1), repeat) / 5000 * 1e6
    sn = best_of(lambda: artifact.manifest(small_dir, workers=n), repeat) / 5000 * 1e6
    return {
        "workers": n,
        "cpus": os.cpu_count(),
        "single_core_hashlib_gbps": round(single, 3),
        "manifest_1_worker_gbps": round(total / t1 / 1e9, 3),
        "manifest_1_worker_ratio": round(total / t1 / 1e9 / single, 3),
        "manifest_n_workers_gbps": round(total / tn / 1e9, 3),
        "manifest_n_workers_ratio_vs_cores": round(total / tn / 1e9 / (cores * single), 3),
        "manifest_n_workers_ratio_vs_critical_path": round(critical / tn, 3),
        "split_8_files_n_workers_gbps": round(total_split / ts / 1e9, 3),
        "split_8_files_ratio_vs_cores": round(total_split / ts / 1e9 / (cores * single), 3),
        "split_8_files_raw_hashlib_threads_gbps": round(total_split / tp / 1e9, 3),
        "split_8_files_ratio_vs_raw_threads": round(tp / ts, 3),
        "split_8_files_capture_with_default_shards_ratio": round(ts_sharded / ts, 3),
        "small_files_us_per_file_1_worker": round(s1, 1),
        "small_files_us_per_file_n_workers": round(sn, 1),
    }


_FRESH = r"""
import sys, time
t0 = time.perf_counter()
import envprint
t1 = time.perf_counter()
import envprint.codec
t2 = time.perf_counter()
import cryptography.hazmat.primitives.asymmetric.ed25519
t3 = time.perf_counter()
from envprint import codec, signing
t4 = time.perf_counter()
from envprint.envelope import read_envelope
if sys.argv[1] == "sign":
    signing.add_signature(read_envelope(sys.argv[2]), signing.load_private_key(sys.argv[3]))
    t5 = t6 = time.perf_counter()
else:  # what codec.read(path, trusted_keys=...) does, timed in two steps
    envelope = read_envelope(sys.argv[2])
    signing.verify_envelope(envelope, [sys.argv[3]])
    t5 = time.perf_counter()
    codec.decode_fingerprint(envelope)
    t6 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t6 - t0)
"""

_STAGES = (
    "import_envprint",
    "import_codec",
    "import_cryptography_ed25519",
    "import_signing",
    "operation",  # read the file, load the key(s), sign or verify
    "decode",  # verify only: decode the verified payload into a Fingerprint
    "total",
)


def bench_sign_verify(workdir: Path, *, repeat: int = 9) -> dict[str, Any]:
    """Returns the fixed cost (ms, medians) of sign and of verify in a fresh process, by stage, imports included.

    Runs with bytecode caching on (a first run writes __pycache__), as an installed package has it.
    """
    from envprint import signing

    keys = workdir / "keys"
    keys.mkdir(exist_ok=True)
    private, public = signing.generate_keypair(keys / "bench")
    try:
        from envprint.capturing import capture

        fp = capture(probes=False)
    except Exception as e:  # the capture module may be unfinished while other issues land
        raise SystemExit(f"envprint.capture() failed ({e}); bench_sign_verify needs a real fingerprint") from None
    unsigned = fp.save(workdir / "unsigned.fp")
    signed = fp.save(workdir / "signed.fp", key=private)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(REPO)

    def run(*args: str) -> list[float]:
        out = subprocess.run([sys.executable, "-c", _FRESH, *args], env=env, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(out.stderr)
        return [float(x) for x in out.stdout.split()]

    def median_ms(rows: list[list[float]]) -> dict[str, float]:
        return {name: round(sorted(r[i] for r in rows)[len(rows) // 2] * 1e3, 1) for i, name in enumerate(_STAGES)}

    run("verify", str(signed), str(public))  # writes bytecode caches
    sign = median_ms([run("sign", str(unsigned), str(private)) for _ in range(repeat)])
    verify = median_ms([run("verify", str(signed), str(public)) for _ in range(repeat)])
    bare = best_of(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), repeat)
    return {
        "fingerprint_bytes": signed.stat().st_size,
        "python_startup_ms": round(bare * 1e3, 1),
        **{f"sign_{k}_ms": v for k, v in sign.items()},
        **{f"verify_{k}_ms": v for k, v in verify.items()},
    }


def _range_sha256(path: Path, offset: int, length: int) -> None:
    h = hashlib.sha256()
    buf = bytearray(MIB)
    view = memoryview(buf)
    fd = os.open(path, os.O_RDONLY)
    try:
        done = 0
        while done < length:
            n = os.preadv(fd, [view[: min(MIB, length - done)]], offset + done)
            if not n:
                break
            h.update(view[:n])
            done += n
    finally:
        os.close(fd)


def _raw_parallel(path: Path, size: int, n: int, repeat: int) -> float:
    """Returns the best time of plain hashlib loops in `n` threads over `n` equal parts: this run's parallel ceiling."""
    part = -(-size // n)
    spans = [(i * part, min(part, size - i * part)) for i in range(n)]
    with ThreadPoolExecutor(n) as pool:
        return best_of(lambda: list(pool.map(lambda s: _range_sha256(path, *s), spans)), repeat)


def bench_shards(
    workdir: Path, *, workers: int | None = None, repeat: int = 5, size: int = GIB, shard_sizes: tuple[int, ...] = ()
) -> dict[str, Any]:
    """Returns the cost and the gain of sharded digests on one large file, as ratios to hashlib in the same run.

    * verify, unsharded: one core hashes the whole file (the 0.1 behaviour);
    * verify, sharded at each size: every core hashes shards; the ratio is to cores × single-core hashlib;
    * capture (manifest), unsharded and sharded: sharding hashes every byte twice (whole file + shards);
    * manifest bytes per GiB: what the shard list adds to the fingerprint.

    The measurements are interleaved, round after round, and each keeps its best round: on a machine
    shared with other jobs, an anchor and what it anchors then see the same conditions.
    """
    import msgpack

    from envprint._serde import to_data  # the manifest as it is written, to size it

    n = workers or artifact.default_workers()
    cores = min(n, os.cpu_count() or 1)
    big = workdir / "big" / "model.safetensors"
    _write(big, size, os.urandom(16 * MIB))
    load_before = os.getloadavg()[0]
    sizes = shard_sizes or (16 * MIB, 64 * MIB, 256 * MIB)
    manifests = {0: artifact.manifest(big, shard_size=0), **{s: artifact.manifest(big, shard_size=s) for s in sizes}}
    timed: dict[str, Callable[[], object]] = {
        "single": lambda: single_core_sha256(big),
        "raw_threads": lambda: _raw_parallel(big, size, cores, 1),
        **{f"verify_{s}": (lambda s=s: artifact.verify(manifests[s], big, workers=n)) for s in manifests},
        **{f"capture_{s}": (lambda s=s: artifact.manifest(big, shard_size=s, workers=n)) for s in manifests},
    }
    best = {name: float("inf") for name in timed}
    for _ in range(repeat):
        for name, fn in timed.items():
            best[name] = min(best[name], best_of(fn, 1))
    single, ceiling = size / best["single"] / 1e9, size / best["raw_threads"] / 1e9
    out: dict[str, Any] = {
        "workers": n,
        "cores": cores,
        "file_mib": size // MIB,
        "rounds": repeat,
        "load_average_at_start": round(load_before, 2),
        "single_core_hashlib_gbps": round(single, 3),
        "raw_hashlib_in_cores_threads_gbps": round(ceiling, 3),
        "raw_threads_ratio_vs_cores": round(ceiling / (cores * single), 3),
        "verify_unsharded_gbps": round(size / best["verify_0"] / 1e9, 3),
        "verify_unsharded_ratio_vs_single_core": round(best["single"] / best["verify_0"], 3),
        "capture_unsharded_s": round(best["capture_0"], 3),
    }
    for shard in sizes:
        label = f"{shard // MIB}mib"
        t_verify, t_capture = best[f"verify_{shard}"], best[f"capture_{shard}"]
        out |= {
            f"verify_sharded_{label}_gbps": round(size / t_verify / 1e9, 3),
            f"verify_sharded_{label}_ratio_vs_cores": round(size / t_verify / 1e9 / (cores * single), 3),
            f"verify_sharded_{label}_ratio_vs_raw_threads": round(size / t_verify / 1e9 / ceiling, 3),
            f"verify_sharded_{label}_speedup_vs_unsharded": round(best["verify_0"] / t_verify, 3),
            f"capture_sharded_{label}_s": round(t_capture, 3),
            f"capture_sharded_{label}_ratio_vs_unsharded": round(t_capture / best["capture_0"], 3),
            f"manifest_{label}_bytes_per_gib": round(len(msgpack.packb(to_data(manifests[shard]))) * GIB / size),
        }
    big.unlink()
    out["load_average_at_end"] = round(os.getloadavg()[0], 2)
    return out


def bench_digest_cache(workdir: Path, *, repeat: int = 5, size: int = 256 * MIB) -> dict[str, Any]:
    """Returns a second verification's time with the verified-digest cache against one without it."""
    model = workdir / "cached-model"
    _write(model / "model.safetensors", size, os.urandom(16 * MIB))
    _write(model / "config.json", 2_000, b"{}" * 1000)
    m = artifact.manifest(model)
    cache_dir = workdir / "digest-cache"
    artifact.verify(m, model, cache=artifact.DigestCache(cache_dir, racy_seconds=0))  # the first start fills it
    t_plain = best_of(lambda: artifact.verify(m, model), repeat)
    t_cached = best_of(lambda: artifact.verify(m, model, cache=artifact.DigestCache(cache_dir, racy_seconds=0)), repeat)
    return {
        "model_mib": size // MIB,
        "verify_without_cache_ms": round(t_plain * 1e3, 2),
        "verify_with_cache_ms": round(t_cached * 1e3, 2),
        "ratio_cached_vs_uncached": round(t_cached / t_plain, 4),
    }


_RESOLVE = r"""
import sys, time
t0 = time.perf_counter()
import envprint.artifact as a
t1 = time.perf_counter()
r = a.resolve(sys.argv[1])
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def bench_hub_resolve(workdir: Path, *, repeat: int = 5) -> dict[str, Any]:
    """Returns the cost (ms, medians, fresh processes) of resolving hf://ORG/NAME offline, imports included."""
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        return {"skipped": "huggingface_hub is not installed"}
    sys.path.insert(0, str(REPO / "tests"))
    from huggingface.hubcache import add_snapshot  # the test suite's real cache layout

    cache = workdir / "hf" / "hub"
    add_snapshot(cache, "org/m", "ab" * 20, {"config.json": b"{}", "model.safetensors": os.urandom(4096)})
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HOME", "PYTHONDONTWRITEBYTECODE")}
    env |= {"HF_HUB_CACHE": str(cache), "PYTHONPATH": str(REPO)}

    def run(*args: str) -> list[float]:
        out = subprocess.run([sys.executable, "-c", *args], env=env, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(out.stderr)
        return [float(x) for x in out.stdout.split()]

    run(_RESOLVE, "hf://org/m")  # bytecode caches
    rows = [run(_RESOLVE, "hf://org/m") for _ in range(repeat)]
    plain = [run(_RESOLVE, str(cache / "models--org--m" / "snapshots" / ("ab" * 20))) for _ in range(repeat)]
    bare = best_of(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), repeat)

    def median(values: list[float]) -> float:
        return round(sorted(values)[len(values) // 2] * 1e3, 1)

    return {
        "python_startup_ms": round(bare * 1e3, 1),
        "import_envprint_artifact_ms": median([r[0] for r in rows]),
        "resolve_hf_reference_ms": median([r[1] for r in rows]),
        "resolve_snapshot_path_ms": median([r[1] for r in plain]),
    }


BENCHES = ("hashing", "shards", "cache", "hub", "signing")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--dir", type=Path, default=None, help="scratch directory (needs ~2.2 GB)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", default=",".join(BENCHES), help=f"comma-separated subset of {', '.join(BENCHES)}")
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the large file of the shards bench")
    args = parser.parse_args()
    chosen = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = sorted(set(chosen) - set(BENCHES))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    workdir = Path(tempfile.mkdtemp(prefix="envprint-bench-", dir=args.dir))
    runs: dict[str, Callable[[], dict[str, Any]]] = {
        "hashing": lambda: bench_artifact(workdir, workers=args.workers),
        "shards": lambda: bench_shards(workdir, workers=args.workers, size=args.size_mib * MIB),
        "cache": lambda: bench_digest_cache(workdir),
        "hub": lambda: bench_hub_resolve(workdir),
        "signing": lambda: bench_sign_verify(workdir),
    }
    try:
        results = {name: runs[name]() for name in chosen}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for section, values in results.items():
        print(f"[{section}]")
        for k, v in values.items():
            print(f"  {k:45s} {v}")


if __name__ == "__main__":
    main()
