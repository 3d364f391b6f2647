"""`capture()`: run the collectors and the probes in this process and assemble a `Fingerprint`.

Call it after the model's libraries are imported and configured: many of the facts that change
numbers (thread pools, FTZ set by an imported library, a locale set by the app) exist only then.
"""

from __future__ import annotations

import datetime
import functools
import importlib
import importlib.util
import os
import platform
import sys
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import envprint.artifact as artifacts
from envprint._base import UNAVAILABLE_KEY, is_unavailable
from envprint._version import __version__
from envprint.artifact import DEFAULT_IGNORED, DEFAULT_SHARD_SIZE
from envprint.collect import COLLECTORS, Inputs
from envprint.errors import CaptureError, UsageError
from envprint.model import SCHEMA_VERSION, Fingerprint, Meta, ProbeResult, Scalar, Unavailable
from envprint.privacy import redact_path, safe_metadata, safe_value

__all__ = ["capture", "import_modules", "unavailable_paths"]

T = TypeVar("T")


def capture(
    *,
    probes: bool = True,
    artifact: str | Path | None = None,
    label: str | None = None,
    strict: bool = False,
    probe_groups: Collection[str] | None = None,
    probe_budget_s: float = 1.0,
    xla: bool = False,
    imports: Iterable[str] = (),
    tags: Mapping[str, str] | None = None,
    custom: Mapping[str, Scalar] | None = None,
    nvml: Any = None,
    capture_mode: str = "in-process",
    policy: Any = None,
    artifact_progress: Callable[[int, int], None] | None = None,
    artifact_shard_size: int = DEFAULT_SHARD_SIZE,
    artifact_ignore: Iterable[str] = DEFAULT_IGNORED,
    usage: bool | None = None,
) -> Fingerprint:
    """Returns the fingerprint of the environment of the calling process.

    `imports` are imported first so their state is seen (like ``envprint capture --import``).
    `probe_groups` limits the probes to those groups; `probe_budget_s` bounds their total time,
    after which remaining heavy probes are recorded as skipped. `artifact` binds the fingerprint to
    a model file or directory (its digest manifest). With `strict`, any section or field that
    could not be measured raises `CaptureError` instead of being recorded as Unavailable.
    `policy` (a preset name, a TOML file, or a `Policy`) is embedded in the fingerprint as the policy
    serving must satisfy; signed with the rest, a serving-side policy can only tighten it.
    `artifact_progress(done, total)` is called as the artifact's bytes are hashed. `artifact` may be
    a reference (``hf://ORG/NAME[@REV]``); files over `artifact_shard_size` bytes get per-shard digests
    (0: none), and `artifact_ignore` is the signed list of files tools add beside a model (see
    `envprint.artifact.manifest`).
    `nvml` replaces the pynvml module (tests; see `envprint.testing.FakeNVML`).
    `usage` records which distributions this process imported or depends on (`Package.used`), so a
    diff can tell a package training never used from one that shaped the model; by default it is
    recorded in-process, where the model's imports are visible, and not by the CLI.
    """
    embedded_policy = None
    if policy is not None:
        # deferred: the policy rules load the diff rules and the explanations (~25 ms of every capture),
        # which only a capture that embeds a policy needs
        from envprint.policy import resolve_policy

        embedded_policy = resolve_policy(policy).to_data()
    import_modules(imports)
    if importlib.util.find_spec("numpy") is not None:
        import numpy  # noqa: F401  - numpy's SIMD dispatch and BLAS are part of what is measured

    timings: dict[str, float] = {}
    inputs = Inputs(nvml=nvml, usage=capture_mode == "in-process" if usage is None else usage)
    for collector in COLLECTORS:
        inputs.sections[collector.section] = _timed(
            timings, collector.section, functools.partial(collector.collect, inputs)
        )
    probe_results: Any = {}
    golden_inputs = None
    if probes:
        from envprint.probes.suite import run_suite  # deferred: the probes import numpy, --no-probes does not

        builtin = None if probe_groups is None else [g for g in probe_groups if g != "parity"]
        if builtin is None or builtin:
            probe_results = _timed(timings, "probes", lambda: run_suite(builtin, budget_s=probe_budget_s, xla=xla))
        transforms = sys.modules.get("envprint.probes.transforms")
        # user transform probes (envprint.probe) are recorded whenever some are registered: registering
        # one is the request; `probe_groups` selects among the built-in groups only
        if transforms is not None and isinstance(probe_results, dict):
            recorded = _timed(timings, "parity", transforms.record)
            if isinstance(recorded, Unavailable):  # a bug, not a user failure: those are recorded per probe
                recorded = {"parity": ProbeResult("parity", "failed", "", {}, {}, False, reason=recorded.reason)}
            probe_results.update(recorded)
        predictions = sys.modules.get("envprint.predictions")
        # golden predictions store their inputs in the fingerprint, so serving re-runs exactly these rows
        golden_inputs = (predictions.stored_inputs() or None) if predictions is not None else None
    manifest = None
    if artifact is not None:
        start = time.perf_counter()
        manifest = artifacts.manifest(  # the manifest builder is loaded only by a capture that binds
            artifact, progress=artifact_progress, shard_size=artifact_shard_size, ignore=artifact_ignore
        )
        timings["artifact"] = time.perf_counter() - start
    meta = Meta(
        schema_version=SCHEMA_VERSION,
        envprint_version=__version__,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        label=safe_value(label) if label else label,
        capture_mode=capture_mode,
        hostname=_hostname(),
        pid=os.getpid(),
        tags={k: safe_metadata(k, v) for k, v in (tags or {}).items()},  # secrets never written (privacy)
        timings={k: round(v, 6) for k, v in timings.items()},
    )
    fp = Fingerprint(
        meta=meta,
        **inputs.sections,
        probes=probe_results,
        artifact=manifest,
        custom={k: safe_metadata(k, v) for k, v in (custom or {}).items()},
        policy=embedded_policy,
        golden_inputs=golden_inputs,
    )
    if strict:
        missing = unavailable_paths(fp)
        if missing:
            listed = "\n".join(f"  {p}: {r}" for p, r in missing[:50])
            raise CaptureError(f"{len(missing)} value(s) could not be measured (strict capture):\n{listed}")
    return fp


def _hostname() -> str:
    # the uname node name, which is what gethostname() returns on POSIX, without importing socket (~2 ms of
    # every capture); where there is no uname (Windows), platform asks socket itself
    return platform.node()


def _timed(timings: dict[str, float], name: str, fn: Callable[[], T]) -> T | Unavailable:
    """Returns fn(), recording its duration in `timings`; a crash becomes Unavailable(reason)."""
    start = time.perf_counter()
    try:
        return fn()
    except Exception as e:  # a collector must never break capture: record why instead
        return Unavailable(redact_path(f"collector {name} failed: {type(e).__name__}: {e}"))
    finally:
        timings[name] = time.perf_counter() - start


def import_modules(modules: Iterable[str]) -> None:
    """Imports `modules` so their state is seen; one that fails raises UsageError naming it (--import)."""
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as e:  # ImportError, or anything the imported module raises
            raise UsageError(
                f"--import {module}: cannot import it in {sys.executable} ({type(e).__name__}: {e})",
                hint="install the module in this environment or drop the --import option",
            ) from None


def unavailable_paths(fp: Fingerprint) -> list[tuple[str, str]]:
    """Returns (path, reason) of every value of `fp` recorded as Unavailable."""
    out: list[tuple[str, str]] = []

    def walk(data: Any, path: str) -> None:
        if isinstance(data, dict):
            if is_unavailable(data):
                out.append((path, str(data[UNAVAILABLE_KEY])))
                return
            for k, v in data.items():
                walk(v, f"{path}.{k}" if path else k)
        elif isinstance(data, list):
            for i, v in enumerate(data):
                walk(v, f"{path}[{i}]")

    walk(fp.to_data(), "")
    return out
