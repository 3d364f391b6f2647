"""envprint: signed environment fingerprints for ML models.

Capture everything about an environment that can change a model's numbers, attach it signed to the
model artifact, explain every difference between training and serving, and refuse to serve in an
environment the model was not validated in::

    import envprint

    fp = envprint.capture(artifact="model/")          # training: after importing your frameworks
    fp.save("model/envprint.fp", key="train.key")

    envprint.guard("model/", trusted_keys=["train.pub"])  # serving startup: raises EnvironmentMismatch

Importing envprint is cheap: it imports neither numpy, TensorFlow, torch nor pynvml; the heavier
parts load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from envprint._version import __version__

# Bound eagerly, not lazily: these functions share their names with their submodules, and the first
# import of a submodule would otherwise rebind `envprint.capture` (etc.) to the module. These modules
# import only the standard library and envprint.model at import time.
from envprint.capture import capture
from envprint.diff import diff
from envprint.errors import (
    ArtifactMismatchError,
    CaptureError,
    EnvironmentMismatch,
    EnvprintError,
    FingerprintFormatError,
    PolicyError,
    SignatureError,
    UnsupportedSchemaError,
    UsageError,
)
from envprint.guard import guard
from envprint.model import Fingerprint, Unavailable
from envprint.seeding import seed_everything

if TYPE_CHECKING:
    from envprint.codec import load
    from envprint.parity import probe

__all__ = [
    "ArtifactMismatchError",
    "CaptureError",
    "EnvironmentMismatch",
    "EnvprintError",
    "Fingerprint",
    "FingerprintFormatError",
    "PolicyError",
    "SignatureError",
    "Unavailable",
    "UnsupportedSchemaError",
    "UsageError",
    "__version__",
    "capture",
    "diff",
    "guard",
    "load",
    "probe",
    "seed_everything",
]

# public name -> module that defines it; imported on first access to keep `import envprint` light
_LAZY = {
    "load": "envprint.codec",
    "probe": "envprint.parity",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'envprint' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
