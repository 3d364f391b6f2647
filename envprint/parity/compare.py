"""Comparing transform probes within their tolerance: per probe (`compare`), per baseline (`check`).

Numeric columns recorded in full are compared element by element within rtol/atol, so a mismatch
names its row (with the edge-case label) and column; sampled columns by samples and digests; text,
categories and timestamps exactly.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from envprint.codec import read
from envprint.errors import UsageError
from envprint.model import Fingerprint, ProbeOutput, ProbeResult
from envprint.probes.transforms import DEFAULT_ATOL, DEFAULT_RTOL, FULL_VALUES, discover, recorded, rerun

if TYPE_CHECKING:
    from envprint.signing import TrustedKeysLike


#: mismatches kept per probe, worst first
WORST = 10
Status = Literal["pass", "fail", "missing", "error"]


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
    inner = ",".join(str(i) for i in _unravel(rest, o.shape[1:]))
    return row, f"{name}[{inner}]{part}"


def _show(value: float, dtype: str) -> str:
    unit = {"complex64": "float32", "complex128": "float64"}.get(dtype, dtype)
    try:
        import numpy as np  # float32/float16 shortest repr; deferred so comparing never imports numpy

        return str(np.dtype(unit).type(value))
    except TypeError:
        return repr(value)


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


def _unravel(index: int, shape: tuple[int, ...]) -> list[int]:
    """Returns the multi-index of flat `index` in an array of `shape` (C order)."""
    out = []
    for n in reversed(shape):
        index, i = divmod(index, n)
        out.append(i)
    return out[::-1]
