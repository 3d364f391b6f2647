"""envprint: signed environment fingerprints for ML models.

Capture everything about an environment that can change a model's numbers, attach it signed to the
model artifact, explain every difference between training and serving, and refuse to serve in an
environment the model was not validated in::

    import envprint

    fp = envprint.capture(artifact="model/")          # training: after importing your frameworks
    fp.save("model/envprint.fp", key="train.key")

    envprint.guard("model/", trusted_keys=["train.pub"])  # serving startup: raises EnvironmentMismatch

Importing envprint is cheap: it imports neither numpy, TensorFlow, torch nor pynvml; the public
names below load their modules on first use. No submodule shares a name with a public function
(`capturing` defines `capture`, `diffing` defines `diff`, `serving` defines `guard`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envprint._lazy import lazy_attributes
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
    from envprint.capturing import capture
    from envprint.codec import load
    from envprint.diffing import diff
    from envprint.model import Fingerprint, Unavailable
    from envprint.parity import probe
    from envprint.predictions import golden_predictions
    from envprint.seeding import seed_everything
    from envprint.serving import guard

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
    "golden_predictions",
    "guard",
    "load",
    "probe",
    "seed_everything",
]

# public name -> module that defines it; imported on first access to keep `import envprint` light
_LAZY = {
    "Fingerprint": "envprint.model",
    "Unavailable": "envprint.model",
    "capture": "envprint.capturing",
    "diff": "envprint.diffing",
    "golden_predictions": "envprint.predictions",
    "guard": "envprint.serving",
    "load": "envprint.codec",
    "probe": "envprint.parity",
    "seed_everything": "envprint.seeding",
}

__getattr__ = lazy_attributes(__name__, _LAZY, globals())
