"""Identity: the fields whose differences are identity findings, projected and digested (fleet grouping)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from envprint._base import UNAVAILABLE_KEY
from envprint._serde import to_data
from envprint.collect.variables import SPEED_ONLY, effect_of
from envprint.diffing.probes import probe_token
from envprint.diffing.rules import DERIVED
from envprint.diffing.simd import usable_features
from envprint.diffing.values import effective_tzdata, fields_of, zone_of
from envprint.model import Fingerprint, NumpySimd, Unavailable

#: top-level fields that describe the fingerprint rather than the environment
_NOT_IDENTITY = frozenset({"meta", "custom", "policy", "imported", "freshness", "golden_inputs"})
#: kinds reported for context only: never identity (imported modules: see Fingerprint.imported)
CONTEXT_KINDS = frozenset({"module.imported"})


def identity_projection(fp: Fingerprint) -> dict[str, Any]:
    """Returns the identity fields of a fingerprint as plain data: what `diff` reports as identity findings.

    Descriptive fields, bookkeeping, meta, custom metadata, the embedded policy and derived fields
    are left out; `Unavailable` keeps its place without its reason; the local zone is merged over
    the names of UTC (and TZ, which only selects it, is left out); probes become one token each:
    ``v<version>:<digest>`` when they ran cleanly, else "skipped", "failed", "unstable" or "random".
    """
    out: dict[str, Any] = {}
    for name, _ in fields_of(Fingerprint):
        if name in _NOT_IDENTITY:
            continue
        value = getattr(fp, name)
        if name == "probes":
            out[name] = (
                project(name, value)
                if isinstance(value, Unavailable)
                else {k: probe_token(r) for k, r in value.items()}
            )
        elif name == "artifact":
            out[name] = None if value is None else [value.hash_algorithm, value.digest]
        else:
            out[name] = project(name, value)
    for section, key in (("env", None), ("determinism", "variables")):
        held = out.get(section)
        variables = held.get(key) if key and isinstance(held, dict) else held
        if isinstance(variables, dict):  # placement and diagnostics variables never change numbers
            for name in [n for n in variables if effect_of(n) in SPEED_ONLY]:
                del variables[name]
    cpu = fp.cpu
    if isinstance(out.get("cpu"), dict) and not isinstance(cpu, Unavailable) and isinstance(cpu.numpy_simd, NumpySimd):
        # numpy's targets are compared by the CPU features they stand for (see diffing.simd)
        out["cpu"]["numpy_simd"] = {"features": sorted(usable_features(to_data(cpu.numpy_simd)))}
    lt = out.get("locale_time")
    if isinstance(lt, dict):
        lt.pop("tz_env", None)
        lt.pop("tzdata_system", None)  # what matters is the database read (see values.effective_tzdata)
        lt.pop("tzdata_package", None)
        lt["tzdata"] = effective_tzdata(fp)
        lt["local_zone"] = project("", zone_of(fp))
    return out


def project(path: str, value: Any) -> Any:
    """Returns the identity fields of `value` as plain data (see identity_projection)."""
    if isinstance(value, Unavailable):
        return {UNAVAILABLE_KEY: True}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            name: project(f"{path}.{name}", getattr(value, name))
            for name, desc in fields_of(type(value))
            if not desc and f"{path}.{name}" not in DERIVED
        }
    if isinstance(value, Mapping):
        return {str(k): project(f"{path}.{k}", value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (tuple, list)):
        return [project(path, v) for v in value]
    return value


def identity_digest(fp: Fingerprint) -> str:
    """Returns the sha256 (hex) of the canonical JSON of `identity_projection(fp)`.

    Two captures of one environment have the same digest; fingerprints whose diff has an identity
    finding have different ones. Fleet grouping groups by it.
    """
    text = json.dumps(identity_projection(fp), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
