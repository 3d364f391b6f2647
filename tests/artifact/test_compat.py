"""A model bound by envprint 0.1 (fixtures/model-0.1, written by commit 5f0859d's own code) verifies as it did."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from envprint import artifact
from envprint.errors import ArtifactMismatchError
from tests.conftest import run_envprint

FIXTURES = Path(__file__).with_name("fixtures")
MODEL = FIXTURES / "model-0.1"
KEY = FIXTURES / "model-0.1.pub"


def test_a_manifest_written_before_shards_and_ignore_lists_reads_with_their_defaults() -> None:
    result = artifact.verify_file(MODEL / "envprint.fp", [KEY])
    m = result.manifest
    assert m is not None
    assert (m.shard_size, dict(m.shards), m.ignored, dict(m.links), m.source) == (0, {}, (), {}, None)
    assert result.check is not None and (result.check.hashed, result.check.ignored) == (2, ())


def test_an_old_manifest_still_refuses_a_file_the_registry_adds(tmp_path: Path) -> None:
    copy = shutil.copytree(MODEL, tmp_path / "model")
    (copy / "registered_model_meta").write_bytes(b"model_name: churn\n")
    with pytest.raises(ArtifactMismatchError) as info:
        artifact.verify_file(copy / "envprint.fp", [KEY])
    assert [(c.kind.value, c.path) for c in info.value.changes] == [("added", "registered_model_meta")]


def test_the_old_fixture_verifies_through_the_cli() -> None:
    out = run_envprint(["verify", str(MODEL / "envprint.fp"), "--key", str(KEY)])
    assert out.returncode == 0, out.stderr
    assert "OK  artifact" in out.stdout and "2 file(s), 2062 bytes match" in out.stdout
