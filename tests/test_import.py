"""`import envprint` stays light and works without optional extras."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import host_env


def test_import_envprint_imports_no_heavy_modules() -> None:
    code = (
        "import sys, envprint; "
        "print(sorted(m for m in ('numpy', 'tensorflow', 'torch', 'pynvml', 'threadpoolctl', 'cryptography') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=host_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api_names() -> None:
    import envprint

    for name in envprint.__all__:
        assert getattr(envprint, name) is not None, name
    assert issubclass(envprint.SignatureError, envprint.EnvprintError)
    assert envprint.SignatureError.exit_code == 3
    assert envprint.FingerprintFormatError.exit_code == 2


def test_functions_are_not_shadowed_by_their_submodules() -> None:
    code = (
        "import envprint, envprint.capture, envprint.diff, envprint.guard\n"
        "from envprint.guard import GuardResult\n"
        "print(callable(envprint.capture), callable(envprint.diff), callable(envprint.guard))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=host_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True True True"
