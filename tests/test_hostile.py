"""Schema-valid but hostile fingerprints: every reader and renderer answers with an EnvprintError or works.

The codec fuzzers feed garbage that never passes the envelope; these mutate the leaves of a real
fingerprint (same types, hostile values: bad float.hex samples, markup, newlines, huge numbers) so
the data reaches diff, the policy engine, every renderer, show, and the requirements export.
"""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import envprint
from envprint import codec
from envprint.envelope import Envelope, payload_type_for
from envprint.errors import EnvprintError

HOSTILE_TEXT = st.sampled_from(
    ["zz", "", "[/x]", "[link=http://evil]x[/link]", "\n-r /etc/passwd", "nan", "0x1p99999", "bfloat16",
     "-----BEGIN", "\x00", "é" * 50, "float32", "text", "1e309"]
) | st.text(max_size=12)  # fmt: skip
HOSTILE_INT = st.sampled_from([0, -1, 2**63 - 1, -(2**63), 10**6]) | st.integers(-(2**31), 2**31)
HOSTILE_FLOAT = st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324]) | st.floats(allow_nan=False)


def _leaves(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(data, dict):
        if set(data) == {"$unavailable"}:
            return [(path, data)]
        return [leaf for k, v in data.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(data, list):
        return [leaf for i, v in enumerate(data) for leaf in _leaves(v, (*path, i))]
    return [(path, data)]


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    return envprint.capture(probe_groups=["blas", "ufunc", "sort", "text", "time", "hash"]).to_data()


def _hostile(draw: Any, value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return draw(HOSTILE_INT)
    if isinstance(value, float):
        return draw(HOSTILE_FLOAT)
    if isinstance(value, str):
        return draw(HOSTILE_TEXT)
    return value


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_fingerprints_never_crash_readers_or_renderers(base: dict[str, Any], data: st.DataObject) -> None:
    import copy

    from envprint.diffing import diff
    from envprint.export import to_requirements
    from envprint.policy import PRESETS, evaluate
    from envprint.render import Format, render
    from envprint.render import fingerprint as show

    leaves = [leaf for leaf in _leaves(base) if not isinstance(leaf[1], dict)]
    mutated = copy.deepcopy(base)
    # bias towards probe samples and dtypes, where values are parsed, not just shown
    probe_leaves = [leaf for leaf in leaves if leaf[0][0] == "probes"]
    for _ in range(data.draw(st.integers(1, 6))):
        pool = probe_leaves if probe_leaves and data.draw(st.booleans()) else leaves
        path, value = pool[data.draw(st.integers(0, len(pool) - 1))]
        _set(mutated, path, _hostile(data.draw, value))
    envelope = Envelope(payload_type_for(1), msgpack.packb(mutated, use_bin_type=True))
    try:
        b = codec.decode_fingerprint(envelope)
    except EnvprintError:
        return  # refused cleanly
    a = envprint.Fingerprint.from_data(base)
    try:
        for x, y in ((a, b), (b, a)):
            report = diff(x, y)
            evaluate(PRESETS["default"], report, y)
            for fmt in Format:
                assert render(report, fmt)
        loaded = codec.Loaded(b, envelope, None, codec.Trust.unsigned)
        assert show.to_json(loaded)
        from rich.console import Console

        Console(file=open("/dev/null", "w"), width=120).print(show.to_rich(loaded))  # noqa: SIM115
        requirements = to_requirements(b)
    except EnvprintError:
        return
    # whatever the names hold, the requirements file has only comments and pins, one per line
    for line in requirements.splitlines():
        assert not line.startswith("-"), line
