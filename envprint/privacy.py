"""Privacy rules: which environment variables may be recorded, and redaction of secrets and usernames.

Variables are captured by the exact names numeric libraries read (`envprint.collect.variables`). Even
a known variable is dropped when its name looks like a secret, and its value is redacted when the
value looks like a credential. Home directories in paths are replaced by ``~`` so no username is written.
"""

from __future__ import annotations

import os
import re

__all__ = ["REDACTED", "is_secret_name", "looks_secret_value", "redact_path", "safe_value"]

REDACTED = "<redacted>"

_SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|PRIVATE|SESSION|COOKIE|SIGNATURE|CERT|PASSPHRASE|DSN",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"""
    (?:AKIA|ASIA)[0-9A-Z]{16}            # AWS access key id
    | hf_[A-Za-z0-9]{20,}                  # Hugging Face token
    | gh[pousr]_[A-Za-z0-9]{20,}           # GitHub token
    | sk-[A-Za-z0-9_-]{20,}                # API keys in the sk- style
    | xox[abpr]-[A-Za-z0-9-]{10,}          # Slack
    | eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}  # JWT
    | -----BEGIN                           # PEM material
    | [a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@   # credentials inside a URL
    """,
    re.VERBOSE,
)
_HOME = re.compile(r"/(home|Users)/[^/\s:]+")


def is_secret_name(name: str) -> bool:
    """Returns whether a variable name suggests its value is a secret."""
    return bool(_SECRET_NAME.search(name))


def looks_secret_value(value: str) -> bool:
    """Returns whether a value looks like a credential (token formats, PEM, user:pass@ URLs)."""
    return bool(_SECRET_VALUE.search(value))


def redact_path(text: str) -> str:
    """Returns `text` with home directories replaced by ``~`` so no username is recorded."""
    home = os.path.expanduser("~")
    if home not in ("", "/", "~") and home in text:
        text = text.replace(home, "~")
    return _HOME.sub(r"/\1/~", text)


def safe_value(value: str) -> str:
    """Returns a variable's value as it may be written: redacted if secret-looking, paths de-usered."""
    return REDACTED if looks_secret_value(value) else redact_path(value)
