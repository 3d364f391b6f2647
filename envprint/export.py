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
import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envprint._files import read_regular
from envprint.artifact import FINGERPRINT_NAME, directory_digest
from envprint.codec import Loaded, decode_fingerprint
from envprint.envelope import MAX_FILE_BYTES, Envelope, Signature, pae
from envprint.errors import FingerprintFormatError, UnsupportedSchemaError, UsageError
from envprint.model import SCHEMA_VERSION, ArtifactFile, Fingerprint, Package, PackageOrigin, Unavailable
from envprint.signing import (
    Keyring,
    algorithm_of,
    sign,
    signer_of,
    sslib_keyid,
    verify_envelope,
    verify_signatures,
)
from envprint.signing.keys import verify_raw

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


def subjects(fp: Fingerprint, *, fingerprint_file: tuple[str, bytes] | None = None) -> list[dict[str, Any]]:
    """Returns the in-toto subjects of a bound fingerprint: digests anyone reproduces with standard tools.

    * A single-file model: one subject, its ``sha256`` (``sha256sum FILE``).
    * A model directory: one ``sha256`` subject per file, named by its path relative to the
      directory (``sha256sum PATH`` run in it), then one ``dirHash`` subject named after the
      directory: in-toto's DigestSet recipe over the directory as shipped,
      ``find . -type f | cut -c3- | LC_ALL=C sort | xargs -r sha256sum | sha256sum``.

    `fingerprint_file` is (name, bytes) of the fingerprint file shipped inside the directory (its
    default place, ``envprint.fp``): it is then a subject too and part of the ``dirHash``, since the
    directory as shipped holds it. Raises `UsageError` when the fingerprint is not bound to an artifact.
    """
    m = fp.artifact
    if m is None:
        raise UsageError(
            "the fingerprint is not bound to a model artifact, so an in-toto statement has no subject",
            hint="capture it with `envprint capture --artifact PATH` to bind it to the model files",
        )
    if m.kind == "file":
        return [{"name": m.name, "digest": {"sha256": m.digest}}]
    files = list(m.files)
    if fingerprint_file is not None:
        name, data = fingerprint_file
        if any(f.path == name for f in files):
            raise UsageError(f"the model directory already binds a file named {name}; export the fingerprint alone")
        files.append(ArtifactFile(name, len(data), hashlib.sha256(data).hexdigest()))
    files.sort(key=lambda f: f.path)
    per_file: list[dict[str, Any]] = [{"name": f.path, "digest": {"sha256": f.sha256}} for f in files]
    return [*per_file, {"name": m.name, "digest": {"dirHash": directory_digest(files)}}]


def statement(fp: Fingerprint, *, fingerprint_file: tuple[str, bytes] | None = None) -> dict[str, Any]:
    """Returns the in-toto Statement v1 of a fingerprint bound to an artifact, as JSON-safe data.

    Its subjects are `subjects` (per file ``sha256`` and the directory's ``dirHash``). Raises
    `UsageError` when the fingerprint is not bound to an artifact (a statement needs a subject).
    """
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects(fp, fingerprint_file=fingerprint_file),
        "predicateType": predicate_type(fp.meta.schema_version),
        "predicate": json_safe(fp.to_data()),
    }


def to_in_toto(
    source: Loaded | Envelope | Fingerprint,
    *,
    key: PrivateKeyLike | None,
    fingerprint_file: tuple[str, bytes] | None = None,
) -> bytes:
    """Returns a DSSE JSON envelope (one line, UTF-8) holding the fingerprint's in-toto statement.

    Signed with `key` (a private key or a `Signer`) over PAE("application/vnd.in-toto+json",
    statement bytes); without a key the envelope has no signatures (for signing by other tools).
    The signature's ``keyid`` is securesystemslib's default id of the key (`sslib_keyid`), so
    in-toto tooling matches it to ``SSlibKey.from_crypto(public_key)`` without a hand-set id.
    """
    payload = json.dumps(
        statement(_fingerprint_of(source), fingerprint_file=fingerprint_file),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")
    signatures = []
    if key is not None:
        signer = signer_of(key)
        s = sign(IN_TOTO_PAYLOAD_TYPE, payload, signer)
        signatures.append({"keyid": sslib_keyid(signer.public_key), "sig": base64.b64encode(s.sig).decode("ascii")})
    envelope = {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": IN_TOTO_PAYLOAD_TYPE,
        "signatures": signatures,
    }
    return json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode("ascii") + b"\n"


def export_file(fp_path: str | os.PathLike[str], *, key: PrivateKeyLike | None) -> bytes:
    """Returns the in-toto export of the `.fp` file at `fp_path`, signed with `key`.

    When the file already carries a signature by `key`, that signature must verify first, so the
    export never re-signs a fingerprint altered after its owner signed it. A fingerprint at its
    default place in a model directory (``DIR/envprint.fp``) is itself a subject and part of the
    directory's ``dirHash``: the directory as shipped holds it.
    """
    p = Path(fp_path)
    # read once: the subject is the file as it lies on disk, byte for byte, not a re-encoding
    shipped = read_regular(p, MAX_FILE_BYTES, "fingerprint")
    envelope = Envelope.decode(shipped, source=str(p))
    signer = None
    if key is not None:
        signer = signer_of(key)
        if any(s.keyid == signer.keyid for s in envelope.signatures):
            verify_envelope(envelope, [signer.public_key], source=str(fp_path))
    inside = (p.name, shipped) if p.name == FINGERPRINT_NAME else None
    return to_in_toto(decode_fingerprint(envelope, source=str(fp_path)), key=signer, fingerprint_file=inside)


def _b64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise FingerprintFormatError(f"in-toto envelope: {what} is not text")
    try:
        # DSSE verifiers accept standard and URL-safe base64
        std = text.replace("-", "+").replace("_", "/")
        return base64.b64decode(std + "=" * (-len(std) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise FingerprintFormatError(f"in-toto envelope: {what} is not valid base64") from None


def _dsse_signature(keyring: Keyring, message: bytes, raw: dict[str, Any], n: int) -> Signature:
    """Returns a DSSE signature as envprint's `Signature`, its key id resolved to a trusted key's.

    DSSE carries no algorithm and its ``keyid`` is the signer's choice: envprint's own id,
    securesystemslib's default id, or empty (DSSE makes it optional). The id selects a trusted key
    (an empty id: the one whose signature verifies); the algorithm is always that key's.
    """
    kid = raw.get("keyid", "")
    sig = _b64(raw.get("sig"), f"signature {n}")
    for entry in keyring:
        key = entry.public_key
        if key is None:
            if entry.keyid == kid:
                return Signature(entry.keyid, "", sig)  # revoked: verify_signatures says so
            continue
        if kid in (entry.keyid, sslib_keyid(key)) or (not kid and verify_raw(key, sig, message)):
            return Signature(entry.keyid, algorithm_of(key), sig)
    return Signature(kid, "", sig)


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
    keyring = Keyring.of(trusted_keys)
    try:
        message = pae(env["payloadType"], payload)
    except UnicodeEncodeError:  # lone surrogates from a JSON escape: nothing could have signed this
        raise FingerprintFormatError("in-toto envelope: the payload type is not valid UTF-8 text") from None
    signatures = []
    for i, s in enumerate(sigs, 1):
        if not isinstance(s, dict) or not isinstance(s.get("keyid", ""), str):
            raise FingerprintFormatError(f"in-toto envelope: signature {i} is malformed")
        signatures.append(_dsse_signature(keyring, message, s, i))
    verify_signatures(env["payloadType"], payload, signatures, keyring, source="in-toto envelope")
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
    naming the index that serves that build. A VCS install is pinned to its commit
    (``name @ git+URL@COMMIT``) and an archive from a remote URL to that URL; pip, unreadable
    distributions, versions that are not PEP 440, editable installs and anything installed from a
    local directory or file are commented out with the reason and a hint, never pinned as
    ``name==version`` (which an index would serve as different code). Raises `UsageError` when the
    fingerprint has no package list.
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
        elif pkg.origin is not None:
            lines.append(_comment(_origin_line(name, pin, pkg.origin)))
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


# what a URL in a PEP 508 "name @ URL" line may hold: no spaces, quotes, ";" or control characters
_SAFE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,=%-]+")
# a commit id, revision or subdirectory placed after the URL: no characters that end the URL or the line
_SAFE_REF = re.compile(r"[A-Za-z0-9._/-]{1,200}")


def _origin_line(name: str, pin: str, origin: PackageOrigin) -> str:
    """Returns the requirements line of a package installed from a direct URL (PEP 610)."""
    url = origin.url
    local = url.startswith("file:")
    if origin.kind == "editable":
        return (
            f"# {pin}  # editable install of {url or 'a local source tree'}: install that tree "
            f"(pip install -e PATH) at the training commit, or pin a released {name} instead"
        )
    if origin.kind == "directory":
        return f"# {pin}  # installed from the local source tree {url}: build a wheel of it and install that"
    if origin.kind == "vcs":
        safe = _SAFE_URL.fullmatch(url) and _SAFE_REF.fullmatch(origin.commit or "-")
        if not origin.commit or local or not safe or not _SAFE_REF.fullmatch(origin.subdirectory or "-"):
            why = "no commit recorded" if not origin.commit else ("a local repository" if local else "an unusual URL")
            return f"# {pin}  # installed from {origin.vcs or 'VCS'} {url} ({why}): pin that commit by hand"
        sub = f"#subdirectory={origin.subdirectory}" if origin.subdirectory else ""
        return f"{name} @ {origin.vcs or 'git'}+{url}@{origin.commit}{sub}"
    if origin.kind == "archive" and not local and _SAFE_URL.fullmatch(url):
        return f"{name} @ {url}" + (f"  # {origin.archive_hash}" if origin.archive_hash else "")
    digest = f" ({origin.archive_hash})" if origin.archive_hash else ""
    return (
        f"# {pin}  # installed from {url or 'an unrecorded URL'}{digest}: ship that file with the image and install it"
    )


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
