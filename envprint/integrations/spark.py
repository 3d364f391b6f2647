"""Fleet capture on Spark: a fingerprint from inside every executor's Python worker, and one from the driver.

    from envprint.integrations.spark import capture_executors
    from envprint.fleet import group

    fps = capture_executors(spark)          # [driver, executor 0, executor 1, ...]
    report = group(fps)                     # executors that compute differently stand out

The capture runs where the model's Python code runs on an executor: in a PySpark worker process,
whose environment is not the driver's (Spark sets ``OMP_NUM_THREADS`` there, to ``spark.task.cpus``
by default, and PySpark ``PYTHONHASHSEED``; docs/fleet.md). Each fingerprint travels back as
envelope bytes and is tagged (`Meta.tags`, descriptive) with ``role`` (``driver`` / ``executor``),
``executor_id``, ``host`` and ``spark_app_id``.

Reaching every executor: Spark has no "run once per executor" call. By default a job of twice as
many tasks as task slots runs; every idle slot gets a task in the first scheduling round, and the
results are deduplicated by executor id. The executors registered with the driver are listed
through ``SparkContext.getExecutorIds`` on the JVM side (not public API in PySpark: used when it
answers, otherwise the configured executor count is the target); while one of them has not
answered, the job is repeated with more tasks (three rounds at most), then a `RuntimeWarning`
names the executors never reached. ``barrier=True`` launches one task per slot all at once
instead (guaranteed to reach every slot; needs static allocation and as many free slots as tasks).

Works on any deployment (standalone, YARN, Kubernetes, local): the executor id is read from
``SPARK_EXECUTOR_ID`` (Kubernetes executor pods) or from the executor JVM's command line
(``--executor-id``, every ``CoarseGrainedExecutorBackend``), found among the worker's parent
processes. envprint (``envprint[spark]``'s dependencies) must be importable by the executors'
Python. pyspark is imported only by `session()`; a Spark Connect session has no RDD API and is
refused with an explanation.

Golden bundles at training scale (docs/golden.md, "The Spark path"): `golden_outputs` runs a
registered transform over a bundle's inputs as a Spark job (``mapInPandas``: each Arrow batch of
rows is decoded and handed to the transform in an executor's Python worker) and writes
``NAME.outputs.jsonl`` for ``envprint golden compare``.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
import socket
import sys
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envprint._files import atomic_write
from envprint.capturing import capture
from envprint.codec import decode_fingerprint
from envprint.envelope import Envelope
from envprint.errors import EnvprintError, UsageError
from envprint.golden.manifest import ProbeEntry, read_input_lines, read_manifest
from envprint.model import Fingerprint

__all__ = ["SparkCaptureError", "SparkGoldenError", "capture_executors", "golden_outputs", "save_fleet", "session"]

#: at most this many jobs (each with twice the tasks of the last) to reach every registered executor
_ROUNDS = 3
#: how many parent processes of the Python worker to search for the executor JVM
_ANCESTOR_DEPTH = 5
_LOCAL_MASTER = re.compile(r"local(\[[^\]]*\])?")
_LOCAL_CLUSTER_MASTER = re.compile(r"local-cluster\[\s*(\d+)\s*,")

#: per Python worker process: the capture of the current call (by token), so reused workers capture once
_WORKER_CACHE: dict[str, tuple[Any, ...]] = {}


class SparkCaptureError(EnvprintError):
    """The capture job failed on the executors (envprint missing there, a task error, a lost executor)."""

    hint = (
        "envprint and its dependencies must be importable by the executors' Python: install "
        "envprint[spark] in the executor image, or ship an environment with --archives and "
        "spark.pyspark.python"
    )


def capture_executors(
    spark: Any,
    *,
    probes: bool = True,
    barrier: bool = False,
    min_executors: int | None = None,
    wait_s: float = 120.0,
    **capture_kwargs: Any,
) -> list[Fingerprint]:
    """Returns the driver's fingerprint, then one per executor (sorted by executor id).

    `spark` is a classic `SparkSession` or `SparkContext`. Each executor's fingerprint is captured
    in one of its Python workers with `envprint.capture(probes=probes, **capture_kwargs)`, the
    driver's in this process with the same arguments; `tags` given in `capture_kwargs` are kept
    and the fleet tags added. Waits up to `wait_s` for `min_executors` executors (default: the
    configured ``spark.executor.instances`` or local-cluster size) to register before starting.
    `barrier` runs one barrier task per slot (``sc.defaultParallelism`` of them, at least one per
    registered executor) instead of the repeated task rounds.
    """
    sc = _context(spark)
    app_id = str(sc.applicationId)
    user_tags = dict(capture_kwargs.pop("tags", None) or {})
    label = capture_kwargs.pop("label", None)
    local_mode = _LOCAL_MASTER.fullmatch(str(sc.master)) is not None
    wanted = min_executors if min_executors is not None else _configured_executors(sc)
    registered = _wait_for_executors(sc, wanted, wait_s)

    task = functools.partial(
        _capture_partition,
        uuid.uuid4().hex,
        _TaskSpec(probes, capture_kwargs, {**user_tags, "spark_app_id": app_id}, label, local_mode),
    )
    slots = max(int(sc.defaultParallelism), len(registered or ()), wanted or 0, 1)
    found: dict[str, Fingerprint] = {}
    for attempt in range(1 if barrier else _ROUNDS):
        tasks = slots if barrier else slots * 2 ** (attempt + 1)
        rdd = sc.parallelize(range(tasks), tasks)
        job = rdd.barrier().mapPartitions(task) if barrier else rdd.mapPartitions(task)
        for record in _collect(job):
            if record[0] == "ok" and record[1] in found:
                continue  # another task on an executor already heard from: decode once
            executor_id, fp = _decode(record)
            found[executor_id] = fp
        if registered is not None:
            if set(registered) <= set(found):
                break
        elif wanted is None or len(found) >= wanted:
            break
    missing = sorted(set(registered or ()) - set(found), key=_id_order)
    if missing or (registered is None and wanted is not None and len(found) < wanted):
        warnings.warn(
            f"envprint reached {len(found)} Spark executor(s) ({', '.join(sorted(found, key=_id_order))}); "
            + (f"never reached: {', '.join(missing)}" if missing else f"{wanted} were expected")
            + (" (barrier mode: every slot must be free)" if barrier else " (busy executors get no task)"),
            RuntimeWarning,
            stacklevel=2,
        )

    driver_host = str(sc.getConf().get("spark.driver.host", socket.gethostname()))
    driver = capture(
        probes=probes,
        label=label or "spark driver",
        tags={**user_tags, "spark_app_id": app_id, "role": "driver", "executor_id": "driver", "host": driver_host},
        **capture_kwargs,
    )
    return [driver, *(found[k] for k in sorted(found, key=_id_order))]


def session(
    master: str | None = None, *, app_name: str = "envprint-fleet", conf: Mapping[str, str] | None = None
) -> tuple[Any, bool]:
    """Returns (the active or configured SparkSession, whether this call started it).

    An active session is reused as is (`master` cannot change it). Otherwise one is built from the
    Spark configuration in force (spark-defaults, ``spark-submit`` arguments), with `master` when
    given and `conf` on top. For local masters the executors' Python defaults to this interpreter,
    so they see the same envprint.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError("pyspark is not installed in this environment", hint="pip install 'envprint[spark]'") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    if master is not None and master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate(), True
    except Exception as e:  # py4j / JVM start-up errors: no Java, bad master URL, cluster unreachable
        raise UsageError(
            f"cannot start a Spark session{f' on {master}' if master else ''}: {_first_line(e)}",
            hint="check --master, JAVA_HOME and that the cluster is reachable from here",
        ) from None


# -------------------------------------------------------------------------------------- driver side


def _context(spark: Any) -> Any:
    """Returns the SparkContext of a classic SparkSession (or the SparkContext given)."""
    sc = getattr(spark, "sparkContext", spark)
    if not hasattr(sc, "parallelize"):
        raise UsageError(
            f"{type(spark).__name__} has no RDD API (a Spark Connect session?)",
            hint="run the fleet capture from a classic SparkSession (spark-submit or pyspark, not Spark Connect)",
        )
    return sc


def _configured_executors(sc: Any) -> int | None:
    """Returns how many executors the configuration asks for, None when it does not say (dynamic, local)."""
    local_cluster = _LOCAL_CLUSTER_MASTER.match(str(sc.master))
    if local_cluster:
        return int(local_cluster.group(1))
    conf = sc.getConf()
    if str(conf.get("spark.dynamicAllocation.enabled", "false")).lower() == "true":
        return None
    instances = conf.get("spark.executor.instances", None)
    return int(instances) if instances and str(instances).isdigit() else None


def _registered_executors(sc: Any) -> list[str] | None:
    """Returns the ids of the executors registered with the driver; None where the JVM call is unavailable.

    ``SparkContext.getExecutorIds`` is ``private[spark]`` in Scala, reachable through py4j; a
    Spark version without it (or a gateway that refuses it) makes the target the configured count.
    """
    try:
        ids = sc._jsc.sc().getExecutorIds()
        return [str(ids.apply(i)) for i in range(int(ids.length()))]
    except Exception:  # private JVM API: any py4j error means "unknown", never a failure
        return None


def _wait_for_executors(sc: Any, wanted: int | None, wait_s: float) -> list[str] | None:
    """Returns the registered executor ids once `wanted` of them registered (or `wait_s` passed)."""
    deadline = time.monotonic() + wait_s
    while True:
        registered = _registered_executors(sc)
        if registered is None or wanted is None or len(registered) >= wanted or time.monotonic() >= deadline:
            return registered
        time.sleep(0.25)


def _collect(job: Any) -> list[tuple[Any, ...]]:
    try:
        return list(job.collect())
    except Exception as e:  # Py4JJavaError and friends: a task failed on an executor
        raise SparkCaptureError(f"the envprint capture job failed on the Spark executors: {_task_error(e)}") from None


def save_fleet(fingerprints: Iterable[Fingerprint], directory: str | os.PathLike[str]) -> list[Path]:
    """Returns the files written: ``driver.fp`` and ``executor-ID.fp`` in `directory`, created if needed."""
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fp in fingerprints:
        tags = fp.meta.tags
        name = "driver" if tags.get("role") == "driver" else f"executor-{tags.get('executor_id', '')}"
        paths.append(fp.save(out / (re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".fp")))
    return paths


def _decode(record: tuple[Any, ...]) -> tuple[str, Fingerprint]:
    """Returns (executor id, fingerprint) of one task's record; raises SparkCaptureError for a failed task."""
    if record[0] == "error":
        _, executor_id, host, message = record
        raise SparkCaptureError(f"capture failed on executor {executor_id} ({host}): {message}")
    _, executor_id, _host, payload = record
    source = f"executor {executor_id}"
    return str(executor_id), decode_fingerprint(Envelope.decode(payload, source=source), source=source)


def _task_error(e: BaseException) -> str:
    """Returns the Python error line of a failed Spark task, or the first line of the JVM error."""
    text = str(e)
    python_errors = re.findall(r"^(\w+(?:\.\w+)*(?:Error|Exception): .*)$", text, flags=re.MULTILINE)
    return python_errors[-1] if python_errors else _first_line(e)


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0] if lines else ''}".strip()


def _id_order(executor_id: str) -> tuple[int, int, str]:
    """Returns a sort key that puts the driver first and numeric executor ids in numeric order."""
    if executor_id == "driver":
        return (0, 0, "")
    return (1, int(executor_id), "") if executor_id.isdigit() else (2, 0, executor_id)


# ------------------------------------------------------------------------------------ executor side


@dataclass(frozen=True)
class _TaskSpec:
    """What each task captures; pickled to the executors with the task function."""

    probes: bool
    capture_kwargs: Mapping[str, Any]
    tags: Mapping[str, str]
    label: str | None
    local_mode: bool


def _capture_partition(token: str, spec: _TaskSpec, _rows: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """Yields one record: ("ok", executor id, host, envelope bytes) or ("error", executor id, host, message).

    Runs in a PySpark worker. A reused worker answers later tasks of the same call from its cache.
    """
    cached = _WORKER_CACHE.get(token)
    if cached is None:
        cached = _capture_here(spec)
        _WORKER_CACHE.clear()  # only the current call's capture is worth keeping
        _WORKER_CACHE[token] = cached
    yield cached


def _capture_here(spec: _TaskSpec) -> tuple[Any, ...]:
    executor_id, host = _executor_identity(spec.local_mode)
    try:
        fp = capture(
            probes=spec.probes,
            label=spec.label or f"spark executor {executor_id}",
            tags={**spec.tags, "role": "executor", "executor_id": executor_id, "host": host},
            **spec.capture_kwargs,
        )
        return ("ok", executor_id, host, fp.envelope().encode())
    except Exception as e:  # reported by the driver with the executor named, not as a JVM stack trace
        return ("error", executor_id, host, f"{type(e).__name__}: {e}")


def _executor_identity(local_mode: bool) -> tuple[str, str]:
    """Returns (executor id, host) of the Spark executor this Python worker belongs to.

    The executor JVM is the nearest parent process whose command line carries ``--executor-id``
    (its ``--hostname`` is the host Spark shows). In local mode the tasks run in the driver's JVM,
    whose executor Spark calls "driver". Without either, the id is "HOST:PID" of the parent JVM.
    """
    hostname = socket.gethostname()
    executor_id = os.environ.get("SPARK_EXECUTOR_ID")
    host = os.environ.get("SPARK_EXECUTOR_POD_NAME") or hostname
    jvm_pid = os.getppid()
    try:
        import psutil

        for parent in psutil.Process().parents()[:_ANCESTOR_DEPTH]:
            cmdline = parent.cmdline()
            if "--executor-id" in cmdline:
                jvm_pid = parent.pid
                executor_id = executor_id or _argument(cmdline, "--executor-id")
                host = _argument(cmdline, "--hostname") or host
                break
            if parent.name().startswith("java"):
                jvm_pid = parent.pid
    except Exception:  # psutil missing or a parent we may not inspect: fall back to the env and the ppid
        pass
    if not executor_id:
        executor_id = "driver" if local_mode else f"{hostname}:{jvm_pid}"
    return executor_id, host


def _argument(cmdline: list[str], option: str) -> str | None:
    """Returns the value following `option` in a command line, None when absent."""
    try:
        return cmdline[cmdline.index(option) + 1]
    except (ValueError, IndexError):
        return None


# ------------------------------------------------------------------------------ golden bundles


#: per Python worker process: the transform of the current golden call (by token), imported once
_GOLDEN_CACHE: dict[str, Any] = {}


class SparkGoldenError(EnvprintError):
    """A golden transform failed on the Spark executors (its module not importable there, or the transform raised)."""

    hint = (
        "the executors' Python must import envprint and the module that registers the transform: a .py file "
        "given to --probes-from is shipped to them; ship a package with --py-files or install it in the image"
    )


@dataclass(frozen=True)
class _GoldenTask:
    """What each golden task runs; pickled to the executors with the task function."""

    token: str
    name: str
    modules: tuple[str, ...]  # importable names on the executors (a shipped .py file by its stem)
    entry_points: bool
    entry: ProbeEntry


def golden_outputs(
    spark: Any,
    bundle: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    names: Iterable[str] | None = None,
    modules: Iterable[str] = (),
    entry_points: bool = True,
    partitions: int | None = None,
) -> dict[str, Path]:
    """Returns {probe name: outputs file written}: each transform probe of `bundle` run as a Spark job.

    `spark` is a classic SparkSession. The transforms are the ones `modules` (dotted names, or
    ``.py`` files, which are shipped to the executors with ``addPyFile``) and the entry points
    register; they are looked up on the driver first, so a missing one fails before any job. Each
    probe's input lines are spread over `partitions` tasks (default: the cluster's parallelism)
    and every Arrow batch is decoded and handed to the transform in the form it was registered
    with, so the transform must be row-wise (a batch-dependent one differs, and the compare says
    where). The outputs come back to the driver in row order and are written atomically to
    ``output/NAME.outputs.jsonl``.
    """
    from envprint import parity  # imports numpy and the transform registry: only golden calls need them

    sc = _context(spark)
    if not hasattr(spark, "createDataFrame"):
        raise UsageError("golden_outputs needs a SparkSession (it runs a DataFrame job), not a SparkContext")
    manifest = read_manifest(bundle)
    wanted = list(manifest.probes) if names is None else list(dict.fromkeys(names))
    unknown = [n for n in wanted if n not in manifest.probes]
    if unknown:
        raise UsageError(f"the bundle holds no probe {', '.join(unknown)}; it holds {', '.join(manifest.probes)}")
    sources = tuple(modules)
    parity.discover(sources, entry_points=entry_points)
    unregistered = [n for n in wanted if parity.get(n) is None]
    if unregistered:
        raise UsageError(
            f"transform probe(s) {', '.join(unregistered)} of the bundle are not registered here",
            hint="pass --probes-from MODULE (or a .py file) whose import registers them",
        )
    shipped = []
    for source in sources:
        if source.endswith(".py") or "/" in source:
            sc.addPyFile(str(Path(source).resolve()))
            shipped.append(Path(source).stem)
        else:
            shipped.append(source)
    target = Path(output)
    if target.exists() and not target.is_dir():
        raise UsageError(f"-o {target}: exists and is not a directory")
    target.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in wanted:
        entry = manifest.probes[name]
        lines = read_input_lines(bundle, entry)
        task = _GoldenTask(uuid.uuid4().hex, name, tuple(shipped), entry_points, entry)
        slices = max(1, min(partitions or int(sc.defaultParallelism), len(lines) or 1))
        frame = spark.createDataFrame(sc.parallelize(list(enumerate(lines)), slices), "row long, line string")
        job = frame.mapInPandas(functools.partial(_golden_batches, task), "row long, line string")
        try:
            results = sorted((int(r[0]), str(r[1])) for r in job.collect())
        except Exception as e:  # Py4JJavaError and friends: the transform failed in a task
            raise SparkGoldenError(f"transform probe {name!r} failed on the executors: {_task_error(e)}") from None
        if [i for i, _ in results] != list(range(len(lines))):
            raise SparkGoldenError(f"transform probe {name!r}: the job returned {len(results)} rows for {len(lines)}")
        path = target / entry.outputs
        atomic_write(path, "".join(line + "\n" for _, line in results).encode("utf-8"))
        written[name] = path
    return written


def _golden_batches(task: _GoldenTask, batches: Iterable[Any]) -> Iterator[Any]:
    """Yields, for each pandas batch of (row, line), the same rows with the transform's output lines.

    Runs in a PySpark worker (``mapInPandas``).
    """
    import pandas as pd  # type: ignore[import-untyped]  # the executors' pandas, which mapInPandas runs on

    from envprint.golden import shapes  # numpy-heavy: imported where the transform runs
    from envprint.golden.jsonl import dumps_row, loads_row

    transform = _golden_transform(task)
    entry = task.entry
    for batch in batches:
        rows = [loads_row(line) for line in batch["line"]]
        out, _ = shapes.apply(
            transform.fn, rows, entry.input_columns, entry.input_form, entry.input_dtype, probe=task.name
        )
        yield pd.DataFrame({"row": batch["row"].to_numpy(), "line": [dumps_row(r) for r in out]})


def _golden_transform(task: _GoldenTask) -> Any:
    """Returns the registered transform `task` names, importing its modules once per worker and call.

    Python workers are reused across calls: one may still hold a probe of the same name registered
    by another call's module. That one is dropped and the task's modules imported again (reloaded
    when already imported), so each call runs the transform its own modules register.
    """
    cached = _GOLDEN_CACHE.get(task.token)
    if cached is None:
        from envprint import parity  # numpy and the registry, in the worker that runs the transform

        cached = parity.get(task.name)
        if cached is None or cached.fn.__module__ not in task.modules:
            if cached is not None:
                parity.unregister(task.name)
            for module in task.modules:
                loaded = sys.modules.get(module)
                if loaded is None:
                    parity.discover([module], entry_points=False)
                else:
                    importlib.reload(loaded)  # registers its probes again
            parity.discover((), entry_points=task.entry_points)
            cached = parity.get(task.name)
        if cached is None:
            raise UsageError(
                f"transform probe {task.name!r} is not registered on the executor after importing "
                f"{', '.join(task.modules) or 'no module'}"
            )
        _GOLDEN_CACHE.clear()  # only the current call's transform is worth keeping
        _GOLDEN_CACHE[task.token] = cached
    return cached
