"""Benchmarks golden bundles: synthetic profiles, export, compare of 10k rows × 20 columns, Python vs Spark vs Java.

    .venv/bin/python scripts/bench_golden.py [--rows N] [--repeat R] [--spark] [--java] [--json]

* ``synthetic``: `synthetic(N)` with 20 input columns (12 numeric, 4 categorical, 2 timestamps, 2 text).
* ``export``: `export_bundle` of one transform producing 20 output columns (14 float, 3 int, 2 str,
  1 datetime) from those rows: encode, decode, three runs, the checks, the write.
* ``compare``: `compare_bundle` of N rows × 20 columns (the budget, issue 15: ≤ 1 s) against outputs
  that are byte-identical; written as another language would (every float moved by 1e-9 relative, so
  every value takes the tolerance path, datetimes written with ``Z``); with 20 % of the rows wrong;
  and with 5 % of the rows dropped (the alignment path). Median of `--repeat` runs, in-process; the
  whole ``envprint golden compare`` process too.
* ``--spark``: the docs example (examples/golden_transforms.py, 3 probes × 10,000 rows) through the
  Python path (decode, run, encode, in this process) and the Spark path (`golden_outputs` on
  ``local-cluster[2,1,1024]``: session start, first and second run).
* ``--java``: the Java reference port on the same bundle (javac once, then one JVM run).

`bench_golden(workdir, ...)` returns a plain dict for scripts/bench.py.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
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
sys.path.insert(0, str(REPO))

import envprint  # noqa: E402
from envprint import parity  # noqa: E402
from envprint.golden import compare_bundle, encode_rows, export_bundle, read_rows, synthetic  # noqa: E402
from envprint.golden.shapes import apply  # noqa: E402

EXAMPLE = REPO / "examples" / "golden_transforms.py"
NUMERIC = {f"x{i}": 10.0**i for i in range(-6, 6)}  # 12 numeric columns across magnitudes
CATEGORIES = {f"c{i}": [f"v{j}" for j in range(5 + i)] for i in range(4)}
TIMESTAMPS = ["t0", "t1"]
TEXT = ["s0", "s1"]


def wide(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Returns 20 output columns: 14 float, 3 int, 2 str, 1 datetime (the benchmark's transform)."""
    out: dict[str, list[Any]] = {}
    for i, name in enumerate(NUMERIC):
        out[f"f{i}"] = [_num(r.get(name)) * 1.5 for r in rows]
    out["f12"] = [_num(r.get("x0")) + _num(r.get("x1")) for r in rows]
    out["f13"] = [math.sqrt(abs(_num(r.get("x2")))) for r in rows]
    for i, name in enumerate(list(CATEGORIES)[:3]):
        vocab = {v: k for k, v in enumerate(CATEGORIES[name], 1)}
        out[f"i{i}"] = [vocab.get(r.get(name), 0) if isinstance(r.get(name), str) else 0 for r in rows]
    out["s0"] = [str(r.get("c3")).strip().lower() for r in rows]
    out["s1"] = [(r.get("s0") or "")[:8] for r in rows]
    utc = datetime.timezone.utc
    out["d0"] = [None if r.get("t0") is None else r["t0"].astimezone(utc) if r["t0"].tzinfo else r["t0"] for r in rows]
    return out


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _median(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _write_outputs(bundle: Path, out: Path, change: Callable[[int, dict[str, Any]], dict[str, Any] | None]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = read_rows(bundle / "wide.expected.jsonl")
    changed = [r for r in (change(i, row) for i, row in enumerate(rows)) if r is not None]
    text = encode_rows(changed).decode()
    (out / "wide.outputs.jsonl").write_text(text.replace("+00:00", "Z"))


def _nudged(_: int, row: dict[str, Any]) -> dict[str, Any]:
    return {k: v * (1 + 1e-9) if type(v) is float and math.isfinite(v) else v for k, v in row.items()}


def _wrong(i: int, row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v + 1.0 if type(v) is float else v) for k, v in row.items()} if i % 5 == 0 else row


def _dropped(i: int, row: dict[str, Any]) -> dict[str, Any] | None:
    return None if i % 20 == 7 else row


def bench_golden(workdir: Path | str, rows: int = 10_000, *, repeat: int = 5) -> dict[str, Any]:
    """Returns timings of synthetic(), export and compare (ms) for `rows` rows × 20 columns, under `workdir`."""
    workdir = Path(workdir)
    start = time.perf_counter()
    profiles = synthetic(rows, columns=NUMERIC, categories=CATEGORIES, timestamps=TIMESTAMPS, text=TEXT)
    synthetic_s = time.perf_counter() - start
    if parity.get("wide") is not None:
        parity.unregister("wide")
    envprint.probe("wide", inputs=profiles)(wide)
    bundle = workdir / "golden"
    start = time.perf_counter()
    export_bundle(bundle, names=["wide"], entry_points=False)
    export_s = time.perf_counter() - start

    outputs = {"identical": workdir / "same", "ported": workdir / "ported", "20% wrong": workdir / "wrong"}
    outputs["5% dropped"] = workdir / "dropped"
    (workdir / "same").mkdir(parents=True, exist_ok=True)
    shutil.copy(bundle / "wide.expected.jsonl", workdir / "same" / "wide.outputs.jsonl")
    _write_outputs(bundle, outputs["ported"], _nudged)
    _write_outputs(bundle, outputs["20% wrong"], _wrong)
    _write_outputs(bundle, outputs["5% dropped"], _dropped)
    compare_ms = {}
    for name, out in outputs.items():
        report = compare_bundle(bundle, out)
        assert report.passed is (name in ("identical", "ported")), (name, report.verdict)
        compare_ms[name] = round(_median(lambda out=out: compare_bundle(bundle, out), repeat) * 1000, 1)
    command = [sys.executable, "-m", "envprint", "golden", "compare", str(bundle), str(outputs["ported"])]
    cli_s = _median(lambda: subprocess.run(command, capture_output=True, check=True), max(3, repeat // 2))
    python_s = _median(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), 3)
    return {
        "rows": rows,
        "columns": 20,
        "synthetic_ms": round(synthetic_s * 1000, 1),
        "export_ms": round(export_s * 1000, 1),
        "compare_ms": compare_ms,
        "cli_compare_ms": round(cli_s * 1000, 1),
        "python_startup_ms": round(python_s * 1000, 1),
        "bundle_mib": round(sum(p.stat().st_size for p in bundle.iterdir()) / 2**20, 2),
    }


def bench_paths(workdir: Path | str, *, spark: bool, java: bool) -> dict[str, Any]:
    """Returns wall times (s) of the docs example's bundle through the Python, Spark and Java paths."""
    workdir = Path(workdir)
    bundle = workdir / "example"
    names = ("fill_age", "encode_color", "signup_day")
    for name in names:
        if parity.get(name) is not None:
            parity.unregister(name)
    start = time.perf_counter()
    manifest = export_bundle(bundle, names=names, modules=[str(EXAMPLE)], entry_points=False)
    out: dict[str, Any] = {"rows": sum(e.rows for e in manifest.probes.values()), "export_s": _since(start)}

    def python_path() -> None:  # what the Spark path does, in this one process
        for name, entry in manifest.probes.items():
            transform = parity.get(name)
            assert transform is not None
            rows = read_rows(bundle / entry.inputs)
            columns, form, dtype = entry.input_columns, entry.input_form, entry.input_dtype
            out_rows, _ = apply(transform.fn, rows, columns, form, dtype, probe=name)
            encode_rows(out_rows)

    out["python_s"] = round(_median(python_path, 3), 3)
    if spark:
        out.update(_spark_path(bundle, workdir / "spark-out"))
    if java and shutil.which("javac") and shutil.which("java"):
        classes = workdir / "java"
        sources = sorted(str(p) for p in (REPO / "examples" / "java" / "src" / "envprint" / "golden").glob("*.java"))
        start = time.perf_counter()
        subprocess.run(["javac", "-d", str(classes), *sources], check=True)
        out["javac_s"] = _since(start)
        (workdir / "java-out").mkdir()
        command = ["java", "-cp", str(classes), "envprint.golden.GoldenPort", str(bundle), str(workdir / "java-out")]
        out["java_s"] = round(_median(lambda: subprocess.run(command, capture_output=True, check=True), 3), 3)
        assert compare_bundle(bundle, workdir / "java-out").passed
    return out


def _spark_path(bundle: Path, out: Path) -> dict[str, Any]:
    from pyspark.sql import SparkSession  # only --spark needs pyspark

    from envprint.integrations.spark import golden_outputs

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    start = time.perf_counter()
    spark = (
        SparkSession.builder.master("local-cluster[2,1,1024]")
        .appName("envprint-bench-golden")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    result = {"spark_session_s": _since(start)}
    try:
        for run in ("spark_first_s", "spark_second_s"):
            start = time.perf_counter()
            golden_outputs(spark, bundle, out, modules=[str(EXAMPLE)], entry_points=False)  # the bundle's 3 probes
            result[run] = _since(start)
        assert compare_bundle(bundle, out).passed
    finally:
        spark.stop()
    return result


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--spark", action="store_true", help="also time the Spark path (local-cluster)")
    parser.add_argument("--java", action="store_true", help="also time the Java reference port")
    parser.add_argument("--dir", type=Path, help="work directory [default: a temporary one]")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="envprint-golden-")) if args.dir is None else args.dir
    try:
        res = bench_golden(tmp / "wide", args.rows, repeat=args.repeat)
        res["paths"] = bench_paths(tmp / "paths", spark=args.spark, java=args.java)
    finally:
        if args.dir is None:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(res))
        return
    print(f"golden bundles, {res['rows']} rows × {res['columns']} columns ({res['bundle_mib']} MiB bundle)")
    print(f"  synthetic()                 {res['synthetic_ms']:8.1f} ms")
    print(f"  export (1 probe)            {res['export_ms']:8.1f} ms")
    for name, ms in res["compare_ms"].items():
        print(f"  compare, {name:<18} {ms:8.1f} ms  (budget 1000 ms)")
    cli, bare = res["cli_compare_ms"], res["python_startup_ms"]
    print(f"  envprint golden compare CLI {cli:8.1f} ms  (python -c pass: {bare} ms)")
    paths = res["paths"]
    print(f"docs example, 3 probes, {paths['rows']} rows in all")
    print(f"  export                      {paths['export_s']:8.3f} s")
    print(f"  Python path (decode, run, encode) {paths['python_s']:6.3f} s")
    shown = {
        "spark_session_s": "Spark session start",
        "spark_first_s": "Spark path, first run",
        "spark_second_s": "Spark path, second run",
        "javac_s": "javac",
        "java_s": "Java port run",
    }
    for key, what in shown.items():
        if key in paths:
            print(f"  {what:<27} {paths[key]:8.3f} s")


if __name__ == "__main__":
    main()
