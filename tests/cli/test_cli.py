"""The CLI as users run it: real processes, exit codes, and output on the right stream."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
    only_new = run_envprint(["verify", str(fp)], env=host_env(ENVPRINT_TRUSTED_KEYS=str(new_pub)))
    assert only_new.returncode == 3 and "which is not a trusted key" in only_new.stderr, only_new.stderr


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


def test_version_prints_the_package_version_and_loads_no_command() -> None:
    import envprint

    proc = run_envprint(["--version"])
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"envprint {envprint.__version__}\n", "")
    timed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "envprint", "--version"], env=host_env(), capture_output=True,
        text=True, check=True,
    )  # fmt: skip
    assert not _imported(timed.stderr) & {"envprint.cli.record", "envprint.capturing", "numpy", "rich"}


def _imported(importtime: str) -> set[str]:
    """Returns the modules a `python -X importtime` run imported, from its stderr."""
    return {line.rsplit("|", 1)[1].strip() for line in importtime.splitlines() if line.startswith("import time:")}


def _json_error(proc: subprocess.CompletedProcess[str]) -> dict[str, object]:
    """Returns the error document a failed `--format json` run printed, checking it against the exit status."""
    doc = json.loads(proc.stdout)
    assert set(doc) == {"error"} and set(doc["error"]) == {"kind", "message", "hint", "exit_code"}
    error: dict[str, object] = doc["error"]
    assert error["exit_code"] == proc.returncode
    assert str(error["message"]) in proc.stderr and proc.stderr.startswith("error: ")
    return error


def test_json_format_failures_print_a_json_error_on_stdout(tmp_path: Path) -> None:
    missing = run_envprint(["show", "-f", "json", str(tmp_path / "missing.fp")])
    assert missing.returncode == 2
    assert _json_error(missing)["kind"] == "usage"

    bad = tmp_path / "bad.fp"
    bad.write_bytes(b"\x93not a fingerprint")
    unreadable = run_envprint(["show", "--format=json", str(bad)])
    error = _json_error(unreadable)
    assert (error["kind"], unreadable.returncode) == ("fingerprint_format", 2)
    assert isinstance(error["hint"], str) and "capture it again" in error["hint"]

    usage = run_envprint(["diff", str(bad), "-f", "json"])  # click's own usage error: one file missing
    assert (_json_error(usage)["kind"], usage.returncode) == ("usage", 2)
    assert "Missing argument" in str(_json_error(usage)["message"])

    from_env = run_envprint(["show", str(bad)], env=host_env(ENVPRINT_FORMAT="json"))
    assert _json_error(from_env)["kind"] == "fingerprint_format"


def test_json_format_untrusted_input_exits_3_with_a_json_error(tmp_path: Path) -> None:
    from envprint import signing

    key, _ = signing.generate_keypair(tmp_path / "train")
    _, stranger = signing.generate_keypair(tmp_path / "stranger")
    model = tmp_path / "model"
    model.mkdir()
    (model / "w.bin").write_bytes(b"weights")
    assert run_envprint(["capture", "-q", "--no-probes", "--artifact", str(model), "--key", str(key)]).returncode == 0
    proc = run_envprint(["check", str(model), "--key", str(stranger), "--no-probes", "-f", "json"])
    error = _json_error(proc)
    assert (proc.returncode, error["kind"]) == (3, "signature")
    fp = str(model / "envprint.fp")
    untrusted = run_envprint(["diff", fp, fp, "--key", str(stranger), "--format", "json"])
    assert (untrusted.returncode, _json_error(untrusted)["kind"]) == (3, "signature")


def test_text_format_failures_keep_stdout_empty(tmp_path: Path) -> None:
    proc = run_envprint(["show", str(tmp_path / "missing.fp")])
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.startswith("error: ") and "hint: " in proc.stderr
    usage = run_envprint(["show", "-f", "xml", str(tmp_path / "missing.fp")])
    assert (usage.returncode, usage.stdout) == (2, "")
    assert "'xml' is not one of" in usage.stderr


def test_no_color_drops_bold_and_dim_in_show_and_help(tmp_path: Path) -> None:
    out = tmp_path / "a.fp"
    assert run_envprint(["capture", "-q", "--no-probes", "-o", str(out)]).returncode == 0
    # FORCE_COLOR makes rich and typer style as for a terminal, so the test needs no pseudo-terminal
    for args, word in ((["show", str(out)], "UNSIGNED"), (["--help"], "Usage"), (["check", "--help"], "--policy")):
        styled = run_envprint(args, env=host_env(FORCE_COLOR="1", COLUMNS="120"))
        plain = run_envprint(args, env=host_env(FORCE_COLOR="1", NO_COLOR="1", COLUMNS="120"))
        assert styled.returncode == plain.returncode == 0, (args, plain.stderr)
        assert "\x1b[1m" in styled.stdout or "\x1b[1;" in styled.stdout, args  # bold, with or without a color
        assert "\x1b[" not in plain.stdout and word in plain.stdout, args


def test_messages_off_a_terminal_are_plain_and_never_import_rich(tmp_path: Path) -> None:
    out = tmp_path / "a.fp"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "envprint", "capture", "--no-probes", "-o", str(out)],
        env=host_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0
    messages = [line for line in proc.stderr.splitlines() if not line.startswith("import time:")]
    assert messages == [messages[0]] and messages[0].startswith(f"wrote {out} (UNSIGNED")
    assert "\x1b[" not in proc.stderr
    assert not {m for m in _imported(proc.stderr) if m.split(".")[0] == "rich"}
    failed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "envprint", "show", str(tmp_path / "missing.fp")],
        env=host_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert failed.returncode == 2 and "error: " in failed.stderr
    assert not {m for m in _imported(failed.stderr) if m.split(".")[0] == "rich"}


def test_the_program_spares_its_collector_the_objects_it_exits_with_and_a_caller_keeps_its_own(tmp_path: Path) -> None:
    import gc

    from envprint.cli import main

    code = (
        "import atexit, gc, sys; from envprint.cli import main; "
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0)); "
        f"sys.argv = ['envprint', 'capture', '-q', '--no-probes', '-o', {str(tmp_path / 'a.fp')!r}]; main()"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=host_env(), capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stdout) == (0, "frozen True\n"), proc.stderr
    before = gc.get_freeze_count()
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert (exited.value.code, gc.get_freeze_count()) == (0, before)
