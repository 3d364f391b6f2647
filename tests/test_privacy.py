"""Secrets never reach the file or any output: exact names only, secret names dropped, credentials masked.

The leak corpus plants 40 realistic credential shapes in recorded variables, PYTHONPATH directories,
custom metadata and tags, then greps the .fp and every output format for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from envprint.codec import read
from envprint.collect import env as env_collector
from envprint.model import Unavailable
from envprint.privacy import (
    REDACTED,
    is_secret_name,
    looks_secret_value,
    redact,
    redact_path,
    safe_metadata,
    safe_value,
)
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


# ----------------------------------------------------------------------------------- redaction rules


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("HTTPS://u:pw@models.example.com/v1", "HTTPS://<redacted>@models.example.com/v1"),
        ("Postgres://user:pw@db:5432/x", "Postgres://<redacted>@db:5432/x"),
        ("s3://AKIAIOSFODNN7EXAMPLE:secret@bucket/key", "s3://<redacted>@bucket/key"),
        ("https://ghp_abcdefghijklmnopqrstuvwxyz0123@github.com/o/r", "https://<redacted>@github.com/o/r"),
        ("svc:pass-word@broker.internal:9092", "<redacted>@broker.internal:9092"),
        ("--db-password=hunter2 --xla_cpu_fast_math=false", "--db-password=<redacted> --xla_cpu_fast_math=false"),
        ("Authorization: Bearer abc.def", "Authorization: <redacted>"),
        ("/srv/ghp_abcdefghijklmnopqrstuvwxyz0123/site", "/srv/<redacted>/site"),
        ("/cache/9fK2LmQ8vX1pR7tY3wZ6aB4cD0eF5gH2/lib", "/cache/<redacted>/lib"),
        ("key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "key=<redacted>"),
        ("/home/alice/.nv/cache", "/home/~/.nv/cache"),
        ("OMP_\udcff", "OMP_\\xff"),  # an undecodable byte from the OS, escaped
    ],
)
def test_values_and_paths_are_masked_where_they_hold_credentials(value: str, expected: str) -> None:
    assert safe_value(value) == expected
    assert redact_path(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "--xla_gpu_deterministic_ops=true --xla_cpu_fast_math=false",
        "/usr/lib/x86_64-linux-gnu/libopenblasp-r0.3.21.so",
        "/opt/conda/envs/ml/lib/python3.11/site-packages",
        "GPU-5c2e3f1a-8b7d-4e2c-9f1a-1234567890ab",
        "git@github.com:org/repo.git",
        "tcp://10.0.0.1:1234",
        "en_US.UTF-8",
        "America/Los_Angeles",
        "cp311-cp311-manylinux_2_17_x86_64",
        "0x1.921fb54442d18p+1",
        "3f2a9c1e0b7d4a6f8e2c1b0a9d8e7f6a5b4c3d2e",  # a git commit (hex): not a secret
    ],
)
def test_ordinary_values_are_kept(value: str) -> None:
    assert safe_value(value) == value
    assert not looks_secret_value(value)


def test_metadata_under_a_secret_key_is_redacted_whole() -> None:
    assert safe_metadata("db_password", "hunter2") == REDACTED
    assert safe_metadata("hf-token", "anything") == REDACTED
    assert safe_metadata("tokenizer", "bert-base-uncased") == "bert-base-uncased"
    assert safe_metadata("run", 42) == 42
    assert safe_metadata("source", "https://u:p@h/x") == "https://<redacted>@h/x"


# ------------------------------------------------------------------------------------ leak corpus

# 40 realistic credential shapes (fake values), each planted somewhere envprint records. `secret` is
# what must never appear; `planted` is the text as planted (a URL keeps its host, a flag its name).
_PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCleakPemBody\n"
    "-----END PRIVATE KEY-----"
)
_AZURE = "DefaultEndpointsProtocol=https;AccountName=leak;AccountKey=LeakAzureKey0123456789abcdefABCDEF==;"
_SAS = "https://leak.blob.core.windows.net/c?sv=2022-11-02&sig=LeakSasSignature0123%2Babc"


def _c(shape: str, planted: str, secret: str | None = None) -> tuple[str, str, str]:
    return shape, planted, planted if secret is None else secret


CORPUS: list[tuple[str, str, str]] = [  # (shape, planted, secret)
    _c("aws access key id", "AKIAZ7QX3LEAKT0001AB"),
    _c("aws secret access key", "kq3Rz8/Lp0VtLeakSecretAccessKeyXw1+9mN27"),
    _c("aws session token", "FwoGZXIvYXdzEBYaDLeakSessionTokenQ8vX1pR7tY3wZ6aB4c", "FwoGZXIvYXdzEBYaDLeakSessionToken"),
    _c("github classic", "ghp_LeakGithubClassic0123456789abcdefABCD"),
    _c("github fine-grained", "github_pat_11ALEAKFINE0_GrainedTokenValue0123456789abcdefXYZ", "GrainedTokenValue01234"),
    _c("github oauth", "gho_LeakGithubOauth0123456789abcdefABCDEF"),
    _c("github app", "ghs_LeakGithubApp0123456789abcdefABCDEFG"),
    _c("gitlab", "glpat-LeakGitlab-0123456789ab"),
    _c("slack bot", "xoxb-1234567890-0987654321-LeakSlackBotTokenAbc", "LeakSlackBotTokenAbc"),
    _c("slack user", "xoxp-1234567890-0987654321-LeakSlackUserTokenAbc", "LeakSlackUserTokenAbc"),
    _c(
        "slack webhook",
        "https://hooks.slack.com/services/T0LEAK000/B0LEAK000/LeakWebhookSecret0123",
        "LeakWebhookSecret0123",
    ),
    _c("stripe", "sk_live_LeakStripe0123456789abcdef"),
    _c("openai", "sk-proj-LeakOpenAi0123456789abcdefABCDEF", "LeakOpenAi0123456789abcdefABCDEF"),
    _c("anthropic", "sk-ant-api03-LeakAnthropic0123456789abcdef", "LeakAnthropic0123456789abcdef"),
    _c("hugging face", "hf_LeakHuggingFace0123456789abcdefABCD"),
    _c("google api key", "AIzaSyLeakGoogleApiKey0123456789abcdefg"),
    _c("google oauth", "ya29.LeakGoogleOauth0123456789abcdefABC", "LeakGoogleOauth0123456789abcdefABC"),
    _c("npm", "npm_LeakNpmToken0123456789abcdefABCDEFGHIJ"),
    _c("pypi", "pypi-AgEIcHlwaS5vcmcLeakPypi0123456789abcdefABCDEFGHIJKLMNOPQRSTUVWXYZ", "LeakPypi0123456789abcdef"),
    _c("sendgrid", "SG.LeakSendgrid0123456.LeakSendgridSecond0123456789", "LeakSendgridSecond0123456789"),
    _c("databricks", "dapi0123456789abcdef0123456789abcdef"),
    _c("digitalocean", "dop_v1_" + "0123456789abcdef" * 4, "0123456789abcdef" * 4),
    _c("vault", "hvs.CAESLeakVaultToken0123456789abcdef", "CAESLeakVaultToken0123456789abcdef"),
    _c("shopify", "shpat_0123456789abcdef0123456789abcdef"),
    _c("atlassian", "ATATT3xFfGF0LeakAtlassian0123456789abcdef"),
    _c("grafana", "glsa_LeakGrafana0123456789abcdefABCDEF_0a1b2c3d", "LeakGrafana0123456789abcdef"),
    _c("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWFrand0In0.LeakJwtSignature0123456789", "LeakJwtSignature0123456789"),
    _c("pem private key", _PEM, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCleakPemBody"),
    _c("azure storage", _AZURE, "LeakAzureKey0123456789abcdef"),
    _c("azure sas", _SAS, "LeakSasSignature0123"),
    _c("postgres url", "postgresql://mluser:Pg-Secret-9931@db.internal:5432/features", "Pg-Secret-9931"),
    _c("upper-case scheme", "HTTPS://deploy:Upper-Case-Pass-77@models.example.com/v1", "Upper-Case-Pass-77"),
    _c("no scheme", "svc-reader:NoScheme-Pass-31@broker.internal", "NoScheme-Pass-31"),
    _c("mongodb srv", "mongodb+srv://admin:Mongo-Pass-8812@cluster0.abcde.mongodb.net", "Mongo-Pass-8812"),
    _c("redis password only", "rediss://:Redis-Only-Pass-5521@cache.internal:6380", "Redis-Only-Pass-5521"),
    _c("s3 url credentials", "s3://AKIAZ7QX3LEAKT0002CD:S3Url-Secret-6612@bucket/models", "S3Url-Secret-6612"),
    _c("basic auth header", "Authorization: Basic bGVhazpCYXNpYy1QYXNzLTQ0", "bGVhazpCYXNpYy1QYXNzLTQ0"),
    _c("password flag", "--db-password=Hunter2-Flag-4411", "Hunter2-Flag-4411"),
    _c("bearer token", "Bearer opaque-Bearer-Value-99812", "opaque-Bearer-Value-99812"),
    _c("random token", "9fK2LmQ8vX1pR7tY3wZ6aB4cD0eF5gH2LeakRandom", "9fK2LmQ8vX1pR7tY3wZ6aB4cD0eF5gH2"),
]
# where each is planted: recorded variables, sys.path directories (package locations), custom metadata, tags
_IN_XLA = range(0, 12)
_IN_TF_XLA = range(12, 22)
_IN_PATHS = (3, 14, 39)  # tokens as directory names on PYTHONPATH
_IN_CUSTOM = range(22, 34)
_IN_TAGS = range(34, 39)
_LIBRARY = 5  # a token as a directory of a library named by a variable (FLEXIBLAS)


def test_the_corpus_has_40_shapes() -> None:
    assert len(CORPUS) == 40 and len({shape for shape, _, _ in CORPUS}) == 40
    for _, planted, secret in CORPUS:
        assert secret in planted


_CAPTURE = textwrap.dedent(
    """
    import json, sys
    import envprint
    custom, tags, out = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
    model = sys.argv[4]
    envprint.capture(probes=False, custom=custom, tags=tags, label="leak corpus", artifact=model).save(out)
    """
)


@pytest.fixture(scope="module")
def leak_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Returns every output format's text for a fingerprint captured with the corpus planted."""
    from envprint import signing

    root = tmp_path_factory.mktemp("leaks")
    dirs = []
    for i in _IN_PATHS:  # a directory whose name is a token, holding one distribution
        site = root / CORPUS[i][1] / "site"
        (site / f"leak{i}-1.0.dist-info").mkdir(parents=True)
        (site / f"leak{i}-1.0.dist-info" / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: leak{i}\nVersion: 1.0\n"
        )
        dirs.append(str(site))
    library_dir = root / CORPUS[_LIBRARY][1]
    planted = host_env(
        XLA_FLAGS=" ".join(f"--xla_leak_{i}={CORPUS[i][1]}" for i in _IN_XLA if i != _LIBRARY),
        TF_XLA_FLAGS=" ".join(f"--tf_leak_{i}={CORPUS[i][1]}" for i in _IN_TF_XLA if i not in _IN_PATHS),
        FLEXIBLAS=str(library_dir / "libopenblas.so"),
        PYTHONPATH=os.pathsep.join(dirs),
        # not recorded at all: Terraform variables and secret-named variables
        TF_VAR_db_pass="hunter2-terraform",
        HF_TOKEN=CORPUS[14][1],
        AWS_SECRET_ACCESS_KEY=CORPUS[1][1],
    )
    custom = {f"note_{i}": CORPUS[i][1] for i in _IN_CUSTOM}
    tags = {f"source_{i}": CORPUS[i][1] for i in _IN_TAGS}
    out: dict[str, str] = {}
    leaky = root / "leaky.fp"
    leaky_model = root / "leaky-model"
    leaky_model.mkdir()
    (leaky_model / "weights.bin").write_bytes(b"\x01" * 64)
    proc = subprocess.run(
        [sys.executable, "-c", _CAPTURE, json.dumps(custom), json.dumps(tags), str(leaky), str(leaky_model)],
        env=planted, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out[".fp"] = leaky.read_bytes().decode("utf-8", "replace")
    # a clean training side, signed and bound, to diff against and to check the planted process with
    model = root / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x00" * 64)
    private, public = signing.generate_keypair(root / "train")
    run = run_envprint(["capture", "-q", "--no-probes", "--artifact", str(model), "--key", str(private)])
    assert run.returncode == 0, run.stderr
    wide = {**planted, "COLUMNS": "100000"}  # rich never wraps a value across lines
    commands = {
        "show text": ["show", str(leaky)],
        "show json": ["show", "--format", "json", str(leaky)],
        "diff text": ["diff", str(model / "envprint.fp"), str(leaky)],
        "diff json": ["diff", "--format", "json", str(model / "envprint.fp"), str(leaky)],
        "diff markdown": ["diff", "--format", "markdown", str(model / "envprint.fp"), str(leaky)],
        "check text": ["check", str(model), "--key", str(public), "--no-probes"],
        "check json": ["check", str(model), "--key", str(public), "--no-probes", "--format", "json"],
        "export in-toto": ["export", str(leaky), "--format", "in-toto"],
        "export requirements": ["export", str(leaky), "--format", "requirements"],
    }
    for name, args in commands.items():
        proc = run_envprint(args, env=wide)
        assert proc.returncode in (0, 1), f"{name}: {proc.stderr}"
        out[name] = proc.stdout + proc.stderr
    return out


def _fragments(secret: str) -> list[str]:
    """Returns the secret and its 12-character windows: a partly masked secret is a leak too."""
    return [secret] + [secret[i : i + 12] for i in range(0, max(1, len(secret) - 11), 4)]


def test_the_leak_corpus_finds_nothing_in_the_file_or_any_output(leak_run: dict[str, str]) -> None:
    leaks = [
        f"{shape} in {where}"
        for shape, _, secret in CORPUS
        for where, text in leak_run.items()
        if any(fragment in text for fragment in _fragments(secret))
    ]
    leaks += [f"Terraform variable in {where}" for where, text in leak_run.items() if "hunter2-terraform" in text]
    assert leaks == []
    # the corpus did reach every output: the masks are there, and what is not secret is kept
    for where in ("show json", "diff json", "check json"):
        assert "<redacted>" in leak_run[where], where
    assert "--xla_leak_0=<redacted>" in leak_run["show json"]
    assert "models.example.com" in leak_run["show json"]  # the host of a URL is kept
    assert "leak3" in leak_run["export requirements"]  # the distribution found in a token-named directory


# ------------------------------------------------------------------------------ non-UTF-8 values


@pytest.mark.parametrize(
    ("variable", "value", "shown"),
    [
        ("OMP_NUM_THREADS", "\udcff", '"OMP_NUM_THREADS": "\\\\xff"'),
        ("TZ", "Europe/Par\udcefs", '"tz_env": "Europe/Par\\\\xefs"'),
    ],
)
def test_a_variable_that_is_not_utf8_is_recorded_escaped(tmp_path: Path, variable: str, value: str, shown: str) -> None:
    out = tmp_path / "x.fp"
    proc = run_envprint(["capture", "-q", "--no-probes", "-o", str(out)], env=host_env(**{variable: value}))
    assert proc.returncode == 0, proc.stderr  # it used to fail when saving (exit 70)
    show = run_envprint(["show", "--format", "json", str(out)])
    assert shown in show.stdout


def test_a_latin1_directory_on_pythonpath_is_recorded_escaped(tmp_path: Path) -> None:
    site = Path(os.fsdecode(bytes(tmp_path) + b"/lat\xe9n/site"))
    (site / "latin-1.0.dist-info").mkdir(parents=True)
    (site / "latin-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: latin\nVersion: 1.0\n")
    out = tmp_path / "x.fp"
    proc = run_envprint(["capture", "-q", "--no-probes", "-o", str(out)], env=host_env(PYTHONPATH=str(site)))
    assert proc.returncode == 0, proc.stderr
    fp = read(out).fingerprint
    assert not isinstance(fp.packages, Unavailable)
    assert fp.packages["latin"].location.endswith("/lat\\xe9n/site")


def test_a_time_zone_path_is_masked_in_the_variable_and_in_the_reason() -> None:
    from envprint.collect import locale_time

    info = locale_time.collect(environ={"TZ": ":/srv/ghp_abcdefghijklmnopqrstuvwxyz0123/zone"})
    assert info.tz_env == ":/srv/<redacted>/zone"
    assert isinstance(info.local_zone, Unavailable)
    assert "/srv/<redacted>/zone" in info.local_zone.reason and "ghp_" not in info.local_zone.reason


# every keyword of privacy._SETTING: redact() only tries that pattern on text holding one of its cheap
# pre-filter words (_SETTING_WORDS), so a keyword the pre-filter misses would silently never be redacted
_SETTING_KEYWORDS = (
    "password", "passwd", "pass", "pwd", "secret", "token", "api_key", "api-key", "apikey", "access_key",
    "access-key", "private_key", "private-key", "credential", "credentials", "auth", "authorization",
    "authorisation", "sig", "signature", "DB_PASSWORD", "--token",
)  # fmt: skip


@pytest.mark.parametrize("keyword", _SETTING_KEYWORDS)
@pytest.mark.parametrize("separator", ["=", ": "])
def test_every_setting_keyword_passes_the_pre_filter_and_is_redacted(keyword: str, separator: str) -> None:
    assert redact(f"{keyword}{separator}hunter2xyz") == f"{keyword}{separator}{REDACTED}"
