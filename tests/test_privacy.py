"""Secrets never reach the file: allow-listed names only, secret names dropped, secret values redacted."""

from __future__ import annotations

from pathlib import Path

from envprint.collect import env as env_collector
from envprint.privacy import REDACTED, is_secret_name, looks_secret_value, redact_path
from tests.conftest import host_env, run_envprint

PLANTED = {
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY0001",
    "HF_TOKEN": "hf_PlantedSecretTokenValue1234567890abcd",
    "TF_API_TOKEN": "planted-tf-token-value-0002",  # allow-listed prefix, secret-looking name
    "CUDA_CACHE_PATH": "/home/alice/.nv/cache",  # allow-listed, carries a username
    "NCCL_SOCKET_IFNAME": "hf_ValueThatLooksLikeAToken1234567890",  # allow-listed name, secret-looking value
    "OMP_NUM_THREADS": "2",
}


def test_planted_secrets_never_appear_in_file_bytes(tmp_path: Path) -> None:
    out = tmp_path / "fp.fp"
    proc = run_envprint(["capture", "-q", "-o", str(out)], env=host_env(**PLANTED))
    assert proc.returncode == 0, proc.stderr
    data = out.read_bytes()
    for name in ("AWS_SECRET_ACCESS_KEY", "HF_TOKEN", "TF_API_TOKEN"):
        assert PLANTED[name].encode() not in data, name
    assert b"hf_ValueThatLooksLikeAToken" not in data
    assert b"alice" not in data
    assert b"AWS_SECRET_ACCESS_KEY" not in data and b"HF_TOKEN" not in data
    show = run_envprint(["show", "--format", "json", str(out)])
    assert '"NCCL_SOCKET_IFNAME": "<redacted>"' in show.stdout
    assert '"CUDA_CACHE_PATH": "/home/~/.nv/cache"' in show.stdout or '"CUDA_CACHE_PATH": "~/.nv/cache"' in show.stdout
    assert '"OMP_NUM_THREADS": "2"' in show.stdout


def test_env_section_is_allow_listed() -> None:
    got = env_collector.collect(
        {"PATH": "/usr/bin", "HOME": "/root", "NCCL_DEBUG": "INFO", "OMP_NUM_THREADS": "4", "GITHUB_TOKEN": "x"}
    )
    assert got == {"NCCL_DEBUG": "INFO"}  # OMP_NUM_THREADS lives in determinism.variables


def test_env_section_records_exact_names_only() -> None:
    got = env_collector.collect(
        {
            "NCCL_ALGO": "Ring",
            "NCCL_API_KEY": "x",  # an NCCL_* name envprint does not know, and secret-looking
            "NCCL_DEBUG_FILE": "/tmp/nccl",  # an NCCL_* name envprint does not know
            "DATABASE_URL": "postgres://u:p@h/db",
            "TF_VAR_db_pass": "hunter2",  # Terraform, not TensorFlow
            "TF_LOG": "DEBUG",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
    )
    assert got == {"NCCL_ALGO": "Ring", "TF_CPP_MIN_LOG_LEVEL": "2"}


def test_name_and_value_rules() -> None:
    assert is_secret_name("NCCL_API_KEY") and not is_secret_name("NCCL_ALGO")
    assert looks_secret_value("AKIAIOSFODNN7EXAMPLE")
    assert looks_secret_value("postgres://user:pw@db:5432/x")
    assert not looks_secret_value("--xla_gpu_deterministic_ops=true")
    assert redact_path("/home/bob/venv/lib:/opt/x") == "/home/~/venv/lib:/opt/x"
    assert REDACTED == "<redacted>"


def test_locale_variables_are_screened_like_every_other_variable() -> None:
    from envprint.collect import locale_time

    info = locale_time.collect(environ={"LANG": "C.UTF-8", "LC_TOKEN": "hf_PlantedSecretTokenValue1234567890",
                                        "LC_BASTION_USER": "alice", "LC_TIME": "de_DE.UTF-8"})  # fmt: skip
    assert info.locale_env == {"LANG": "C.UTF-8", "LC_TIME": "de_DE.UTF-8"}
