"""Artifact binding: manifests of real files and directories, and file-level verification reports."""

from __future__ import annotations

import builtins
import dataclasses
import os
import subprocess
from pathlib import Path

import pytest

from envprint import artifact
from envprint.artifact import ChangeKind, FileChange, hashing
from envprint.errors import ArtifactMismatchError, SignatureError, UsageError
from envprint.model import ArtifactFile, ArtifactManifest
from envprint.render.progress import byte_progress
from tests.signing_helpers import make_fingerprint, make_keys, write_tree

MODEL = {
    "config.json": b'{"layers": 2}',
    "weights/a.bin": bytes(range(256)) * 40,
    "weights/b.bin": b"\x01" * 5000,
    "tokenizer/vocab.txt": "héllo\nwörld\n".encode(),
    "empty/__init__.py": b"",
}


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "model", MODEL)


def _changes(m: ArtifactManifest, path: Path) -> set[tuple[str, str, str | None]]:
    with pytest.raises(ArtifactMismatchError) as info:
        artifact.verify(m, path)
    assert info.value.exit_code == 3
    return {(c.kind.value, c.path, c.old_path) for c in info.value.changes}


def _sha256sum(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> str:
    out = subprocess.run(["sha256sum", *args], cwd=cwd, input=stdin, capture_output=True, check=True).stdout
    return out.split()[0].decode()


# ---------------------------------------------------------------------------------------- manifest


def test_single_file_digest_equals_sha256sum(tmp_path: Path) -> None:
    f = tmp_path / "model.onnx"
    f.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    m = artifact.manifest(f)
    assert (m.name, m.kind, m.excluded) == ("model.onnx", "file", ())
    assert m.digest == _sha256sum(str(f))
    assert m.files == (ArtifactFile("model.onnx", f.stat().st_size, m.digest),)


def test_directory_digest_equals_the_coreutils_listing_digest(model: Path) -> None:
    (model / "envprint.fp").write_bytes(b"not part of the model")
    m = artifact.manifest(model)
    # the recipe docs/signing.md gives operators: sorted `sha256sum` lines, hashed again
    listing = subprocess.run(
        "find . -type f ! -name '*.fp' | cut -c3- | LC_ALL=C sort | xargs -d '\\n' sha256sum",
        shell=True,
        cwd=model,
        capture_output=True,
        check=True,
    ).stdout
    assert m.digest == _sha256sum(stdin=listing)
    assert [f.path for f in m.files] == sorted(MODEL)
    assert m.excluded == artifact.DEFAULT_EXCLUDES


def test_empty_files_are_bound(model: Path) -> None:
    m = artifact.manifest(model)
    assert (
        ArtifactFile("empty/__init__.py", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        in m.files
    )


def test_names_are_bound_a_rename_changes_the_digest(model: Path) -> None:
    before = artifact.manifest(model).digest
    (model / "config.json").rename(model / "config2.json")  # sort order unchanged
    assert artifact.manifest(model).digest != before


def test_fingerprints_at_the_root_are_excluded_but_not_deeper(model: Path) -> None:
    before = artifact.manifest(model)
    (model / "envprint.fp").write_bytes(b"x")
    (model / "serve.fp").write_bytes(b"x")
    (model / ".envprint.fp.abc123.tmp").write_bytes(b"left by a killed writer")
    assert artifact.manifest(model) == before
    (model / "weights" / "nested.fp").write_bytes(b"x")
    assert "weights/nested.fp" in {f.path for f in artifact.manifest(model).files}


def test_worker_counts_agree_and_progress_reaches_the_total(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "_BYTES_PER_WORKER", 1)  # use the thread pool even for a small tree
    files = {f"d{i % 7}/f{i:04d}": os.urandom(i * 37 % 9000) for i in range(600)}
    files["big.bin"] = os.urandom(9 * 1024 * 1024)
    root = write_tree(tmp_path / "m", files)
    seen: list[tuple[int, int]] = []
    one = artifact.manifest(root, workers=1)
    four = artifact.manifest(root, workers=4, progress=lambda done, total: seen.append((done, total)))
    assert one == four
    total = sum(len(v) for v in files.values())
    assert seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


@pytest.mark.parametrize("kind", ["symlink", "fifo", "dangling symlink"])
def test_symlinks_and_special_files_cannot_be_bound(model: Path, kind: str) -> None:
    target = model / "weights" / "link"
    if kind == "fifo":
        os.mkfifo(target)  # never opened: a read would block
    else:
        target.symlink_to("a.bin" if kind == "symlink" else "nowhere")
    with pytest.raises(UsageError, match="weights/link") as info:
        artifact.manifest(model)
    assert ("FIFO" if kind == "fifo" else "symlink to") in info.value.message


def test_missing_path_and_empty_directory_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        artifact.manifest(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no files"):
        artifact.manifest(tmp_path / "empty")


def test_unrepresentable_file_names_are_refused(model: Path) -> None:
    (model / "bad\nname").write_bytes(b"x")
    with pytest.raises(UsageError, match="control character"):
        artifact.manifest(model)


# ------------------------------------------------------------------------------------------ verify


def test_pristine_directory_verifies(model: Path) -> None:
    m = artifact.manifest(model)
    (model / "envprint.fp").write_bytes(b"written after capture")  # excluded: not an added file
    check = artifact.verify(m, model)
    assert (check.path, check.manifest) == (model, m)
    # every file of the model was read and hashed; none came from a cache, a link or a skip
    assert (check.hashed, check.shards, check.cached, check.linked, check.ignored) == (len(MODEL), 0, 0, 0, ())
    # control: the same check refuses the directory once one byte changes
    (model / "config.json").write_bytes(b'{"layers": 3}')
    assert _changes(m, model) == {("changed", "config.json", None)}


def test_bit_flip_inside_a_large_file_is_reported_for_that_file(model: Path) -> None:
    big = model / "weights" / "big.safetensors"
    block = os.urandom(1024 * 1024)
    try:
        with big.open("wb") as f:
            for _ in range(64):
                f.write(block)
        m = artifact.manifest(model)
        with big.open("r+b") as f:
            f.seek(37 * 1024 * 1024 + 12345)
            byte = f.read(1)[0]
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte ^ 0x10]))
        assert _changes(m, model) == {("changed", "weights/big.safetensors", None)}
    finally:
        big.unlink()


def test_added_missing_and_resized_files_are_reported(model: Path) -> None:
    m = artifact.manifest(model)
    (model / "weights" / "c.bin").write_bytes(b"new")
    (model / "config.json").unlink()
    (model / "weights" / "b.bin").write_bytes(b"\x01" * 5001)
    assert _changes(m, model) == {
        ("added", "weights/c.bin", None),
        ("missing", "config.json", None),
        ("changed", "weights/b.bin", None),
    }


def test_emptied_directory_reports_every_file_missing(model: Path) -> None:
    m = artifact.manifest(model)
    for f in m.files:
        (model / f.path).unlink()
    assert _changes(m, model) == {("missing", p, None) for p in MODEL}


def test_empty_file_added_is_reported(model: Path) -> None:
    m = artifact.manifest(model)
    (model / "weights" / "__init__.py").write_bytes(b"")
    assert _changes(m, model) == {("added", "weights/__init__.py", None)}


@pytest.mark.parametrize("new_name", ["weights/a2.bin", "zzz/a.bin"])  # sort order kept / changed
def test_renamed_file_is_reported_as_a_rename(model: Path, new_name: str) -> None:
    m = artifact.manifest(model)
    (model / new_name).parent.mkdir(exist_ok=True)
    (model / "weights" / "a.bin").rename(model / new_name)
    assert _changes(m, model) == {("renamed", new_name, "weights/a.bin")}


def test_symlink_and_fifo_appearing_after_capture_are_reported(model: Path) -> None:
    m = artifact.manifest(model)
    (model / "weights" / "b.bin").unlink()
    (model / "weights" / "b.bin").symlink_to("a.bin")
    os.mkfifo(model / "pipe")
    changes = _changes(m, model)
    assert ("unsupported", "weights/b.bin", None) in changes
    assert ("unsupported", "pipe", None) in changes
    assert ("missing", "weights/b.bin", None) in changes


def test_fingerprint_copied_next_to_another_model_is_rejected(tmp_path: Path) -> None:
    private, public = make_keys(tmp_path / "keys")
    a = write_tree(tmp_path / "a", MODEL)
    b = write_tree(tmp_path / "b", {**MODEL, "weights/a.bin": b"other weights"})
    make_fingerprint(artifact=artifact.manifest(a)).save(a / "envprint.fp", key=private)
    assert artifact.verify_file(a / "envprint.fp", [public]).artifact_path == a
    (b / "envprint.fp").write_bytes((a / "envprint.fp").read_bytes())
    with pytest.raises(ArtifactMismatchError) as info:
        artifact.verify_file(b / "envprint.fp", [public])
    assert [(c.kind, c.path) for c in info.value.changes] == [(ChangeKind.CHANGED, "weights/a.bin")]
    assert "ARTIFACT MISMATCH" in info.value.message


def test_signature_is_checked_before_the_artifact(tmp_path: Path) -> None:
    private, _ = make_keys(tmp_path / "keys")
    _, stranger = make_keys(tmp_path / "keys", "stranger")
    a = write_tree(tmp_path / "a", MODEL)
    make_fingerprint(artifact=artifact.manifest(a)).save(a / "envprint.fp", key=private)
    with pytest.raises(SignatureError):
        artifact.verify_file(a / "envprint.fp", [stranger])


def test_single_file_artifact_is_matched_by_content_not_name(tmp_path: Path) -> None:
    f = tmp_path / "model.onnx"
    f.write_bytes(b"weights" * 1000)
    m = artifact.manifest(f)
    moved = f.rename(tmp_path / "current.onnx")
    artifact.verify(m, moved)  # raises on any difference
    moved.write_bytes(b"weights" * 999)
    assert _changes(m, moved) == {("changed", "current.onnx", None)}


def test_kind_mismatch_is_rejected(model: Path) -> None:
    m = artifact.manifest(model / "config.json")
    assert _changes(m, model) == {("missing", "config.json", None)}


def test_unbound_fingerprint_cannot_vouch_for_an_artifact(tmp_path: Path, model: Path) -> None:
    private, public = make_keys(tmp_path / "keys")
    path = make_fingerprint().save(tmp_path / "a.fp", key=private)
    with pytest.raises(ArtifactMismatchError, match="not bound"):
        artifact.verify_file(path, [public], artifact=model)
    assert artifact.verify_file(path, [public]).artifact_path is None


@pytest.mark.parametrize(
    ("bad_path", "reason"),
    [
        ("../x", "contains '..'"),
        ("weights/../../x", "contains '..'"),
        ("/etc/passwd", "is absolute"),
        ("weights\\a.bin", "backslash"),
        ("weights/./a.bin", "not normalised"),
        ("weights//a.bin", "not normalised"),
        ("a\nb", "control character"),
        ("a\x00b", "control character"),
    ],
)
def test_unsafe_manifest_paths_are_rejected_before_any_file_is_read(
    tmp_path: Path, model: Path, monkeypatch: pytest.MonkeyPatch, bad_path: str, reason: str
) -> None:
    outside = tmp_path / "x"
    outside.write_bytes(b"secret")
    outside.chmod(0)
    good = artifact.manifest(model)
    files = (*good.files, ArtifactFile(bad_path, 6, "0" * 64))
    m = dataclasses.replace(good, files=files, digest=artifact.directory_digest(files))

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"filesystem touched: {args}")

    for module, name in [(os, "open"), (os, "scandir"), (os, "stat"), (os, "lstat"), (builtins, "open")]:
        monkeypatch.setattr(module, name, forbidden)
    with pytest.raises(ArtifactMismatchError, match=reason) as info:
        artifact.verify(m, model)
    assert info.value.changes[0].kind is ChangeKind.INVALID
    assert "no file was read" in info.value.message


@pytest.mark.parametrize(
    "change",
    [
        {"hash_algorithm": "md5"},
        {"excluded": ("*",)},
        {"digest": "0" * 64},
        {"kind": "tarball"},
    ],
)
def test_inconsistent_or_unsupported_manifests_are_rejected(model: Path, change: dict[str, object]) -> None:
    m = dataclasses.replace(artifact.manifest(model), **change)  # type: ignore[arg-type]
    with pytest.raises(ArtifactMismatchError) as info:
        artifact.verify(m, model)
    assert {c.kind for c in info.value.changes} == {ChangeKind.INVALID}


def test_duplicate_manifest_entries_are_rejected(model: Path) -> None:
    good = artifact.manifest(model)
    files = (*good.files, good.files[0])
    with pytest.raises(ArtifactMismatchError, match="listed twice"):
        artifact.verify(dataclasses.replace(good, files=files, digest=artifact.directory_digest(files)), model)


def test_report_lines_read_as_a_file_by_file_list() -> None:
    changes = [FileChange(ChangeKind.RENAMED, "b", old_path="a"), FileChange(ChangeKind.ADDED, "c", detail="3 bytes")]
    assert artifact.format_changes(changes) == "  renamed     b (was a)\n  added       c: 3 bytes"
    assert artifact.format_changes(changes, limit=1).endswith("… and 1 more")


# ---------------------------------------------------------------------------------------- location


def test_default_fingerprint_places(tmp_path: Path, model: Path) -> None:
    f = tmp_path / "model.onnx"
    f.write_bytes(b"x")
    assert artifact.default_fp_path(model) == model / "envprint.fp"
    assert artifact.default_fp_path(f) == tmp_path / "model.onnx.fp"


def test_find_fingerprint_from_directory_file_or_fp(tmp_path: Path, model: Path) -> None:
    f = tmp_path / "model.onnx"
    f.write_bytes(b"x")
    with pytest.raises(UsageError, match=r"looked for .*model/envprint\.fp"):
        artifact.find_fingerprint(model)
    with pytest.raises(UsageError, match=r"looked for .*model\.onnx\.fp"):
        artifact.find_fingerprint(f)
    (model / "envprint.fp").write_bytes(b"x")
    (tmp_path / "model.onnx.fp").write_bytes(b"x")
    assert artifact.find_fingerprint(model) == model / "envprint.fp"
    assert artifact.find_fingerprint(f) == tmp_path / "model.onnx.fp"
    assert artifact.find_fingerprint(tmp_path / "model.onnx.fp") == tmp_path / "model.onnx.fp"
    assert artifact.artifact_for_fingerprint(model / "envprint.fp") == model
    assert artifact.artifact_for_fingerprint(tmp_path / "model.onnx.fp") == f
    assert artifact.artifact_for_fingerprint(tmp_path / "lonely.fp") is None


def test_rich_progress_is_off_without_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with byte_progress() as progress:
        assert progress is None
