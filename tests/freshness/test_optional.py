"""Without the [freshness] extra: the package imports and records; quantiles and Prometheus say what to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import host_env

SCRIPT = textwrap.dedent(
    """
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("ddsketch", "prometheus_client"):
                raise ImportError(f"blocked: {name}")
            return None

    sys.meta_path.insert(0, Block())
    import envprint
    import envprint.freshness
    from envprint.errors import UsageError
    from envprint.freshness import Recorder

    with Recorder() as rec:
        rec.observe("a", hit=True, age_s=2.0, fetch_ms=1.0)
        snap = rec.snapshot()
        print("requests", snap.features["a"].total.requests)
        quantile = lambda: snap.features["a"].total.age.quantile(0.5)
        for what, call in (("quantile", quantile), ("prometheus", rec.collector)):
            try:
                call()
            except UsageError as e:
                print(what, "->", e.diagnostics().replace("\\n", " | "))
    print("ddsketch" in sys.modules, "prometheus_client" in sys.modules)
    """
)


def test_without_the_extra_recording_works_and_the_rest_names_the_extra() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=host_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "requests 1",
        "quantile -> computing quantiles of feature ages and fetch latencies needs ddsketch, which is not installed "
        "in this environment |   hint: pip install 'envprint[freshness]'",
        "prometheus -> exporting Prometheus metrics needs prometheus_client, which is not installed in this "
        "environment |   hint: pip install 'envprint[freshness]'",
        "False False",
    ]
