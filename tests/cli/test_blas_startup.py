"""The CLI loads numpy with OpenBLAS's idle workers sleeping at once, and leaves no trace of it (issue 18).

Each test runs the real `envprint` program in a fresh process: a meta-path spy records the environment
at the moment numpy is first imported, and a module the command imports (``--import``) records what the
command's own code, and a child process it starts, see afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import host_env, python_json, run_envprint

# Runs `envprint ARGS` as the program (argv from sys.argv, as the console script does), with a finder
# that notes OPENBLAS_THREAD_TIMEOUT as numpy is imported (loaded); prints what it saw as JSON.
_PROGRAM = r"""
import json, os, sys
seen = []

class Spy:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "numpy" and "numpy" not in sys.modules:  # the last such lookup is the import that loads it
            seen[:] = [os.environ.get("OPENBLAS_THREAD_TIMEOUT")]
        return None

sys.meta_path.insert(0, Spy)
sys.argv = ["envprint", *sys.argv[1:]]
from envprint.cli import main
try:
    main()
except SystemExit as e:
    status = e.code
print(json.dumps({"at_numpy_import": seen, "status": status, "numpy": "numpy" in sys.modules}))
"""

# imported by the command (--import): what its code and a child process see once the command runs
_USER_MODULE = """
import json, os, subprocess, sys
child = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"],
                       capture_output=True, text=True, check=True).stdout.strip()
with open(os.environ["SPY_OUT"], "w") as f:
    json.dump({"module": os.environ.get("OPENBLAS_THREAD_TIMEOUT"), "child": child,
               "numpy_loaded_first": "numpy" in sys.modules}, f)
"""


def _run(tmp_path: Path, args: list[str], **env: str | None) -> dict[str, Any]:
    result, _ = python_json(_PROGRAM, *args, env=host_env(**env), cwd=tmp_path, timeout=300)
    return result


@pytest.fixture
def user_module(tmp_path: Path) -> Path:
    (tmp_path / "spy_user.py").write_text(_USER_MODULE)
    return tmp_path / "spy.json"


def test_capture_loads_numpy_with_idle_workers_sleeping_and_removes_the_variable(
    tmp_path: Path, user_module: Path
) -> None:
    fp = tmp_path / "a.fp"
    args = ["capture", "-q", "--no-probes", "--import", "spy_user", "-o", str(fp)]
    seen = _run(tmp_path, args, OPENBLAS_THREAD_TIMEOUT=None, SPY_OUT=str(user_module), PYTHONPATH=str(tmp_path))
    assert seen["status"] == 0
    assert seen["at_numpy_import"] == ["4"]  # OpenBLAS reads it once, when numpy loads it
    after = json.loads(user_module.read_text())
    # gone before the command's own work: the user's module and its children never see it
    assert after == {"module": None, "child": "None", "numpy_loaded_first": True}


def test_a_spin_time_the_user_set_is_kept(tmp_path: Path, user_module: Path) -> None:
    args = ["capture", "-q", "--no-probes", "--import", "spy_user", "-o", str(tmp_path / "a.fp")]
    seen = _run(tmp_path, args, OPENBLAS_THREAD_TIMEOUT="9", SPY_OUT=str(user_module), PYTHONPATH=str(tmp_path))
    assert seen["at_numpy_import"] == ["9"]
    assert json.loads(user_module.read_text())["module"] == "9"


@pytest.mark.parametrize("variable", ["GOTO_THREAD_TIMEOUT", "THREAD_TIMEOUT"])
def test_openblas_older_names_count_as_set(tmp_path: Path, variable: str) -> None:
    seen = _run(tmp_path, ["capture", "-q", "--no-probes", "-o", str(tmp_path / "a.fp")], **{variable: "12"})
    assert seen["at_numpy_import"] == [None]  # OpenBLAS uses the user's setting; envprint adds nothing


def test_commands_that_do_not_measure_this_process_do_not_load_numpy(tmp_path: Path) -> None:
    fp = tmp_path / "a.fp"
    assert run_envprint(["capture", "-q", "--no-probes", "-o", str(fp)]).returncode == 0
    seen = _run(tmp_path, ["diff", str(fp), str(fp)])
    assert seen == {"at_numpy_import": [], "status": 0, "numpy": False}
    help_only = _run(tmp_path, ["capture", "--help"])
    assert help_only == {"at_numpy_import": [], "status": 0, "numpy": False}  # help measures nothing
