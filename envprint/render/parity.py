"""Renders transform-probe parity: one probe's comparison as lines, a baseline's check as a report."""

from __future__ import annotations

from envprint.parity.compare import ParityReport, ProbeParity

__all__ = ["parity_lines", "parity_text"]


def parity_lines(result: ProbeParity) -> list[str]:
    """Returns the human report: the status line, then the other worst mismatches and the notes."""
    out = [f"{result.status.upper():7} {result.name}: {result.summary()}"]
    out.extend(f"    {m.describe()}" for m in result.mismatches[1:])
    if result.mismatched > len(result.mismatches):
        out.append(f"    … and {result.mismatched - len(result.mismatches)} more value(s) outside tolerance")
    out.extend(f"    note: {n}" for n in result.notes)
    return out


def parity_text(report: ParityReport) -> str:
    """Returns the human report: the verdict, then each probe's lines."""
    return "\n".join([report.verdict, *(line for r in report.results for line in parity_lines(r))])
