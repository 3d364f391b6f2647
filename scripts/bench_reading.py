"""Benchmarks reading fingerprints: the bounded decoder's cost on real files, and hostile 64 MiB files.

    .venv/bin/python scripts/bench_reading.py [--size-mib 64] [--anchor] [--json]

Issue 12's budget: peak memory reading any file <= 8 x its size + 50 MB, time <= 1 s per MB. Each
hostile read runs in a fresh process: its peak resident set (VmHWM in /proc/self/status; not
`ru_maxrss`, which starts at the peak of the process that spawned it) minus what it held just before
reading (VmRSS) is the growth compared with the bound. Anchors, measured on
the same machine in the same run:

* a real fingerprint: `msgpack.unpackb` alone (what the payload cost before the pre-scan) and the
  whole `codec.read`;
* with ``--anchor``, 64 MiB of lists of empty lists (within msgpack's per-container limits) decoded
  by plain `msgpack.unpackb` with the limits envprint used before (no pre-scan), in a process capped
  at 8 GiB of address space.
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import msgpack  # noqa: E402

import envprint  # noqa: E402
from envprint import codec, signing  # noqa: E402
from envprint._unpack import decode_cost  # noqa: E402
from envprint.codec import PAYLOAD_BUDGET  # noqa: E402
from envprint.envelope import Envelope, payload_type_for, read_envelope  # noqa: E402

WIDE_TEXT = b"\xa8" + "\U0001f600a".encode() + b"bbb"  # the costliest token per byte measured

_READ = """
import json, resource, sys, time
reader, path, pub = sys.argv[1:4]
if reader == "msgpack (no pre-scan)":
    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
import msgpack
import envprint
from envprint import cli, codec
from envprint.envelope import read_envelope
argv = {"check": ["check", path, "--key", pub, "--no-probes"], "verify": ["verify", path, "--key", pub],
        "show": ["show", path], "fleet": ["fleet", "group", path]}.get(reader)
if argv:
    cli.load_commands(argv)
def status(field):  # kB in /proc/self/status; VmHWM is this process image's peak, unlike ru_maxrss
    # (which keeps the peak of the parent that spawned it)
    line = next(l for l in open("/proc/self/status") if l.startswith(field + ":"))
    return int(line.split()[1]) * 1024
before = status("VmRSS")
start = time.perf_counter()
outcome = "read"
try:
    if reader == "read":
        codec.read(path, trusted_keys=[pub])
    elif reader == "guard":
        envprint.guard(path, trusted_keys=[pub], probes=False)
    elif reader == "msgpack (no pre-scan)":
        msgpack.unpackb(read_envelope(path).payload, raw=False, strict_map_key=True, max_map_len=200_000,
                        max_array_len=1_000_000, max_str_len=1 << 20, max_bin_len=1 << 20, max_ext_len=0)
    else:
        cli.main(argv)
except SystemExit as e:
    outcome = f"exit {e.code}"
except BaseException as e:
    outcome = type(e).__name__
seconds = time.perf_counter() - start
after = status("VmHWM")
print(json.dumps({"outcome": outcome, "grown": after - before, "seconds": seconds}))
"""


def msgpack_array(items: bytes, n: int) -> bytes:
    """Returns a msgpack array32 of `n` already-encoded `items`."""
    return b"\xdd" + struct.pack(">I", n) + items


def _token_cost(token: bytes) -> int:
    return decode_cost(b"\x91" + token, limit=2**62, max_depth=64) - decode_cost(b"\x90", limit=2**62, max_depth=64)


def hostile_elements(token: bytes, size: int, share: float = 0.97) -> tuple[bytes, int]:
    """Returns the elements of a list (its header excluded) of about `size` bytes whose estimated decoding
    cost is `share` of PAYLOAD_BUDGET: copies of `token`, topped up with 1 MiB strings (cheap per byte).

    tests/e2e/test_hostile.py builds its hostile files with this too.
    """
    filler = b"\xdb" + struct.pack(">I", 1 << 20) + b"x" * (1 << 20)
    a, b, d, e = len(token), len(filler), _token_cost(token), _token_cost(filler)
    f = share * PAYLOAD_BUDGET.limit(size)
    n_tok = max(0, int((size * e - b * f) / (a * e - b * d)))
    n_fill = max(0, int((a * f - size * d) / (a * e - b * d)))
    chunks, left = [], n_tok
    while left:
        k = min(1_000_000, left)
        chunks.append(msgpack_array(token * k, k))
        left -= k
    chunks += [filler] * n_fill
    rest = size - sum(map(len, chunks)) - 5
    if rest >= 0:  # top up to `size` exactly with one more string
        chunks.append(b"\xdb" + struct.pack(">I", rest) + b"y" * rest)
    return b"".join(chunks), len(chunks)


def filled(token: bytes, size: int, share: float = 0.97) -> bytes:
    """Returns a list of about `size` bytes (header included) whose estimated cost is `share` of the budget."""
    return msgpack_array(*hostile_elements(token, size - 5, share))


def hostile_files(directory: Path, size: int) -> tuple[dict[str, Path], Path]:
    """Returns hostile .fp files of `size` bytes, signed by the trusted key (an insider's), and that key."""
    private, public = signing.generate_keypair(directory / "insider")
    room = size - 512
    base = envprint.capture(probes=False).to_data()
    base["policy"] = {"junk": "X"}
    head = msgpack.packb(base, use_bin_type=True)
    empties = [msgpack_array(b"\x90" * 1_000_000, 1_000_000)] * (room // 1_000_005)
    payloads = {
        # the reproduction: an array header claiming 67M elements, then empty arrays
        "claims 67M elements": b"\x81\xa4meta\xdd" + struct.pack(">I", 67_000_000) + b"\x90" * (room - 10),
        # within msgpack's per-container limits (1M): lists of 1M empty lists, 64 bytes each once decoded
        "1M-lists of empty lists": b"\x81\xa4meta" + msgpack_array(b"".join(empties), len(empties)),
        "wide text at 97% of the budget": b"\x81\xa4meta" + filled(WIDE_TEXT, room - 6),
        "valid, 97% of the budget in its policy": head.replace(
            msgpack.packb({"junk": "X"}), b"\x81\xa4junk" + filled(WIDE_TEXT, room - len(head) - 6)
        ),
    }
    files = {}
    for name, payload in payloads.items():
        path = directory / (name.split()[0] + ".fp")
        path.write_bytes(signing.add_signature(Envelope(payload_type_for(1), payload), private).encode())
        files[name] = path
    return files, public


def read_in_process(reader: str, path: Path, pub: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _READ, reader, str(path), str(pub)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=REPO,
    )
    if proc.returncode != 0:
        return {"outcome": f"process exit {proc.returncode}", "grown": None, "seconds": None}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def real_file_costs(repeats: int = 30) -> dict[str, float]:
    """Returns per-read times (ms, median) of a real fingerprint: the pre-scan, msgpack alone, the whole read."""
    with tempfile.TemporaryDirectory() as tmp:
        path = envprint.capture().save(Path(tmp) / "real.fp")
        payload = read_envelope(path).payload

        def median_ms(fn: Any) -> float:
            samples = []
            for _ in range(repeats):
                t = time.perf_counter()
                fn()
                samples.append((time.perf_counter() - t) * 1000)
            return statistics.median(samples)

        return {
            "payload_kib": len(payload) / 1024,
            "prescan_ms": median_ms(lambda: decode_cost(payload, limit=2**62, max_depth=48)),
            "msgpack_ms": median_ms(lambda: msgpack.unpackb(payload, raw=False)),
            "read_ms": median_ms(lambda: codec.read(path)),
            "estimate_x": decode_cost(payload, limit=2**62, max_depth=48) / len(payload),
        }


def fleet_costs(count: int = 500) -> dict[str, float]:
    """Returns the time (s) `fleet.read_files` takes over `count` files, with the pre-scan and without it."""
    from envprint import _unpack, fleet

    with tempfile.TemporaryDirectory() as tmp:
        fp = envprint.capture(probes=False)
        # distinct payloads, one environment
        paths = [fp.replace(custom={"replica": i}).save(Path(tmp) / f"r{i}.fp") for i in range(count)]
        real = _unpack.decode_cost

        def timed() -> float:
            best = float("inf")
            for _ in range(3):
                t = time.perf_counter()
                fleet.read_files(paths)
                best = min(best, time.perf_counter() - t)
            return best

        with_scan = timed()
        _unpack.decode_cost = lambda buf, **_: 0  # the anchor: no pre-scan
        try:
            without = timed()
        finally:
            _unpack.decode_cost = real
        return {"files": count, "kib": paths[0].stat().st_size / 1024, "with_s": with_scan, "without_s": without}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=float, default=64.0)
    parser.add_argument("--anchor", action="store_true", help="also decode lists of empty lists without the pre-scan")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    size = int(args.size_mib * 2**20)
    out: dict[str, Any] = {"real": real_file_costs()}
    real = out["real"]
    print(
        f"real fingerprint ({real['payload_kib']:.0f} KiB payload): pre-scan {real['prescan_ms']:.2f} ms, "
        f"msgpack.unpackb {real['msgpack_ms']:.2f} ms ({real['prescan_ms'] / real['msgpack_ms']:.1f}x), "
        f"whole codec.read {real['read_ms']:.2f} ms (pre-scan {real['prescan_ms'] / real['read_ms']:.0%} of it); "
        f"estimate {real['estimate_x']:.1f}x the payload"
    )
    out["fleet"] = f = fleet_costs()
    print(
        f"fleet.read_files of {f['files']} files ({f['kib']:.0f} KiB each): {f['with_s']:.2f} s with the pre-scan, "
        f"{f['without_s']:.2f} s without ({f['with_s'] / f['without_s']:.2f}x)"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files, pub = hostile_files(Path(tmp), size)
        plan = [(name, reader) for name in files for reader in ("guard", "check", "verify", "show", "fleet")]
        plan.insert(0, ("valid, 97% of the budget in its policy", "read"))
        if args.anchor:
            plan.append(("1M-lists of empty lists", "msgpack (no pre-scan)"))
        for name, reader in plan:
            if name.startswith("valid") and reader != "read":
                continue
            path = files[name]
            bound = 8 * path.stat().st_size + 50 * 2**20
            r = read_in_process(reader, path, pub)
            mib = path.stat().st_size / 2**20
            row = {"file": name, "reader": reader, "mib": round(mib, 1), **r, "bound": bound}
            rows.append(row)
            shown = "n/a" if r["grown"] is None else f"{r['grown'] / 2**20:7.0f} MiB"
            share = "" if r["grown"] is None else f" ({r['grown'] / bound:.2f} of bound)"
            secs = f"{r['seconds']:.1f} s ({r['seconds'] / mib:.3f} s/MiB)" if r["seconds"] is not None else "n/a"
            print(f"{name:40} {reader:22} grew {shown}{share}  {secs}  -> {r['outcome']}")
    out["hostile"] = rows
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
