"""Decodes msgpack from untrusted bytes with bounded memory: a structural pre-scan, then `msgpack.unpackb`.

msgpack allocates a container for the length its header *claims* before reading any element, and a
1-byte element can become a 64-byte Python object, so a small hostile payload can cost gigabytes
(issue 12: 63.9 MiB cost 4.76 GB and 19 s). `unpack_bounded` first walks the bytes without building
anything, adding up what decoding them would allocate — an upper bound per token, with
`from_data`'s copy of every container on top — and refuses before `unpackb` runs when that total
exceeds the caller's budget, when the containers still open claim more elements than bytes remain,
or when nesting is deeper than the schema allows. The walk is pure Python (~0.3 µs per token) and
stops as soon as the budget is spent, so refusing costs time proportional to the budget, not to
what the file claims.
"""

from __future__ import annotations

import struct
from typing import Any

import msgpack

from envprint._base import Record, record
from envprint.errors import FingerprintFormatError

__all__ = ["MemoryBudget", "decode_cost", "unpack_bounded"]

_U16 = struct.Struct(">H").unpack_from
_U32 = struct.Struct(">I").unpack_from

# Bytes a token costs once decoded, including its 8-byte slot in the parent container. CPython 3.11
# (64-bit) sizes: int 28-36, float 24, str 49+n (ASCII) up to 76+4n, bytes 33+n, list 56 + 8n,
# str-keyed dict 64 + its key table; pymalloc rounds to 16. Each figure is rounded up;
# tests/e2e/test_hostile.py checks, on the Python it runs on, that decoding stays under the estimate.
_SCALAR = 8  # nil, true, false, ints from -5 to 256: shared objects, only the slot
_INT = 8 + 48
_FLOAT = 8 + 32
# msgpack type bytes that decode to an extension type (refused: fingerprints have none)
_EXT = frozenset({0xC7, 0xC8, 0xC9, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8})
# by type byte, for the fixed-size scalars (nil, booleans, ints, floats): bytes taken and cost; 0 = other
_STEP = [0] * 256
_SCALAR_COST = [0] * 256
for _b in (*range(0x00, 0x80), *range(0xE0, 0x100), 0xC0, 0xC2, 0xC3):
    _STEP[_b] = 1
    _SCALAR_COST[_b] = _INT if 0xE0 <= _b < 0xFB else _SCALAR  # only ints -5..256 are shared objects
for _b, _n in {0xCA: 5, 0xCB: 9, 0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9, 0xD0: 2, 0xD1: 3, 0xD2: 5, 0xD3: 9}.items():
    _STEP[_b] = _n
    _SCALAR_COST[_b] = _FLOAT if _b <= 0xCB else _SCALAR if _b == 0xCC else _INT


def _r16(n: int) -> int:
    return (n + 15) & ~15


def _list_cost(n: int) -> int:
    """Returns the bytes of a decoded list of n items, plus the tuple `from_data` may copy it into."""
    return 8 + 64 + _r16(8 * n) + 16 + _r16(40 + 8 * n)


def _dict_cost(n: int) -> int:
    """Returns the bytes of a decoded str-keyed map of n entries, twice: `from_data` may copy it."""
    if n == 0:
        return 8 + 2 * 64
    size = 8
    while size * 2 // 3 < n:
        size *= 2
    index = 1 if size <= 128 else 2 if size <= 1 << 15 else 4
    table = 32 + size * index + (size * 2 // 3) * 16
    # a table over CPython's presize cap (2**17 slots) grows while filling: old and new held at once
    growth = 2 if size > 1 << 17 else 1
    return 8 + 2 * (64 + _r16(table) * growth)


@record
class MemoryBudget(Record):
    """What a payload may cost to decode: `bytes_per_byte` × its size + `fixed`, nested at most `max_depth`."""

    bytes_per_byte: float
    fixed: int
    max_depth: int

    def limit(self, size: int) -> int:
        """Returns the most a payload of `size` bytes may cost once decoded."""
        return int(self.bytes_per_byte * size) + self.fixed


def decode_cost(buf: bytes, *, limit: int, max_depth: int, source: str = "input") -> int:
    """Returns an upper bound of the bytes decoding `buf` allocates; FingerprintFormatError past `limit`.

    Walks the msgpack tokens without building objects. Also refuses what `unpackb` would refuse
    (truncated data, trailing bytes, an invalid type byte, extension types) and nesting deeper than
    `max_depth`, each naming the byte offset.
    """
    end = len(buf)
    i = 0
    stack: list[tuple[int, bool]] = []  # (elements left, is a map) of the enclosing open containers
    left, in_map = 1, False  # the innermost container: the top level holds one object
    cost = 0
    keys: set[bytes] = set()  # map keys are interned by msgpack: a repeated key costs only its slot
    step, scalar_cost = _STEP, _SCALAR_COST
    try:
        while True:
            if not left:
                if not stack:
                    break
                left, in_map = stack.pop()
                continue
            left -= 1
            b = buf[i]
            if step[b]:  # nil, booleans, numbers: fixed size
                cost += scalar_cost[b]
                i += step[b]
                continue
            if 0xA0 <= b <= 0xBF or 0xD9 <= b <= 0xDB:
                if b <= 0xBF:
                    size, i = b & 0x1F, i + 1
                else:
                    size, i = _length(buf, i, b - 0xD9)
                if i + size > end:
                    raise _invalid(source, f"truncated at byte {i}: text of {size} bytes")
                text = buf[i : i + size]
                i += size
                if in_map and left & 1:  # a key: msgpack interns it, so a repeat costs only its slot
                    if text in keys:
                        cost += 8
                        continue
                    keys.add(text)
                    cost += _r16(33 + size) + 8  # the copy kept in `keys`
                if size > 1:  # the empty string and 1-character strings are shared objects
                    # a wide character makes every character of the string 4 bytes wide
                    cost += 8 + _r16(49 + size) if text.isascii() else 8 + _r16(77 + 4 * size)
                else:
                    cost += 8
                continue
            if 0x80 <= b <= 0x9F:
                n, i = b & 0x0F, i + 1
            elif 0xDC <= b <= 0xDF:
                n, i = _length(buf, i, 1 if b in (0xDC, 0xDE) else 2)
            elif 0xC4 <= b <= 0xC6:
                size, i = _length(buf, i, b - 0xC4)
                if i + size > end:
                    raise _invalid(source, f"truncated at byte {i}: {size} bytes of binary data")
                cost += 8 + _r16(33 + size)
                i += size
                continue
            elif b in _EXT:
                raise _invalid(source, f"byte {i}: msgpack extension type {b:#04x} (a fingerprint holds none)")
            else:
                raise _invalid(source, f"byte {i}: invalid msgpack type byte {b:#04x}")
            # a container of n elements (a map of n entries holds 2n)
            is_map = b <= 0x8F or b >= 0xDE
            if is_map:
                cost += _dict_cost(n)
                n *= 2
            else:
                cost += _list_cost(n)
            if cost > limit:
                raise _refuse(
                    source,
                    f"decoding it would take more than {limit / 2**20:.0f} MiB (stopped at byte {i} of {end})",
                    hint="a fingerprint decodes to a few times its size; this payload is built to exhaust "
                    "memory or is not a fingerprint",
                )
            if n:
                if len(stack) >= max_depth:
                    raise _refuse(source, f"byte {i}: nested more than {max_depth} levels deep")
                # msgpack allocates every claimed slot up front: the claims must fit the bytes left
                pending = n + left + sum(s[0] for s in stack)
                if pending > end - i:
                    raise _refuse(
                        source, f"byte {i}: containers claim {pending} more elements but only {end - i} bytes remain"
                    )
                stack.append((left, in_map))
                left, in_map = n, is_map
    except IndexError:
        raise _invalid(source, f"truncated at byte {min(i, end)}: a value is cut off") from None
    if i > end:
        raise _invalid(source, f"truncated: the last value needs {i - end} more bytes")
    if i != end:
        raise _invalid(source, f"{end - i} unexpected bytes after the end of the data (byte {i})")
    if cost > limit:
        raise _refuse(source, f"decoding it would take more than {limit / 2**20:.0f} MiB")
    return cost


def _length(buf: bytes, i: int, width: int) -> tuple[int, int]:
    """Returns (the length field of 2**`width` bytes after the type byte at `i`, the offset after it).

    A length field cut off by the end of `buf` raises IndexError, as any read past the end does.
    """
    if width == 0:
        return buf[i + 1], i + 2
    if i + 1 + (2 << (width - 1)) > len(buf):
        raise IndexError(i)
    if width == 1:
        return _U16(buf, i + 1)[0], i + 3
    return _U32(buf, i + 1)[0], i + 5


def _invalid(source: str, detail: str) -> FingerprintFormatError:
    return FingerprintFormatError(f"{source}: payload is not valid msgpack ({detail})")


def _refuse(source: str, detail: str, *, hint: str | None = None) -> FingerprintFormatError:
    return FingerprintFormatError(f"{source}: payload refused before decoding: {detail}", hint=hint)


def unpack_bounded(
    buf: bytes,
    budget: MemoryBudget,
    *,
    max_str: int,
    max_bin: int,
    max_array: int,
    max_map: int,
    source: str = "input",
) -> Any:
    """Returns the msgpack object in `buf`, decoded only after `decode_cost` proved it fits `budget`.

    Raises `FingerprintFormatError` for anything over the budget or any limit, and for any input
    msgpack cannot decode.
    """
    decode_cost(buf, limit=budget.limit(len(buf)), max_depth=budget.max_depth, source=source)
    try:
        return msgpack.unpackb(
            buf,
            raw=False,
            strict_map_key=True,
            use_list=True,
            max_str_len=max_str,
            max_bin_len=max_bin,
            max_array_len=max_array,
            max_map_len=max_map,
            max_ext_len=0,
        )
    except Exception as e:  # msgpack raises many unrelated types on garbage input
        raise FingerprintFormatError(f"{source}: payload is not valid msgpack ({type(e).__name__}: {e})") from None
