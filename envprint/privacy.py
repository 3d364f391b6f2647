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

# Token formats with a recognisable prefix, each matched to its end so no part of it remains. Every
# branch starts with a literal, so the regex engine skips ahead to candidate characters (~1 µs a value).
_TOKENS = re.compile(
    r"""
    (?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}(?![0-9A-Z])  # AWS key ids
    | hf_[A-Za-z0-9]{20,}                          # Hugging Face
    | gh[pousr]_[A-Za-z0-9]{20,}                   # GitHub
    | github_pat_[A-Za-z0-9_]{20,}
    | glpat-[A-Za-z0-9_-]{20,}                     # GitLab
    | [sr]k_(?:live|test)_[A-Za-z0-9]{16,}         # Stripe
    | sk-[A-Za-z0-9_-]{20,}                        # OpenAI, Anthropic and other sk- keys
    | xox[abeprs]-[A-Za-z0-9-]{10,}                # Slack
    | AIza[0-9A-Za-z_-]{30,}                       # Google API key
    | ya29\.[0-9A-Za-z_-]{20,}                     # Google OAuth access token
    | npm_[A-Za-z0-9]{30,}                         # npm
    | pypi-[A-Za-z0-9_-]{40,}                      # PyPI upload token
    | SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}   # SendGrid
    | dapi[0-9a-f]{32}(?:-\d+)?                    # Databricks
    | dop_v1_[0-9a-f]{40,}                         # DigitalOcean
    | hv[sb]\.[A-Za-z0-9_-]{20,}                   # HashiCorp Vault
    | shp(?:at|ss|ca|pa)_[0-9a-fA-F]{32}           # Shopify
    | ATATT[A-Za-z0-9_=-]{20,}                     # Atlassian
    | glsa_[A-Za-z0-9_]{20,}                       # Grafana service account
    | AccountKey=[A-Za-z0-9+/=]{20,}               # Azure storage connection string
    | hooks\.slack\.com/services/[A-Za-z0-9/]+     # Slack webhook
    | eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*)?  # JWT, from a run's start
    | -----BEGIN[A-Z ]{0,64}-----[^-]*(?:-----END[A-Z ]{0,64}-----)?  # PEM material
    """,
    re.VERBOSE,
)
# The user part of a URL, any scheme and any case (s3://AKEY:SECRET@bucket, HTTPS://u:pw@host).
# Lengths are bounded so that no value makes matching quadratic.
_URL_USER = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,31}://)[^/\s@'\"]{1,512}@")
# user:password@host without a scheme (a git remote, a broker address).
_BARE_USER = re.compile(r"(?<![\w.%+-])[\w.%+-]{1,256}:[^\s/@'\"]{1,256}@(?=[\w-])")
# settings whose value is a secret: password=…, db_password=…, api_key: …, --token=…, Authorization: …
_SETTING = re.compile(
    r"""(?ix)
    ((?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|
    auth|authori[sz]ation|sig|signature)(?:\s*=\s*|:\s+))
    (?:bearer\s+|basic\s+)?[^\s&;,'"]+
    |
    (bearer\s+)[A-Za-z0-9._~+/-]+=*
    """
)
# only text holding one of these words can hold a setting (the regex is case-insensitive, hence slow)
_SETTING_WORDS = ("pass", "pwd", "secret", "token", "key", "credential", "auth", "sig", "bearer")
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


def redact(text: str) -> str:
    """Returns `text` with every credential it holds replaced by ``<redacted>`` (see the module docstring)."""
    text = _TOKENS.sub(REDACTED, text)
    if "@" in text:
        text = _URL_USER.sub(rf"\1{REDACTED}@", text)
        text = _BARE_USER.sub(f"{REDACTED}@", text)
    lowered = text.lower()
    if any(word in lowered for word in _SETTING_WORDS):
        text = _SETTING.sub(_keep_prefix, text)
    return _RANDOM.sub(REDACTED, text)


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
