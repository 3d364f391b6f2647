"""Sharded digests: per-shard sha256 beside the whole-file one, verified in parallel, tampering named by byte range."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import tracemalloc
from pathlib import Path

import pytest

from envprint import artifact
from envprint.artifact import ChangeKind, hashing, shards
from envprint.errors import ArtifactMismatchError, UsageError
from envprint.model import ArtifactManifest, ArtifactShard
from tests.conftest import run_envprint
from tests.signing_helpers import make_fingerprint, make_keys

MIB = 1024 * 1024
SHARD = shards.MIN_SHARD_SIZE  # 1 MiB: small files still make several shards
SIZE = 4 * MIB + 12345  # 5 shards, the last one 12345 bytes


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    f = tmp_path / "model" / "weights.safetensors"
    f.parent.mkdir()
    f.write_bytes(os.urandom(SIZE))
    (tmp_path / "model" / "config.json").write_bytes(b'{"layers": 2}')
    return f


def _spans(m: ArtifactManifest, path: str) -> list[tuple[int, int]]:
    return [(s.offset, s.offset + s.length - 1) for s in m.shards[path]]


def _failure(m: ArtifactManifest, path: Path) -> ArtifactMismatchError:
    with pytest.raises(ArtifactMismatchError) as info:
        artifact.verify(m, path)
    assert info.value.exit_code == 3
    return info.value


# -------------------------------------------------------------------------------------------- layout


def test_plan_covers_the_file_exactly_in_fixed_size_shards() -> None:
    assert shards.plan(10, 4) == [(0, 4), (4, 4), (8, 2)]
    assert shards.plan(12, 4) == [(0, 4), (4, 4), (8, 4)]
    assert shards.plan(4, 4) == []  # one shard would add nothing to the whole-file digest
    assert shards.plan(10**9, 0) == []


def test_files_that_already_spread_over_sixteen_cores_are_not_sharded(tmp_path: Path) -> None:
    assert shards.plan(10, 4, total=160) == []  # 1/16 of the model: the files alone fill 16 cores
    assert shards.plan(10, 4, total=159) == [(0, 4), (4, 4), (8, 2)]
    many = tmp_path / "many"
    many.mkdir()
    for i in range(20):  # 20 equal files of 2 MiB: each is 1/20 of the model
        (many / f"part-{i:02d}.safetensors").write_bytes(os.urandom(2 * MIB))
    assert artifact.manifest(many, shard_size=SHARD).shards == {}
    (many / "big.bin").write_bytes(os.urandom(4 * MIB))  # 4/44 of the model: more than 1/16
    m = artifact.manifest(many, shard_size=SHARD)
    assert (list(m.shards), m.shard_size) == (["big.bin"], SHARD)


@pytest.mark.parametrize(
    ("text", "size"), [("64M", 64 * MIB), ("1G", 1024 * MIB), ("512K", 512 * 1024), ("0", 0), ("64MiB", 64 * MIB)]
)
def test_shard_sizes_are_read_with_binary_units(text: str, size: int) -> None:
    assert shards.parse_size(text) == size


def test_a_shard_size_that_is_not_a_size_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="64M"):
        shards.parse_size("lots")


def test_shard_digests_are_the_sha256_of_each_byte_range(weights: Path) -> None:
    m = artifact.manifest(weights.parent, shard_size=SHARD)
    data = weights.read_bytes()
    assert m.shard_size == SHARD
    assert list(m.shards) == ["weights.safetensors"]  # config.json is below one shard
    assert m.shards["weights.safetensors"] == tuple(
        ArtifactShard(offset, length, hashlib.sha256(data[offset : offset + length]).hexdigest())
        for offset, length in [(0, MIB), (MIB, MIB), (2 * MIB, MIB), (3 * MIB, MIB), (4 * MIB, 12345)]
    )


def test_sharding_keeps_the_whole_file_sha256_and_the_directory_digest(weights: Path) -> None:
    sharded = artifact.manifest(weights.parent, shard_size=SHARD)
    plain = artifact.manifest(weights.parent, shard_size=0)
    assert sharded.files == plain.files  # the whole-file sha256 of every file, as sha256sum gives it
    assert sharded.digest == plain.digest
    assert (plain.shard_size, dict(plain.shards)) == (0, {})
    expected = subprocess.run(["sha256sum", str(weights)], capture_output=True, check=True).stdout.split()[0]
    assert next(f.sha256 for f in sharded.files if f.path == "weights.safetensors") == expected.decode()


def test_a_shard_size_below_one_mib_is_refused(weights: Path) -> None:
    with pytest.raises(UsageError, match="minimum"):
        artifact.manifest(weights, shard_size=4096)


# -------------------------------------------------------------------------------------------- verify


def test_verification_hashes_the_shards_not_the_whole_file(weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m = artifact.manifest(weights.parent, shard_size=SHARD)

    def no_whole_read(abspath: str, size: int, progress: object) -> hashing.Result:
        if abspath.endswith("weights.safetensors"):
            raise AssertionError("the sharded file was hashed whole")
        return hashing_whole(abspath, size, progress)

    hashing_whole = hashing._hash_whole
    monkeypatch.setattr(hashing, "_hash_whole", no_whole_read)
    check = artifact.verify(m, weights.parent)
    assert (check.shards, check.hashed, check.cached) == (5, 2, 0)


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_any_worker_count_verifies_and_detects_the_same(weights: Path, workers: int) -> None:
    m = artifact.manifest(weights.parent, shard_size=SHARD, workers=workers)
    assert m == artifact.manifest(weights.parent, shard_size=SHARD, workers=1)
    artifact.verify(m, weights.parent, workers=workers)
    _flip(weights, 2 * MIB + 7)
    with pytest.raises(ArtifactMismatchError) as info:
        artifact.verify(m, weights.parent, workers=workers)
    assert info.value.changes[0].byte_range == (2 * MIB, 3 * MIB - 1)


def test_memory_stays_bounded_while_verifying_a_large_file(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        for _ in range(48):
            f.write(os.urandom(MIB))
    m = artifact.manifest(big, shard_size=SHARD, workers=2)
    tracemalloc.start()
    try:
        artifact.verify(m, big, workers=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # a whole-file read would take 48 MiB; two threads hold one 4 MiB buffer each
    assert peak < 12 * MIB


def _flip(path: Path, offset: int) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0x01]))


# ---------------------------------------------------------------------------------- the tamper matrix


@pytest.mark.parametrize("shard", range(5))
def test_a_flipped_bit_in_each_shard_names_that_shards_byte_range(weights: Path, shard: int) -> None:
    m = artifact.manifest(weights.parent, shard_size=SHARD)
    _flip(weights, shard * MIB + (12000 if shard == 4 else MIB // 2))
    e = _failure(m, weights.parent)
    [change] = e.changes
    first, last = _spans(m, "weights.safetensors")[shard]
    assert (change.kind, change.path, change.byte_range) == (ChangeKind.CHANGED, "weights.safetensors", (first, last))
    assert f"1 of 5 shards differ, first: shard {shard + 1} of 5, bytes {first}–{last}" in change.detail


def test_a_truncated_file_names_the_first_shard_it_no_longer_holds(weights: Path) -> None:
    m = artifact.manifest(weights.parent, shard_size=SHARD)
    os.truncate(weights, 2 * MIB + 100)
    [change] = _failure(m, weights.parent).changes
    assert change.byte_range == (2 * MIB, 3 * MIB - 1)
    assert change.detail == (
        f"size {SIZE} → {2 * MIB + 100} bytes; truncated at byte {2 * MIB + 100}, "
        f"first bad: shard 3 of 5, bytes {2 * MIB}–{3 * MIB - 1}"
    )


def test_a_truncated_file_whose_early_shard_also_changed_names_the_early_shard(weights: Path) -> None:
    m = artifact.manifest(weights.parent, shard_size=SHARD)
    _flip(weights, 10)
    os.truncate(weights, 3 * MIB)
    [change] = _failure(m, weights.parent).changes
    assert change.byte_range == (0, MIB - 1)


def test_an_appended_byte_names_the_bytes_past_the_end(weights: Path) -> None:
    m = artifact.manifest(weights.parent, shard_size=SHARD)
    with weights.open("ab") as f:
        f.write(b"\x00")
    [change] = _failure(m, weights.parent).changes
    assert change.byte_range == (SIZE, SIZE)
    assert change.detail == f"size {SIZE} → {SIZE + 1} bytes; 1 byte(s) appended after the last shard, byte {SIZE}"


def test_swapped_shards_name_the_first_one_and_where_its_bytes_came_from(weights: Path) -> None:
    m = artifact.manifest(weights.parent, shard_size=SHARD)
    data = bytearray(weights.read_bytes())
    data[MIB : 2 * MIB], data[3 * MIB : 4 * MIB] = data[3 * MIB : 4 * MIB], data[MIB : 2 * MIB]
    weights.write_bytes(bytes(data))
    [change] = _failure(m, weights.parent).changes
    assert change.byte_range == (MIB, 2 * MIB - 1)
    assert f"2 of 5 shards differ, first: shard 2 of 5, bytes {MIB}–{2 * MIB - 1}" in change.detail
    assert f"it holds the bytes of shard 4, bytes {3 * MIB}–{4 * MIB - 1}" in change.detail


def _with_shards(m: ArtifactManifest, pieces: list[ArtifactShard]) -> ArtifactManifest:
    return dataclasses.replace(m, shards={"weights.safetensors": tuple(pieces)})


def _forbid_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"filesystem touched: {args}")

    for name in ("open", "scandir", "stat", "lstat"):
        monkeypatch.setattr(os, name, forbidden)


def test_overlapping_shards_are_refused_before_any_read(weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m = artifact.manifest(weights.parent, shard_size=SHARD)
    s = list(m.shards["weights.safetensors"])
    s[2] = dataclasses.replace(s[2], offset=s[2].offset - 100)  # starts inside shard 2
    _forbid_reads(monkeypatch)
    e = _failure(_with_shards(m, s), weights.parent)
    overlap = next(c for c in e.changes if "overlaps" in c.detail)
    assert overlap.kind is ChangeKind.INVALID
    assert overlap.byte_range == (2 * MIB - 100, 2 * MIB - 1)
    assert f"bytes {2 * MIB - 100}–{2 * MIB - 1} covered twice" in overlap.detail
    assert "no file was read" in e.message


def test_shards_that_leave_a_gap_are_refused(weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m = artifact.manifest(weights.parent, shard_size=SHARD)
    s = list(m.shards["weights.safetensors"])
    del s[1]
    _forbid_reads(monkeypatch)
    gap = next(c for c in _failure(_with_shards(m, s), weights.parent).changes if "gap" in c.detail)
    assert gap.byte_range == (MIB, 2 * MIB - 1)
    assert f"bytes {MIB}–{2 * MIB - 1} not covered" in gap.detail


def test_shards_that_stop_short_of_the_recorded_length_are_refused(weights: Path) -> None:
    m = artifact.manifest(weights.parent, shard_size=SHARD)
    s = list(m.shards["weights.safetensors"])[:-1]
    end = next(c for c in _failure(_with_shards(m, s), weights.parent).changes if "end" in c.detail)
    assert end.byte_range == (4 * MIB, SIZE - 1)
    assert end.detail == f"the shards end at byte {4 * MIB}, but the file has {SIZE} bytes"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"shard_size": 4096}, "below the minimum"),
        ({"shards": {"nope.bin": ()}}, "does not list"),
    ],
)
def test_inconsistent_shard_settings_are_refused(weights: Path, change: dict[str, object], reason: str) -> None:
    m = dataclasses.replace(artifact.manifest(weights.parent, shard_size=SHARD), **change)  # type: ignore[arg-type]
    e = _failure(m, weights.parent)
    assert any(reason in c.detail for c in e.changes)
    assert {c.kind for c in e.changes} == {ChangeKind.INVALID}


# ------------------------------------------------------------------------------ the matrix, through the CLI


def _signed_single_file(tmp_path: Path, weights: Path, m: ArtifactManifest | None = None) -> tuple[Path, Path]:
    private, public = make_keys(tmp_path / "keys")
    m = m or artifact.manifest(weights, shard_size=SHARD)
    fp = make_fingerprint(artifact=m).save(weights.with_name(weights.name + ".fp"), key=private)
    return fp, public


def _swap(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0:MIB], data[MIB : 2 * MIB] = data[MIB : 2 * MIB], data[0:MIB]
    path.write_bytes(bytes(data))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        *((f"flip {k}", f"shard {k + 1} of 5, bytes {k * MIB}–{min((k + 1) * MIB, SIZE) - 1}") for k in range(5)),
        ("truncate", f"first bad: shard 4 of 5, bytes {3 * MIB}–{4 * MIB - 1}"),
        ("append", f"1 byte(s) appended after the last shard, byte {SIZE}"),
        ("swap", f"shard 1 of 5, bytes 0–{MIB - 1} (it holds the bytes of shard 2, bytes {MIB}–{2 * MIB - 1})"),
        ("overlap", f"byte {MIB - 1} covered twice"),
        ("gap", f"bytes {3 * MIB}–{4 * MIB - 1} not covered"),
    ],
)
def test_cli_verify_exits_3_naming_the_byte_range(weights: Path, tmp_path: Path, tamper: str, expected: str) -> None:
    m = artifact.manifest(weights, shard_size=SHARD)
    pieces = list(m.shards["weights.safetensors"])
    if tamper == "overlap":
        pieces[1] = dataclasses.replace(pieces[1], offset=MIB - 1)
    elif tamper == "gap":
        del pieces[3]
    signed = dataclasses.replace(m, shards={"weights.safetensors": tuple(pieces)})
    fp, public = _signed_single_file(tmp_path, weights, signed)
    if tamper.startswith("flip"):
        k = int(tamper.split()[1])
        _flip(weights, k * MIB + 99)
    elif tamper == "truncate":
        os.truncate(weights, 3 * MIB + 5)
    elif tamper == "append":
        with weights.open("ab") as f:
            f.write(b"!")
    elif tamper == "swap":
        _swap(weights)
    out = run_envprint(["verify", str(fp), "--key", str(public)])
    assert out.returncode == 3, out.stderr
    assert "weights.safetensors" in out.stderr
    assert expected in out.stderr
    assert out.stdout == ""


def test_cli_verify_reports_the_shards_it_hashed(weights: Path, tmp_path: Path) -> None:
    fp, public = _signed_single_file(tmp_path, weights)
    out = run_envprint(["verify", str(fp), "--key", str(public)])
    assert out.returncode == 0, out.stderr
    assert "5 shard(s) of 1 MiB hashed in parallel" in out.stdout
