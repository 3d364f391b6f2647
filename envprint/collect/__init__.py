"""Collectors: one module per section of facts read from the environment (no computation).

Each collector has the same small shape, `collect() -> Section | Unavailable`. `COLLECTORS` is the
one list of them, in the order `envprint.capturing.capture` runs them: it times each and turns an
unexpected exception into `Unavailable(reason)` for that section. A collector that needs what
another measured, or an input of the capture (the NVML module), takes it from the `Inputs`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from envprint._base import Record, record
from envprint.collect import blas, cpu, determinism, env, gpu, locale_time, memory, packages, platform, python

__all__ = ["COLLECTORS", "Collector", "Inputs"]


@dataclass
class Inputs:
    """What a collector may use besides the environment: capture's arguments and the sections measured so far."""

    nvml: Any = None  # replaces pynvml (tests; `envprint.testing.FakeNVML`)
    usage: bool = False  # record which distributions this process uses (`Package.used`)
    sections: dict[str, Any] = field(default_factory=dict)


@record
class Collector(Record):
    """One section of the fingerprint and the function that measures it."""

    section: str  # the `Fingerprint` field it fills
    collect: Callable[[Inputs], Any]


def _installed(inputs: Inputs) -> Mapping[str, Any] | None:
    measured = inputs.sections.get("packages")
    return measured if isinstance(measured, dict) else None


COLLECTORS: tuple[Collector, ...] = (
    Collector("packages", lambda inputs: packages.collect(usage=inputs.usage)),
    Collector("python", lambda _: python.collect()),
    Collector("imported", lambda _: packages.imported_modules()),
    Collector("platform", lambda _: platform.collect()),
    Collector("cpu", lambda _: cpu.collect()),
    Collector("memory", lambda _: memory.collect()),
    Collector("gpu", lambda inputs: gpu.collect(inputs.nvml)),
    Collector("blas", lambda _: blas.collect()),
    Collector("determinism", lambda _: determinism.collect()),
    Collector("env", lambda _: env.collect()),
    Collector("locale_time", lambda inputs: locale_time.collect(_installed(inputs))),
)
