"""The CLI as users run it: real processes, exit codes, and output on the right stream."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import host_env, run_envprint

SECTIONS = {"meta", "python", "packages", "imported", "platform", "cpu", "memory", "gpu", "blas", "determinism",
            "env", "locale_time", "probes", "artifact", "custom", "policy", "freshness", "golden_inputs"}  # fmt: skip


def test_capture_then_show_json_has_every_section(tmp_path: Path) -> None:
    out = tmp_path / "train.fp"
    proc = run_envprint(["capture", "-o", str(out), "--label", "train", "--tag", "role=trainer", "--no-probes"])
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out} (UNSIGNED" in proc.stderr
    assert proc.stdout == ""
    show = run_envprint(["show", "--format", "json", str(out)])
    assert show.returncode == 0
    doc = json.loads(show.stdout)
    assert doc["format"] == "envprint-show" and doc["trust"] == "unsigned"
    assert set(doc["fingerprint"]) == SECTIONS
    assert doc["fingerprint"]["meta"]["label"] == "train"
    assert doc["fingerprint"]["meta"]["tags"] == {"role": "trainer"}
    assert doc["fingerprint"]["meta"]["capture_mode"] == "subprocess"


def test_show_text_lists_sections_and_labels_unsigned(tmp_path: Path) -> None:
    out = tmp_path / "a.fp"
    assert run_envprint(["capture", "-q", "--no-probes", "-o", str(out)]).returncode == 0
    show = run_envprint(["show", str(out)], env=host_env(COLUMNS="200"))
    assert show.returncode == 0
    for word in ("UNSIGNED", "python", "cpu", "blas", "determinism", "locale_time", "packages ("):
        assert word in show.stdout, word


def test_default_output_is_envprint_fp_in_cwd(tmp_path: Path) -> None:
    assert run_envprint(["capture", "-q", "--no-probes"], cwd=tmp_path).returncode == 0
    assert (tmp_path / "envprint.fp").stat().st_size > 1000


def test_options_read_envprint_environment_variables(tmp_path: Path) -> None:
    out = tmp_path / "from-env.fp"
    env = host_env(ENVPRINT_OUTPUT=str(out), ENVPRINT_LABEL="serve", ENVPRINT_NO_PROBES="1")
    assert run_envprint(["capture", "-q"], env=env).returncode == 0
    doc = json.loads(run_envprint(["show", "-f", "json", str(out)]).stdout)
    assert doc["fingerprint"]["meta"]["label"] == "serve"
    assert doc["fingerprint"]["probes"] == {}


def test_unreadable_inputs_exit_2_with_a_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.fp"
    bad.write_bytes(b"\x93not a fingerprint")
    for args in (["show", str(bad)], ["show", str(tmp_path / "missing.fp")], ["show", "--format", "xml", str(bad)]):
        proc = run_envprint(args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip()


def test_bad_tag_is_a_usage_error() -> None:
    proc = run_envprint(["capture", "--no-probes", "--tag", "novalue", "-o", "/dev/null"])
    assert proc.returncode == 2
    assert "KEY=VALUE" in proc.stderr


def test_trusted_keys_variable_takes_several_paths(tmp_path: Path) -> None:
    from envprint import signing

    old_key, old_pub = signing.generate_keypair(tmp_path / "old")
    _, new_pub = signing.generate_keypair(tmp_path / "new")
    fp = tmp_path / "a.fp"
    assert run_envprint(["capture", "-q", "--no-probes", "-o", str(fp), "--key", str(old_key)]).returncode == 0
    both = host_env(ENVPRINT_TRUSTED_KEYS=f"{new_pub}:{old_pub}")
    assert run_envprint(["verify", str(fp)], env=both).returncode == 0
    assert run_envprint(["verify", str(fp)], env=host_env(ENVPRINT_TRUSTED_KEYS=str(new_pub))).returncode == 3


def test_show_prints_fingerprint_text_literally(tmp_path: Path) -> None:
    import envprint
    from envprint.model import Package

    fp = envprint.capture(probes=False)
    assert not isinstance(fp.packages, envprint.Unavailable)
    packages = {**fp.packages, "evil": Package("1.0", None, "[/oops]", (), unreadable="[link=x]bad[/link]")}
    path = fp.replace(packages=packages).save(tmp_path / "markup.fp")
    show = run_envprint(["show", str(path)], env=host_env(COLUMNS="200"))
    assert show.returncode == 0, show.stderr
    assert "[link=x]bad[/link]" in show.stdout


def test_verify_of_a_bound_fingerprint_without_its_model_is_not_ok(tmp_path: Path) -> None:
    from envprint import signing

    key, pub = signing.generate_keypair(tmp_path / "k")
    model = tmp_path / "model"
    model.mkdir()
    (model / "w.bin").write_bytes(b"weights")
    assert run_envprint(["capture", "-q", "--no-probes", "--artifact", str(model), "--key", str(key)]).returncode == 0
    lone = tmp_path / "lone.fp"
    lone.write_bytes((model / "envprint.fp").read_bytes())
    missing = run_envprint(["verify", str(lone), "--key", str(pub)])
    assert missing.returncode == 3 and "--signature-only" in missing.stderr
    assert run_envprint(["verify", str(lone), "--key", str(pub), "--signature-only"]).returncode == 0
    assert run_envprint(["verify", str(model / "envprint.fp"), "--key", str(pub)]).returncode == 0
