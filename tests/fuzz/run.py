"""Runs the fuzz target at length and prints what happened: ``python -m tests.fuzz.run --inputs 100000``.

Engines:

* ``mutate`` (default, no extra dependency): deterministic inputs from `Mutator` (input N is the same
  on every machine), each run with a time limit; an untyped exception, a forgery or a hang is written
  to ``--out`` with its input number, so ``--replay N`` reproduces it.
* ``atheris`` (``pip install 'envprint[fuzz]'``): coverage-guided, starting from the seed files and
  the mutator's first inputs; ``--inputs`` is libFuzzer's ``-runs``.

Exit status 0 when no input raised anything but an EnvprintError, 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

# tests.fuzz.targets imports envprint: it is imported inside each engine, after atheris can instrument it


def _targets() -> Any:
    from tests.fuzz import targets

    return targets


class Hang(Exception):
    """An input ran past the time limit."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang


def run_mutate(inputs: int, start: int, out: Path, limit_s: int) -> int:
    t = _targets()
    seeds = t.seeds_in_temp()
    target, mutator = t.Target(seeds), t.Mutator(seeds)
    stages: collections.Counter[str] = collections.Counter()
    failures: list[dict[str, object]] = []
    slowest = (0.0, -1)
    signal.signal(signal.SIGALRM, _alarm)
    began = time.perf_counter()
    for n in range(start, start + inputs):
        data = mutator.input(n)
        began_input = time.perf_counter()
        signal.alarm(limit_s)
        try:
            stages[target.run(data)] += 1
        except Exception as e:  # the findings: anything but an EnvprintError (Hang and Forgery included)
            kind = type(e).__name__
            stages[f"FAILED: {kind}"] += 1
            path = out / f"input-{n}.fp"
            path.write_bytes(data)
            failures.append({"input": n, "error": kind, "message": str(e)[:300], "file": str(path),
                             "traceback": traceback.format_exc(limit=-6)})  # fmt: skip
        finally:
            signal.alarm(0)
        slowest = max(slowest, (time.perf_counter() - began_input, n))
        if (n - start + 1) % 5000 == 0:
            print(f"  {n - start + 1} inputs, {time.perf_counter() - began:.0f} s, {dict(stages)}", flush=True)
    seconds = time.perf_counter() - began
    summary = {
        "engine": "mutate",
        "inputs": inputs,
        "first_input": start,
        "seconds": round(seconds, 1),
        "stages": {s: stages[s] for s in t.STAGES},
        "untyped_exceptions": sum(v for k, v in stages.items() if k.startswith("FAILED")),
        "verified_by_the_trusted_key": target.verified,  # each one carries a payload that key signed
        "slowest_input": {"input": slowest[1], "seconds": round(slowest[0], 3)},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "failures": failures[:20],
    }
    print(json.dumps(summary, indent=2))
    return 1 if failures else 0


def run_atheris(inputs: int, out: Path) -> int:
    import atheris  # optional: envprint[fuzz]

    if "envprint" in sys.modules:
        raise SystemExit("envprint was imported before atheris could instrument it: run `python -m tests.fuzz.run`")
    with atheris.instrument_imports(include=["envprint"]):  # coverage of envprint guides the mutations
        t = _targets()
    seeds = t.seeds_in_temp()
    target, mutator = t.Target(seeds), t.Mutator(seeds)
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(seeds.files):
        (corpus / f"seed-{i}.fp").write_bytes(f)
    for n in range(200):  # structured starting points the byte-level engine rarely reaches on its own
        (corpus / f"mutated-{n}.fp").write_bytes(mutator.input(n))

    stages: collections.Counter[str] = collections.Counter()

    def one(data: bytes) -> None:
        stages[target.run(data)] += 1  # anything but an EnvprintError stops libFuzzer with the input saved
        if stages.total() % 10_000 == 0:  # libFuzzer ends the process without running atexit handlers
            counts = {"inputs": stages.total(), "stages": dict(stages), "verified": target.verified}
            print(json.dumps(counts), flush=True)

    atheris.Setup(
        [
            sys.argv[0],
            f"-runs={inputs}",
            "-timeout=10",
            f"-artifact_prefix={out}/",
            "-print_final_stats=1",
            str(corpus),
        ],
        one,
    )
    atheris.Fuzz()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=100_000, help="how many inputs to run")
    parser.add_argument("--start", type=int, default=0, help="number of the first input (mutate engine)")
    parser.add_argument("--engine", choices=("mutate", "atheris"), default="mutate")
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings"), help="where failing inputs go")
    parser.add_argument("--limit", type=int, default=10, help="seconds one input may take (a hang otherwise)")
    parser.add_argument("--replay", type=int, help="run input N alone and show its traceback")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.replay is not None:
        t = _targets()
        seeds = t.seeds_in_temp()
        print(t.Target(seeds).run(t.Mutator(seeds).input(args.replay)))
        return 0
    if args.engine == "atheris":
        return run_atheris(args.inputs, args.out)
    return run_mutate(args.inputs, args.start, args.out, args.limit)


if __name__ == "__main__":
    sys.exit(main())
