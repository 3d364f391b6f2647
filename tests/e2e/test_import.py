"""`import envprint` stays light and works without optional extras."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import host_env, run_python
from tests.import_graph import _modules, find_cycles, import_graph


def test_import_envprint_imports_no_heavy_modules() -> None:
    code = (
        "import sys, envprint; "
        "print(sorted(m for m in ('numpy', 'tensorflow', 'torch', 'pynvml', 'threadpoolctl', 'cryptography') "
        "if m in sys.modules))"
    )
    out = run_python(code)
    assert out.stdout.strip() == "[]"


def test_public_api_names() -> None:
    import envprint

    for name in envprint.__all__:
        assert getattr(envprint, name) is not None, name
    assert issubclass(envprint.SignatureError, envprint.EnvprintError)
    assert envprint.SignatureError.exit_code == 3
    assert envprint.FingerprintFormatError.exit_code == 2


def test_no_submodule_shares_a_name_with_a_public_function() -> None:
    import envprint

    public = {
        n for n in envprint.__all__ if callable(getattr(envprint, n)) and not isinstance(getattr(envprint, n), type)
    }
    submodules = {
        p.stem for p in Path(envprint.__file__).parent.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    assert public == {"capture", "diff", "golden_predictions", "guard", "load", "probe", "seed_everything"}
    assert not public & submodules


def test_importing_every_submodule_keeps_the_public_functions() -> None:
    code = (
        "import envprint, envprint.capturing, envprint.diffing, envprint.serving, envprint.codec\n"
        "import envprint.diffing as d\n"
        "print(callable(envprint.capture), callable(envprint.diff), callable(envprint.guard), type(d).__name__)"
    )
    out = run_python(code)
    assert out.stdout.strip() == "True True True module"


def test_the_package_has_no_import_cycle_and_few_deferred_own_imports() -> None:
    """The module graph stays one-way: an import cycle (function-level imports counted) fails here."""
    graph, deferred = import_graph(Path(__import__("envprint").__file__).parent)
    assert find_cycles(graph) == []
    assert len(deferred) <= 25, deferred


def _graph_of(root: Path, files: dict[str, str]) -> dict[str, set[str]]:
    """Returns the import graph of the package `pkg` under `root` after writing `files` (path -> text) there."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    graph, _ = import_graph(root / "pkg")
    return graph


def test_a_cycle_through_a_package_init_is_found(tmp_path: Path) -> None:
    # importing a.b.c runs a/__init__ and a/b/__init__ first: golden.profiles importing parity.edge_cases
    # while parity/__init__ imported golden.profiles broke `from envprint.golden import synthetic`
    files = {
        "pkg/__init__.py": "",
        "pkg/golden/__init__.py": "",
        "pkg/golden/profiles.py": "from pkg.parity.edge_cases import edge_cases\n",
        "pkg/parity/__init__.py": "from pkg.golden.profiles import synthetic\n",
        "pkg/parity/edge_cases.py": "",
    }
    graph = _graph_of(tmp_path, files)
    assert find_cycles(graph) == [["pkg.golden.profiles", "pkg.parity"]]
    graph = _graph_of(tmp_path, {"pkg/parity/__init__.py": "from pkg.parity.edge_cases import edge_cases\n"})
    assert find_cycles(graph) == []  # a submodule importing a sibling through its own package is fine


def test_a_cycle_through_a_name_a_package_loads_on_first_use_is_found(tmp_path: Path) -> None:
    # `from pkg import thing` loads pkg.impl through pkg's _LAZY table (envprint._lazy): an edge the
    # statement does not spell, so pkg.impl importing pkg.user back is a cycle all the same
    files = {
        "pkg/__init__.py": '_LAZY = {"thing": "pkg.impl"}\n',
        "pkg/impl.py": "from pkg.user import helper\n",
        "pkg/user.py": "from pkg import thing\n",
    }
    graph = _graph_of(tmp_path, files)
    assert find_cycles(graph) == [["pkg.impl", "pkg.user"]]
    graph = _graph_of(tmp_path, {"pkg/impl.py": ""})
    assert find_cycles(graph) == []


@pytest.mark.slow
def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    """An import-order bug (a cycle the first importer happens to break) fails here, not in a user's shell."""
    modules = sorted(_modules(Path(__import__("envprint").__file__).parent))

    def alone(module: str) -> tuple[str, str]:
        proc = subprocess.run(
            [sys.executable, "-c", f"import {module}"], env=host_env(), capture_output=True, text=True
        )
        return module, (proc.stderr.strip().splitlines() or [""])[-1] if proc.returncode else ""

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        failed = {module: error for module, error in pool.map(alone, modules) if error}
    assert len(modules) > 100 and failed == {}


def test_envprint_capture_imports_only_what_the_command_needs(tmp_path: Path) -> None:
    """The command path stays light (issue 18): what a capture without a key, a terminal or a GPU never imports."""
    from envprint.collect.gpu import nvidia_absent

    out = tmp_path / "a.fp"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "envprint", "capture", "--no-probes", "-o", str(out)],
        env=host_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    imported = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    never = {"rich", "cryptography", "importlib.metadata", "email", "zipfile", "envprint.golden", "envprint.parity"}
    if nvidia_absent() is not None:
        never.add("pynvml")
    assert {m for m in imported if m in never or m.split(".")[0] in never} == set()
    assert {"numpy", "threadpoolctl", "envprint.capturing"} <= imported  # what it measures with
