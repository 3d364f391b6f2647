"""The hf:// loop through the command line and guard(), in real processes reading a real Hub cache layout offline."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("huggingface_hub")

from tests.conftest import host_env, run_envprint
from tests.huggingface.hubcache import add_snapshot
from tests.signing_helpers import make_keys

pytestmark = pytest.mark.slow

COMMIT = "abc123" + "7e" * 17
FILES = {"config.json": b'{"hidden_size": 8}', "model.safetensors": bytes(range(256)) * 40}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """HF_HOME of the tests: the Hub cache is its hub/ folder, as huggingface_hub places it by default."""
    add_snapshot(tmp_path / "hf" / "hub", "org/m", COMMIT, FILES)
    return tmp_path / "hf"


def _env(home: Path, **extra: str) -> dict[str, str]:
    # an endpoint nothing listens on: a network call would fail loudly instead of passing unnoticed
    return host_env(
        HF_HOME=str(home), HF_HUB_CACHE=None, HF_HUB_OFFLINE=None, HF_ENDPOINT="http://127.0.0.1:9", **extra
    )


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return make_keys(tmp_path / "keys")


def _capture(home: Path, keys: tuple[Path, Path], *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["capture", "--no-probes", "--artifact", "hf://org/m", "--key", str(keys[0]), *extra]
    return run_envprint(args, env=_env(home))


def test_capture_binds_the_cached_model_and_writes_beside_the_cache(home: Path, keys: tuple[Path, Path]) -> None:
    out = _capture(home, keys)
    assert out.returncode == 0, out.stderr
    fp = home / "hub.envprint" / "models--org--m" / f"{COMMIT}.fp"
    assert fp.is_file()
    assert f"wrote {fp} (signed" in out.stderr
    assert f"bound to hf://org/m@{COMMIT} (2 file(s))" in out.stderr
    assert not list((home / "hub").rglob("*.fp"))  # nothing written inside the cache


def test_check_by_abbreviated_commit_passes_offline(home: Path, keys: tuple[Path, Path]) -> None:
    assert _capture(home, keys).returncode == 0
    out = run_envprint(["check", "hf://org/m@abc123", "--key", str(keys[1]), "--no-probes"], env=_env(home))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "envprint guard PASS" in out.stdout


def test_verify_by_reference_lists_the_links_it_followed(home: Path, keys: tuple[Path, Path]) -> None:
    assert _capture(home, keys).returncode == 0
    out = run_envprint(["verify", "hf://org/m", "--key", str(keys[1])], env=_env(home))
    assert out.returncode == 0, out.stderr
    assert f"    bound to hf://org/m@{COMMIT}" in out.stdout
    assert "    2 file(s) read through Hub cache links into the repository's blobs/" in out.stdout


def test_a_changed_blob_exits_3(home: Path, keys: tuple[Path, Path]) -> None:
    assert _capture(home, keys).returncode == 0
    blob = home / "hub" / "models--org--m" / "blobs" / hashlib.sha256(FILES["model.safetensors"]).hexdigest()
    blob.write_bytes(b"\xff" + blob.read_bytes()[1:])  # the first byte was 0x00
    for command in (["check", "hf://org/m", "--no-probes"], ["verify", "hf://org/m"]):
        out = run_envprint([*command, "--key", str(keys[1])], env=_env(home))
        assert out.returncode == 3, out.stderr
        assert "changed     model.safetensors" in out.stderr


def test_an_uncached_revision_exits_2_with_a_clear_message(home: Path, keys: tuple[Path, Path]) -> None:
    out = run_envprint(["check", "hf://org/m@v9", "--key", str(keys[1]), "--no-probes"], env=_env(home))
    assert out.returncode == 2
    assert f"revision 'v9' of org/m is not in the Hub cache {home / 'hub'}" in out.stderr
    assert "nothing is downloaded" in out.stderr
    assert "Traceback" not in out.stderr


def test_hf_hub_cache_takes_precedence_over_hf_home(home: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    out = run_envprint(
        ["capture", "--no-probes", "-q", "--artifact", "hf://org/m"], env={**_env(home), "HF_HUB_CACHE": str(other)}
    )
    assert out.returncode == 2
    assert f"not in the Hub cache {other}" in out.stderr


def test_capture_refuses_to_write_inside_the_cache(home: Path, keys: tuple[Path, Path]) -> None:
    inside = home / "hub" / "models--org--m" / "snapshots" / COMMIT / "envprint.fp"
    out = _capture(home, keys, "-o", str(inside))
    assert out.returncode == 2
    assert "inside the Hugging Face Hub cache" in out.stderr
    assert not inside.exists()


def test_check_takes_the_snapshot_and_a_fingerprint_written_elsewhere(
    home: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    fp = tmp_path / "release" / "m.fp"
    fp.parent.mkdir()
    assert _capture(home, keys, "-o", str(fp)).returncode == 0
    snapshot = home / "hub" / "models--org--m" / "snapshots" / COMMIT
    out = run_envprint(
        ["check", str(snapshot), "--fingerprint", str(fp), "--key", str(keys[1]), "--no-probes"], env=_env(home)
    )
    assert out.returncode == 0, out.stdout + out.stderr
    out = run_envprint(["verify", str(fp), "--artifact", str(snapshot), "--key", str(keys[1])], env=_env(home))
    assert out.returncode == 0, out.stderr


def test_guard_accepts_an_hf_reference(home: Path, keys: tuple[Path, Path]) -> None:
    assert _capture(home, keys).returncode == 0
    code = (
        "import sys, envprint\n"
        "r = envprint.guard('hf://org/m', trusted_keys=[sys.argv[1]], probes=False)\n"
        "print(r.passed, r.artifact_path)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(keys[1])], env=_env(home), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"True {home / 'hub' / 'models--org--m' / 'snapshots' / COMMIT}"


def test_capture_records_the_hub_context_by_exact_name_and_never_the_token(tmp_path: Path) -> None:
    train, serve = tmp_path / "train.fp", tmp_path / "serve.fp"
    base = host_env(HF_TOKEN="hf_secretsecretsecret", HUGGING_FACE_HUB_TOKEN="hf_secretsecretsecret")
    assert run_envprint(["capture", "--no-probes", "-q", "-o", str(train)], env=base).returncode == 0
    serving = {**base, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_SDPA_FORCE_GQA": "1"}
    assert run_envprint(["capture", "--no-probes", "-q", "-o", str(serve)], env=serving).returncode == 0
    assert b"hf_secret" not in train.read_bytes() + serve.read_bytes()
    out = run_envprint(["diff", str(train), str(serve), "--format", "json"])
    paths = {f["path"]: (f["old"], f["new"]) for f in json.loads(out.stdout)["findings"]}
    assert paths["env.HF_HUB_OFFLINE"] == (None, "1")
    assert paths["env.TRANSFORMERS_SDPA_FORCE_GQA"] == (None, "1")
