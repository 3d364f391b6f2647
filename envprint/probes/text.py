"""Floats as text and text itself: formatting, parsing, Unicode data and the C locale.

Every probe here only queries the locale (setlocale(category, None), localeconv): the locale an
application set is exactly what is being fingerprinted. Values are shown by their bits, because
under FTZ/DAZ even repr() and float.hex() of a subnormal read as zero.
"""

from __future__ import annotations

import json
import locale
import re
import struct
import sys
import time
import unicodedata
from collections.abc import Callable
from typing import Any

import numpy as np

from envprint.probes._base import Raw, builtin
from envprint.probes._inputs import py_float_from_bits

__all__ = ["float_format", "float_parse", "locale_text", "unicode_text"]

# 0.1, 2.675, 1e16, 5e-324, nan, -0.0, 1/3, 123456789.123, 1e-7, 0.5, 2.5, 1e22, 2^53,
# 3.4028235e38 (float32 max), 65504 (float16 max), 1.0000001, the smallest normal, inf
_FORMAT_BITS = (
    0x3FB999999999999A,
    0x4005666666666666,
    0x4341C37937E08000,
    0x0000000000000001,
    0x7FF8000000000000,
    0x8000000000000000,
    0x3FD5555555555555,
    0x419D6F34547DF3B6,
    0x3E7AD7F29ABCAF48,
    0x3FE0000000000000,
    0x4004000000000000,
    0x4480F0CF064DD592,
    0x4340000000000000,
    0x47EFFFFFE54DAFF8,
    0x40EFFC0000000000,
    0x3FF000001AD7F29B,
    0x0010000000000000,
    0x7FF0000000000000,
)

_FORMATTERS: tuple[Callable[[float], str], ...] = (
    repr,
    lambda v: "%.17g" % v,  # noqa: UP031 (printf-style formatting is what is probed)
    lambda v: f"{v:.6g}",
    lambda v: f"{v:n}",
    json.dumps,
    lambda v: str(np.float32(v)),
    lambda v: repr(np.float64(v)),
    lambda v: np.format_float_positional(np.float32(v)),
    lambda v: str(round(v, 2)) if v == v and abs(v) != float("inf") else "-",
)


def _guard(fn: Callable[..., Any], *args: Any) -> str:
    """Returns str(fn(*args)), or the name of the error it raised: an error is a result here."""
    try:
        return str(fn(*args))
    except (ValueError, OverflowError, TypeError) as e:
        return type(e).__name__


@builtin(
    "float_format",
    "text",
    "float → text: repr, %g, str(np.float32) (numpy 2.3), repr(np.float64) (numpy 2.0), json, locale '{:n}', FTZ",
    repeat=False,
)
def float_format() -> Raw:
    lines = []
    for bits in _FORMAT_BITS:
        v = py_float_from_bits(bits)
        lines.append(f"{bits:016x}: " + " | ".join(_guard(f, v) for f in _FORMATTERS))
    return Raw({"lines": tuple(lines)})


_PARSE = (
    "0.1",
    "2.675",
    "1e16",
    "4.9e-324",
    "1e-320",
    "2.2250738585072011e-308",
    "1.00000005960464477539062500001",
    "1,5",
    "\u0661\u0662\u0663",
    " 12 ",
    "1_000.5",
    "nan",
    "-inf",
    "1e400",
    "3.4028235e38",
    "3.4028236e38",
    "1.17549435e-38",
    "1e-45",
    "0.1e-7",
)


def _f64(v: float) -> str:
    return f"{struct.unpack('<Q', struct.pack('<d', v))[0]:016x}"


def _f32(v: Any) -> str:
    return f"{int(np.asarray(v, np.float32).view(np.uint32)):08x}"


_PARSERS: tuple[Callable[[str], str], ...] = (
    lambda s: _f64(float(s)),
    lambda s: _f32(np.float32(s)),
    lambda s: _f64(locale.atof(s)),
)


@builtin(
    "float_parse",
    "text",
    "text → float: float(), np.float32(str) (double rounding), locale.atof; under FTZ/DAZ subnormals parse as 0",
    repeat=False,
)
def float_parse() -> Raw:
    lines = [f"{s!a}: " + " ".join(_guard(parse, s) for parse in _PARSERS) for s in _PARSE]
    return Raw({"lines": tuple(lines)})


# code points assigned in Unicode 14 (U+1FAE0, U+0870), 15 (U+1FAE8, U+11F00, U+31350),
# 15.1 (U+2FFC), 16 (U+1CC00, U+10D40, U+1FAE9) and 17 (U+20C1): unassigned before that
_CODE_POINTS = (0x1FAE0, 0x0870, 0x1FAE8, 0x11F00, 0x31350, 0x2FFC, 0x1CC00, 0x10D40, 0x1FAE9, 0x20C1)


@builtin(
    "unicode_text",
    "text",
    "Unicode database version (tokenizers: categories, casefold, NFKC, \\w) and the text encoding in use",
    repeat=False,
)
def unicode_text() -> Raw:
    lines = [f"unidata {unicodedata.unidata_version}"]
    for cp in _CODE_POINTS:
        c = chr(cp)
        lines.append(
            f"U+{cp:04X} {unicodedata.category(c)} {unicodedata.east_asian_width(c)} "
            f"alnum={c.isalnum()} identifier={c.isidentifier()}"
        )
    samples = {
        "upper": "Straße ǅ ﬁ".upper(),
        "casefold": "Straße ǅ ΣΑΣ".casefold(),
        "lower": "İSTANBUL ΣΑΣ".lower(),
        "title": "ǆemal o'neil".title(),
        "nfkc": unicodedata.normalize("NFKC", "ﬁ①²㎏ﾊ"),
        "nfd": unicodedata.normalize("NFD", "é Å ḱ"),
        "word": " ".join(re.findall(r"\w+", "naïve café ① ٣ x²y")),
        "digits": f"{int(chr(0x661) * 3)} {'²'.isdigit()} {'²'.isdecimal()} {'½'.isnumeric()}",
    }
    lines += [f"{k}: {v!a}" for k, v in samples.items()]
    lines.append(
        f"encoding preferred={locale.getpreferredencoding(False)} filesystem={sys.getfilesystemencoding()} "
        f"utf8_mode={sys.flags.utf8_mode}"
    )
    return Raw({"lines": tuple(lines)})


_CATEGORIES = ("LC_CTYPE", "LC_NUMERIC", "LC_TIME", "LC_COLLATE", "LC_MONETARY", "LC_MESSAGES")
_WORDS = ("10", "9", "Äpfel", "apple", "Eclair", "éclair", "LS", "_x", "zebra", "Zebra", "ångström", "Ölfass")
# Sunday 10 March 2024, 14:05:06
_WHEN = time.struct_time((2024, 3, 10, 14, 5, 6, 6, 70, 0))


@builtin(
    "locale_text",
    "locale",
    "the C locale an application set with setlocale: decimal comma in atof/'{:n}', collation, strftime names",
    repeat=False,
)
def locale_text() -> Raw:
    lines = [f"LC_ALL {locale.setlocale(locale.LC_ALL, None)}"]
    lines += [
        f"{name} {locale.setlocale(getattr(locale, name), None)}" for name in _CATEGORIES if hasattr(locale, name)
    ]
    conv = locale.localeconv()
    lines.append(
        f"localeconv decimal={conv['decimal_point']!a} thousands={conv['thousands_sep']!a} grouping={conv['grouping']}"
    )
    lines.append(f"format {1234567.891:n} {locale.format_string('%.3f', 1234567.891, grouping=True)}")
    lines.append("atof " + " ".join(_guard(locale.atof, s) for s in ("0.1", "1,5", "1.234,5")))
    lines.append(f"strftime {time.strftime('%A %B %p %c %x', _WHEN)!a}")
    lines.append(f"collate {' '.join(sorted(_WORDS, key=locale.strxfrm))!a}")
    return Raw({"lines": tuple(lines)})
