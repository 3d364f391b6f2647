"""Compares two results of one probe: identical, or how far apart and in what way.

Magnitudes come from the recorded samples, so they are lower bounds of the true difference:

* ULP distance counts the representable values between two floats of the output's dtype (+0 and
  -0 are 0 ULP apart; across zero the two sides add up). Only *non-cancelling* samples count:
  those with max(|a|, |b|) >= 1e-3 · max|x| of the output, because an output near zero (a GEMM
  entry that cancels, an FFT bin) can be 2^-54 on one host and 0 on another, which is billions
  of ULP and means nothing. Elementwise outputs (exp, log: no cancellation) count every sample.
* normwise is max |a - b| over the samples divided by the larger max|x| of the two outputs. It
  also uses | max|a| - max|b| |, a lower bound of max |a - b| over *every* element.
* A table output's rows (one per function) have scales of their own: each row is measured
  against the largest |x| among its own samples.
* fraction is the share of blocks (equal slices, or table rows) whose digests differ.

A difference that no tolerance in ULP can describe is *categorical*: a flag that changed, an
integer or text output (sort order, hash order, a time zone line), a NaN or infinity on one side
only, or a dtype or shape change.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from envprint.model import ProbeOutput, ProbeResult, Scalar, Unavailable

__all__ = ["NON_CANCELLING", "OutputComparison", "ProbeComparison", "compare", "ulp_distance"]

#: samples below this fraction of the output's max |x| are cancelling and get no ULP count
NON_CANCELLING = 1e-3

_UNIT = {"float16": "float16", "float32": "float32", "float64": "float64"}
_UNIT.update(complex64="float32", complex128="float64")
#: float dtype -> (struct float code, struct unsigned code, bits)
_BITS = {"float16": ("<e", "<H", 16), "float32": ("<f", "<I", 32), "float64": ("<d", "<Q", 64)}
_ABSENT = Unavailable("absent")


@dataclass(frozen=True)
class OutputComparison:
    """How one output of a probe differs between two results."""

    identical: bool
    #: a difference no ULP tolerance describes: ints/text, NaN/inf on one side, dtype/shape/kind change
    categorical: bool
    #: what changed beyond values, e.g. "dtype complex128 -> complex64" or "only in b"
    reason: str | None
    #: max ULP over differing non-cancelling samples; None when no finite sample differs
    max_ulp: int | None
    normwise: float | None
    differing_samples: int
    samples: int
    #: the blocks whose digests differ: a table's row labels, or block numbers
    differing_blocks: tuple[str, ...]
    blocks: int
    #: table outputs: max ULP per row, for the rows whose samples differ
    row_ulp: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ProbeComparison:
    """How two results of one probe differ: the input of `envprint diff` and of ULP tolerances."""

    #: the same bits (a result random per process can be identical, yet is never comparable)
    identical: bool
    #: False when either side did not run, the versions differ, or the result is random per process
    comparable: bool
    reason: str | None
    #: max ULP over the non-cancelling differing samples of every float output
    max_ulp: int | None
    #: max over outputs of max |a - b| / max |x|
    normwise: float | None
    #: share of all blocks (over every output) whose digests differ
    fraction: float | None
    #: share of all samples (over every output) that differ
    sample_fraction: float | None
    differing_outputs: tuple[str, ...]
    #: float outputs that differ only outside their samples: their magnitude is unknown
    unsampled_outputs: tuple[str, ...]
    changed_flags: Mapping[str, tuple[Scalar, Scalar]]
    categorical: bool
    outputs: Mapping[str, OutputComparison] = field(default_factory=dict)


def ulp_distance(a: float, b: float, dtype: str) -> int:
    """Returns how many representable `dtype` values lie between finite `a` and `b` (0 for +0 vs -0).

    Both are first rounded to `dtype` ("float16", "float32", "float64" or a complex dtype, whose
    components count), which is exact for values that came from that dtype.
    """
    return abs(_ordered(a, dtype) - _ordered(b, dtype))


def _ordered(x: float, dtype: str) -> int:
    # struct, not numpy: diff compares probes without importing numpy (CLI start-up cost)
    float_code, int_code, nbits = _BITS[_UNIT[dtype]]
    try:
        (bits,) = struct.unpack(int_code, struct.pack(float_code, x))
    except OverflowError:  # beyond the dtype's range: the nearest infinity, as a numpy cast gives
        (bits,) = struct.unpack(int_code, struct.pack(float_code, math.copysign(math.inf, x)))
    magnitude = bits & ((1 << (nbits - 1)) - 1)
    return int(-magnitude if bits >> (nbits - 1) else magnitude)


#: more samples or table rows than any probe records: refused before comparing (cost is quadratic)
_MAX_SAMPLES = 65536


def _check_sizes(a: ProbeResult, b: ProbeResult) -> None:
    for result in (a, b):
        for name, output in result.outputs.items():
            if len(output.samples) > _MAX_SAMPLES or len(output.block_labels) > _MAX_SAMPLES:
                raise ValueError(f"output {name!r} has more than {_MAX_SAMPLES} samples or rows")
            if len(output.samples) != len(output.sample_index):
                raise ValueError(f"output {name!r} has {len(output.samples)} samples but "
                                 f"{len(output.sample_index)} indices")  # fmt: skip


def compare(a: ProbeResult, b: ProbeResult) -> ProbeComparison:
    """Returns how result `b` of a probe differs from result `a` of the same probe."""
    why_not = _why_incomparable(a, b)
    if why_not is not None:
        # bits can still be equal (two results of one process), but a difference would mean nothing
        identical = a.status == b.status == "ok" and a.version == b.version and a.digest == b.digest
        return ProbeComparison(identical, False, why_not, None, None, None, None, (), (), {}, False)
    flags = {
        k: (a.flags.get(k, _ABSENT), b.flags.get(k, _ABSENT))
        for k in sorted(a.flags.keys() | b.flags.keys())
        if a.flags.get(k, _ABSENT) != b.flags.get(k, _ABSENT)
    }
    try:
        _check_sizes(a, b)
        outputs = {
            name: _compare_output(a.outputs.get(name), b.outputs.get(name))
            for name in sorted(a.outputs.keys() | b.outputs.keys())
        }
    except (ValueError, KeyError, IndexError, OverflowError, TypeError) as e:
        # a file can be schema-valid and still hold samples that are not float.hex, unknown dtypes
        # or inconsistent indices: such results cannot be measured, but they are certainly different
        reason = f"malformed probe data ({type(e).__name__}: {e})"
        return ProbeComparison(a.digest == b.digest, False, reason, None, None, None, None, (), (), {}, False)
    differing = tuple(name for name, o in outputs.items() if not o.identical)
    ulps = [o.max_ulp for o in outputs.values() if o.max_ulp is not None]
    norms = [o.normwise for o in outputs.values() if o.normwise is not None]
    blocks = sum(o.blocks for o in outputs.values())
    samples = sum(o.samples for o in outputs.values())
    return ProbeComparison(
        identical=a.digest == b.digest,
        comparable=True,
        reason=None,
        max_ulp=max(ulps) if ulps else None,
        normwise=max(norms) if norms else None,
        fraction=sum(len(o.differing_blocks) for o in outputs.values()) / blocks if blocks else None,
        sample_fraction=sum(o.differing_samples for o in outputs.values()) / samples if samples else None,
        differing_outputs=differing,
        unsampled_outputs=tuple(
            name
            for name in differing
            if outputs[name].max_ulp is None and not outputs[name].categorical and outputs[name].normwise is None
        ),
        changed_flags=flags,
        categorical=bool(flags) or any(o.categorical for o in outputs.values()),
        outputs=outputs,
    )


def _why_incomparable(a: ProbeResult, b: ProbeResult) -> str | None:
    for side, r in (("a", a), ("b", b)):
        if r.status != "ok":
            return f"{r.status} in {side}" + (f": {r.reason}" if r.reason else "")
    if a.version != b.version:
        return f"probe definition changed (version {a.version} vs {b.version})"
    if a.random_per_process or b.random_per_process:
        return "depends on a per-process random hash seed (PYTHONHASHSEED unset)"
    return None


def _compare_output(a: ProbeOutput | None, b: ProbeOutput | None) -> OutputComparison:
    if a is None or b is None:
        present = a or b
        assert present is not None
        n = max(len(present.blocks), len(present.samples), 1)
        return OutputComparison(
            False, True, f"only in {'b' if a is None else 'a'}", None, None, 0, 0, _labels(present, n), n
        )
    if a.digest == b.digest:
        n = max(len(a.blocks), len(a.samples))
        zero = 0 if a.kind in ("float", "complex") else None
        return OutputComparison(True, False, None, zero, None if zero is None else 0.0, 0, len(a.samples), (), n)
    if a.kind != b.kind or a.shape != b.shape:
        what = f"kind {a.kind} -> {b.kind}" if a.kind != b.kind else f"shape {a.shape} -> {b.shape}"
        n = max(len(a.blocks), len(a.samples), len(b.blocks), len(b.samples), 1)
        return OutputComparison(False, True, what, None, None, 0, 0, _labels(a, n), n)
    pairs = _sample_pairs(a, b)
    differing = [(i, x, y) for i, x, y in pairs if x != y]
    blocks, n_blocks = _differing_blocks(a, b, differing)
    if a.kind not in ("float", "complex"):
        return OutputComparison(False, True, None, None, None, len(differing), len(pairs), blocks, n_blocks)
    return _compare_floats(a, b, pairs, len(differing), blocks, n_blocks)


def _compare_floats(
    a: ProbeOutput,
    b: ProbeOutput,
    pairs: list[tuple[int, str, str]],
    n_differing: int,
    blocks: tuple[str, ...],
    n_blocks: int,
) -> OutputComparison:
    reason = None if a.dtype == b.dtype else f"dtype {a.dtype} -> {b.dtype}"
    # values are compared in the coarser dtype, so float64 vs float32 counts float32 ULPs
    unit = min(_UNIT[a.dtype], _UNIT[b.dtype], key=lambda d: _BITS[d][2])
    elementwise = a.elementwise and b.elementwise
    whole = max(_hex(a.max_abs), _hex(b.max_abs))
    # a table's rows have their own scales (exp next to power): each row is measured against
    # the largest |x| among its own samples, the rest against the output's max |x|
    scale: dict[str | None, float] = {}
    values = []
    for index, x_text, y_text in pairs:
        x, y = float.fromhex(x_text), float.fromhex(y_text)
        row = _row_of(a, index)
        if row is not None:
            scale[row] = max([scale.get(row, 0.0)] + [abs(v) for v in (x, y) if math.isfinite(v)])
        if x_text != y_text:
            values.append((row, x, y))
    nonfinite = False
    max_ulp: int | None = None
    # | max|a| - max|b| | bounds max |a - b| from below, over every element
    normwise = abs(_hex(a.max_abs) - _hex(b.max_abs)) / whole if whole > 0 else 0.0
    row_ulp: dict[str, int] = {}
    for row, x, y in values:
        if not (math.isfinite(x) and math.isfinite(y)):
            nonfinite = nonfinite or not (x == y or (math.isnan(x) and math.isnan(y)))
            continue
        ref = scale.get(row, 0.0) if row is not None else whole
        diff = abs(x - y)
        normwise = max(normwise, diff / ref if ref > 0 else math.inf)
        significant = elementwise or max(abs(x), abs(y)) >= NON_CANCELLING * ref
        ulp = ulp_distance(x, y, unit) if significant else 0
        max_ulp = ulp if max_ulp is None else max(max_ulp, ulp)
        if row is not None:
            row_ulp[row] = max(row_ulp.get(row, 0), ulp)
    return OutputComparison(
        identical=False,
        categorical=nonfinite or reason is not None,
        reason=reason,
        max_ulp=max_ulp,
        # nothing measured: the difference lies outside the samples
        normwise=None if normwise == 0.0 and max_ulp is None else normwise,
        differing_samples=n_differing,
        samples=len(pairs),
        differing_blocks=blocks,
        blocks=n_blocks,
        row_ulp=row_ulp,
    )


def _sample_pairs(a: ProbeOutput, b: ProbeOutput) -> list[tuple[int, str, str]]:
    # strict=False: a malformed file may hold fewer samples than indices; compare what is there
    theirs = dict(zip(b.sample_index, b.samples, strict=False))
    return [(i, x, theirs[i]) for i, x in zip(a.sample_index, a.samples, strict=False) if i in theirs]


def _differing_blocks(
    a: ProbeOutput, b: ProbeOutput, differing: list[tuple[int, str, str]]
) -> tuple[tuple[str, ...], int]:
    if a.blocks and len(a.blocks) == len(b.blocks) and a.block_labels == b.block_labels:
        n = len(a.blocks)
        return tuple(_label(a, i) for i in range(n) if a.blocks[i] != b.blocks[i]), n
    if not a.blocks and not b.blocks:
        # sampled whole: every sample is its own block
        return tuple(str(i) for i, _, _ in differing), len(a.samples)
    n = max(len(a.blocks), len(b.blocks))
    return _labels(a if len(a.blocks) == n else b, n), n


def _labels(o: ProbeOutput, n: int) -> tuple[str, ...]:
    return tuple(_label(o, i) for i in range(n))


def _label(o: ProbeOutput, i: int) -> str:
    return o.block_labels[i] if i < len(o.block_labels) else str(i)


def _row_of(o: ProbeOutput, index: int) -> str | None:
    row = None
    for label, start in zip(o.block_labels, o.block_starts, strict=False):
        if index >= start:
            row = label
    return row


def _hex(text: str | None) -> float:
    return float.fromhex(text) if text is not None else 0.0
