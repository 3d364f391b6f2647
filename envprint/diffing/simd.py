"""numpy's SIMD dispatch compared by the CPU features it can use, not by the names of its targets.

numpy names its dispatch targets differently between releases: 2.3 lists ``AVX2``, ``AVX512_SKX``…,
2.4 groups them as ``X86_V3``, ``X86_V4``. Two hosts with the same CPU then "find" differently named
targets. Each name is expanded to the CPU features it stands for, and the features both builds can
dispatch on are compared: a difference there is a real one (another CPU, NPY_DISABLE_CPU_FEATURES).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["GROUPS", "expand", "usable_features"]

_V2 = frozenset({"SSE", "SSE2", "SSE3", "SSSE3", "SSE41", "POPCNT", "SSE42"})
_V3 = _V2 | {"AVX", "F16C", "FMA3", "AVX2", "BMI", "BMI2", "LZCNT", "MOVBE"}
_SKX = frozenset({"AVX512F", "AVX512CD", "AVX512VL", "AVX512BW", "AVX512DQ"})
_CLX = _SKX | {"AVX512VNNI"}
_CNL = _SKX | {"AVX512IFMA", "AVX512VBMI"}
_ICL = _CLX | _CNL | {"AVX512VBMI2", "AVX512BITALG", "AVX512VPOPCNTDQ"}
_KNL = frozenset({"AVX512F", "AVX512CD", "AVX512ER", "AVX512PF"})

#: numpy's group targets -> the CPU features each stands for (other names are features themselves)
GROUPS: Mapping[str, frozenset[str]] = {
    "X86_V2": _V2,
    "X86_V3": _V3,
    "X86_V4": _V3 | _SKX,
    "AVX512_SKX": _SKX,
    "AVX512_CLX": _CLX,
    "AVX512_CNL": _CNL,
    "AVX512_ICL": _ICL,
    "AVX512_SPR": _ICL | {"AVX512FP16"},
    "AVX512_KNL": _KNL,
    "AVX512_KNM": _KNL | {"AVX5124FMAPS", "AVX5124VNNIW", "AVX512VPOPCNTDQ"},
}


#: features numpy dispatches on only inside X86_V3 (2.4+), never as targets of their own: they come
#: with AVX2 on every CPU numpy supports, so comparing AVX2 compares them
_BUNDLED = frozenset({"BMI", "BMI2", "LZCNT", "MOVBE"})


def expand(targets: Iterable[str]) -> frozenset[str]:
    """Returns the CPU features a list of numpy targets stands for (bundle-only features left out)."""
    out: set[str] = set()
    for t in targets:
        out |= GROUPS.get(t, {t})
    return frozenset(out - _BUNDLED)


def usable_features(simd: Mapping[str, Any], other: Mapping[str, Any] | None = None) -> frozenset[str]:
    """Returns the features numpy's dispatch found on the CPU, restricted to those `other`'s build knows too.

    `simd` and `other` are plain-data ``cpu.numpy_simd`` sections (baseline, dispatch, found). Without
    `other`, every feature found (what identity digests use).
    """
    found = expand(simd.get("found") or ()) | expand(simd.get("baseline") or ())
    if other is None:
        return found
    known = expand((*(other.get("dispatch") or ()), *(other.get("baseline") or ())))
    mine = expand((*(simd.get("dispatch") or ()), *(simd.get("baseline") or ())))
    return found & known & mine
