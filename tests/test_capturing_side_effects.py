"""Capturing changes nothing it measures: `os.environ` and the thread limits are as before, and what is
recorded is the user's value, never one that envprint or its dependencies set (threadpoolctl sets
KMP_DUPLICATE_LIB_OK=True when imported). Each case runs in a fresh process, so no earlier import hides it."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import host_env

_ENV_CHECK = """
import json, os, sys
import envprint
assert "threadpoolctl" not in sys.modules  # envprint itself must not have imported it yet
before = dict(os.environ)
fp = envprint.capture(probes=True)
after = dict(os.environ)
print(json.dumps({
    "added": sorted(set(after) - set(before)),
    "removed": sorted(set(before) - set(after)),
    "changed": sorted(k for k in before if k in after and before[k] != after[k]),
    "recorded": fp.determinism.variables.get("KMP_DUPLICATE_LIB_OK", "absent"),
    "threadpoolctl_imported": "threadpoolctl" in sys.modules,
    "child_sees": os.popen("printenv KMP_DUPLICATE_LIB_OK || echo unset").read().strip(),
}))
"""

_THREADS_CHECK = """
import json
import numpy, threadpoolctl
import envprint
def limits():
    return sorted((i["internal_api"], i["filepath"], i["num_threads"]) for i in threadpoolctl.threadpool_info())
before = limits()
envprint.capture(probes=True)
after = limits()
print(json.dumps({"before": before, "after": after}))
"""


def _run(code: str, **env: str | None) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", code], env=host_env(**env), capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.splitlines()[-1])
    return result


def test_os_environ_is_unchanged_by_capture_and_nothing_envprint_set_is_recorded() -> None:
    got = _run(_ENV_CHECK, KMP_DUPLICATE_LIB_OK=None)
    assert got["threadpoolctl_imported"] is True  # the BLAS collector did import it...
    assert (got["added"], got["removed"], got["changed"]) == ([], [], [])  # ...and left no trace
    assert got["recorded"] is None  # the user's value: unset
    assert got["child_sees"] == "unset"


def test_the_users_own_value_is_recorded_and_kept() -> None:
    got = _run(_ENV_CHECK, KMP_DUPLICATE_LIB_OK="FALSE")
    assert (got["added"], got["removed"], got["changed"]) == ([], [], [])
    assert got["recorded"] == "FALSE"
    assert got["child_sees"] == "FALSE"


def test_thread_limits_are_unchanged_by_capture_and_its_probes() -> None:
    for threads in (None, "1"):
        got = _run(_THREADS_CHECK, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
        assert got["before"] == got["after"]
        assert got["before"], "numpy's BLAS is visible to threadpoolctl"
