"""Hostile inputs: every reader answers with an EnvprintError or works, in bounded memory.

* Schema-valid but hostile fingerprints: the codec fuzzers feed garbage that never passes the
  envelope; these mutate the leaves of a real fingerprint (same types, hostile values: bad float.hex
  samples, markup, newlines, huge numbers) so the data reaches diff, the policy engine, every
  renderer, show, and the requirements export.
* Bounded reading (issue 12): payloads built to exhaust memory are refused before decoding, the cost
  estimate bounds what decoding allocates, and a 64 MiB hostile file read by guard, check, verify,
  show and fleet grows a process by at most 8 x its size + 50 MB.
* Inputs that used to crash with an untyped exception (policy severities, .npy headers).
"""

from __future__ import annotations

import os
import struct
import textwrap
import tracemalloc
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import envprint
from envprint import codec
from envprint._serde import from_data
from envprint._unpack import decode_cost
from envprint.codec import PAYLOAD_BUDGET
from envprint.envelope import Envelope, payload_type_for
from envprint.errors import EnvprintError, FingerprintFormatError, UsageError
from scripts.bench_reading import hostile_elements, msgpack_array
from tests.conftest import python_json, run_envprint

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


# --------------------------------------------------------------------------------- bounded reading

# One msgpack token of each kind, and the shapes that cost the most memory per byte once decoded.
TOKENS = {
    "empty list": b"\x90",
    "empty map": b"\x80",
    "2-char text": b"\xa2ab",
    "wide text": b"\xa8" + "\U0001f600a".encode() + b"bbb",
    "-32": b"\xe0",
    "float": b"\xcb" + struct.pack(">d", 1.5),
    "uint64": b"\xcf" + struct.pack(">Q", 2**63),
    "map of one": b"\x81\xa2ab\xc0",
    "list of one": b"\x91\x90",
    "small int": b"\x01",
    "bin": b"\xc4\x01x",
}


@pytest.mark.parametrize("kind", sorted(TOKENS))
def test_the_cost_estimate_bounds_what_decoding_allocates(kind: str) -> None:
    token = TOKENS[kind]
    n = 20_000
    payload = msgpack.packb({"junk": []})[:-1] + msgpack_array(token * n, n)  # {"junk": [token, ...]}
    estimate = decode_cost(payload, limit=2**62, max_depth=64)
    tracemalloc.start()
    try:
        data = msgpack.unpackb(payload, raw=False)
        copy = from_data(Any, data)  # what Fingerprint.from_data does with untyped data (a second copy)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(copy["junk"]) == n
    assert peak <= estimate, f"{kind}: decoding allocated {peak} bytes, estimated {estimate}"
    assert estimate <= 4 * peak + 64 * 1024  # an upper bound, not a blanket refusal


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            b"\x81\xa4meta" + (b"\xdd" + struct.pack(">I", 1_000_000)) * 1000,
            "claim 1000000 more elements but only 4995 bytes remain",
        ),
        (b"\x81\xa4meta" + b"\x91" * 100 + b"\xc0", "nested more than 48 levels deep"),
        (b"\x81\xa4meta" + b"\xc7\x01\x01x", "extension type 0xc7"),
        (b"\x81\xa4meta" + b"\xc1", "invalid msgpack type byte 0xc1"),
        (b"\x81\xa4meta\xa5abc", "truncated at byte 7: text of 5 bytes"),
        (b"\x81\xa4meta\xc0\xc0", "1 unexpected bytes after the end"),
        (b"\x82\xa4meta\xc0", "truncated at byte 7"),
    ],
)
def test_hostile_payloads_are_refused_before_decoding(payload: bytes, message: str) -> None:
    with pytest.raises(FingerprintFormatError, match=message):
        codec.decode_fingerprint(Envelope(payload_type_for(1), payload))


def test_a_payload_that_would_exhaust_memory_is_refused_with_its_cost() -> None:
    # 3 MiB of empty lists: over 200 MiB once decoded, and over 6.5 x 3 MiB + 24 MiB for its list alone
    n = 3 * 2**20
    payload = b"\x81\xa4meta" + msgpack_array(b"\x90" * n, n)
    with pytest.raises(FingerprintFormatError, match=r"decoding it would take more than 44 MiB") as info:
        codec.decode_fingerprint(Envelope(payload_type_for(1), payload))
    assert "built to exhaust memory" in info.value.diagnostics()


def test_a_large_genuine_manifest_is_within_the_budget(local_fingerprint: envprint.Fingerprint) -> None:
    data = local_fingerprint.to_data()
    files = [{"path": f"shards/part-{i:06d}.bin", "size": 1000 + i, "sha256": f"{i:064x}"} for i in range(30_000)]
    data["artifact"] = {"kind": "directory", "name": "m", "digest": "0" * 64, "files": files}
    payload = msgpack.packb(data, use_bin_type=True)
    # the decoder's own bound (per byte + fixed); a manifest costs ~6.5 bytes per byte, so the fixed part matters
    cost = decode_cost(payload, limit=2**62, max_depth=48)
    assert cost <= PAYLOAD_BUDGET.limit(len(payload))
    assert cost <= 7 * len(payload)
    fp = codec.decode_fingerprint(Envelope(payload_type_for(1), payload))
    assert fp.artifact is not None and len(fp.artifact.files) == 30_000


# Readers run in a fresh process each: its peak resident set (VmHWM) minus the resident set just before reading.
READER = textwrap.dedent(
    """
    import json, sys
    reader, path, pub = sys.argv[1:4]
    import envprint
    from envprint import cli, codec
    from envprint.errors import EnvprintError
    argv = {"check": ["check", path, "--key", pub, "--no-probes"], "verify": ["verify", path, "--key", pub],
            "show": ["show", path], "fleet": ["fleet", "group", path]}.get(reader)
    if argv:
        cli.load_commands(argv)

    def status(field):  # bytes; VmHWM is this process image's peak (ru_maxrss keeps the spawning parent's)
        line = next(line for line in open("/proc/self/status") if line.startswith(field + ":"))
        return int(line.split()[1]) * 1024

    before = status("VmRSS")
    outcome = "read"
    try:
        if reader == "read":
            codec.read(path, trusted_keys=[pub])
        elif reader == "guard":
            envprint.guard(path, trusted_keys=[pub], probes=False)
        else:
            cli.main(argv)
    except EnvprintError as e:
        outcome = f"{type(e).__name__}: {e.message[:300]}"
    except SystemExit as e:
        outcome = f"exit {e.code}"
    print(json.dumps({"outcome": outcome, "grown": status("VmHWM") - before}))
    """
)
SIZE = 64 * 2**20


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Returns signed 64 MiB hostile files (signed by the trusted key: an insider's) and the public key."""
    from envprint import signing

    root = tmp_path_factory.mktemp("hostile")
    private, public = signing.generate_keypair(root / "insider")
    room = SIZE - 512  # the envelope around the payload
    # the reproduction: an array header claiming 67M elements, then empty arrays
    repro = b"\x81\xa4meta" + b"\xdd" + struct.pack(">I", 67_000_000) + b"\x90" * (room - 10)
    # the costliest token per byte found (wide text), filled to just under the budget
    items, count = hostile_elements(TOKENS["wide text"], room - 10)
    costly = b"\x81\xa4meta" + msgpack_array(items, count)
    # the same inside a valid fingerprint: decoded in full, then copied by from_data (the policy is untyped)
    base = envprint.capture(probes=False).to_data()
    base["policy"] = {"junk": "X"}
    head = msgpack.packb(base, use_bin_type=True)
    items, count = hostile_elements(TOKENS["wide text"], room - len(head) - 10)
    valid = head.replace(msgpack.packb({"junk": "X"}), b"\x81\xa4junk" + msgpack_array(items, count))
    files: dict[str, Any] = {"pub": str(public)}
    for name, payload in {"repro": repro, "costly": costly, "valid": valid}.items():
        envelope = signing.add_signature(Envelope(payload_type_for(1), payload), private)
        path = root / f"{name}.fp"
        path.write_bytes(envelope.encode())
        assert SIZE - 4096 < path.stat().st_size <= SIZE
        files[name] = path
    return files


def _read_in_subprocess(reader: str, path: Path, pub: str) -> dict[str, Any]:
    out, _ = python_json(READER, reader, str(path), pub, env={**os.environ, "ENVPRINT_PROBES": ""})
    return out


@pytest.mark.parametrize("reader", ["guard", "check", "verify", "show", "fleet"])
@pytest.mark.parametrize("shape", ["repro", "costly"])
def test_every_reader_reads_a_64_mib_hostile_file_within_bounded_memory(
    hostile_files: dict[str, Any], reader: str, shape: str
) -> None:
    path = hostile_files[shape]
    out = _read_in_subprocess(reader, path, hostile_files["pub"])
    bound = 8 * path.stat().st_size + 50 * 2**20
    assert out["grown"] <= bound, out
    if reader in ("guard", "read"):
        assert out["outcome"].startswith("FingerprintFormatError"), out
    else:
        assert out["outcome"] == "exit 2", out  # unreadable input, never an internal error (70)
    if shape == "repro":  # refused before decoding: the file, the payload and the signed bytes, no more
        assert out["grown"] <= 3 * path.stat().st_size + 50 * 2**20, out


def test_a_64_mib_valid_fingerprint_at_the_budget_reads_within_bounded_memory(hostile_files: dict[str, Any]) -> None:
    path = hostile_files["valid"]
    out = _read_in_subprocess("read", path, hostile_files["pub"])
    assert out["outcome"] == "read", out  # decoded in full: within the budget, it is data like any other
    assert out["grown"] <= 8 * path.stat().st_size + 50 * 2**20, out


# ------------------------------------------------------------------------ typed errors for crashes


@pytest.mark.parametrize("severity", ["[]", "{}", "{ a = 1 }", "3"])
def test_a_policy_rule_with_a_severity_of_the_wrong_type_is_a_policy_error(tmp_path: Path, severity: str) -> None:
    from envprint.errors import PolicyError
    from envprint.policy import from_data, load_policy

    path = tmp_path / "p.toml"
    path.write_text(f'[policy]\n[[policy.rules]]\nwarn = "packages.*"\nseverity = {severity}\n')
    with pytest.raises(PolicyError, match=r"severity = .*: use one of"):
        load_policy(path)
    signed = {"rules": [{"warn": "packages.*", "severity": [] if severity == "[]" else {}}]}
    with pytest.raises(PolicyError, match=r"severity = .*: use one of"):
        from_data(signed, source="<policy signed into the fingerprint>")


def test_a_policy_signed_with_a_bad_severity_refuses_cleanly_in_check(tmp_path: Path) -> None:
    from envprint import signing

    fp = envprint.capture(probes=False, artifact=_model(tmp_path / "m"))
    fp = fp.replace(policy={"rules": [{"warn": "packages.*", "severity": []}]})
    private, public = signing.generate_keypair(tmp_path / "k")
    fp.save(tmp_path / "m" / "envprint.fp", key=private)
    proc = run_envprint(["check", str(tmp_path / "m"), "--key", str(public), "--no-probes"])
    assert proc.returncode == 2, proc.stderr
    assert "severity = (): use one of" in proc.stderr  # a list comes back from msgpack as a tuple


def _model(directory: Path) -> Path:
    directory.mkdir(parents=True)
    (directory / "weights.bin").write_bytes(b"\x00\x01" * 64)
    return directory


def _npy(tmp_path: Path, name: str, header_change: tuple[bytes, bytes]) -> Path:
    import numpy as np

    good = tmp_path / "good.npy"
    np.save(good, np.arange(5.0))
    raw = good.read_bytes()
    length = int.from_bytes(raw[8:10], "little")
    header = raw[10 : 10 + length].replace(*header_change).rstrip(b" \n")
    header += b" " * (length - len(header) - 1) + b"\n"
    path = tmp_path / name
    path.write_bytes(raw[:10] + header + raw[10 + length :])
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ((b"(5,)", b"(5,("), r"not a valid \.npy file of numbers \(TokenError"),
        ((b"(5,)", b"(1000000000000,)"), r"claims 1000000000000 values of float64 \(8000000000000 bytes\) but 40"),
        ((b"'<f8'", b"'|O'"), "array of Python objects"),
    ],
)
def test_shadow_refuses_a_hostile_npy_header_before_numpy_allocates(
    tmp_path: Path, change: tuple[bytes, bytes], message: str
) -> None:
    from envprint.shadow import read_predictions

    with pytest.raises(UsageError, match=message):
        read_predictions(_npy(tmp_path, "bad.npy", change))
    proc = run_envprint(["shadow", str(tmp_path / "good.npy"), str(tmp_path / "bad.npy")])
    assert proc.returncode == 2, proc.stderr  # a usage error, never an internal error (70)
