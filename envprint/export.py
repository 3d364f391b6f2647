"""Exports a fingerprint for other tools: an in-toto Statement v1 in a DSSE JSON envelope, or a
pinned requirements file (`to_requirements`) so a serving image can install what training had.

In the in-toto export, the statement's subject is the bound artifact (name + sha256 digest, see
`envprint.artifact`), its predicate type `https://envprint.dev/fingerprint/v<schema major>`, and its
predicate the fingerprint as JSON without loss:

* floats are written as text with `repr` (the shortest string that reads back to the same double:
  ``float(s)`` restores it bit for bit; ``"nan"``/``"inf"`` included);
* integers outside ±(2^53 − 1) are written as decimal text, so JSON readers that hold numbers as
  doubles (JavaScript, jq) do not round them;
* bytes are written as standard base64 text;
* `Unavailable` markers stay ``{"$unavailable": reason}``.

The statement bytes are ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
in UTF-8, and the signature covers DSSE's PAE of exactly those bytes, as for the `.fp` file.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envprint.codec import Loaded, decode_fingerprint
from envprint.envelope import Envelope, Signature, read_envelope
from envprint.errors import FingerprintFormatError, UnsupportedSchemaError, UsageError
from envprint.model import SCHEMA_VERSION, Fingerprint, Package, Unavailable
from envprint.signing import keyid, load_private_key, sign, verify_envelope, verify_signatures

if TYPE_CHECKING:
    from packaging.version import Version

    from envprint.signing import PrivateKeyLike, TrustedKeysLike

__all__ = [
    "IN_TOTO_PAYLOAD_TYPE",
    "MAX_SAFE_INT",
    "PREDICATE_TYPE_PREFIX",
    "STATEMENT_TYPE",
    "export_file",
    "json_safe",
    "predicate_type",
    "statement",
    "to_in_toto",
    "to_requirements",
    "verify_in_toto",
]

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE_PREFIX = "https://envprint.dev/fingerprint/v"
#: the largest integer every JSON reader holds exactly (JavaScript's Number.MAX_SAFE_INTEGER)
MAX_SAFE_INT = 2**53 - 1
#: an exported envelope is tens of KiB; refuse to parse anything absurdly larger
_MAX_JSON_BYTES = 64 * 1024 * 1024


def predicate_type(schema_version: int) -> str:
    """Returns the in-toto predicate type of a fingerprint schema (major) version."""
    return f"{PREDICATE_TYPE_PREFIX}{schema_version}"


def json_safe(data: Any) -> Any:
    """Returns plain data with floats as repr text, integers beyond ±(2^53 − 1) as text, bytes as base64."""
    if isinstance(data, bool) or data is None or isinstance(data, str):
        return data
    if isinstance(data, int):
        return data if -MAX_SAFE_INT <= data <= MAX_SAFE_INT else str(data)
    if isinstance(data, float):
        return repr(data)
    if isinstance(data, bytes):
        return base64.b64encode(data).decode("ascii")
    if isinstance(data, dict):
        return {str(k): json_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(v) for v in data]
    raise UsageError(f"cannot export a value of type {type(data).__name__} as JSON")


def _fingerprint_of(source: Loaded | Envelope | Fingerprint) -> Fingerprint:
    if isinstance(source, Fingerprint):
        return source
    if isinstance(source, Loaded):
        return source.fingerprint
    return decode_fingerprint(source)


def statement(fp: Fingerprint) -> dict[str, Any]:
    """Returns the in-toto Statement v1 of a fingerprint bound to an artifact, as JSON-safe data.

    Raises `UsageError` when the fingerprint is not bound to an artifact (a statement needs a subject).
    """
    if fp.artifact is None:
        raise UsageError(
            "the fingerprint is not bound to a model artifact, so an in-toto statement has no subject",
            hint="capture it with `envprint capture --artifact PATH` to bind it to the model files",
        )
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": fp.artifact.name, "digest": {fp.artifact.hash_algorithm: fp.artifact.digest}}],
        "predicateType": predicate_type(fp.meta.schema_version),
        "predicate": json_safe(fp.to_data()),
    }


def to_in_toto(source: Loaded | Envelope | Fingerprint, *, key: PrivateKeyLike | None) -> bytes:
    """Returns a DSSE JSON envelope (one line, UTF-8) holding the fingerprint's in-toto statement.

    Signed with `key` over PAE("application/vnd.in-toto+json", statement bytes); without a key the
    envelope has no signatures (for signing by other tools).
    """
    payload = json.dumps(
        statement(_fingerprint_of(source)), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
    signatures = []
    if key is not None:
        s = sign(IN_TOTO_PAYLOAD_TYPE, payload, key)
        signatures.append({"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode("ascii")})
    envelope = {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": IN_TOTO_PAYLOAD_TYPE,
        "signatures": signatures,
    }
    return json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode("ascii") + b"\n"


def export_file(fp_path: str | os.PathLike[str], *, key: PrivateKeyLike | None) -> bytes:
    """Returns the in-toto export of the `.fp` file at `fp_path`, signed with `key`.

    When the file already carries a signature by `key`, that signature must verify first, so the
    export never re-signs a fingerprint altered after its owner signed it.
    """
    envelope = read_envelope(Path(fp_path))
    if key is not None:
        private = load_private_key(key)
        if any(s.keyid == keyid(private) for s in envelope.signatures):
            verify_envelope(envelope, [private.public_key()], source=str(fp_path))
        key = private
    return to_in_toto(decode_fingerprint(envelope, source=str(fp_path)), key=key)


def _b64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise FingerprintFormatError(f"in-toto envelope: {what} is not text")
    try:
        # DSSE verifiers accept standard and URL-safe base64
        std = text.replace("-", "+").replace("_", "/")
        return base64.b64decode(std + "=" * (-len(std) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise FingerprintFormatError(f"in-toto envelope: {what} is not valid base64") from None


def verify_in_toto(data: bytes | str, trusted_keys: TrustedKeysLike) -> dict[str, Any]:
    """Returns the in-toto statement of a DSSE JSON envelope after a trusted key verified it.

    The signature is checked over the exact payload bytes before they are parsed. Raises
    `FingerprintFormatError` for a malformed envelope or statement and `SignatureError` when no
    trusted key verifies it.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > _MAX_JSON_BYTES:
        raise FingerprintFormatError("in-toto envelope: too large")
    try:
        env = json.loads(raw)
    except (ValueError, RecursionError):
        raise FingerprintFormatError("in-toto envelope: not valid JSON") from None
    if not isinstance(env, dict) or not isinstance(env.get("payloadType"), str):
        raise FingerprintFormatError("in-toto envelope: not a DSSE envelope (payloadType missing)")
    payload = _b64(env.get("payload"), "payload")
    sigs = env.get("signatures")
    if not isinstance(sigs, list):
        raise FingerprintFormatError("in-toto envelope: signatures missing or not a list")
    signatures = []
    for i, s in enumerate(sigs, 1):
        if not isinstance(s, dict) or not isinstance(s.get("keyid", ""), str):
            raise FingerprintFormatError(f"in-toto envelope: signature {i} is malformed")
        # DSSE carries no algorithm: the trusted key's (Ed25519) is the one used
        signatures.append(Signature(s.get("keyid", ""), "ed25519", _b64(s.get("sig"), f"signature {i}")))
    verify_signatures(env["payloadType"], payload, signatures, trusted_keys, source="in-toto envelope")
    # checked after the signature, which authenticates the type (DSSE's order)
    if env["payloadType"] != IN_TOTO_PAYLOAD_TYPE:
        raise FingerprintFormatError(
            f"in-toto envelope: payload type {env['payloadType']!r} is not {IN_TOTO_PAYLOAD_TYPE}"
        )
    try:
        stmt = json.loads(payload)
    except (ValueError, RecursionError):
        raise FingerprintFormatError("in-toto envelope: the statement is not valid JSON") from None
    if not isinstance(stmt, dict) or stmt.get("_type") != STATEMENT_TYPE:
        raise FingerprintFormatError(f"in-toto envelope: not an in-toto Statement v1 (_type {STATEMENT_TYPE})")
    ptype = stmt.get("predicateType")
    major = ptype[len(PREDICATE_TYPE_PREFIX) :] if isinstance(ptype, str) else ""
    if not isinstance(ptype, str) or not ptype.startswith(PREDICATE_TYPE_PREFIX) or not major.isdigit():
        raise FingerprintFormatError(f"in-toto envelope: predicate type {ptype!r} is not an envprint fingerprint")
    if int(major) > SCHEMA_VERSION:
        raise UnsupportedSchemaError(
            f"in-toto envelope: fingerprint schema v{major} is newer than this envprint reads (v{SCHEMA_VERSION})"
        )
    return stmt


# --------------------------------------------------------------------------------- requirements

#: distributions that install the others: pinning them in the file would have pip replace itself mid-install
_INSTALLER_TOOLS = frozenset({"pip"})
#: projects published with local version labels (+cu121, +cpu, +rocm6.0) on their own index
_PYTORCH = frozenset({"torch", "torchvision", "torchaudio", "torchtext", "torchdata", "triton", "pytorch-triton"})


def to_requirements(fp: Fingerprint) -> str:
    """Returns a pinned requirements file (``name==version`` per distribution) reproducing `fp`'s packages.

    The header comments name the Python version and the platform (system, machine, libc, OS) the pins
    were captured on. Versions with a local label (``torch==2.3.0+cu121``) stay pinned with a comment
    naming the index that serves that build; pip, unreadable distributions, versions that are not
    PEP 440 and distributions installed from a source tree are commented out with the reason. Raises
    `UsageError` when the fingerprint has no package list.
    """
    from packaging.version import InvalidVersion, Version

    if isinstance(fp.packages, Unavailable):
        raise UsageError(f"the fingerprint has no package list ({fp.packages.reason}), so nothing can be pinned")
    lines = _requirements_header(fp)
    for name in sorted(fp.packages):
        pkg = fp.packages[name]
        if not _PEP508_NAME.fullmatch(name):
            lines.append(f"# {_comment(name)}  # not a valid distribution name: left out")
            continue
        if pkg.unreadable is not None or isinstance(pkg.version, Unavailable):
            reason = pkg.unreadable or (pkg.version.reason if isinstance(pkg.version, Unavailable) else "")
            shown = f"=={pkg.version}" if isinstance(pkg.version, str) else ""
            lines.append(_comment(f"# {name}{shown}  # unreadable metadata: {reason}"))
            continue
        pin = f"{name}=={pkg.version}"
        try:
            version = Version(pkg.version)
        except InvalidVersion:
            lines.append(_comment(f"# {pin}  # not a PEP 440 version: pip cannot pin it"))
            continue
        if name in _INSTALLER_TOOLS:
            lines.append(f"# {pin}  # the installer itself: upgrade it first with python -m pip install {pin}")
        elif _from_source_tree(pkg):
            lines.append(f"# {pin}  # installed from a source tree (editable or setup.py develop): install that tree")
        elif version.local is not None:
            lines.append(f"{pin}  # {_local_hint(name, version)}")
        else:
            lines.append(pin)
    return "\n".join(lines) + "\n"


# PEP 508 distribution names; anything else in a fingerprint (a newline, "-r file", "--index-url")
# would become a pip option line in the requirements file
_PEP508_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


def _comment(text: str) -> str:
    """Returns `text` on one line with control characters replaced: it stays inside its comment."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _requirements_header(fp: Fingerprint) -> list[str]:
    label = f" {fp.meta.label!r}" if fp.meta.label else ""
    lines = [f"# pinned by envprint {fp.meta.envprint_version} from fingerprint{label} captured {fp.meta.created}"]
    if isinstance(fp.python, Unavailable):
        lines.append(f"# python: unavailable ({fp.python.reason})")
    else:
        py = fp.python
        lines.append(f"# python: {py.version} ({py.implementation}, {py.abi}): use the same version for these pins")
    if isinstance(fp.platform, Unavailable):
        lines.append(f"# platform: unavailable ({fp.platform.reason})")
    else:
        pl = fp.platform
        lines.append(
            f"# platform: {pl.system} {pl.machine}, libc {pl.libc} {pl.libc_version}, os {pl.os_id} {pl.os_version}"
        )
    lines += [
        "# install into a fresh virtualenv of that Python: python -m pip install -r THIS_FILE",
        "# (add --no-deps to install exactly these pins and nothing they would resolve to)",
        "",
    ]
    return [_comment(line) for line in lines]  # captured strings must not break out of their comments


def _from_source_tree(pkg: Package) -> bool:
    """Returns whether a distribution was installed from a source tree: .egg-info metadata outside site-packages."""
    no_wheel_record = pkg.installer is None and not pkg.wheel_tags
    in_site = any(part in pkg.location for part in ("site-packages", "dist-packages"))
    return bool(no_wheel_record and pkg.location and not in_site)


def _local_hint(name: str, version: Version) -> str:
    label = f"+{version.local}"
    if name in _PYTORCH and str(version.local).startswith(("cu", "cpu", "rocm")):
        where = f"--extra-index-url https://download.pytorch.org/whl/{version.local}"
    else:
        where = "the index or wheel that built it (--extra-index-url / --find-links)"
    return (
        f"local build {label}: not on PyPI; install from {where}, "
        f"or pin {name}=={version.public} to accept any build of that release"
    )
