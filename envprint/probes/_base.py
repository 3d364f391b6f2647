"""The probe shape and the registry every probe (built-in or user-defined) is run from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field
from typing import TYPE_CHECKING, Any, TypeAlias

from envprint._base import Record, record
from envprint.model import Scalar

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["GROUPS", "OutputValue", "Probe", "Raw", "builtin", "register", "registry", "unregister"]

#: the groups of the built-in probes, in the order the suite runs them
GROUPS: tuple[str, ...] = (
    "fpenv",
    "blas",
    "reductions",
    "ufunc",
    "libm",
    "activations",
    "sort",
    "linalg",
    "fft",
    "text",
    "locale",
    "time",
    "hash",
    "rng",
    "casts",
    "tensorflow",
    "torch",
)

#: one output of a probe run: an array or numpy scalar (float, complex, int or bool), a Python
#: float or int, lines of text, or a table (label -> 1-d array, one dtype) whose rows are
#: digested and sampled separately so a difference can be attributed to a row (e.g. a function)
OutputValue: TypeAlias = (
    "npt.NDArray[Any] | np.generic | float | int | tuple[str, ...] | Mapping[str, npt.NDArray[Any] | np.generic]"
)


@record
class Raw(Record):
    """What one run of a probe computed: named outputs plus decoded categorical flags."""

    outputs: Mapping[str, OutputValue]
    flags: Mapping[str, Scalar] = field(default_factory=dict)
    #: the outputs depend on a per-process random seed (str hashing), so no two processes agree
    random_per_process: bool = False
    #: outputs computed element by element (exp, log): no cancellation, ULPs count everywhere
    elementwise: frozenset[str] = frozenset()


@record
class Probe(Record):
    """A computation on fixed inputs whose exact result reveals how this host computes."""

    name: str
    group: str
    #: one line: what a difference in this probe reveals
    detects: str
    run: Callable[[], Raw]
    #: skipped once the suite's time budget is spent (cheap probes always run)
    heavy: bool = False
    #: definition version: results of different versions are never compared
    version: int = 1
    #: run only when this module is already imported (probes never import a framework themselves)
    requires: str | None = None
    #: run only when asked for (run_suite(xla=True)): too slow for every capture
    opt_in: bool = False
    #: run twice to record whether the result is stable: for results that can vary within a process
    #: (threads, alignment-dependent kernels, randomised sorts, GPU atomics). False: one run, for a
    #: computation on the calling thread whose bits cannot change while the process lives
    repeat: bool = True
    #: runs on the BLAS thread pool: the suite runs it after every other probe (docs/probes.md#contention)
    threaded: bool = False


_REGISTRY: dict[str, Probe] = {}


def register(probe: Probe, *, replace: bool = False) -> Probe:
    """Returns `probe` after adding it to the registry; a taken name raises ValueError unless `replace`."""
    if probe.group not in GROUPS:  # a user probe must not take a built-in's name (built-ins load
        _load_builtins()  # themselves through here, so they must not trigger the load again)
    if not replace and probe.name in _REGISTRY:
        raise ValueError(f"a probe named {probe.name!r} is already registered")
    _REGISTRY[probe.name] = probe
    return probe


def unregister(name: str) -> Probe:
    """Returns the probe removed from the registry under `name` (KeyError if there is none)."""
    return _REGISTRY.pop(name)


def registry() -> tuple[Probe, ...]:
    """Returns every registered probe in run order: by GROUPS, then other groups, each in registration order,
    and the probes that use the BLAS thread pool last.

    fpenv runs first and the threaded probes last on purpose: BLAS worker threads spin-wait for a
    while after a threaded product, and on a busy machine every probe run during that spin (a thread
    start most of all) competes with them for a core.
    """
    _load_builtins()
    rank = {group: i for i, group in enumerate(GROUPS)}
    return tuple(sorted(_REGISTRY.values(), key=lambda p: (p.threaded, rank.get(p.group, len(GROUPS)))))


_BUILTIN_MODULES = (
    "fpenv", "blas", "reductions", "elementwise", "ordering", "linalg", "text", "localtime", "rng",
    "tensorflow_ops", "torch_ops",
)  # fmt: skip
_builtins_loaded = False


def _load_builtins() -> None:
    """Imports the built-in probe modules (they register on import) the first time they are needed.

    Deferred so that comparing probe results (`envprint diff`) never pays for numpy and the probes.
    """
    global _builtins_loaded
    if not _builtins_loaded:
        import importlib

        for module in _BUILTIN_MODULES:
            importlib.import_module(f"envprint.probes.{module}")
        _builtins_loaded = True


def builtin(
    name: str,
    group: str,
    detects: str,
    *,
    heavy: bool = False,
    version: int = 1,
    requires: str | None = None,
    opt_in: bool = False,
    repeat: bool = True,
    threaded: bool = False,
) -> Callable[[Callable[[], Raw]], Probe]:
    """Returns a decorator that registers a function as a built-in probe and replaces it by the Probe."""
    if group not in GROUPS:
        raise ValueError(f"built-in probe {name!r} has unknown group {group!r}")

    def wrap(fn: Callable[[], Raw]) -> Probe:
        return register(Probe(name, group, detects, fn, heavy, version, requires, opt_in, repeat, threaded))

    return wrap
