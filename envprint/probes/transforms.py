"""Transform probes: user functions run on fixed inputs and recorded like the numeric probes.

A transform probe (group ``"parity"``) is registered with `probe` / `register_transform` /
`vocabulary_probe`, or discovered from modules and entry points (`discover`), and recorded into a
fingerprint at capture (`record`, `attach`): each function runs twice, on fresh deep copies of its
inputs, and its result is split into named columns recorded with the core probes' recorder.
Comparing recordings is `envprint.parity`'s job; see docs/parity.md.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import hashlib
import importlib
import importlib.util
import json
import math
import numbers
import re
import sys
import time
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from envprint.errors import EnvprintError, UsageError
from envprint.model import Fingerprint, ProbeOutput, ProbeResult, Scalar, Unavailable
from envprint.probes._base import registry
from envprint.probes._record import Canonical, canonical, float_hex, to_output
from envprint.probes.suite import result_digest

if TYPE_CHECKING:
    pass


#: the probe group of every transform probe in a fingerprint
GROUP = "parity"
#: entry point group whose entries (modules, or callables taking no argument) register transform probes
ENTRY_POINT_GROUP = "envprint.probes"
#: outputs with at most this many values are recorded in full; larger ones as samples and digests
FULL_VALUES = 10_000
DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 0.0

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]*")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Transform:
    """A user function on fixed inputs whose outputs must match between training and serving."""

    name: str
    fn: Callable[[Any], Any]
    inputs: Any
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    #: a label per input row ("age=NaN"), used to name the row of a difference
    row_labels: tuple[str, ...] | None = None
    #: definition version: bump it when the inputs or the function change on purpose
    version: int = 1
    kind: str = "transform"  # "transform", "vocabulary" or "model" (golden predictions, envprint.predictions)
    #: where the user's function is defined ("module.qualname"); a re-import may register it again
    origin: str = ""

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise UsageError(
                f"transform probe name {self.name!r}: use letters, digits, '_' and '-' only",
                hint="the name becomes the path probes.<name> in diffs and policies",
            )
        for what, value in (("rtol", self.rtol), ("atol", self.atol)):
            if not (math.isfinite(value) and value >= 0):
                raise UsageError(f"transform probe {self.name!r}: {what} must be a finite number >= 0, not {value!r}")
        if self.version < 1:
            raise UsageError(f"transform probe {self.name!r}: version must be an integer >= 1")

    def record(self) -> ProbeResult:
        """Returns the probe result of running the function (twice) on its inputs: what capture stores."""
        return _record(self)


_TRANSFORMS: dict[str, Transform] = {}


def register_transform(
    fn: Callable[[Any], Any],
    *,
    inputs: Any,
    name: str | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    row_labels: Sequence[str] | None = None,
    version: int = 1,
    replace: bool = False,
) -> Transform:
    """Returns the transform probe registered for `fn` on `inputs` (named `name`, default fn.__name__).

    `inputs` may be a numpy array, a list of row dicts (e.g. `edge_cases()`), a pandas DataFrame or
    anything `fn` accepts; each run gets a deep copy, so an in-place transform cannot change them.
    `row_labels` name the input rows in reports (`edge_cases()` brings its own). Registering a
    taken name raises `UsageError` unless `replace` or the same function is registered again (a
    module imported twice).
    """
    labels: tuple[str, ...] | None = None
    if row_labels is not None:
        labels = tuple(str(x) for x in row_labels)
    elif isinstance(inputs, EdgeCases):
        labels = inputs.labels
    transform = Transform(
        name=str(name or getattr(fn, "__name__", "")),
        fn=fn,
        inputs=inputs,
        rtol=float(rtol),
        atol=float(atol),
        row_labels=labels,
        version=version,
        origin=_origin(fn),
    )
    return add_transform(transform, replace=replace)


def probe(
    name: str,
    *,
    inputs: Any,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    row_labels: Sequence[str] | None = None,
    version: int = 1,
    replace: bool = False,
) -> Callable[[F], F]:
    """Returns a decorator that registers the decorated function as transform probe `name`.

    The function itself is returned unchanged, so the training code keeps calling it. See
    `register_transform` for the arguments.
    """

    def wrap(fn: F) -> F:
        register_transform(
            fn, inputs=inputs, name=name, rtol=rtol, atol=atol, row_labels=row_labels, version=version, replace=replace
        )
        return fn

    return wrap


def vocabulary_probe(
    name: str,
    encode: Callable[[str], Any],
    *,
    tokens: Iterable[str],
    unknown: str = "<unseen>",
    version: int = 1,
    replace: bool = False,
) -> Transform:
    """Returns the registered probe checking that `tokens` (and an `unknown` one) map to the same ids.

    `encode` maps one token to its id (or ids: a list or array). Ids are compared exactly, as text,
    one row per token; a token whose encoding raises is recorded as ``<raises KeyError>``, so a
    serving encoder that raises where training mapped to an out-of-vocabulary id is caught. The
    vocabulary file itself belongs inside the model artifact directory, where the manifest pins
    its digest (docs/parity.md).
    """
    sample = tuple(str(t) for t in tokens)
    if unknown not in sample:
        sample = (*sample, unknown)

    def encode_tokens(batch: Sequence[str]) -> dict[str, tuple[str, ...]]:
        return {"id": tuple(_encoded(encode, token) for token in batch)}

    transform = Transform(
        name=name,
        fn=encode_tokens,
        inputs=sample,
        rtol=0.0,
        atol=0.0,
        row_labels=tuple(f"token {t!r}" for t in sample),
        version=version,
        kind="vocabulary",
        origin=_origin(encode),
    )
    return add_transform(transform, replace=replace)


def _encoded(encode: Callable[[str], Any], token: str) -> str:

    try:
        value = encode(token)
    except Exception as e:  # raising on an unknown token is itself the behaviour to record
        return f"<raises {type(e).__name__}>"
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(v.item() if isinstance(v, np.generic) else v) for v in value) + "]"
    return str(value)


def _origin(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"


def add_transform(transform: Transform, *, replace: bool = False) -> Transform:
    """Returns `transform` after registering it (see `register_transform` for the naming rules)."""
    if transform.name in {p.name for p in registry()}:
        raise UsageError(f"transform probe {transform.name!r}: the name is taken by a built-in probe")
    existing = _TRANSFORMS.get(transform.name)
    if existing is not None and not replace and existing.origin != transform.origin:
        raise UsageError(
            f"a transform probe named {transform.name!r} is already registered (by {existing.origin})",
            hint="choose another name, or pass replace=True to replace it on purpose",
        )
    _TRANSFORMS[transform.name] = transform
    return transform


def registered() -> tuple[Transform, ...]:
    """Returns every registered transform probe, in registration order."""

    return tuple(_TRANSFORMS.values())


def get(name: str) -> Transform | None:
    """Returns the transform probe registered under `name`, None when there is none."""
    return _TRANSFORMS.get(name)


def unregister(name: str) -> Transform:
    """Returns the transform probe removed from the registry under `name` (KeyError if there is none)."""
    return _TRANSFORMS.pop(name)


def discover(modules: Iterable[str] = (), *, entry_points: bool = True) -> tuple[str, ...]:
    """Returns the names of the registered transform probes after importing `modules` and entry points.

    A module is a dotted name (``mypkg.parity``) or a path to a ``.py`` file. With `entry_points`,
    every entry of the ``envprint.probes`` entry-point group is loaded too: a module is imported, a
    callable is called with no argument. An import that fails raises `UsageError` naming it.
    """
    for module in modules:
        _import_source(module)
    if entry_points:
        import importlib.metadata  # ~15 ms with email and zipfile: only entry-point discovery pays it

        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            where = f"entry point {ep.name} = {ep.value} ({ENTRY_POINT_GROUP})"
            try:
                loaded = ep.load()
                if callable(loaded) and not isinstance(loaded, types.ModuleType):
                    loaded()
            except EnvprintError:
                raise
            except Exception as e:
                raise UsageError(f"{where}: cannot load it ({type(e).__name__}: {e})") from None
    return tuple(_TRANSFORMS)


def _import_source(text: str) -> None:
    try:
        if text.endswith(".py") or "/" in text:
            path = Path(text)
            if not path.is_file():
                raise UsageError(f"--probes-from {text}: no such file")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                raise UsageError(f"--probes-from {text}: cannot be imported as a Python module")
            module = importlib.util.module_from_spec(spec)
            sys.modules.setdefault(path.stem, module)
            spec.loader.exec_module(module)
        else:
            importlib.import_module(text)
    except EnvprintError:
        raise
    except Exception as e:  # ImportError, or anything the user's module raises while registering
        raise UsageError(
            f"--probes-from {text}: cannot import it in {sys.executable} ({type(e).__name__}: {e})",
            hint="give a module importable here (on sys.path) or a path to a .py file",
        ) from None


def record(names: Iterable[str] | None = None) -> dict[str, ProbeResult]:
    """Returns the results of the registered transform probes (or those named), keyed by probe name."""
    chosen = list(_TRANSFORMS) if names is None else list(names)
    unknown = [n for n in chosen if n not in _TRANSFORMS]
    if unknown:
        raise UsageError(
            f"no transform probe registered as {', '.join(map(repr, unknown))}; "
            f"registered: {', '.join(_TRANSFORMS) or 'none'}"
        )
    return {name: _TRANSFORMS[name].record() for name in chosen}


def attach(fp: Fingerprint) -> Fingerprint:
    """Returns `fp` with the results of the registered transform probes it lacks added to its probes.

    Probes already present are kept as they are. A probes section that is `Unavailable` stays so:
    its reason is the finding.
    """
    if isinstance(fp.probes, Unavailable):
        return fp
    missing = [name for name in _TRANSFORMS if name not in fp.probes]
    if not missing:
        return fp
    return fp.replace(probes={**fp.probes, **record(missing)})


def rerun(baseline: Fingerprint | Mapping[str, ProbeResult] | Unavailable) -> dict[str, ProbeResult]:
    """Returns fresh results of the baseline's transform probes that are registered in this process.

    Probes the baseline recorded but this process does not register are left out (`compare` and
    `findings` report them as missing).
    """
    wanted = [name for name in recorded(baseline) if name in _TRANSFORMS]
    return {name: _TRANSFORMS[name].record() for name in wanted}


def recorded(source: Fingerprint | Mapping[str, ProbeResult] | Unavailable) -> dict[str, ProbeResult]:
    """Returns the transform probe results (group "parity") of a fingerprint or of its probes section."""
    results = source.probes if isinstance(source, Fingerprint) else source
    if isinstance(results, Unavailable):
        return {}
    return {name: r for name, r in results.items() if r.group == GROUP}


def _record(t: Transform) -> ProbeResult:
    flags = _flags(t)
    start = time.perf_counter()
    try:
        first = _outputs(t.fn(_fresh(t.inputs)))
    except Exception as e:  # the user's function failing is the finding, never a crash of capture
        return ProbeResult(
            group=GROUP,
            status="failed",
            digest="",
            outputs={},
            flags=flags,
            stable=True,
            version=t.version,
            reason=_describe(e),
            seconds=time.perf_counter() - start,
        )
    reason: str | None
    try:
        second = _outputs(t.fn(_fresh(t.inputs)))
        changed = sorted(n for n in first.keys() | second.keys() if _key(first.get(n)) != _key(second.get(n)))
        reason = f"unstable: the second run differed in {', '.join(changed)}" if changed else None
    except Exception as e:
        reason = f"the second run raised {_describe(e)}"
    seconds = time.perf_counter() - start
    outputs = {name: _record_output(name, c) for name, c in first.items()}
    return ProbeResult(
        group=GROUP,
        status="ok",
        digest=result_digest(outputs, flags),
        outputs=outputs,
        flags=flags,
        stable=reason is None,
        version=t.version,
        reason=reason,
        seconds=seconds,
    )


def _fresh(inputs: Any) -> Any:
    try:
        return copy.deepcopy(inputs)
    except Exception:  # an input that cannot be copied (a handle, a lock) is passed as it is
        return inputs


def _key(c: Canonical | None) -> tuple[str, str, tuple[int, ...], bytes] | None:
    return None if c is None else c.key()


def _flags(t: Transform) -> dict[str, Scalar]:
    flags: dict[str, Scalar] = {"kind": t.kind, "rtol": t.rtol, "atol": t.atol}
    digest = _inputs_digest(t.inputs)
    if digest is not None:
        flags["inputs"] = digest
    if t.row_labels is not None and len(t.row_labels) <= FULL_VALUES:
        flags["row_labels"] = json.dumps(list(t.row_labels), ensure_ascii=False)
    return flags


def _inputs_digest(inputs: Any) -> str | None:
    """Returns a short sha256 of the inputs in canonical form, None for inputs it cannot canonicalise."""
    try:
        columns = _outputs(inputs)
    except (TypeError, ValueError, OverflowError):
        return None
    h = hashlib.sha256()
    for name, c in columns.items():
        h.update(f"{name}|{c.kind}|{c.dtype}|{c.shape}|".encode())
        h.update(c.data)
    return h.hexdigest()[:16]


def _record_output(name: str, c: Canonical) -> ProbeOutput:
    out = to_output(name, c)
    n = len(c.lines) if c.flat is None else int(c.flat.size)
    if n > FULL_VALUES or len(out.sample_index) == n:
        return out
    if c.flat is None:
        samples = c.lines
    elif c.kind == "int":
        samples = tuple(str(v) for v in c.flat.tolist())
    else:
        samples = tuple(float_hex(v) for v in c.flat.tolist())
    return dataclasses.replace(out, samples=samples, sample_index=tuple(range(n)), blocks=())


def _describe(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200]}" if text else type(e).__name__


def _outputs(value: Any) -> dict[str, Canonical]:
    """Returns a function's result as named canonical columns; raises TypeError for unsupported values."""
    if _is_pandas(value, "DataFrame"):
        out: dict[str, Canonical] = {}
        for key, series in value.items():
            if str(key) in out:
                raise TypeError(f"duplicate column name {key!r}")
            out[str(key)] = _from_array(series.to_numpy())
        return out
    if _is_pandas(value, "Series"):
        return {"output" if value.name is None else str(value.name): _from_array(value.to_numpy())}
    if isinstance(value, Mapping):
        return {str(k): _column(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and value and all(isinstance(r, Mapping) for r in value):
        keys = dict.fromkeys(k for row in value for k in row)
        return {str(k): _from_values([row.get(k) for row in value]) for k in keys}
    return {"output": _column(value)}


def _is_pandas(value: Any, cls: str) -> bool:
    t = type(value)
    return t.__module__.startswith("pandas") and t.__name__ == cls


def _column(value: Any) -> Canonical:

    if _is_pandas(value, "Series"):
        return _from_array(value.to_numpy())
    if isinstance(value, (np.ndarray, np.generic)):
        return _from_array(np.asarray(value))
    if isinstance(value, (list, tuple)):
        return _from_values(list(value))
    if isinstance(value, (bool, numbers.Number)):
        return _from_array(np.asarray(value))
    return _from_values([value])


def _from_array(arr: npt.NDArray[Any]) -> Canonical:
    kind = arr.dtype.kind
    if arr.dtype.names:
        raise TypeError("a structured array: return a dict of columns instead")
    if kind in "biufc":
        return canonical(arr)
    flat = arr.reshape(-1)
    if kind == "M":
        return _text(tuple(str(x) for x in flat), "datetime")
    if kind == "m":
        return _text(tuple(str(x) for x in flat), "timedelta")
    if kind in "US":
        return _text(tuple(str(x) for x in flat), "text")
    if kind == "O":
        return _from_values(flat.tolist())
    raise TypeError(f"an output of dtype {arr.dtype} cannot be recorded")


def _text(lines: tuple[str, ...], dtype: str) -> Canonical:
    c = canonical(lines)
    return c if dtype == "text" else dataclasses.replace(c, dtype=dtype)


def _from_values(values: list[Any]) -> Canonical:
    """Returns a column of Python values: numbers as an array, text and timestamps exactly, else repr."""

    if not values:
        return _text((), "text")
    kinds = {_kind(v) for v in values}
    try:
        if kinds == {"bool"}:
            return canonical(np.array(values, dtype=bool))
        if kinds == {"int"}:
            return canonical(np.array(values, dtype=np.int64))
        if kinds <= {"int", "float", "none"} and kinds != {"none"}:
            # None in a numeric column is a missing value, as in pandas: NaN
            return canonical(np.array([np.nan if v is None else v for v in values], dtype=np.float64))
        if kinds == {"array"}:
            return _from_array(np.asarray(values))
    except (OverflowError, ValueError, TypeError):
        pass  # ints beyond int64, ragged arrays: recorded as text below
    if kinds == {"str"}:
        return _text(tuple(values), "text")
    if kinds <= {"datetime", "none"}:
        return _text(tuple("None" if v is None else _iso(v) for v in values), "datetime")
    return _text(tuple(_repr(v) for v in values), "object")


def _kind(v: Any) -> str:

    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, numbers.Integral):
        return "int"
    if isinstance(v, numbers.Real):
        return "float"
    if v is None:
        return "none"
    if isinstance(v, str):
        return "str"
    if isinstance(v, (datetime.date, datetime.time, np.datetime64)):
        return "datetime"
    if isinstance(v, (np.ndarray, list, tuple)):
        return "array"
    return "other"


def _iso(v: Any) -> str:
    iso = getattr(v, "isoformat", None)
    return str(iso()) if callable(iso) else str(v)


def _repr(v: Any) -> str:
    if isinstance(v, (datetime.date, datetime.time)):
        return _iso(v)
    return repr(v)


class EdgeCases(list[dict[str, Any]]):
    """Input rows (a list of dicts) with a label per row naming the edge case it holds."""

    def __init__(self, rows: Iterable[dict[str, Any]] = (), labels: Iterable[str] = ()) -> None:
        super().__init__(rows)
        self.labels: tuple[str, ...] = tuple(labels)
        if len(self.labels) != len(self):
            raise ValueError(f"{len(self)} rows but {len(self.labels)} labels")
