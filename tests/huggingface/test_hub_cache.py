"""Binding Hugging Face Hub cache snapshots in place, and resolving hf:// references offline."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("huggingface_hub")

import huggingface_hub
import huggingface_hub.constants

from envprint import artifact
from envprint.artifact import hub
from envprint.errors import ArtifactMismatchError, UsageError
from tests.huggingface.hubcache import add_snapshot, blob_name
from tests.signing_helpers import make_fingerprint, make_keys

COMMIT = "abc123" + "4f" * 17
OLD = "0ff1ce" + "00" * 17
WEIGHTS = bytes(range(256)) * 64  # 16 KiB: an LFS file, its blob named by its sha256
FILES = {
    "config.json": b'{"model_type": "bert", "hidden_size": 8}',
    "model.safetensors": WEIGHTS,
    "tokenizer/tokenizer.json": b'{"version": "1.0", "model": {"type": "BPE"}}',
}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "hf-home" / "hub"
    add_snapshot(root, "org/m", OLD, {**FILES, "config.json": b'{"model_type": "bert", "hidden_size": 4}'}, ref=None)
    add_snapshot(root, "org/m", COMMIT, FILES)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(root))
    return root


@pytest.fixture
def snapshot(cache: Path) -> Path:
    return cache / "models--org--m" / "snapshots" / COMMIT


def _changes(m: artifact.ArtifactManifest, path: Path) -> list[tuple[str, str, str]]:
    with pytest.raises(ArtifactMismatchError) as info:
        artifact.verify(m, path)
    assert info.value.exit_code == 3
    return [(c.kind.value, c.path, c.detail) for c in info.value.changes]


# ------------------------------------------------------------------------------------------- the layout


def test_the_cache_built_by_the_tests_is_what_huggingface_hub_reads(cache: Path) -> None:
    info = huggingface_hub.scan_cache_dir(cache)
    assert info.warnings == []
    [repo] = info.repos
    assert (repo.repo_id, repo.repo_type) == ("org/m", "model")
    revisions = {r.commit_hash: r for r in repo.revisions}
    assert set(revisions) == {COMMIT, OLD}
    assert set(revisions[COMMIT].refs) == {"main"}
    assert {f.file_name for f in revisions[COMMIT].files} == {"config.json", "model.safetensors", "tokenizer.json"}


def test_a_snapshot_is_recognised_by_its_place_in_the_cache(cache: Path, snapshot: Path, tmp_path: Path) -> None:
    found = hub.snapshot_of(snapshot)
    assert found == hub.HubSnapshot(cache, "model", "org/m", COMMIT)
    assert found.reference == f"hf://org/m@{COMMIT}"
    assert found.fingerprint == tmp_path / "hf-home" / "hub.envprint" / "models--org--m" / f"{COMMIT}.fp"
    assert hub.snapshot_of(cache / "models--org--m") is None
    assert hub.snapshot_of(tmp_path) is None


# -------------------------------------------------------------------------------------------- binding


def test_a_snapshot_binds_in_place_with_the_digests_of_what_its_links_resolve_to(snapshot: Path) -> None:
    m = artifact.manifest(snapshot)
    assert {f.path: (f.size, f.sha256) for f in m.files} == {
        p: (len(c), hashlib.sha256(c).hexdigest()) for p, c in FILES.items()
    }
    assert dict(m.links) == {
        "config.json": f"../../blobs/{blob_name(FILES['config.json'])}",
        "model.safetensors": f"../../blobs/{hashlib.sha256(WEIGHTS).hexdigest()}",
        "tokenizer/tokenizer.json": f"../../../blobs/{blob_name(FILES['tokenizer/tokenizer.json'])}",
    }
    assert m.source == f"hf://org/m@{COMMIT}"


def test_a_snapshot_has_the_digest_of_the_same_files_copied_out(snapshot: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(snapshot, tmp_path / "save_pretrained_output", symlinks=False)
    assert artifact.manifest(snapshot).digest == artifact.manifest(copy).digest
    assert artifact.manifest(copy).links == {}


def test_a_snapshot_verifies_through_its_links(snapshot: Path) -> None:
    check = artifact.verify(artifact.manifest(snapshot), snapshot)
    assert (check.linked, check.hashed) == (3, 3)
    assert "    3 file(s) read through Hub cache links into the repository's blobs/" in check.lines()


def test_the_same_files_as_plain_copies_verify_against_the_snapshots_manifest(snapshot: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(snapshot, tmp_path / "copy", symlinks=False)
    artifact.verify(artifact.manifest(snapshot), copy)


def test_the_fingerprint_goes_beside_the_cache_and_never_inside(cache: Path, snapshot: Path, tmp_path: Path) -> None:
    assert artifact.fp_destination(snapshot, None) == tmp_path / "hf-home" / "hub.envprint" / "models--org--m" / (
        COMMIT + ".fp"
    )
    assert artifact.fp_destination(snapshot, tmp_path / "m.fp") == tmp_path / "m.fp"
    for inside in (snapshot / "envprint.fp", cache / "models--org--m" / "x.fp", cache / "m.fp"):
        with pytest.raises(UsageError, match="inside the Hugging Face Hub cache"):
            artifact.fp_destination(snapshot, inside)


def test_a_fingerprint_beside_the_cache_finds_its_snapshot_and_back(snapshot: Path) -> None:
    fp = hub.snapshot_of(snapshot).fingerprint  # type: ignore[union-attr]
    fp.parent.mkdir(parents=True)
    fp.write_bytes(b"x")
    assert artifact.find_fingerprint(snapshot) == fp
    assert artifact.artifact_for_fingerprint(fp) == snapshot


def test_the_repository_folder_is_not_a_snapshot_and_the_hint_says_which_to_bind(cache: Path) -> None:
    with pytest.raises(UsageError) as info:
        artifact.manifest(cache / "models--org--m")
    assert "bind one snapshot" in info.value.hint


def test_symlinks_in_an_ordinary_directory_are_still_refused(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (tmp_path / "weights.bin").write_bytes(b"w")
    (model / "weights.bin").symlink_to("../weights.bin")
    with pytest.raises(UsageError, match=r"symlink to \.\./weights\.bin") as info:
        artifact.manifest(model)
    assert "replace symlinks" in info.value.hint


# ---------------------------------------------------------------------------------------- refused links


def _relink(link: Path, target: str | Path) -> None:
    link.unlink()
    link.symlink_to(target)


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("/etc/hostname", "leaves the repository folder models--org--m"),
        ("../../../models--other--x/blobs/deadbeef", "leaves the repository folder"),
        ("../../refs/main", "resolves outside the repository's blobs/"),
        ("../../blobs/nowhere", "is dangling"),
    ],
)
def test_links_that_do_not_end_at_a_blob_of_the_same_repository_are_refused(
    snapshot: Path, cache: Path, target: str, reason: str
) -> None:
    other = cache / "models--other--x" / "blobs"
    other.mkdir(parents=True)
    (other / "deadbeef").write_bytes(FILES["config.json"])
    _relink(snapshot / "config.json", target)
    with pytest.raises(UsageError, match=reason):
        artifact.manifest(snapshot)


def test_a_link_loop_is_refused(snapshot: Path) -> None:
    _relink(snapshot / "config.json", "loop")
    (snapshot / "loop").symlink_to("config.json")
    with pytest.raises(UsageError, match="loops"):
        artifact.manifest(snapshot)


def test_a_link_through_a_linked_directory_is_refused(snapshot: Path, cache: Path) -> None:
    repo = cache / "models--org--m"
    (repo / "blobs-alias").symlink_to("blobs")
    _relink(snapshot / "config.json", f"../../blobs-alias/{blob_name(FILES['config.json'])}")
    with pytest.raises(UsageError, match="passes through a linked directory"):
        artifact.manifest(snapshot)


# -------------------------------------------------------------------------------------------- tampering


def test_a_changed_blob_is_caught_although_its_name_is_its_old_sha256(snapshot: Path, cache: Path) -> None:
    m = artifact.manifest(snapshot)
    blob = cache / "models--org--m" / "blobs" / hashlib.sha256(WEIGHTS).hexdigest()
    blob.write_bytes(WEIGHTS[:-1] + b"\x00")  # an LFS blob's name is never trusted: its content is hashed
    [(kind, path, detail)] = _changes(m, snapshot)
    assert (kind, path) == ("changed", "model.safetensors")
    assert detail.endswith(f"(through link ../../blobs/{blob.name})")


def test_a_link_retargeted_to_another_blob_is_caught(snapshot: Path, cache: Path) -> None:
    m = artifact.manifest(snapshot)
    old_config = cache / "models--org--m" / "snapshots" / OLD / "config.json"
    target = os.readlink(old_config)
    _relink(snapshot / "config.json", target)
    [(kind, path, detail)] = _changes(m, snapshot)
    assert (kind, path) == ("changed", "config.json")
    assert f"link retargeted: ../../blobs/{blob_name(FILES['config.json'])} → {target}" in detail


def test_a_link_leaving_the_repository_folder_is_caught(snapshot: Path, tmp_path: Path) -> None:
    m = artifact.manifest(snapshot)
    outside = tmp_path / "evil.safetensors"
    outside.write_bytes(WEIGHTS)  # even the same bytes: what is outside the repository is not bound
    _relink(snapshot / "model.safetensors", outside)
    changes = _changes(m, snapshot)
    assert (
        "unsupported",
        "model.safetensors",
        f"symlink to {outside} leaves the repository folder models--org--m",
    ) in changes
    assert ("missing", "model.safetensors", f"{len(WEIGHTS)} bytes") in changes


@pytest.mark.parametrize("how", ["a regular file", "a link to a blob"])
def test_a_file_added_to_the_snapshot_is_caught(snapshot: Path, cache: Path, how: str) -> None:
    m = artifact.manifest(snapshot)
    if how == "a regular file":
        (snapshot / "extra.py").write_bytes(b"import os\n")
    else:
        (snapshot / "extra.py").symlink_to(f"../../blobs/{blob_name(FILES['config.json'])}")
    [(kind, path, _)] = _changes(m, snapshot)
    assert (kind, path) == ("added", "extra.py")


# ------------------------------------------------------------------------------------------- references


def test_hf_reference_without_revision_uses_the_main_ref_and_pins_it(cache: Path, snapshot: Path) -> None:
    resolved = artifact.resolve("hf://org/m")
    assert resolved.path == snapshot
    assert resolved.reference == f"hf://org/m@{COMMIT}"
    assert resolved.description == f"hf://org/m (main → {COMMIT}) from the Hub cache {cache}"
    assert artifact.manifest("hf://org/m").source == f"hf://org/m@{COMMIT}"


@pytest.mark.parametrize("revision", [COMMIT, "abc123", "0ff1ce"])
def test_hf_reference_by_commit_or_abbreviated_commit_resolves_offline(cache: Path, revision: str) -> None:
    resolved = artifact.resolve(f"hf://org/m@{revision}")
    expected = COMMIT if revision.startswith("abc") else OLD
    assert resolved.path == cache / "models--org--m" / "snapshots" / expected
    assert resolved.reference == f"hf://org/m@{expected}"


def test_an_uncached_revision_is_a_usage_error_that_names_the_cache(cache: Path) -> None:
    with pytest.raises(UsageError) as info:
        artifact.resolve("hf://org/m@v2.0")
    assert info.value.exit_code == 2
    assert f"revision 'v2.0' of org/m is not in the Hub cache {cache}" in info.value.message
    assert "nothing is downloaded" in info.value.message
    assert "hf download org/m --revision v2.0" in info.value.hint


def test_an_uncached_repository_is_a_usage_error(cache: Path) -> None:
    with pytest.raises(UsageError, match="of org/absent is not in the Hub cache"):
        artifact.resolve("hf://org/absent")


def test_an_ambiguous_abbreviation_is_refused(cache: Path) -> None:
    add_snapshot(cache, "org/m", "abc123" + "99" * 17, FILES, ref=None)
    with pytest.raises(UsageError, match="matches 2 cached snapshots"):
        artifact.resolve("hf://org/m@abc123")


@pytest.mark.parametrize(
    "text", ["hf://", "hf://org/m/extra", "hf://../m", "hf://org/m@", "hf://org/m@../../x", "hf://org--x/m"]
)
def test_malformed_references_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        artifact.resolve(text)


def test_a_dataset_reference_is_parsed() -> None:
    ref = artifact.parse_reference("hf://datasets/org/data@v1")
    assert (ref.repo_type, ref.repo_id, ref.revision) == ("dataset", "org/data", "v1")


def test_locate_finds_the_fingerprint_of_a_reference_beside_the_cache(snapshot: Path) -> None:
    fp = hub.snapshot_of(snapshot).fingerprint  # type: ignore[union-attr]
    with pytest.raises(UsageError, match=f"no fingerprint found for hf://org/m@{COMMIT}"):
        artifact.locate("hf://org/m")
    fp.parent.mkdir(parents=True)
    fp.write_bytes(b"x")
    located = artifact.locate("hf://org/m")
    assert (located.fingerprint, located.artifact) == (fp, snapshot)


def test_a_fingerprint_uploaded_with_the_model_is_found_inside_the_snapshot(cache: Path, tmp_path: Path) -> None:
    private, public = make_keys(tmp_path / "keys")
    trained = tmp_path / "save_pretrained"
    for path, content in FILES.items():
        (trained / path).parent.mkdir(parents=True, exist_ok=True)
        (trained / path).write_bytes(content)
    make_fingerprint(artifact=artifact.manifest(trained)).save(trained / "envprint.fp", key=private)
    # push_to_hub uploads the folder, envprint.fp included; the serving side downloads it into the cache
    uploaded = {p: (trained / p).read_bytes() for p in [*FILES, "envprint.fp"]}
    snapshot = add_snapshot(cache, "org/pushed", "c0ffee" + "11" * 17, uploaded)
    result = artifact.verify_file("hf://org/pushed", [public])
    assert result.fingerprint_path == snapshot / "envprint.fp"
    assert result.check is not None and result.check.linked == 3


def test_a_bound_fingerprint_written_elsewhere_finds_its_snapshot_through_its_pinned_source(
    snapshot: Path, tmp_path: Path
) -> None:
    private, public = make_keys(tmp_path / "keys")
    (tmp_path / "deploy").mkdir()
    fp = make_fingerprint(artifact=artifact.manifest("hf://org/m")).save(tmp_path / "deploy" / "model.fp", key=private)
    result = artifact.verify_file(fp, [public])
    assert result.artifact_path == snapshot
