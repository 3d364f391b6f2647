"""Turns what a probe computed into a `ProbeOutput`: canonical bytes, digest, samples and blocks.

Canonical bytes: arrays little-endian in their own float dtype (complex as interleaved float
pairs), integers and booleans as int64, text as UTF-8 lines each prefixed by its length. The
digest is sha256 over ``name|dtype|shape|`` followed by those bytes, so an output that is
reshaped or changes dtype never digests like the old one.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from envprint._base import Record, record
from envprint.model import ProbeOutput
from envprint.probes._base import OutputValue

__all__ = ["BLOCKS", "ROW_SAMPLES", "SAMPLES", "Canonical", "canonical", "float_hex", "sample_index", "to_output"]

#: samples of an array or text output, at fixed evenly spaced flat indices
SAMPLES = 32
#: short digests (CRC-32) of equal slices of an output, to estimate the fraction that differs
BLOCKS = 16
#: samples per row of a table output (every row is sampled, however short)
ROW_SAMPLES = 6


@record
class Canonical(Record):
    """One output in canonical form; two runs agree when their `key()`s are equal."""

    kind: str  # "float", "complex", "int", "text"
    dtype: str
    shape: tuple[int, ...]
    data: bytes
    #: float pairs for complex, int64 for ints; None for text
    flat: npt.NDArray[Any] | None
    lines: tuple[str, ...]
    #: (label, first flat index, end flat index) of each row of a table output
    rows: tuple[tuple[str, int, int], ...] = ()

    def key(self) -> tuple[str, str, tuple[int, ...], bytes]:
        """Returns what must be equal for two runs of one output to count as the same bits."""
        return self.kind, self.dtype, self.shape, self.data


def canonical(value: OutputValue) -> Canonical:
    """Returns `value` in canonical form; raises TypeError for values a probe may not return."""
    if isinstance(value, tuple):
        lines = tuple(str(s) for s in value)
        return Canonical("text", "text", (len(lines),), _encode_lines(lines), None, lines)
    if isinstance(value, Mapping):
        return _table(value)
    kind, arr = _array(value)
    flat = arr.reshape(-1)
    if kind == "complex":
        flat = flat.view(np.float32 if arr.dtype == np.complex64 else np.float64)
    return Canonical(kind, arr.dtype.name, tuple(arr.shape), flat.tobytes(), flat, ())


def _array(value: Any) -> tuple[str, npt.NDArray[Any]]:
    arr = np.asarray(value)
    k = arr.dtype.kind
    if k == "f" and arr.dtype.itemsize <= 8:
        kind = "float"
    elif k == "c" and arr.dtype.itemsize <= 16:
        kind = "complex"
    elif k in "iub":
        return "int", np.asarray(arr, dtype="<i8", order="C")
    else:
        raise TypeError(f"a probe output cannot be of dtype {arr.dtype}")
    # asarray, not ascontiguousarray: that one turns a scalar into shape (1,)
    return kind, np.asarray(arr, dtype=arr.dtype.newbyteorder("<"), order="C")


def _table(table: Mapping[str, Any]) -> Canonical:
    parts = [(label, *_array(v)) for label, v in table.items()]
    kinds = {(kind, arr.dtype) for _, kind, arr in parts}  # dtype.name is slow: name it once
    if len(kinds) != 1 or parts[0][1] == "complex":
        found = sorted(f"{kind} {dtype.name}" for kind, dtype in kinds)
        raise TypeError(f"a table output needs one real dtype for every row, found {found}")
    rows, start = [], 0
    for label, _, arr in parts:
        rows.append((label, start, start + arr.size))
        start += arr.size
    flat = np.concatenate([arr.reshape(-1) for _, _, arr in parts])
    kind, dtype = kinds.pop()
    return Canonical(kind, dtype.name, (start,), flat.tobytes(), flat, (), tuple(rows))


def sample_index(n: int, count: int = SAMPLES) -> list[int]:
    """Returns `count` evenly spaced indices into `n` elements (all of them when n <= count)."""
    if n <= count:
        return list(range(n))
    return [i * n // count for i in range(count)]


def to_output(name: str, c: Canonical, *, elementwise: bool = False) -> ProbeOutput:
    """Returns the recorded form of output `name`: digest, samples, blocks and max |x|."""
    shape = "x".join(map(str, c.shape))
    digest = hashlib.sha256(f"{name}|{c.dtype}|{shape}|".encode() + c.data).hexdigest()
    labels: tuple[str, ...] = ()
    starts: tuple[int, ...] = ()
    if c.rows:
        index = [s + i for _, s, e in c.rows for i in sample_index(e - s, ROW_SAMPLES)]
        blocks = tuple(_short(_slice(c, s, e)) for _, s, e in c.rows)
        labels = tuple(label for label, _, _ in c.rows)
        starts = tuple(s for _, s, _ in c.rows)
    else:
        n = len(c.lines) if c.flat is None else c.flat.size
        index = sample_index(n)
        bounds = [i * n // BLOCKS for i in range(BLOCKS + 1)]
        # an output sampled whole needs no blocks: they would repeat the samples
        blocks = tuple(_short(_slice(c, bounds[i], bounds[i + 1])) for i in range(BLOCKS)) if n > len(index) else ()
    return ProbeOutput(
        kind=c.kind,
        dtype=c.dtype,
        shape=c.shape,
        digest=digest,
        samples=_samples(c, index),
        sample_index=tuple(index),
        blocks=blocks,
        max_abs=_max_abs(c),
        block_labels=labels,
        block_starts=starts,
        elementwise=elementwise,
    )


def _samples(c: Canonical, index: list[int]) -> tuple[str, ...]:
    if c.flat is None:
        return tuple(c.lines[i] for i in index)
    values = c.flat[index].tolist()
    if c.kind == "int":
        return tuple(str(v) for v in values)
    return tuple(float_hex(v) for v in values)


def float_hex(value: float) -> str:
    """Returns float.hex(value) without trailing zero digits ('0x1.8p+0'); float.fromhex reads it back."""
    text = float.hex(value)
    if "p" not in text:
        return text  # nan, inf, -inf
    mantissa, exponent = text.split("p")
    return f"{mantissa.rstrip('0').rstrip('.')}p{exponent}"


def _slice(c: Canonical, start: int, end: int) -> bytes:
    if c.flat is None:
        return _encode_lines(c.lines[start:end])
    size = c.flat.dtype.itemsize
    return c.data[start * size : end * size]


def _encode_lines(lines: tuple[str, ...]) -> bytes:
    encoded = [s.encode("utf-8", "surrogatepass") for s in lines]
    return b"".join(struct.pack("<I", len(b)) + b for b in encoded)


def _short(data: bytes) -> str:
    # CRC-32 as the short digest: a block only has to say "changed", and it is twice as fast as sha256
    return f"{zlib.crc32(data):08x}"


def _max_abs(c: Canonical) -> str | None:
    if c.kind not in ("float", "complex") or c.flat is None or c.flat.size == 0:
        return None
    top = np.max(np.abs(c.flat))
    if not np.isfinite(top):  # NaN or inf present: the slow path, over finite elements only
        finite = c.flat[np.isfinite(c.flat)]
        if finite.size == 0:
            return None
        top = np.max(np.abs(finite))
    return float_hex(float(top))
