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
import sys
import types
from typing import TYPE_CHECKING, Any

from envprint._version import __version__
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

if TYPE_CHECKING:
    from envprint.capture import capture
    from envprint.codec import load
    from envprint.diff import diff
    from envprint.guard import guard
    from envprint.model import Fingerprint, Unavailable
    from envprint.parity import probe
    from envprint.seeding import seed_everything

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
    "Fingerprint": "envprint.model",
    "Unavailable": "envprint.model",
    "capture": "envprint.capture",
    "diff": "envprint.diff",
    "guard": "envprint.guard",
    "load": "envprint.codec",
    "probe": "envprint.parity",
    "seed_everything": "envprint.seeding",
}
# functions named like the submodule that defines them: importing the submodule must not rebind them
_SHADOWED = frozenset({"capture", "diff", "guard"})


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'envprint' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """The envprint package object: keeps `envprint.capture` (and diff, guard) the public functions.

    Importing the submodule `envprint.capture` makes the import system set the package attribute
    `capture` to the module, hiding the function of the same name; that one assignment is ignored
    (`sys.modules` still holds the submodule, so `from envprint.capture import ...` works).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
