"""JSON that every reader can parse: no NaN or infinity, no bytes, no lone surrogates.

Python's `json` writes ``NaN`` and ``Infinity`` (not JSON) or raises with ``allow_nan=False``, and cannot
write bytes at all; a fingerprint's untyped data (custom metadata, an embedded policy) may hold any of
them. `json_ready` turns them into strings: ``"nan"``, ``"inf"``, ``"-inf"`` (as the diff JSON does),
bytes decoded as UTF-8 with undecodable bytes as ``\\xNN``, and text that is not valid UTF-8 escaped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from envprint.privacy import utf8_text

__all__ = ["dumps", "json_ready"]


def json_ready(value: Any) -> Any:
    """Returns `value` as data `json.dumps(allow_nan=False)` writes: non-finite floats and bytes as strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return utf8_text(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, Mapping):
        return {utf8_text(str(k)): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def dumps(doc: Any) -> str:
    """Returns `doc` as indented JSON text, made `json_ready` first."""
    return json.dumps(json_ready(doc), indent=2, ensure_ascii=False, allow_nan=False, default=str)
