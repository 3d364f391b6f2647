"""The .fp file: round trips, and every malformed input becomes FingerprintFormatError."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import envprint
from envprint import codec
from envprint._files import STALE_TEMP_SECONDS, atomic_write
from envprint.envelope import Envelope, payload_type_for
from envprint.errors import EnvprintError, FingerprintFormatError, UnsupportedSchemaError, UsageError
from envprint.model import Unavailable


def test_round_trip_is_equal(tmp_path: Path, local_fingerprint: envprint.Fingerprint) -> None:
    path = local_fingerprint.save(tmp_path / "a.fp")
    loaded = codec.read(path)
    assert loaded.fingerprint == local_fingerprint
    assert loaded.trust == "unsigned"
    assert loaded.envelope.payload_type == "application/vnd.envprint.fingerprint.v1+msgpack"
    assert envprint.load(path) == local_fingerprint
    # the same fingerprint always encodes to the same bytes
    assert loaded.fingerprint.payload() == local_fingerprint.payload()


def test_envelope_layout(tmp_path: Path, local_fingerprint: envprint.Fingerprint) -> None:
    raw = msgpack.unpackb(local_fingerprint.save(tmp_path / "a.fp").read_bytes(), raw=False)
    assert raw["format"] == "envprint"
    assert raw["envelope_version"] == 1
    assert raw["signatures"] == []
    assert isinstance(raw["payload"], bytes)
    assert msgpack.unpackb(raw["payload"], raw=False)["meta"]["schema_version"] == 1


def _envelope_bytes(fp: envprint.Fingerprint, **changes: object) -> bytes:
    raw = {
        "format": "envprint",
        "envelope_version": 1,
        "payload_type": payload_type_for(1),
        "payload": fp.payload(),
        "signatures": [],
    }
    raw.update(changes)
    return msgpack.packb(raw, use_bin_type=True)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "other"}, "no 'format: envprint'"),
        ({"envelope_version": "1"}, "envelope_version"),
        ({"payload": "text"}, "payload missing or not bytes"),
        ({"payload": b"\xc1"}, "payload is not valid msgpack"),
        ({"payload": msgpack.packb([1, 2])}, "payload is not a map"),
        ({"signatures": [{"keyid": 1}]}, "signature 0 is malformed"),
        ({"payload_type": "application/json"}, "unsupported payload type"),
        ({"extra": 1}, "unexpected envelope fields"),
    ],
)
def test_malformed_envelopes(
    tmp_path: Path, local_fingerprint: envprint.Fingerprint, changes: dict[str, object], message: str
) -> None:
    path = tmp_path / "bad.fp"
    path.write_bytes(_envelope_bytes(local_fingerprint, **changes))
    with pytest.raises(FingerprintFormatError, match=message):
        codec.load(path)


def test_newer_schema_is_a_clear_unsupported_error(tmp_path: Path, local_fingerprint: envprint.Fingerprint) -> None:
    path = tmp_path / "new.fp"
    path.write_bytes(_envelope_bytes(local_fingerprint, payload_type=payload_type_for(99)))
    with pytest.raises(UnsupportedSchemaError, match="v99 is newer") as info:
        codec.load(path)
    assert "upgrade envprint" in info.value.diagnostics()
    path.write_bytes(_envelope_bytes(local_fingerprint, envelope_version=7))
    with pytest.raises(UnsupportedSchemaError, match="envelope version 7"):
        codec.load(path)


def test_wrong_types_inside_payload_name_the_field(tmp_path: Path, local_fingerprint: envprint.Fingerprint) -> None:
    data = local_fingerprint.to_data()
    data["cpu"]["logical_cores"] = "two"
    path = tmp_path / "x.fp"
    path.write_bytes(_envelope_bytes(local_fingerprint, payload=msgpack.packb(data, use_bin_type=True)))
    with pytest.raises(FingerprintFormatError, match=r"cpu\.logical_cores"):
        codec.load(path)


def test_field_missing_from_older_writer_reads_as_unavailable(local_fingerprint: envprint.Fingerprint) -> None:
    data = local_fingerprint.to_data()
    del data["cpu"]["cgroup_quota"]  # as if written before the field existed
    del data["policy"]  # fields with defaults fall back to them
    fp = envprint.Fingerprint.from_data(data)
    assert isinstance(fp.cpu.cgroup_quota, Unavailable)  # type: ignore[union-attr]
    assert fp.policy is None


def test_truncated_files_are_format_errors(tmp_path: Path, local_fingerprint: envprint.Fingerprint) -> None:
    data = local_fingerprint.save(tmp_path / "a.fp").read_bytes()
    path = tmp_path / "t.fp"
    for cut in sorted({0, 1, 5, 17, len(data) // 3, len(data) // 2, len(data) - 1}):
        path.write_bytes(data[:cut])
        with pytest.raises(FingerprintFormatError):
            codec.load(path)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_only_raise_envprint_errors(tmp_path_factory: pytest.TempPathFactory, blob: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "x.fp"
    path.write_bytes(blob)
    with pytest.raises(FingerprintFormatError):
        codec.load(path)


_LEAVES = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=8) | st.binary(max_size=8)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        _LEAVES, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4), max_leaves=20
    )
)
def test_arbitrary_payload_structures_only_raise_envprint_errors(payload: object) -> None:
    env = Envelope(payload_type_for(1), msgpack.packb(payload, use_bin_type=True))
    with pytest.raises(FingerprintFormatError):
        codec.decode_fingerprint(env)


def test_missing_file_and_directory_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        codec.load(tmp_path / "nope.fp")
    with pytest.raises(UsageError, match="is a directory"):
        codec.load(tmp_path)


def test_atomic_write_leaves_no_temp_file_and_keeps_old_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "f.fp"
    atomic_write(target, b"old")

    def chunks() -> object:
        yield b"new-part"
        raise RuntimeError("writer died")

    with pytest.raises(RuntimeError):
        atomic_write(target, chunks())  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.fp"]


def test_unwritable_destination_is_a_usage_error(tmp_path: Path, local_fingerprint: envprint.Fingerprint) -> None:
    with pytest.raises(EnvprintError, match="cannot write"):
        local_fingerprint.save(tmp_path / "missing-dir" / "a.fp")


def test_replace_keeps_everything_else(local_fingerprint: envprint.Fingerprint) -> None:
    changed = local_fingerprint.replace(custom={"run": "42"})
    assert changed.custom == {"run": "42"}
    assert dataclasses.replace(changed, custom=local_fingerprint.custom) == local_fingerprint


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        (40, r"policy\.deep.*nested more than 32 levels"),  # within msgpack's limit: the schema refuses it
        (500, r"payload refused before decoding: byte \d+: nested more than 48 levels deep"),
    ],
)
def test_deeply_nested_untyped_data_is_a_format_error_not_a_crash(
    local_fingerprint: envprint.Fingerprint, levels: int, message: str
) -> None:
    data = local_fingerprint.to_data()
    nested: object = "leaf"
    for _ in range(levels):
        nested = [nested]
    data["policy"] = {"deep": nested}  # the policy is the one untyped (plain data) field
    env = Envelope(payload_type_for(1), msgpack.packb(data, use_bin_type=True))
    with pytest.raises(FingerprintFormatError, match=message):
        codec.decode_fingerprint(env)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.fp"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        codec.load(fifo)  # opening a FIFO for reading would block forever without a writer


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_the_next_write_removes_stale_temporaries_and_only_those(tmp_path: Path) -> None:
    target = tmp_path / "envprint.fp"
    stale = [tmp_path / ".envprint.fp.abcd1234.tmp", tmp_path / ".envprint.fp.zz_9x8y7.tmp"]
    fresh = tmp_path / ".envprint.fp.live0001.tmp"  # a writer at work right now
    other = [
        tmp_path / ".other.fp.abcd1234.tmp",  # another file's temporary
        tmp_path / ".envprint.fp.abcd1234.tmp.keep",  # not envprint's pattern
        tmp_path / "envprint.fp.abcd1234.tmp",
    ]
    for p in (*stale, fresh, *other):
        p.write_bytes(b"half a fingerprint")
    for p in (*stale, *other):
        _age(p, STALE_TEMP_SECONDS + 60)
    os.symlink(tmp_path / "elsewhere", tmp_path / ".envprint.fp.link0001.tmp")  # never followed nor removed
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["envprint.fp", fresh.name, *(p.name for p in other), ".envprint.fp.link0001.tmp"]
    )


_KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from envprint._files import STALE_TEMP_SECONDS, atomic_write

    def chunks():
        yield b"first half"
        print("writing", flush=True)
        time.sleep(600)  # killed here, between the bytes and the rename
        yield b"never"

    atomic_write(sys.argv[1], chunks())
    """
)


def test_a_temporary_left_by_a_killed_writer_is_cleaned_by_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "model.fp"
    atomic_write(target, b"old")
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=60)
    orphans = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert len(orphans) == 1 and target.read_bytes() == b"old"  # the old file, never half of one
    atomic_write(target, b"newer")  # the orphan is fresh: a live writer could own it, so it stays
    assert (tmp_path / orphans[0]).exists()
    _age(tmp_path / orphans[0], STALE_TEMP_SECONDS + 1)
    atomic_write(target, b"newest")
    assert sorted(os.listdir(tmp_path)) == ["model.fp"] and target.read_bytes() == b"newest"
