"""The envprint error tree.

Every error the public API raises is an `EnvprintError`. Each carries an exit code for the CLI and a
`diagnostics()` text that tells the user what to do next; third-party exceptions (msgpack,
cryptography, NVML, OS errors) are wrapped at the boundary and never escape undressed.

This module imports nothing else of envprint, so every module can raise these errors.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArtifactMismatchError",
    "CaptureError",
    "EnvironmentMismatch",
    "EnvprintError",
    "FingerprintFormatError",
    "PolicyError",
    "SignatureError",
    "UnsupportedSchemaError",
    "UsageError",
]


class EnvprintError(Exception):
    """Base class of every error envprint raises on purpose."""

    #: process exit status the CLI uses for this error (DESIGN.md: 2 usage/unreadable, 3 untrusted)
    exit_code: int = 2
    #: one line of advice appended to the message by `diagnostics()`
    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def diagnostics(self) -> str:
        """Returns the message plus what to do about it, as shown to a human."""
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class UsageError(EnvprintError):
    """A call or command line that cannot work as given (bad option value, missing file)."""

    hint = "run the command with --help to see the accepted options"


class FingerprintFormatError(EnvprintError):
    """A file or byte string is not a readable envprint fingerprint."""

    hint = (
        "the file is truncated, corrupted or not a fingerprint; capture it again with "
        "`envprint capture` or fetch an intact copy"
    )


class UnsupportedSchemaError(FingerprintFormatError):
    """The fingerprint was written by a newer envprint whose schema this version cannot read."""

    hint = "upgrade envprint on this machine (pip install -U envprint) to read this fingerprint"


class CaptureError(EnvprintError):
    """`capture(strict=True)` found a section it could not measure."""

    exit_code = 1
    hint = "run without --strict to record Unavailable(reason) instead, or fix the reason shown"


class SignatureError(EnvprintError):
    """No trusted key verifies the fingerprint (tampered, unsigned, wrong or revoked key)."""

    exit_code = 3
    hint = (
        "check that you pass the right public key (--key / trusted_keys); if the file was changed "
        "after signing, capture and sign it again on the training side"
    )


class ArtifactMismatchError(EnvprintError):
    """The model files on disk are not the ones the fingerprint was bound to."""

    exit_code = 3
    hint = (
        "the model changed after its fingerprint was captured, or the fingerprint belongs to "
        "another model; redeploy the artifact the fingerprint was made for"
    )

    def __init__(self, message: str, *, changes: tuple[Any, ...] = (), hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        #: file-level report: a tuple of `envprint.artifact.FileChange`
        self.changes = changes


class PolicyError(EnvprintError):
    """A policy file or rule is malformed (unknown key, bad value)."""

    hint = "fix the policy file at the place named above; see docs/policy.md for the keys"


class EnvironmentMismatch(EnvprintError):
    """The serving environment violates the policy the model was validated under."""

    exit_code = 1
    hint = (
        "apply the remedies listed above, or waive a finding in the policy with a reason and an "
        "expiry date; ENVPRINT_GUARD=warn overrides the refusal for incident response only"
    )

    def __init__(
        self,
        message: str,
        *,
        report: Any = None,
        result: Any = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        #: the `envprint.report.DiffReport` the refusal was based on
        self.report = report
        #: the guard's full result (`envprint.serving.GuardResult`: policy decisions, trust, timings)
        #: when raised by `envprint.guard`
        self.result = result
