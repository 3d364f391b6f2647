"""The floating-point environment: flush-to-zero, denormals-are-zero and the rounding mode.

No standard API reads MXCSR (x86) or FPCR (ARM), so the probe computes: half the smallest normal
number is a subnormal unless FTZ flushes it, and a subnormal times 2^60 is normal unless DAZ
reads it as zero. Results are read as bits, never compared with ==, because under DAZ a
subnormal compares equal to zero. The state is per thread and inherited by threads started
later, so the probe runs on the calling thread and on a freshly started one.
"""

from __future__ import annotations

import ctypes
import functools
import platform
import struct
import sys
import threading

import numpy as np

from envprint.model import Scalar, Unavailable
from envprint.probes._base import Raw, builtin
from envprint.probes._inputs import f32_bits, f64_bits, py_float_from_bits

__all__ = ["fpenv", "libm"]

# fegetround() values differ by architecture; the computed mode below is what the flags use
_FE_NAMES = {
    "x86_64": {0: "nearest", 0x400: "downward", 0x800: "upward", 0xC00: "toward_zero"},
    "aarch64": {0: "nearest", 0x400000: "upward", 0x800000: "downward", 0xC00000: "toward_zero"},
}


@functools.cache
def libm() -> ctypes.CDLL | None:
    """Returns the C math library (glibc libm.so.6), or None where it cannot be loaded."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # the soname: ctypes.util.find_library spawns a process (~0.5 ms)
        return ctypes.CDLL("libm.so.6")
    except OSError:
        return None


def _fegetround() -> int | Unavailable:
    lib = libm()
    if lib is None:
        return Unavailable("libm.so.6 cannot be loaded on this platform")
    fn = lib.fegetround
    fn.restype, fn.argtypes = ctypes.c_int, []
    return int(fn())


def _rounding(one: float, tiny: float, three_quarter_ulp: float) -> str:
    """Returns the rounding mode implied by 1 + 2^-60, -1 - 2^-60 and 1 + 0.75 ulp(1)."""
    up, down = one + tiny > one, -one - tiny < -one
    if up and not down:
        return "upward"
    if down and not up:
        return "downward"
    if not up and not down:
        return "nearest" if one + three_quarter_ulp > one else "toward_zero"
    return "unknown"


def _state() -> tuple[dict[str, bool | str], list[str]]:
    """Returns the FTZ/DAZ state per float type, the rounding mode, and the raw bits behind them."""
    lines = []
    flags: dict[str, bool | str] = {}
    for name, nmin, sub, scale, utype in (
        ("f64", f64_bits(0x0010000000000000), f64_bits(1), 2.0**60, np.uint64),
        ("f32", f32_bits(0x00800000), f32_bits(1), 2.0**30, np.uint32),
    ):
        half = (nmin * nmin.dtype.type(0.5)).view(utype)[0]
        scaled = (sub * sub.dtype.type(scale)).view(utype)[0]
        flags[f"ftz_{name}"], flags[f"daz_{name}"] = bool(half == 0), bool(scaled == 0)
        lines.append(f"numpy {name}: nmin*0.5=0x{int(half):x} sub*2^k=0x{int(scaled):x}")
    nmin_py, sub_py = py_float_from_bits(0x0010000000000000), py_float_from_bits(1)
    half_py = struct.unpack("<Q", struct.pack("<d", nmin_py * 0.5))[0]
    scaled_py = struct.unpack("<Q", struct.pack("<d", sub_py * 2.0**60))[0]
    flags["ftz_python"], flags["daz_python"] = half_py == 0, scaled_py == 0
    lines.append(f"python float: nmin*0.5=0x{half_py:x} sub*2^60=0x{scaled_py:x}")
    # one is built at run time: the compiler folds constant expressions in its own rounding mode
    one, tiny, three_quarters = py_float_from_bits(0x3FF0000000000000), 2.0**-60, 3.0 * 2.0**-54
    flags["rounding_python"] = _rounding(one, tiny, three_quarters)
    flags["rounding_numpy"] = _rounding(np.float64(one), np.float64(tiny), np.float64(three_quarters))
    return flags, lines


def _summary(state: dict[str, bool | str], prefix: str) -> dict[str, Scalar]:
    return {
        f"{prefix}ftz": any(v is True for k, v in state.items() if k.startswith("ftz_")),
        f"{prefix}daz": any(v is True for k, v in state.items() if k.startswith("daz_")),
        f"{prefix}rounding": state["rounding_python"]
        if state["rounding_python"] == state["rounding_numpy"]
        else f"python {state['rounding_python']}, numpy {state['rounding_numpy']}",
    }


@builtin(
    "fpenv",
    "fpenv",
    "FTZ/DAZ set by a -ffast-math library or torch.set_flush_denormal, and the rounding mode, "
    "on the calling thread and on a new thread",
    repeat=False,
)
def fpenv() -> Raw:
    here, here_lines = _state()
    fresh: list[tuple[dict[str, bool | str], list[str]]] = []
    thread = threading.Thread(target=lambda: fresh.append(_state()), name="envprint-fpenv")
    thread.start()
    thread.join()
    there, there_lines = fresh[0]
    flags = {**_summary(here, ""), **_summary(there, "new_thread_")}
    flags.update({k: v for k, v in here.items() if k.startswith(("ftz_", "daz_"))})
    raw = _fegetround()
    flags["fegetround"] = raw
    if isinstance(raw, int):
        flags["fegetround_name"] = _FE_NAMES.get(platform.machine(), {}).get(raw, f"0x{raw:x}")
    lines = tuple(f"calling thread {s}" for s in here_lines) + tuple(f"new thread {s}" for s in there_lines)
    return Raw({"values": lines}, flags)
