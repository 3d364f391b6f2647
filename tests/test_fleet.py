"""Fleet grouping: replicas captured in real subprocesses, the odd one out named with its cause, exit codes."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

import envprint
from envprint.codec import read
from envprint.diffing import identity_digest
from envprint.errors import UsageError
from envprint.fleet import find_files, group, read_files
from envprint.model import Fingerprint
from envprint.render import Format
from envprint.render.fleet import fleet_data, render_fleet
from tests.conftest import host_env, run_envprint

# ---------------------------------------------------------------------------------- CLI on replicas


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns a directory of four replica fingerprints; r3 runs with OPENBLAS_NUM_THREADS=1, and train.fp beside it."""
    root = tmp_path_factory.mktemp("fleet")
    fleet = root / "replicas"
    fleet.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "envprint", "capture", "-q", "--no-probes", "-o", str(out), *tags],
            env=env,
            stderr=subprocess.PIPE,
        )
        for out, tags, env in [
            *((fleet / f"r{i}.fp", ["--tag", f"replica=r{i}", "--label", "serve"], host_env()) for i in range(3)),
            (fleet / "r3.fp", ["--tag", "replica=r3", "--label", "serve"], host_env(OPENBLAS_NUM_THREADS="1")),
            (root / "train.fp", ["--label", "train"], host_env()),
        ]
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    return fleet


def test_the_odd_replica_is_named_with_its_cause(replicas: Path) -> None:
    proc = run_envprint(["fleet", str(replicas), "--format", "json"])
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["counts"] == {
        "fingerprints": 4, "groups": 2, "matching": 3, "differing": 1, "differing_groups": 1, "skipped": 0
    }  # fmt: skip
    majority, odd = doc["groups"]
    assert doc["reference"]["source"] == "largest group"
    assert majority["reference"] and [m["tags"]["replica"] for m in majority["members"]] == ["r0", "r1", "r2"]
    assert [m["file"] for m in odd["members"]] == [str(replicas / "r3.fp")]
    assert odd["equivalent"] is False
    cause = next(f for f in odd["diff"]["findings"] if f["path"] == "determinism.variables.OPENBLAS_NUM_THREADS")
    assert (cause["old"], cause["new"], cause["severity"]) == (None, "1", "warning")
    assert "OPENBLAS_NUM_THREADS" in cause["remedy"] and cause["why"]


def test_text_report_names_the_odd_replica_and_the_setting(replicas: Path) -> None:
    proc = run_envprint(["fleet", str(replicas)], env=host_env(COLUMNS="160"))
    assert proc.returncode == 1
    assert proc.stdout.startswith("envprint fleet: DIFFERENT: 1 of 4 fingerprints (1 of 2 groups) differ")
    odd_section = proc.stdout.split("group 2 (1 fingerprint) differs from the reference")[1]
    assert f"{replicas / 'r3.fp'}" in odd_section and "replica=r3" in odd_section
    assert "OPENBLAS_NUM_THREADS unset → 1" in odd_section


def test_all_equal_replicas_exit_0(replicas: Path) -> None:
    proc = run_envprint(["fleet", *(str(replicas / f"r{i}.fp") for i in range(3))])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("envprint fleet: MATCH: all 3 fingerprints match the reference")


def test_reference_is_the_training_fingerprint(replicas: Path) -> None:
    train = replicas.parent / "train.fp"
    proc = run_envprint(["fleet", "--reference", str(train), str(replicas), "-f", "json"])
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["reference"]["source"] == "given" and doc["reference"]["member"]["file"] == str(train)
    assert doc["groups"][0]["reference"] and len(doc["groups"][0]["members"]) == 3
    assert doc["groups"][1]["diff"]["a"] == {"label": str(train), "trust": "unsigned"}


def test_a_reference_inside_the_directory_is_not_counted_as_a_member(replicas: Path) -> None:
    proc = run_envprint(["fleet", str(replicas), "--reference", str(replicas / "r3.fp"), "-f", "json"])
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert doc["counts"]["fingerprints"] == 3 and doc["counts"]["differing"] == 3
    finding = next(f for f in doc["groups"][0]["diff"]["findings"] if f["path"].endswith("OPENBLAS_NUM_THREADS"))
    assert (finding["old"], finding["new"]) == ("1", None)


def test_unreadable_file_exits_2_with_a_message_unless_skipped(replicas: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.fp"
    bad.write_bytes(b"\x93not a fingerprint")
    proc = run_envprint(["fleet", str(replicas), str(bad)])
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"{bad}: not an envprint fingerprint" in proc.stderr and "--skip-unreadable" in proc.stderr
    assert "Traceback" not in proc.stderr
    skipped = run_envprint(["fleet", str(replicas), str(bad), "--skip-unreadable", "-f", "json"])
    assert skipped.returncode == 1
    doc = json.loads(skipped.stdout)
    assert [s["file"] for s in doc["skipped"]] == [str(bad)] and doc["skipped"][0]["exit_code"] == 2
    assert doc["counts"]["fingerprints"] == 4


def test_missing_path_and_empty_directory_exit_2(tmp_path: Path) -> None:
    missing = run_envprint(["fleet", str(tmp_path / "nope.fp")])
    assert missing.returncode == 2 and "no such file" in missing.stderr
    empty = run_envprint(["fleet", str(tmp_path)])
    assert empty.returncode == 2 and "no *.fp files" in empty.stderr


def test_unsigned_files_are_untrusted_with_keys_exit_3(replicas: Path, tmp_path: Path) -> None:
    assert run_envprint(["keygen", "-o", str(tmp_path / "k")]).returncode == 0
    proc = run_envprint(["fleet", str(replicas), "--key", str(tmp_path / "k.pub")])
    assert proc.returncode == 3, proc.stderr
    assert "4 of 4 fingerprint file(s) could not be read or verified" in proc.stderr


def test_markdown_and_environment_variable_options(replicas: Path) -> None:
    proc = run_envprint(["fleet", str(replicas)], env=host_env(ENVPRINT_FLEET_FORMAT="markdown"))
    assert proc.returncode == 1
    assert proc.stdout.startswith("## envprint fleet: DIFFERENT")
    assert "| group | fingerprints | identity | vs reference | members |" in proc.stdout
    assert "### Group 2 (1 fingerprint) differs from the reference" in proc.stdout


def test_explicit_group_subcommand_and_help(replicas: Path) -> None:
    assert run_envprint(["fleet", "group", str(replicas / "r0.fp")]).returncode == 0
    helped = run_envprint(["fleet", "--help"], env=host_env(COLUMNS="200"))
    assert helped.returncode == 0 and "spark" in helped.stdout and "group" in helped.stdout


# ----------------------------------------------------------------------------------------- library


def _variant(base: Fingerprint, i: int, **variables: str | None) -> Fingerprint:
    """Returns `base` as replica `i` would capture it: own hostname, PID, tags, RNG state; `variables` set."""
    det = base.determinism
    assert not isinstance(det, envprint.Unavailable)
    det = dataclasses.replace(det, variables={**det.variables, **variables}, rng_state={"random": f"{i:064x}"})
    meta = dataclasses.replace(base.meta, hostname=f"host-{i}", pid=100 + i, tags={"replica": str(i)})
    return base.replace(meta=meta, determinism=det)


def test_content_keys_group_exactly_like_identity_digests(local_fingerprint: Fingerprint, tmp_path: Path) -> None:
    fps = [
        _variant(local_fingerprint, 0),
        _variant(local_fingerprint, 1, OMP_NUM_THREADS="1"),
        _variant(local_fingerprint, 2),
        _variant(local_fingerprint, 3, OMP_NUM_THREADS="1"),
        _variant(local_fingerprint, 4, MKL_CBWR="COMPATIBLE"),
    ]
    paths = [fp.save(tmp_path / f"r{i}.fp") for i, fp in enumerate(fps)]
    files, unreadable = read_files(paths)
    assert unreadable == []
    assert files[0].content_key == files[2].content_key != files[1].content_key
    fast, full = group(files), group([read(p) for p in paths])
    assert [(g.digest, [m.file for m in g.members]) for g in fast.groups] == [
        (g.digest, [m.file for m in g.members]) for g in full.groups
    ]
    assert [g.digest for g in fast.groups] == [identity_digest(fps[i]) for i in (0, 1, 4)]
    assert [g.diff.findings for g in fast.groups[1:] if g.diff] == [g.diff.findings for g in full.groups[1:] if g.diff]


def test_a_tie_goes_to_the_earliest_input_and_is_said(local_fingerprint: Fingerprint) -> None:
    a, b = _variant(local_fingerprint, 0, OMP_NUM_THREADS="2"), _variant(local_fingerprint, 1, OMP_NUM_THREADS="1")
    report = group([b, a])
    assert report.reference.name == "fingerprint 1" and report.reference.host == "host-1"
    assert report.reference_note.startswith("2 groups tie at 1 fingerprint each; the reference is the group of")
    assert report.verdict == "DIFFERENT: 1 of 2 fingerprints (1 of 2 groups) differ from the reference"
    assert report.exit_code == 1


def test_a_given_reference_object_among_the_inputs_is_not_a_member(local_fingerprint: Fingerprint) -> None:
    fps = [_variant(local_fingerprint, i) for i in range(3)]
    report = group(fps, reference=fps[1])
    assert report.reference_source == "given" and report.reference.name == "reference"
    assert report.counts == {
        "fingerprints": 2, "groups": 1, "matching": 2, "differing": 0, "differing_groups": 0, "skipped": 0
    }  # fmt: skip
    assert report.verdict == "MATCH: all 2 fingerprints match the reference" and report.exit_code == 0


def test_no_fingerprints_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no fingerprints to group"):
        group([])


def test_spark_members_are_named_by_role_and_executor(local_fingerprint: Fingerprint) -> None:
    def tagged(**tags: str) -> Fingerprint:
        return local_fingerprint.replace(meta=dataclasses.replace(local_fingerprint.meta, tags=tags))

    report = group([tagged(role="driver", host="10.0.0.1"), tagged(role="executor", executor_id="7", host="n7")])
    names = {(m.name, m.host, m.trust) for g in report.groups for m in g.members}
    assert names == {("driver", "10.0.0.1", "live"), ("executor 7", "n7", "live")}


def test_every_format_renders(local_fingerprint: Fingerprint) -> None:
    report = group([_variant(local_fingerprint, 0), _variant(local_fingerprint, 1, OMP_NUM_THREADS="3")])
    for fmt in Format:
        text = render_fleet(report, fmt)
        assert "DIFFERENT: 1 of 2 fingerprints" in text, fmt
    doc = fleet_data(report)
    assert doc["format"] == "envprint-fleet" and doc["version"] == 1 and doc["exit_code"] == 1
    assert json.loads(render_fleet(report, Format.json)) == json.loads(json.dumps(doc, default=str))


def test_find_files_searches_directories_recursively_and_keeps_order(tmp_path: Path) -> None:
    (tmp_path / "pods" / "b").mkdir(parents=True)
    for name in ("pods/b/z.fp", "pods/a.fp", "pods/notes.txt"):
        (tmp_path / name).write_bytes(b"")
    listed = find_files([tmp_path / "x.fp", tmp_path / "pods", tmp_path / "pods" / "a.fp"])
    assert listed == [tmp_path / "x.fp", tmp_path / "pods" / "a.fp", tmp_path / "pods" / "b" / "z.fp"]


def test_read_files_reports_progress(local_fingerprint: Fingerprint, tmp_path: Path) -> None:
    paths = [local_fingerprint.save(tmp_path / f"{i}.fp") for i in range(3)]
    calls: list[tuple[int, int]] = []
    read_files(paths, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_importing_fleet_and_the_spark_integration_does_not_import_pyspark() -> None:
    code = "import envprint, envprint.fleet, envprint.integrations.spark, sys; print('pyspark' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=host_env(), check=True)
    assert proc.stdout.strip() == "False"


@pytest.mark.slow
def test_thousands_group_in_seconds(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    try:
        import bench_fleet
    finally:
        sys.path.pop(0)
    res = bench_fleet.bench_grouping(tmp_path / "fleet", 2000)
    assert (res["count"], res["groups"]) == (2000, 5)
    assert res["seconds"] < 30, res  # ~1.5 s measured on 2 cores; generous for loaded CI machines


def test_a_file_whose_environment_cannot_be_decoded_is_unreadable(
    local_fingerprint: Fingerprint, tmp_path: Path
) -> None:
    import msgpack

    from envprint.envelope import Envelope, payload_type_for

    good = local_fingerprint.save(tmp_path / "good.fp")
    data = local_fingerprint.to_data()
    data["packages"] = {"numpy": {"version": 3}}  # a number where the schema wants text
    bad = tmp_path / "bad.fp"
    bad.write_bytes(Envelope(payload_type_for(1), msgpack.packb(data, use_bin_type=True)).encode())
    files, unreadable = read_files([bad, good])
    assert [f.member.file for f in files] == [str(good)]
    assert [(u.file, u.exit_code) for u in unreadable] == [(str(bad), 2)]
    assert "packages.numpy.version" in unreadable[0].error


def test_fleet_spark_without_pyspark_is_a_usage_error_with_the_extra_to_install() -> None:
    code = "import sys; sys.modules['pyspark'] = None; from envprint.cli import main; main(['fleet', 'spark'])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=host_env(), check=False)
    assert proc.returncode == 2
    assert "pyspark is not installed" in proc.stderr and "envprint[spark]" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_replicas_with_random_hash_seeds_share_a_content_key(tmp_path: Path) -> None:
    # PYTHONHASHSEED unset (Python's default): hash_order gives other bits in every process, and
    # identity ignores them; the content key must too, or every replica would be decoded in full
    paths = [tmp_path / f"h{i}.fp" for i in range(2)]
    for p in paths:
        proc = run_envprint(["capture", "-q", "--probes", "hash", "-o", str(p)], env=host_env(PYTHONHASHSEED=None))
        assert proc.returncode == 0, proc.stderr
    a, b = (read(p).fingerprint for p in paths)
    assert not isinstance(a.probes, envprint.Unavailable) and not isinstance(b.probes, envprint.Unavailable)
    assert a.probes["hash_order"].random_per_process and a.probes["hash_order"].digest != b.probes["hash_order"].digest
    files, _ = read_files(paths)
    assert files[0].content_key == files[1].content_key
    assert identity_digest(a) == identity_digest(b)
