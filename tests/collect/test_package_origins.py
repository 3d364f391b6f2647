"""Package origins (direct_url.json, PEP 610/660): editable, VCS and local installs are recorded, diffed
by relevance, and never pinned plainly in the requirements export. The end-to-end tests build one real
tiny package and install it three ways with pip."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import envprint
from envprint.collect import packages
from envprint.collect.origins import read_origin
from envprint.export import to_requirements
from envprint.model import Package, PackageOrigin
from envprint.report import Severity
from tests.conftest import host_env, run_envprint

COMMIT = "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b"


def _dist_info(site: Path, name: str, version: str, direct_url: object | None) -> Path:
    d = site / f"{name}-{version}.dist-info"
    d.mkdir(parents=True)
    (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n")
    (d / "INSTALLER").write_text("pip\n")
    if direct_url is not None:
        raw = direct_url if isinstance(direct_url, str) else json.dumps(direct_url)
        (d / "direct_url.json").write_text(raw)
    return d


# ------------------------------------------------------------------------------------------ reading


def test_each_pep610_form_is_recorded(tmp_path: Path) -> None:
    _dist_info(tmp_path, "fromindex", "1.0", None)
    _dist_info(tmp_path, "edit", "0.3.0", {"url": "file:///srv/src/edit", "dir_info": {"editable": True}})
    _dist_info(tmp_path, "tree", "0.3.0", {"url": "file:///srv/src/tree", "dir_info": {}})
    _dist_info(
        tmp_path,
        "viagit",
        "2.0",
        {
            "url": "https://deploy:s3cret@git.example.com/org/viagit.git",
            "vcs_info": {"vcs": "git", "commit_id": COMMIT, "requested_revision": "v2.0"},
            "subdirectory": "python",
        },
    )
    _dist_info(
        tmp_path,
        "wheelfile",
        "1.1",
        {"url": "file:///wheels/wheelfile-1.1-py3-none-any.whl", "archive_info": {"hashes": {"sha256": "ab" * 32}}},
    )
    _dist_info(tmp_path, "mangled", "1.0", "{not json")
    got = packages.collect([str(tmp_path)])
    assert got["fromindex"].origin is None
    assert got["edit"].origin == PackageOrigin("editable", url="file:///srv/src/edit")
    assert got["tree"].origin == PackageOrigin("directory", url="file:///srv/src/tree")
    assert got["viagit"].origin == PackageOrigin(
        "vcs",
        vcs="git",
        commit=COMMIT,
        subdirectory="python",
        url="https://git.example.com/org/viagit.git",  # the credentials are never recorded
        requested_revision="v2.0",
    )
    assert got["wheelfile"].origin == PackageOrigin(
        "archive", archive_hash="sha256=" + "ab" * 32, url="file:///wheels/wheelfile-1.1-py3-none-any.whl"
    )
    mangled = got["mangled"].origin
    assert mangled is not None and mangled.kind == "unknown"  # unreadable is not "from an index"


def test_git_ssh_user_is_kept_and_home_directories_are_redacted(tmp_path: Path) -> None:
    d = _dist_info(
        tmp_path, "a", "1.0", {"url": "ssh://git@host/org/a.git", "vcs_info": {"vcs": "git", "commit_id": COMMIT}}
    )
    origin = read_origin(str(d))
    assert origin is not None and origin.url == "ssh://git@host/org/a.git"
    d2 = _dist_info(tmp_path / "2", "b", "1.0", {"url": "file:///home/alice/src/b", "dir_info": {"editable": True}})
    origin2 = read_origin(str(d2))
    assert origin2 is not None and origin2.url == "file:///home/~/src/b"  # no user name recorded


def test_old_fingerprints_without_origins_still_load() -> None:
    data = {"version": "1.0", "local": None, "installer": "pip", "wheel_tags": [], "location": ""}
    from envprint._serde import from_data

    assert from_data(Package, data).origin is None


# ------------------------------------------------------------------------------------------ diffing


def _with(fp: envprint.Fingerprint, name: str, origin: PackageOrigin | None) -> envprint.Fingerprint:
    pkg = Package(version="0.3.0", local=None, installer="pip", wheel_tags=(), origin=origin)
    assert not isinstance(fp.packages, type(None))
    return fp.replace(packages={**dict(fp.packages), name: pkg})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "severity"),
    [("numpy", Severity.critical), ("tinyedit", Severity.warning), ("pytest-tinyedit", Severity.info)],
)
def test_editable_against_index_is_as_severe_as_the_package_is_relevant(
    local_fingerprint: envprint.Fingerprint, name: str, severity: Severity
) -> None:
    a = _with(local_fingerprint, name, None)
    b = _with(local_fingerprint, name, PackageOrigin("editable", url="file:///src/x"))
    (f,) = [f for f in envprint.diff(a, b).findings if f.kind == "package.origin"]
    assert (f.path, f.severity) == (f"packages.{name}.origin", severity)
    assert "installed from an index → an editable source tree" in f.title


def test_only_what_changes_the_code_is_a_difference(local_fingerprint: envprint.Fingerprint) -> None:
    here = _with(local_fingerprint, "tinyedit", PackageOrigin("editable", url="file:///home/~/src/tinyedit"))
    there = _with(local_fingerprint, "tinyedit", PackageOrigin("editable", url="file:///build/src/tinyedit"))
    assert [f for f in envprint.diff(here, there).findings if f.kind == "package.origin"] == []
    v1 = _with(local_fingerprint, "tinyedit", PackageOrigin("vcs", vcs="git", commit="a" * 40, url="https://h/r"))
    v2 = _with(local_fingerprint, "tinyedit", PackageOrigin("vcs", vcs="git", commit="b" * 40, url="https://h/r"))
    (f,) = [f for f in envprint.diff(v1, v2).findings if f.kind == "package.origin"]
    assert f.severity is Severity.warning and "git commit aaaaaaaaaaaa → git commit bbbbbbbbbbbb" in f.title
    wheel = _with(local_fingerprint, "tinyedit", PackageOrigin("archive", url="file:///w/tinyedit.whl"))
    (g,) = [
        f
        for f in envprint.diff(_with(local_fingerprint, "tinyedit", None), wheel).findings
        if f.kind == "package.origin"
    ]
    assert g.severity is Severity.info  # the same release from a local wheel file: noted, not a refusal


# ------------------------------------------------------------------------------- requirements export


def test_requirements_pin_vcs_commits_and_comment_out_local_installs(local_fingerprint: envprint.Fingerprint) -> None:
    def pkg(origin: PackageOrigin | None) -> Package:
        return Package(version="0.3.0", local=None, installer="pip", wheel_tags=("py3-none-any",), origin=origin)

    fp = local_fingerprint.replace(
        packages={
            "viagit": pkg(
                PackageOrigin("vcs", vcs="git", commit=COMMIT, subdirectory="py", url="https://h.example/o/r.git")
            ),
            "localgit": pkg(PackageOrigin("vcs", vcs="git", commit=COMMIT, url="file:///srv/repo")),
            "edit": pkg(PackageOrigin("editable", url="file:///srv/src/edit")),
            "tree": pkg(PackageOrigin("directory", url="file:///srv/src/tree")),
            "remote": pkg(PackageOrigin("archive", url="https://files.example/remote-0.3.0-py3-none-any.whl")),
            "localwheel": pkg(PackageOrigin("archive", url="file:///w/localwheel-0.3.0-py3-none-any.whl")),
            "injected": pkg(PackageOrigin("vcs", vcs="git", commit="abc --index-url http://evil", url="https://h/r")),
            "plain": pkg(None),
        }
    )
    lines = to_requirements(fp).splitlines()
    assert f"viagit @ git+https://h.example/o/r.git@{COMMIT}#subdirectory=py" in lines
    assert "remote @ https://files.example/remote-0.3.0-py3-none-any.whl" in lines
    assert "plain==0.3.0" in lines
    for name in ("localgit", "edit", "tree", "localwheel", "injected"):
        (line,) = [x for x in lines if x.removeprefix("# ").startswith((f"{name}==", f"{name} @"))]
        assert line.startswith(f"# {name}==0.3.0  # "), line  # commented out, with the reason and a hint
    assert any(x.startswith("# edit==0.3.0  # editable install of file:///srv/src/edit") for x in lines)


# ---------------------------------------------------------------- end to end: one real package, three installs


@pytest.fixture(scope="module")
def installs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Returns site directories holding tinyedit 0.3.0 installed from an index, editable, and from VCS."""
    root = tmp_path_factory.mktemp("tinyedit")
    src = root / "src"
    (src / "tinyedit").mkdir(parents=True)
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "tinyedit"\nversion = "0.3.0"\n'
    )
    (src / "tinyedit" / "__init__.py").write_text('__version__ = "0.3.0"\n')
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    quiet = {"capture_output": True, "text": True, "check": True}
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "index"), str(src)], **quiet)
    sites = {kind: root / kind for kind in ("index", "editable", "vcs")}
    common = ["install", "--no-deps", "--no-build-isolation", "--no-index"]
    # from an "index": a find-links folder, which pip treats like an index (no direct_url.json)
    subprocess.run(
        [*pip, *common, "--find-links", str(root / "index"), "--target", str(root / "site-index"), "tinyedit"], **quiet
    )
    subprocess.run([*pip, *common, "--target", str(root / "site-editable"), "-e", str(src)], **quiet)
    git = ["git", "-C", str(src), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], **quiet)
    subprocess.run([*git, "add", "."], **quiet)
    subprocess.run([*git, "commit", "-q", "-m", "tinyedit 0.3.0"], **quiet)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], **quiet).stdout.strip()
    subprocess.run([*pip, *common, "--target", str(root / "site-vcs"), f"git+file://{src}@{commit}"], **quiet)
    (root / "commit").write_text(commit)
    return {**{k: root / f"site-{k}" for k in sites}, "root": root}


def _capture(site: Path, out: Path) -> Path:
    proc = run_envprint(["capture", "-q", "--no-probes", "-o", str(out)], env=host_env(PYTHONPATH=str(site)))
    assert proc.returncode == 0, proc.stderr
    return out


def test_editable_against_wheel_diffs_exit_1_naming_the_package(installs: dict[str, Path], tmp_path: Path) -> None:
    wheel = _capture(installs["index"], tmp_path / "wheel.fp")
    editable = _capture(installs["editable"], tmp_path / "editable.fp")
    same = run_envprint(["diff", str(wheel), str(_capture(installs["index"], tmp_path / "again.fp"))])
    assert same.returncode == 0, same.stdout
    proc = run_envprint(["diff", str(wheel), str(editable), "--format", "json"])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    findings = [f for f in json.loads(proc.stdout)["findings"] if f["kind"] == "package.origin"]
    assert [(f["path"], f["severity"]) for f in findings] == [("packages.tinyedit.origin", "warning")]
    text = run_envprint(["diff", str(wheel), str(editable)]).stdout
    assert "tinyedit 0.3.0 installed from an index → an editable source tree" in text


def test_the_export_never_pins_an_editable_install_plainly(installs: dict[str, Path], tmp_path: Path) -> None:
    editable = _capture(installs["editable"], tmp_path / "editable.fp")
    proc = run_envprint(["export", str(editable), "--format", "requirements"])
    assert proc.returncode == 0, proc.stderr
    (line,) = [x for x in proc.stdout.splitlines() if "tinyedit" in x]
    assert line.startswith("# tinyedit==0.3.0  # editable install of file://") and "pip install -e" in line
    wheel = _capture(installs["index"], tmp_path / "wheel.fp")
    assert "tinyedit==0.3.0" in run_envprint(["export", str(wheel), "--format", "requirements"]).stdout.splitlines()


def test_a_vcs_install_records_the_commit_pip_installed(installs: dict[str, Path], tmp_path: Path) -> None:
    loaded = envprint.load(_capture(installs["vcs"], tmp_path / "vcs.fp"))
    assert not isinstance(loaded.packages, type(None))
    origin = loaded.packages["tinyedit"].origin  # type: ignore[index]
    commit = (installs["root"] / "commit").read_text()
    assert origin is not None and (origin.kind, origin.vcs, origin.commit) == ("vcs", "git", commit)
