"""The opt-in verified-digest cache: unchanged files are not re-read; any change to a file's identity re-hashes it."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from envprint import artifact
from envprint.artifact import CACHE_ENV, DigestCache, hashing
from envprint.artifact.cache import CACHE_FILE, identity
from envprint.errors import ArtifactMismatchError, UsageError
from tests.conftest import run_envprint
from tests.signing_helpers import make_fingerprint, make_keys

MIB = 1024 * 1024


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    (root / "weights.bin").write_bytes(os.urandom(3 * MIB))
    (root / "tokenizer.json").write_bytes(os.urandom(2 * MIB))
    (root / "config.json").write_bytes(b"{}")  # below the cache's minimum size: always hashed
    return root


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "state" / "envprint-digests"


def _no_reads(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    real_whole, real_range = hashing._hash_whole, hashing._hash_range

    def whole(abspath: str, size: int, progress: object) -> hashing.Result:
        assert not abspath.endswith(names), f"{abspath} was read"
        return real_whole(abspath, size, progress)  # type: ignore[arg-type]

    def ranged(abspath: str, offset: int, length: int, progress: object) -> hashing.Result:
        assert not abspath.endswith(names), f"{abspath} was read"
        return real_range(abspath, offset, length, progress)  # type: ignore[arg-type]

    monkeypatch.setattr(hashing, "_hash_whole", whole)
    monkeypatch.setattr(hashing, "_hash_range", ranged)


def test_without_the_opt_in_every_file_is_hashed_and_nothing_is_written(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CACHE_ENV, raising=False)
    m = artifact.manifest(model, shard_size=MIB)
    before = sorted(tmp_path.rglob("*"))
    for _ in range(2):
        check = artifact.check_binding(m, model / "envprint.fp", model)
        assert check is not None and (check.cached, check.hashed) == (0, 3)
    assert sorted(tmp_path.rglob("*")) == before


def test_a_second_verification_reads_no_unchanged_large_file(
    model: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = artifact.manifest(model, shard_size=MIB)
    first = artifact.verify(m, model, cache=DigestCache(cache_dir, racy_seconds=0))
    assert (first.cached, first.hashed) == (0, 3)
    _no_reads(monkeypatch, "weights.bin", "tokenizer.json")
    second = artifact.verify(m, model, cache=DigestCache(cache_dir, racy_seconds=0))
    assert (second.cached, second.hashed, second.shards) == (2, 1, 0)
    assert "    2 file(s) confirmed by the verified-digest cache, not read" in second.lines()


def test_the_cache_is_private(model: Path, cache_dir: Path) -> None:
    artifact.verify(artifact.manifest(model), model, cache=DigestCache(cache_dir, racy_seconds=0))
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    entries = cache_dir / CACHE_FILE
    assert stat.S_IMODE(entries.stat().st_mode) == 0o600
    data = json.loads(entries.read_text())
    weights = os.lstat(model / "weights.bin")
    assert data["entries"][":".join(map(str, identity(weights)))] == next(
        f.sha256 for f in artifact.manifest(model).files if f.path == "weights.bin"
    )


def _wait_for_a_later_tick(scratch_dir: Path, after_ns: int) -> None:
    """Returns once this filesystem stamps a new write with a ctime later than `after_ns` (at most 5 s)."""
    scratch = scratch_dir / "tick"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        scratch.write_bytes(b"x")
        if scratch.stat().st_ctime_ns > after_ns:
            return
        time.sleep(0.01)
    raise AssertionError("the filesystem's ctime did not advance within 5 s")


@pytest.mark.parametrize("how", ["rewritten in place", "mtime put back after a write", "replaced by another file"])
def test_a_changed_file_is_hashed_again_and_refused(model: Path, cache_dir: Path, how: str, tmp_path: Path) -> None:
    m = artifact.manifest(model, shard_size=MIB)
    artifact.verify(m, model, cache=DigestCache(cache_dir, racy_seconds=0))
    # ctime has a coarse tick (1-10 ms here, 1 s on some filesystems): the change must land in a later
    # one, or it could keep the identity the cache holds; in production the 2 s racy window excludes that
    weights = model / "weights.bin"
    _wait_for_a_later_tick(tmp_path, weights.stat().st_ctime_ns)
    st = weights.stat()
    data = bytearray(weights.read_bytes())
    data[MIB + 5] ^= 0xFF
    if how == "replaced by another file":
        other = model / "staged.tmp"
        other.write_bytes(bytes(data))
        other.replace(weights)
    else:
        with weights.open("r+b") as f:
            f.write(bytes(data))
        if how == "mtime put back after a write":
            os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))  # ctime still moves: only root can set it
    with pytest.raises(ArtifactMismatchError) as info:
        artifact.verify(m, model, cache=DigestCache(cache_dir, racy_seconds=0))
    assert [(c.path, c.byte_range) for c in info.value.changes] == [("weights.bin", (MIB, 2 * MIB - 1))]


def test_a_file_changed_just_before_hashing_is_not_cached(model: Path, cache_dir: Path) -> None:
    m = artifact.manifest(model)
    artifact.verify(m, model, cache=DigestCache(cache_dir, racy_seconds=3600))
    assert not (cache_dir / CACHE_FILE).exists()  # every file changed within the hour: none is trusted later


def test_a_cached_digest_of_other_content_is_not_taken_for_a_match(model: Path, cache_dir: Path) -> None:
    m = artifact.manifest(model)
    cache = DigestCache(cache_dir, racy_seconds=0)
    st = os.lstat(model / "weights.bin")
    cache.store(st, st, "0" * 64)  # the cache says this identity holds other bytes
    check = artifact.verify(m, model, cache=cache)
    assert (check.cached, check.hashed) == (0, 3)


def test_a_damaged_cache_costs_a_rehash_not_a_refusal(
    model: Path, cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache_dir.mkdir(parents=True, mode=0o700)
    entries = cache_dir / CACHE_FILE
    entries.write_bytes(b"{not json")
    entries.chmod(0o600)
    check = artifact.verify(artifact.manifest(model), model, cache=DigestCache(cache_dir, racy_seconds=0))
    assert check.hashed == 3
    assert "ignoring the unreadable digest cache" in caplog.text


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: d.chmod(0o770), "writable by no one else"),
        (lambda d: d.chmod(0o757), "writable by no one else"),
        (lambda d: os.chown(d, 65534, -1), "owned by this user"),
        (lambda d: (d / CACHE_FILE).write_bytes(b"{}") or (d / CACHE_FILE).chmod(0o644), "mode 0600"),
    ],
)
def test_a_cache_others_could_write_is_refused(cache_dir: Path, setup: object, message: str) -> None:
    if os.geteuid() != 0 and "owned" in message:
        pytest.skip("changing a directory's owner needs root")
    cache_dir.mkdir(parents=True, mode=0o700)
    setup(cache_dir)  # type: ignore[operator]
    with pytest.raises(UsageError, match=message):
        DigestCache(cache_dir)


def test_a_cache_under_a_directory_others_can_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # not sticky: anyone could rename the cache directory away and plant another
    with pytest.raises(UsageError, match="can be written by others"):
        DigestCache(shared / "cache")


def test_a_symlink_is_not_a_cache_directory(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(UsageError, match="not a symlink"):
        DigestCache(tmp_path / "link")


def test_the_environment_variable_opts_guard_and_check_in(
    model: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = artifact.manifest(model)
    # digests stored by an earlier verified start (racy window off: the files were just written)
    artifact.verify(m, model, cache=DigestCache(cache_dir, racy_seconds=0))
    monkeypatch.setenv(CACHE_ENV, str(cache_dir))
    check = artifact.check_binding(m, model / "envprint.fp", model)
    assert check is not None and check.cached >= 1  # the variable alone made the binding check use them
    monkeypatch.delenv(CACHE_ENV)
    uncached = artifact.check_binding(m, model / "envprint.fp", model)
    assert uncached is not None and uncached.cached == 0  # without it, every file is read


@pytest.mark.slow
def test_cli_verify_with_a_digest_cache(model: Path, tmp_path: Path, cache_dir: Path) -> None:
    private, public = make_keys(tmp_path / "keys")
    make_fingerprint(artifact=artifact.manifest(model)).save(model / "envprint.fp", key=private)
    args = ["verify", str(model / "envprint.fp"), "--key", str(public), "--digest-cache", str(cache_dir)]
    out = run_envprint(args)
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    cache_dir.chmod(0o777)
    out = run_envprint(args)
    assert out.returncode == 2
    assert "writable by no one else" in out.stderr
