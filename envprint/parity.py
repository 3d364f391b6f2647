"""User transform probes: parity of feature transforms, encoders and golden predictions.

The environment is one source of training-serving skew; the feature code and the model are the
others: missing values filled differently, time zones, unknown categories dropped instead of
mapped, a vocabulary that drifted. A *transform probe* runs a user function on fixed inputs and
records its outputs in the fingerprint as a probe of group ``"parity"``::

    import envprint
    from envprint.parity import edge_cases

    CASES = edge_cases(columns={"age": 40.0}, categories={"color": ["red", "green"]})

    @envprint.probe("features", inputs=CASES)        # rtol=1e-6, atol=0.0 by default
    def features(rows): ...

At capture (``envprint capture --probes-from mypkg.parity``) every registered function runs twice,
each time on a fresh deep copy of its inputs. Its result is split into named columns (a dict of
columns, a list of row dicts, a pandas DataFrame, or one array named ``output``) and recorded
column by column with the core probes' recorder: numeric columns of up to `FULL_VALUES` values in
full (float.hex), so a re-run is compared element by element within rtol/atol and the row and
column of a difference are named; larger ones as samples plus digests; text, categories and
timestamps exactly. The tolerance, a digest of the inputs and the row labels are recorded with the
result. `envprint parity`, the pytest fixture ``envprint_parity`` and the serving guard re-run the
registered functions in their own process and compare (`check`, `rerun`, `compare`, `findings`).
See docs/parity.md.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import math
import numbers
import re
import sys
import time
import types
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from envprint.errors import EnvprintError, UsageError
from envprint.model import Fingerprint, ProbeOutput, ProbeResult, Scalar, Unavailable
from envprint.probes._record import Canonical, canonical, float_hex, to_output
from envprint.probes.suite import result_digest

if TYPE_CHECKING:
    from envprint.diff import Finding
    from envprint.signing import TrustedKeysLike

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "ENTRY_POINT_GROUP",
    "FULL_VALUES",
    "GROUP",
    "EdgeCases",
    "Mismatch",
    "ParityReport",
    "ProbeParity",
    "Transform",
    "attach",
    "check",
    "compare",
    "discover",
    "edge_cases",
    "findings",
    "get",
    "probe",
    "record",
    "recorded",
    "register_transform",
    "registered",
    "rerun",
    "unregister",
    "vocabulary_probe",
]

#: the probe group of every transform probe in a fingerprint
GROUP = "parity"
#: entry point group whose entries (modules, or callables taking no argument) register transform probes
ENTRY_POINT_GROUP = "envprint.probes"
#: outputs with at most this many values are recorded in full; larger ones as samples and digests
FULL_VALUES = 10_000
#: mismatches kept per probe, worst first
WORST = 10
DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 0.0

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]*")
F = TypeVar("F", bound=Callable[..., Any])
Status = Literal["pass", "fail", "missing", "error"]


# ------------------------------------------------------------------------------------ registration


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
    kind: str = "transform"  # "transform" or "vocabulary"
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
    return _add(transform, replace=replace)


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
    return _add(transform, replace=replace)


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


def _add(transform: Transform, *, replace: bool) -> Transform:
    from envprint.probes import registry

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


# --------------------------------------------------------------------------------------- recording


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


# --------------------------------------------------------------------- outputs as canonical columns


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


# -------------------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class Mismatch:
    """One value outside tolerance, with the row and column it sits in."""

    output: str
    row: int | None  # index along the first axis (the input row); None for a scalar output
    column: str  # the output's name, with the trailing index of a 2-d+ output: "proba[1]"
    row_label: str | None  # the input row's label, e.g. "age=NaN"
    old: str  # the baseline's value, as text
    new: str  # the re-run's value, as text
    abs_diff: float | None = None  # numeric outputs: |new - old| (inf for NaN/inf mismatches)
    allowed: float | None = None  # numeric outputs: atol + rtol·|old|

    def where(self) -> str:
        """Returns the place of the value, e.g. "row 3 (age=None), column 'age'"."""
        if self.row is None:
            return f"column {self.column!r}"
        label = f" ({self.row_label})" if self.row_label else ""
        return f"row {self.row}{label}, column {self.column!r}"

    def describe(self) -> str:
        """Returns one line: where, old → new, and by how much against the tolerance."""
        by = ""
        if self.abs_diff is not None and self.allowed is not None and math.isfinite(self.abs_diff):
            by = f" (|Δ| {self.abs_diff:.3g} > allowed {self.allowed:.3g})"
        return f"{self.where()}: {self.old} → {self.new}{by}"

    def score(self) -> float:
        """Returns how far outside the tolerance the value is (inf for text, ids, NaN and inf)."""
        if self.abs_diff is None or self.allowed is None or self.allowed == 0.0:
            return math.inf
        return self.abs_diff / self.allowed


@dataclass(frozen=True)
class ProbeParity:
    """How a re-run of one transform probe compares with the baseline's recorded result."""

    name: str
    status: Status  # "pass", "fail" (values or shapes differ), "missing" (not re-run here), "error"
    rtol: float
    atol: float
    compared: int  # values compared
    mismatched: int  # values outside tolerance
    mismatches: tuple[Mismatch, ...] = ()  # the worst, up to WORST
    #: what else fails: a changed shape, dtype or output, an error, the inputs changed
    problems: tuple[str, ...] = ()
    #: what does not fail but limits the check, e.g. outputs compared on samples only
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """Returns whether the re-run matches the baseline within tolerance."""
        return self.status == "pass"

    @property
    def tolerance(self) -> str:
        """Returns the tolerance as text, e.g. "rtol 1e-06, atol 0"."""
        return f"rtol {self.rtol:g}, atol {self.atol:g}"

    def summary(self) -> str:
        """Returns one line without the status word: what was compared, the worst difference, the problems."""
        if self.passed:
            return f"{self.compared} value(s) within {self.tolerance}"
        parts = []
        if self.mismatched:
            worst = self.mismatches[0]
            parts.append(
                f"{self.mismatched} of {self.compared} value(s) outside {self.tolerance}; worst: {worst.describe()}"
            )
        parts.extend(self.problems)
        return "; ".join(parts) or self.status

    def lines(self) -> list[str]:
        """Returns the human report: the status line, then the other worst mismatches and the notes."""
        out = [f"{self.status.upper():7} {self.name}: {self.summary()}"]
        out.extend(f"    {m.describe()}" for m in self.mismatches[1:])
        if self.mismatched > len(self.mismatches):
            out.append(f"    … and {self.mismatched - len(self.mismatches)} more value(s) outside tolerance")
        out.extend(f"    note: {n}" for n in self.notes)
        return out

    def to_data(self) -> dict[str, Any]:
        """Returns the comparison as JSON-safe plain data."""
        return {
            "name": self.name,
            "status": self.status,
            "rtol": self.rtol,
            "atol": self.atol,
            "compared": self.compared,
            "mismatched": self.mismatched,
            "mismatches": [
                {**dataclasses.asdict(m), "abs_diff": _json_float(m.abs_diff), "allowed": _json_float(m.allowed)}
                for m in self.mismatches
            ],
            "problems": list(self.problems),
            "notes": list(self.notes),
        }


def _json_float(value: float | None) -> float | str | None:
    return value if value is None or math.isfinite(value) else repr(value)


@dataclass(frozen=True)
class ParityReport:
    """Every transform probe of a baseline, re-run here and compared; carries its own counts and verdict."""

    baseline: str  # how to name the baseline, e.g. "train.fp (VERIFIED)"
    results: tuple[ProbeParity, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Returns the number of probes per status: pass, fail, missing, error."""
        out = dict.fromkeys(("pass", "fail", "missing", "error"), 0)
        for r in self.results:
            out[r.status] += 1
        return out

    @property
    def passed(self) -> bool:
        """Returns whether every recorded probe was re-run and matches within its tolerance."""
        return all(r.passed for r in self.results)

    @property
    def exit_code(self) -> int:
        """Returns the CLI exit status: 0 when every probe passes, 1 otherwise."""
        return 0 if self.passed else 1

    @property
    def verdict(self) -> str:
        """Returns one line, e.g. "PARITY: 3 pass" or "MISMATCH: 1 fail, 1 missing, 2 pass"."""
        c = self.counts
        summary = ", ".join(f"{c[s]} {s}" for s in ("fail", "error", "missing", "pass") if c[s])
        return f"{'PARITY' if self.passed else 'MISMATCH'}: {summary} (baseline {self.baseline})"

    def text(self) -> str:
        """Returns the human report: the verdict, then each probe's lines."""
        return "\n".join([self.verdict, *(line for r in self.results for line in r.lines())])

    def to_data(self) -> dict[str, Any]:
        """Returns the report as JSON-safe plain data (``envprint parity --format json``)."""
        return {
            "format": "envprint-parity",
            "version": 1,
            "baseline": self.baseline,
            "passed": self.passed,
            "counts": self.counts,
            "results": [r.to_data() for r in self.results],
        }


@dataclass
class _OutputCheck:
    compared: int = 0
    mismatched: int = 0
    mismatches: list[tuple[int, Mismatch]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def compare(a: ProbeResult, b: ProbeResult | None, *, name: str) -> ProbeParity:
    """Returns how re-run `b` of transform probe `name` compares with baseline result `a`.

    Uses the baseline's recorded tolerance: a float value passes when |new − old| <= atol +
    rtol·|old|, NaN matches NaN, an infinity only itself; integers, text and timestamps must be
    equal. `b` None means the probe was not re-run (not registered here).
    """
    rtol, atol = _tolerance(a)

    def error(status: Status, problem: str) -> ProbeParity:
        return ProbeParity(name, status, rtol, atol, 0, 0, (), (problem,))

    if b is None:
        return error(
            "missing",
            "recorded in the baseline but not registered in this process "
            "(import its module: --probes-from MODULE or an envprint.probes entry point)",
        )
    for side, r in (("baseline", a), ("re-run", b)):
        if r.status != "ok":
            return error("error", f"the {side} {r.status}" + (f": {r.reason}" if r.reason else ""))
    if a.version != b.version:
        return error("error", f"definition version {a.version} in the baseline, {b.version} here: record it again")
    inputs_a, inputs_b = a.flags.get("inputs"), b.flags.get("inputs")
    if inputs_a is not None and inputs_b is not None and inputs_a != inputs_b:
        return error(
            "error", "its inputs differ from the baseline's (the golden rows changed): restore them or record again"
        )
    labels = _row_labels(a) or _row_labels(b)
    total = _OutputCheck()
    for out_name in [*a.outputs, *(n for n in b.outputs if n not in a.outputs)]:
        try:
            check = _compare_output(out_name, a.outputs.get(out_name), b.outputs.get(out_name), rtol, atol, labels)
        except (ValueError, KeyError, IndexError, OverflowError, TypeError) as e:
            # schema-valid but malformed recorded values (a file edited by hand or by an attacker)
            return error("error", f"output {out_name!r} holds malformed recorded values ({type(e).__name__}: {e})")
        total.compared += check.compared
        total.mismatched += check.mismatched
        total.mismatches.extend(check.mismatches)
        total.problems.extend(check.problems)
        total.notes.extend(check.notes)
    ranked = sorted(total.mismatches, key=lambda pair: (-pair[1].score(), pair[0]))
    failed = bool(total.mismatched or total.problems)
    return ProbeParity(
        name,
        "fail" if failed else "pass",
        rtol,
        atol,
        total.compared,
        total.mismatched,
        tuple(m for _, m in ranked[:WORST]),
        tuple(total.problems),
        tuple(total.notes) + ((f"unstable in the re-run: {b.reason}",) if b.reason else ()),
    )


def _tolerance(r: ProbeResult) -> tuple[float, float]:
    def number(key: str, default: float) -> float:
        v = r.flags.get(key)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else default

    return number("rtol", DEFAULT_RTOL), number("atol", DEFAULT_ATOL)


def _row_labels(r: ProbeResult) -> tuple[str, ...] | None:
    text = r.flags.get("row_labels")
    if not isinstance(text, str):
        return None
    try:
        labels = json.loads(text)
    except ValueError:
        return None
    return tuple(str(x) for x in labels) if isinstance(labels, list) else None


def _compare_output(
    name: str,
    a: ProbeOutput | None,
    b: ProbeOutput | None,
    rtol: float,
    atol: float,
    labels: tuple[str, ...] | None,
) -> _OutputCheck:
    check = _OutputCheck()
    if a is None or b is None:
        check.problems.append(f"output {name!r} is {'new in the re-run' if a is None else 'missing in the re-run'}")
        return check
    if a.digest == b.digest:
        check.compared = len(a.samples)
        if _sampled(a):
            check.notes.append(f"{name!r}: identical bits ({_count(a)} values, digest)")
        return check
    if a.kind != b.kind:
        check.problems.append(f"output {name!r} changed from {a.kind} {a.dtype} to {b.kind} {b.dtype}")
        return check
    if a.dtype != b.dtype:
        check.problems.append(f"output {name!r} changed dtype {a.dtype} → {b.dtype}")
    rows_changed = a.shape != b.shape
    if rows_changed and not (a.shape and b.shape and a.shape[1:] == b.shape[1:]):
        check.problems.append(f"output {name!r} changed shape {a.shape} → {b.shape}")
        return check
    if rows_changed:
        if _sampled(a) or _sampled(b):
            check.problems.append(
                f"output {name!r} has {b.shape[0]} row(s), the baseline {a.shape[0]} (rows dropped or added)"
            )
        else:
            _realign(check, name, a, b, rtol, atol, labels)
        return check
    theirs = dict(zip(b.sample_index, b.samples, strict=False))
    for index, old, new in ((i, x, theirs[i]) for i, x in zip(a.sample_index, a.samples, strict=False) if i in theirs):
        check.compared += 1
        mismatch = _value_mismatch(a, b, index, old, new, rtol, atol, name, labels)
        if mismatch is not None:
            check.mismatched += 1
            check.mismatches.append((index, mismatch))
    if _sampled(a) and not check.mismatched:
        check.notes.append(
            f"{name!r} differs outside its {check.compared} recorded samples of {_count(a)} values "
            f"(outputs over {FULL_VALUES} values are sampled: golden inputs that small are compared in full)"
        )
    return check


def _realign(
    check: _OutputCheck,
    name: str,
    a: ProbeOutput,
    b: ProbeOutput,
    rtol: float,
    atol: float,
    labels: tuple[str, ...] | None,
) -> None:
    """Pairs the rows of two outputs whose row counts differ (rows dropped or added).

    Equal leading and trailing rows match; the rows between are compared pairwise, and those left
    over are missing (reported per row, named) or added. A linear scan, not a full alignment: it is
    exact for one run of dropped or added rows, and names the first differing row otherwise.
    """
    width = math.prod(a.shape[1:]) * (2 if a.kind == "complex" else 1)
    rows_a = [a.samples[i * width : (i + 1) * width] for i in range(a.shape[0])]
    rows_b = [b.samples[j * width : (j + 1) * width] for j in range(b.shape[0])]
    na, nb = len(rows_a), len(rows_b)
    head = 0
    while head < min(na, nb) and rows_a[head] == rows_b[head]:
        head += 1
    tail = 0
    while tail < min(na, nb) - head and rows_a[na - 1 - tail] == rows_b[nb - 1 - tail]:
        tail += 1
    check.compared += (head + tail) * width
    paired = min(na, nb) - head - tail
    for i in range(head, head + paired):
        for c in range(width):
            check.compared += 1
            index = i * width + c
            mismatch = _value_mismatch(a, b, index, rows_a[i][c], rows_b[i][c], rtol, atol, name, labels)
            if mismatch is not None:
                check.mismatched += 1
                check.mismatches.append((index, mismatch))
    missing = range(head + paired, na - tail)
    for i in missing:
        check.compared += width
        check.mismatched += 1
        label = labels[i] if labels is not None and i < len(labels) else None
        shown = ", ".join(_display(a, v) for v in rows_a[i][:4]) + (", …" if width > 4 else "")
        check.mismatches.append((i * width, Mismatch(name, i, name, label, shown, "(row missing)")))
    added = nb - tail - head - paired
    detail = [f"{len(missing)} row(s) missing from row {missing.start}"] if missing else []
    detail += [f"{added} row(s) added at row {head + paired} of the re-run"] if added else []
    check.problems.append(f"output {name!r} has {nb} row(s), the baseline {na}: {', '.join(detail)}")


def _display(o: ProbeOutput, text: str) -> str:
    if o.kind == "text":
        return repr(text)
    if o.kind == "int":
        return text
    return _show(float.fromhex(text), o.dtype)


def _count(o: ProbeOutput) -> int:
    n = math.prod(o.shape)
    return 2 * n if o.kind == "complex" else n


def _sampled(o: ProbeOutput) -> bool:
    return len(o.samples) < _count(o)


def _value_mismatch(
    a: ProbeOutput,
    b: ProbeOutput,
    index: int,
    old: str,
    new: str,
    rtol: float,
    atol: float,
    name: str,
    labels: tuple[str, ...] | None,
) -> Mismatch | None:
    if old == new:
        return None
    row, column = _locate(a, index, name)
    label = labels[row] if labels is not None and row is not None and row < len(labels) else None
    if a.kind == "text":
        return Mismatch(name, row, column, label, repr(old), repr(new))
    if a.kind == "int":
        return Mismatch(name, row, column, label, old, new, float(abs(int(new) - int(old))), 0.0)
    x, y = float.fromhex(old), float.fromhex(new)
    if math.isnan(x) and math.isnan(y):
        return None
    if math.isfinite(x) and math.isfinite(y):
        diff, allowed = abs(y - x), atol + rtol * abs(x)
        if diff <= allowed:
            return None
    elif x == y:
        return None
    else:
        diff, allowed = math.inf, atol + rtol * abs(x) if math.isfinite(x) else 0.0
    return Mismatch(name, row, column, label, _show(x, a.dtype), _show(y, b.dtype), diff, allowed)


def _locate(o: ProbeOutput, index: int, name: str) -> tuple[int | None, str]:
    element, part = (index // 2, (".re", ".im")[index % 2]) if o.kind == "complex" else (index, "")
    if not o.shape:
        return None, name + part
    width = math.prod(o.shape[1:])
    row, rest = divmod(element, width) if width else (element, 0)
    if len(o.shape) == 1:
        return row, name + part
    inner = ",".join(str(int(i)) for i in np.unravel_index(rest, o.shape[1:]))
    return row, f"{name}[{inner}]{part}"


def _show(value: float, dtype: str) -> str:
    unit = {"complex64": "float32", "complex128": "float64"}.get(dtype, dtype)
    try:
        return str(np.dtype(unit).type(value))
    except TypeError:
        return repr(value)


# ---------------------------------------------------------------------------------- report, hooks


def check(
    baseline: str | Path | Fingerprint,
    *,
    modules: Iterable[str] = (),
    entry_points: bool = True,
    trusted_keys: TrustedKeysLike | None = None,
) -> ParityReport:
    """Returns every transform probe of `baseline` re-run in this process and compared within tolerance.

    `baseline` is a `.fp` path (verified first when `trusted_keys` are given) or a Fingerprint.
    `modules` and `entry_points` are discovered first (`discover`). Raises `UsageError` when the
    baseline records no transform probe: a parity check that checks nothing must not pass.
    """
    if isinstance(baseline, Fingerprint):
        fp, label = baseline, f"{baseline.meta.label or 'fingerprint'} (in memory)"
    else:
        from envprint.codec import read

        loaded = read(baseline, trusted_keys=trusted_keys)
        fp, label = loaded.fingerprint, f"{baseline} ({loaded.label})"
    results = recorded(fp.probes)
    if not results:
        raise UsageError(
            f"{label}: records no transform (parity) probe, so there is nothing to check",
            hint="capture the baseline with `envprint capture --probes-from MODULE` where MODULE registers them",
        )
    discover(modules, entry_points=entry_points)
    fresh = rerun(results)
    return ParityReport(label, tuple(compare(r, fresh.get(name), name=name) for name, r in results.items()))


#: why a transform difference matters, and what restores parity (the explain catalogue's text)
def _explanation(kind: str) -> tuple[str, str]:
    from envprint.explain import CATALOGUE

    entry = CATALOGUE[kind]
    return entry.why, entry.remedy


def findings(a: Mapping[str, ProbeResult] | Unavailable, b: Mapping[str, ProbeResult] | Unavailable) -> list[Finding]:
    """Returns the findings of the transform probes (group "parity") between two probe sections.

    Kinds: ``parity.differs`` (critical: values outside tolerance, or outputs changed shape),
    ``parity.error`` (critical: the function raised, its inputs or version changed),
    ``parity.missing`` (warning: recorded in `a`, absent from `b`) and ``parity.added`` (info).
    Paths are ``probes.<name>``. Probes of other groups are ignored: `envprint.diff` compares those.
    """
    from envprint.diff import Finding, Magnitude, Severity

    a_map, b_map = recorded(a), recorded(b)
    out: list[Finding] = []
    for name, ra in a_map.items():
        result = compare(ra, b_map.get(name), name=name)
        if result.passed:
            continue
        path = f"probes.{name}"
        if result.status == "missing":
            title = f"transform probe {name}: {result.summary()}"
            why, remedy = _explanation("parity.missing")
            out.append(Finding("parity.missing", path, Severity.warning, "recorded", None, title, why, remedy))
            continue
        worst = result.mismatches[0] if result.mismatches else None
        kind = "parity.differs" if result.status == "fail" else "parity.error"
        differing = tuple(dict.fromkeys(m.output for m in result.mismatches))
        magnitude = Magnitude(
            fraction=result.mismatched / result.compared if result.compared else None,
            outputs=differing,
            categorical=bool(result.problems) or any(math.isinf(m.score()) for m in result.mismatches),
        )
        out.append(
            Finding(
                kind=kind,
                path=path,
                severity=Severity.critical,
                old=worst.old if worst else ra.status,
                new=worst.new if worst else (b_map[name].status if name in b_map else None),
                title=f"transform probe {name}: {result.summary()}",
                why=_explanation(kind)[0],
                remedy=_explanation(kind)[1],
                magnitude=magnitude,
            )
        )
    out.extend(
        Finding(
            "parity.added",
            f"probes.{name}",
            Severity.info,
            None,
            "recorded",
            f"transform probe {name}: recorded only in the second fingerprint",
        )
        for name in b_map
        if name not in a_map
    )
    return out


# -------------------------------------------------------------------------------------- edge cases


class EdgeCases(list[dict[str, Any]]):
    """Input rows (a list of dicts) with a label per row naming the edge case it holds."""

    def __init__(self, rows: Iterable[dict[str, Any]] = (), labels: Iterable[str] = ()) -> None:
        super().__init__(rows)
        self.labels: tuple[str, ...] = tuple(labels)
        if len(self.labels) != len(self):
            raise ValueError(f"{len(self)} rows but {len(self.labels)} labels")


_UTC = datetime.timezone.utc
_TYPICAL_TIME = datetime.datetime(2024, 6, 15, 12, 0, tzinfo=_UTC)
_ABSENT = object()  # marks an edge case that removes the key from the row


def edge_cases(
    columns: Mapping[str, Any] | Sequence[str] = (),
    *,
    categories: Mapping[str, Sequence[str]] | None = None,
    timestamps: Sequence[str] = (),
    text: Sequence[str] = (),
    zones: Sequence[str] = ("America/New_York", "Europe/Berlin"),
    year: int = 2024,
    unseen: str = "<unseen>",
    base: Mapping[str, Any] | None = None,
) -> EdgeCases:
    """Returns rows that expose the classic tabular skews, one edge case per row, each labelled.

    The first row is typical: `columns` (numeric; a mapping gives each its typical value, default
    1.0) at their typical value, each of `categories` at its first known value, `timestamps` at
    noon UTC, `text` columns "text", plus `base`'s extra columns. Every other row changes one
    column to one edge value, so a difference names the column and the case:

    * numeric: None, key absent, NaN, ±inf, ±0.0, ±1e308, the subnormal 5e-324, 3.5e38 (overflows
      float32), 2^53 + 1 (not a float64), the empty string (a CSV or JSON field left blank);
    * categorical: the `unseen` category, None, key absent, "", NaN, upper-case and padded variants
      of a known category;
    * timestamps (timezone-aware `datetime`s): midnight UTC, local midnight in each of `zones`, one
      second before and at each DST change of `year` in each zone, and inside the repeated hour, a
      naive midnight (no time zone), the epoch and a second before it, a leap day, the last
      microsecond of the year before, 2^31 seconds (beyond int32), None and key absent;
    * text: "", whitespace, None, key absent, "café" composed (NFC) and decomposed (NFD), "Straße",
      an emoji, and a 10,000-character string.

    Raises `UsageError` for a zone this machine's tz database does not know.
    """
    numeric = dict(columns) if isinstance(columns, Mapping) else dict.fromkeys(columns, 1.0)
    cats = {k: list(v) for k, v in (categories or {}).items()}
    for name, known in cats.items():
        if not known:
            raise UsageError(f"edge_cases: category column {name!r} needs at least one known category")
    typical: dict[str, Any] = dict(base or {})
    typical.update(numeric)
    typical.update({k: v[0] for k, v in cats.items()})
    typical.update(dict.fromkeys(timestamps, _TYPICAL_TIME))
    typical.update(dict.fromkeys(text, "text"))

    cases: list[tuple[str, str, Any]] = []
    for col in numeric:
        cases.extend((col, label, value) for label, value in _NUMERIC_EDGES)
    for col, known in cats.items():
        cases.extend((col, label, value) for label, value in _category_edges(known, unseen))
    if timestamps:
        moments = _timestamp_edges(zones, year)
        for col in timestamps:
            cases.extend((col, label, value) for label, value in moments)
    for col in text:
        cases.extend((col, label, value) for label, value in _TEXT_EDGES)

    rows, labels = [dict(typical)], ["typical"]
    for col, label, value in cases:
        row = dict(typical)
        if value is _ABSENT:
            del row[col]
        else:
            row[col] = value
        rows.append(row)
        labels.append(f"{col}={label}")
    return EdgeCases(rows, labels)


_NUMERIC_EDGES: tuple[tuple[str, Any], ...] = (
    ("None", None),
    ("absent", _ABSENT),
    ("NaN", math.nan),
    ("+inf", math.inf),
    ("-inf", -math.inf),
    ("0.0", 0.0),
    ("-0.0", -0.0),
    ("1e308", 1e308),
    ("-1e308", -1e308),
    ("5e-324", 5e-324),
    ("3.5e38", 3.5e38),
    ("2^53+1", 2**53 + 1),
    ("''", ""),
)

_TEXT_EDGES: tuple[tuple[str, Any], ...] = (
    ("''", ""),
    ("' '", " "),
    ("None", None),
    ("absent", _ABSENT),
    ("NFC 'café'", "caf\u00e9"),
    ("NFD 'café'", "cafe\u0301"),
    ("'Straße'", "Stra\u00dfe"),
    ("emoji", "\U0001f600"),
    ("10000 chars", "x" * 10_000),
)


def _category_edges(known: Sequence[str], unseen: str) -> list[tuple[str, Any]]:
    first = str(known[0])
    case = first.upper() if first.upper() != first else first.lower()
    edges: list[tuple[str, Any]] = [
        (unseen, unseen),
        ("None", None),
        ("absent", _ABSENT),
        ("''", ""),
        ("NaN", math.nan),
        (repr(f" {first} "), f" {first} "),
    ]
    if case != first:
        edges.append((repr(case), case))
    return edges


def _timestamp_edges(zones: Sequence[str], year: int) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [("UTC midnight", datetime.datetime(year, 1, 1, tzinfo=_UTC))]
    for key in zones:
        try:
            zone = zoneinfo.ZoneInfo(key)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise UsageError(
                f"edge_cases: time zone {key!r} is not in this machine's tz database",
                hint="install the tzdata package (pip install tzdata) or pass other zones=",
            ) from None
        out.append((f"{key} midnight", datetime.datetime(year, 1, 1, tzinfo=zone)))
        for instant, before, after in _transitions(zone, year):
            change = "DST start" if after > before else "DST end"
            out.append((f"{key} {change} -1s", (instant - datetime.timedelta(seconds=1)).astimezone(zone)))
            out.append((f"{key} {change}", instant.astimezone(zone)))
            if after < before:  # the repeated hour: the same wall time twice
                out.append((f"{key} repeated hour", (instant + datetime.timedelta(minutes=30)).astimezone(zone)))
    naive = datetime.datetime(year, 1, 1)
    out += [
        ("naive midnight", naive),
        ("epoch", datetime.datetime(1970, 1, 1, tzinfo=_UTC)),
        ("epoch -1s", datetime.datetime(1969, 12, 31, 23, 59, 59, tzinfo=_UTC)),
        ("leap day", datetime.datetime(2024, 2, 29, 12, 0, tzinfo=_UTC)),
        ("last microsecond", datetime.datetime(year - 1, 12, 31, 23, 59, 59, 999999, tzinfo=_UTC)),
        ("2^31 s", datetime.datetime(2038, 1, 19, 3, 14, 8, tzinfo=_UTC)),
        ("None", None),
        ("absent", _ABSENT),
    ]
    return out


def _transitions(zone: zoneinfo.ZoneInfo, year: int) -> list[tuple[datetime.datetime, float, float]]:
    """Returns (UTC instant, offset before, offset after) of each UTC-offset change of `zone` in `year`."""

    def offset(seconds: int) -> float:
        delta = datetime.datetime.fromtimestamp(seconds, zone).utcoffset()
        return delta.total_seconds() if delta is not None else 0.0

    start = int(datetime.datetime(year, 1, 1, tzinfo=_UTC).timestamp())
    end = int(datetime.datetime(year + 1, 1, 1, tzinfo=_UTC).timestamp())
    out = []
    day = 86_400
    for t in range(start, end, day):  # offsets change at most once a day: find the day, bisect the second
        before, after = offset(t), offset(t + day)
        if before == after:
            continue
        lo, hi = t, t + day
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if offset(mid) == before else (lo, mid)
        out.append((datetime.datetime.fromtimestamp(hi, _UTC), before, after))
    return out
