"""What `envprint golden compare` found: per probe, rows compared, values outside tolerance, rows missing or extra.

The report carries its own counts, verdict and exit code; renderers (`envprint.render.golden`) only
lay it out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["GoldenReport", "ProbeComparison", "RowRef", "Status", "ValueMismatch"]

Status = Literal["pass", "fail", "missing"]
_STATUSES: tuple[Status, ...] = ("fail", "missing", "pass")


@dataclass(frozen=True)
class ValueMismatch:
    """One output value outside its tolerance, with the row (and its edge-case label) and column it sits in."""

    row: int  # the row's index in the bundle: line row + 1 of NAME.inputs.jsonl
    label: str | None  # the input row's label, e.g. "age=NaN" or "random 17: color=unseen"
    column: str
    expected: str  # the bundle's value, as JSON text ("37.5", "NaN", "\"red\"", "null", "(absent)")
    got: str  # the implementation's value, same notation
    abs_diff: float | None  # |got − expected| for two numbers (inf when one is NaN or infinite); None otherwise
    allowed: float  # atol + rtol·|expected|; 0.0 for a column compared exactly

    def where(self) -> str:
        """Returns the place of the value, e.g. "row 3 (age=None), column 'age'"."""
        label = f" ({self.label})" if self.label else ""
        return f"row {self.row}{label}, column {self.column!r}"

    def describe(self) -> str:
        """Returns one line: where, expected, got, and by how much against the tolerance."""
        by = ""
        if self.abs_diff is not None and math.isfinite(self.abs_diff):
            by = f" (|Δ| {self.abs_diff:.3g} > allowed {self.allowed:.3g})" if self.allowed else " (exact)"
        return f"{self.where()}: expected {self.expected}, got {self.got}{by}"

    def score(self) -> float:
        """Returns how far outside the tolerance the value is: inf for exact columns, text, NaN and infinities."""
        if self.abs_diff is None or not self.allowed:
            return math.inf
        return self.abs_diff / self.allowed


@dataclass(frozen=True)
class RowRef:
    """A whole row: an expected row the outputs lack, or an output line the bundle has no row for."""

    row: int  # expected: the bundle's row index; extra: the outputs file's line number (1-based)
    label: str | None = None

    def describe(self) -> str:
        """Returns "row 14 (color=<unseen>)"."""
        return f"row {self.row}" + (f" ({self.label})" if self.label else "")


@dataclass(frozen=True)
class ProbeComparison:
    """One probe's outputs against the bundle's expected outputs."""

    name: str
    status: Status  # "pass", "fail" (values, rows or columns differ), "missing" (no outputs file)
    outputs: str  # the outputs file compared (or looked for)
    rows_expected: int
    rows_got: int  # 0 when the outputs file is missing
    rows_compared: int  # rows paired with an expected row
    values_compared: int
    values_mismatched: int
    rows_mismatched: int
    #: (column, values outside tolerance) for each column with any, in the bundle's column order
    by_column: tuple[tuple[str, int], ...] = ()
    mismatches: tuple[ValueMismatch, ...] = ()  # the worst first, at most the `shown` asked for
    missing_rows: tuple[RowRef, ...] = ()  # expected rows without an output row (the first ones)
    missing_count: int = 0
    extra_rows: tuple[RowRef, ...] = ()  # output lines without an expected row (the first ones)
    extra_count: int = 0
    #: columns the outputs hold that the bundle does not know (not compared; a note)
    unknown_columns: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """Returns whether every expected row has an output row whose values are within tolerance."""
        return self.status == "pass"

    def summary(self) -> str:
        """Returns one line without the status word: what was compared, what differs, the worst case."""
        if self.status == "missing":
            return f"no outputs: {self.outputs} does not exist ({self.rows_expected} row(s) expected)"
        if self.passed:
            return f"{self.rows_compared} row(s), {self.values_compared} value(s) within tolerance"
        parts = []
        if self.values_mismatched:
            columns = ", ".join(f"{name} {count}" for name, count in self.by_column)
            parts.append(
                f"{self.values_mismatched} value(s) in {self.rows_mismatched} of {self.rows_compared} row(s) "
                f"outside tolerance ({columns}); worst: {self.mismatches[0].describe()}"
            )
        if self.missing_count:
            first = f"; first: {self.missing_rows[0].describe()}" if self.missing_rows else ""
            parts.append(
                f"{self.missing_count} row(s) missing from the outputs "
                f"({self.rows_got} row(s), the bundle {self.rows_expected}){first}"
            )
        if self.extra_count:
            first = f"; first at line {self.extra_rows[0].row}" if self.extra_rows else ""
            parts.append(f"{self.extra_count} extra row(s) in the outputs{first}")
        return "; ".join(parts)

    def notes(self) -> list[str]:
        """Returns what does not fail but is worth knowing, e.g. columns the bundle does not know."""
        if not self.unknown_columns:
            return []
        return [f"column(s) not in the bundle, not compared: {', '.join(self.unknown_columns)}"]


@dataclass(frozen=True)
class GoldenReport:
    """Every probe of a bundle compared with an implementation's outputs; carries its counts and verdict."""

    bundle: str  # the bundle directory, as given
    outputs: str  # the outputs directory, as given
    results: tuple[ProbeComparison, ...]
    #: outputs files in the outputs directory for probes the bundle does not hold (a note)
    unexpected: tuple[str, ...] = ()
    #: the baseline the bundle's expected outputs were checked against at export, e.g. "train.fp (VERIFIED)"
    baseline: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Returns the number of probes per status: fail, missing, pass."""
        out: dict[str, int] = dict.fromkeys(_STATUSES, 0)
        for r in self.results:
            out[r.status] += 1
        return out

    @property
    def passed(self) -> bool:
        """Returns whether every probe of the bundle has outputs within tolerance."""
        return all(r.passed for r in self.results)

    @property
    def exit_code(self) -> int:
        """Returns the CLI exit status: 0 all within tolerance, 1 any mismatch or missing output."""
        return 0 if self.passed else 1

    @property
    def verdict(self) -> str:
        """Returns one line, e.g. "PARITY: 3 pass" or "MISMATCH: 1 fail, 2 pass"."""
        c = self.counts
        summary = ", ".join(f"{c[s]} {s}" for s in _STATUSES if c[s])
        return f"{'PARITY' if self.passed else 'MISMATCH'}: {summary}"
