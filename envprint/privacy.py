"""Privacy rules: what text from the environment may be written into a fingerprint.

Variables are recorded by exact name only (`envprint.collect.variables`), and a name that looks like a
secret is dropped even then. Every value and path that is written goes through `safe_value` or
`redact_path`, which

* mask credentials wherever they appear: known token formats (cloud, code hosting, chat, payment and
  model-hub tokens, JWTs, PEM keys), the user part of any URL (``HTTPS://u:pw@h`` as well as
  ``s3://KEY@bucket``), scheme-less ``user:pass@host``, ``password=…``-style settings, and long
  random-looking strings — in a value or in any component of a path;
* replace home directories by ``~`` (``/home/alice`` → ``/home/~``), so no username is written;
* turn text that is not valid UTF-8 (a variable or directory name in latin-1 reaches Python as
  surrogate escapes) into ``\\xNN`` escapes, so a fingerprint can always be saved and shown.

Masking replaces the secret itself by ``<redacted>`` and keeps the rest (the host of a URL, the other
directories of a path), so differences stay explainable. Detection is by pattern: a secret with no
recognisable shape (a short dictionary password in a value that is not a setting) is not found, which
is why variables are allow-listed first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

__all__ = [
    "REDACTED",
    "is_secret_name",
    "looks_secret_value",
    "redact",
    "redact_path",
    "safe_metadata",
    "safe_value",
    "utf8_text",
]

REDACTED = "<redacted>"

T = TypeVar("T")

_SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSW|PWD|CREDENTIAL|AUTH|PRIVATE|SESSION|COOKIE|SIGNATURE|CERT|PASSPHRASE|DSN",
    re.IGNORECASE,
)

# Token formats with a recognisable prefix, each matched to its end so no part of it remains.
_TOKENS = re.compile(
    r"""
    (?<![A-Za-z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}(?![0-9A-Z])  # AWS key ids
    | \bhf_[A-Za-z0-9]{20,}                          # Hugging Face
    | \bgh[pousr]_[A-Za-z0-9]{20,}                   # GitHub
    | \bgithub_pat_[A-Za-z0-9_]{20,}
    | \bglpat-[A-Za-z0-9_-]{20,}                     # GitLab
    | \b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}         # Stripe
    | \bsk-[A-Za-z0-9_-]{20,}                        # OpenAI, Anthropic and other sk- keys
    | \bxox[abeprs]-[A-Za-z0-9-]{10,}                # Slack
    | \bAIza[0-9A-Za-z_-]{30,}                       # Google API key
    | \bya29\.[0-9A-Za-z_-]{20,}                     # Google OAuth access token
    | \bnpm_[A-Za-z0-9]{30,}                         # npm
    | \bpypi-[A-Za-z0-9_-]{40,}                      # PyPI upload token
    | \bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}   # SendGrid
    | \bdapi[0-9a-f]{32}(?:-\d+)?                    # Databricks
    | \bdop_v1_[0-9a-f]{40,}                         # DigitalOcean
    | \bhv[sb]\.[A-Za-z0-9_-]{20,}                   # HashiCorp Vault
    | \bshp(?:at|ss|ca|pa)_[0-9a-fA-F]{32}           # Shopify
    | \bATATT[A-Za-z0-9_=-]{20,}                     # Atlassian
    | \bglsa_[A-Za-z0-9_]{20,}                       # Grafana service account
    | \bAccountKey=[A-Za-z0-9+/=]{20,}               # Azure storage connection string
    | \bhooks\.slack\.com/services/[A-Za-z0-9/]+     # Slack webhook
    | \beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*)?  # JWT
    | -----BEGIN[A-Z ]*-----[^-]*(?:-----END[A-Z ]*-----)?           # PEM material
    """,
    re.VERBOSE,
)
# The user part of a URL, any scheme and any case (s3://AKEY:SECRET@bucket, HTTPS://u:pw@host).
_URL_USER = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"]+@")
# user:password@host without a scheme (a git remote, a broker address).
_BARE_USER = re.compile(r"(?<![\w.%+-])[\w.%+-]+:[^\s/@'\"]+@(?=[\w-]+(?:\.[\w-]+)*)")
# settings whose value is a secret: password=…, api_key: …, --token=…, Authorization: Bearer …
_SETTING = re.compile(
    r"""(?ix)
    (\b(?:[a-z0-9]+[_-])*(?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|
    private[_-]?key|client[_-]?secret|credentials?|auth|authori[sz]ation|sig|signature)(?:\s*=\s*|:\s+))
    (?:bearer\s+|basic\s+)?[^\s&;,'"]+
    |
    (\bbearer\s+)[A-Za-z0-9._~+/-]+=*
    """
)
# random-looking runs with upper-case letters, lower-case letters and digits: 32+ characters of
# base64 without "/" (a path is made of such runs), or exactly 40 with "/" (an AWS secret access key)
_RANDOM = re.compile(
    r"""(?x)
    (?<![A-Za-z0-9+])(?=[A-Za-z0-9+]*[A-Z])(?=[A-Za-z0-9+]*[a-z])(?=[A-Za-z0-9+]*[0-9])[A-Za-z0-9+]{32,}={0,2}
    (?![A-Za-z0-9+=])
    | (?<![A-Za-z0-9+/])(?!/)(?!.{0,39}//)(?=.{0,39}[A-Z])(?=.{0,39}[a-z])(?=.{0,39}[0-9])[A-Za-z0-9+/]{40}
    (?![A-Za-z0-9+/=])
    """
)
_HOME = re.compile(r"/(home|Users)/[^/\s:]+")
# a metadata key naming a secret, as a whole word ("db_password", "hf-token"; not "tokenizer")
_SECRET_KEY = re.compile(
    r"(?i)(?:^|[_.\- ])(?:pass(?:word|wd|phrase)?|pwd|secret|token|credentials?|dsn|auth|cookie|"
    r"(?:api|access|secret|private|signing|account)[_\-]?key)(?:$|[_.\- ])"
)


def is_secret_name(name: str) -> bool:
    """Returns whether a variable name suggests its value is a secret."""
    return bool(_SECRET_NAME.search(name))


def looks_secret_value(value: str) -> bool:
    """Returns whether a value holds anything `redact` masks: a token, URL credentials, a secret setting."""
    return redact(value) != value


def utf8_text(text: str) -> str:
    """Returns `text` as valid UTF-8 text: surrogates (undecodable bytes from the OS) become ``\\xNN`` escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join(_escape(c) if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


def _escape(c: str) -> str:
    code = ord(c)
    # os.environ and os.listdir decode an undecodable byte b as the surrogate U+DC00 + b
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def _keep_prefix(m: re.Match[str]) -> str:
    return (m.group(1) or m.group(2) or "") + REDACTED


_MASKS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (_TOKENS, REDACTED),
    (_URL_USER, rf"\1{REDACTED}@"),
    (_BARE_USER, f"{REDACTED}@"),
    (_SETTING, _keep_prefix),
    (_RANDOM, REDACTED),
)


def redact(text: str) -> str:
    """Returns `text` with every credential it holds replaced by ``<redacted>`` (see the module docstring)."""
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


def redact_path(text: str) -> str:
    """Returns a path (or a message holding paths) safe to record: credentials masked, homes as ``~``, UTF-8."""
    text = redact(utf8_text(text))
    # by the value alone, never by this process's HOME: one path must read the same from any user
    return _HOME.sub(r"/\1/~", text)


def safe_metadata(name: str, value: T) -> T | str:
    """Returns a metadata value (custom, tags) as it may be written: redacted whole if its key names a secret."""
    if _SECRET_KEY.search(name):
        return REDACTED
    return safe_value(value) if isinstance(value, str) else value


def safe_value(value: str) -> str:
    """Returns a variable's value as it may be written: credentials masked, home directories as ``~``, UTF-8."""
    return redact_path(value)
