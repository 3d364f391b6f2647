"""Reads where a distribution was installed from: its direct_url.json (PEP 610, editable installs PEP 660).

pip, uv and other installers write ``direct_url.json`` into the ``.dist-info`` of anything not
installed from an index: an editable install (``pip install -e``), a VCS URL (``git+https://…@rev``,
with the commit installed), a local directory, or an archive (a wheel or sdist file or URL). Two
environments with the same version of a package can run different code when one of them is such
an install, so the packages collector records it (`Package.origin`).
"""

from __future__ import annotations

import json

from envprint._files import read_prefix
from envprint.model import PackageOrigin
from envprint.privacy import looks_secret_value, redact_path, safe_value

__all__ = ["read_origin"]

#: direct_url.json is a few hundred bytes; more is not one
_LIMIT = 64 * 1024


def read_origin(dist_info: str) -> PackageOrigin | None:
    """Returns where a distribution was installed from, per its direct_url.json (PEP 610/660).

    None when the file is absent (installed from an index) or is not PEP 610 data; an unreadable
    file is recorded as kind "unknown" rather than passing for an index install.
    """
    try:
        raw = read_prefix(f"{dist_info}/direct_url.json", _LIMIT)
    except OSError:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return PackageOrigin("unknown", url="direct_url.json is not valid JSON")
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return PackageOrigin("unknown", url="direct_url.json has no url")
    url = _safe_url(data["url"])
    subdirectory = _text(data.get("subdirectory"))
    vcs, dir_info, archive = data.get("vcs_info"), data.get("dir_info"), data.get("archive_info")
    if isinstance(vcs, dict):
        return PackageOrigin(
            "vcs",
            vcs=_text(vcs.get("vcs")),
            commit=_text(vcs.get("commit_id")),
            subdirectory=subdirectory,
            url=url,
            requested_revision=_text(vcs.get("requested_revision")),
        )
    if isinstance(dir_info, dict):
        kind = "editable" if dir_info.get("editable") is True else "directory"
        return PackageOrigin(kind, subdirectory=subdirectory, url=url)
    if isinstance(archive, dict):
        return PackageOrigin("archive", archive_hash=_archive_hash(archive), subdirectory=subdirectory, url=url)
    return PackageOrigin("unknown", subdirectory=subdirectory, url=url)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _archive_hash(info: dict[str, object]) -> str | None:
    hashes = info.get("hashes")
    if isinstance(hashes, dict) and isinstance(hashes.get("sha256"), str):
        return f"sha256={hashes['sha256']}"
    legacy = info.get("hash")  # the older "sha256=<hex>" form
    return legacy if isinstance(legacy, str) and "=" in legacy else None


def _safe_url(url: str) -> str:
    """Returns a direct_url URL fit to record: user:password stripped (git@ kept), paths redacted (privacy rules)."""
    scheme, sep, rest = url.partition("://")
    git_user = False
    if sep:
        host, slash, path = rest.partition("/")
        user, at, hostname = host.rpartition("@")
        # the conventional "git@" of an SSH URL names no one and is needed to clone; any other user is dropped
        git_user = bool(at) and user == "git"
        url = scheme + sep + (hostname if at else host) + slash + path
    url = safe_value(url) if looks_secret_value(url) else redact_path(url)
    return url.replace("://", "://git@", 1) if git_user else url
