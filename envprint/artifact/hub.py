"""Hugging Face Hub cache snapshots: their layout, their symlinks into ``blobs/``, and ``hf://`` references.

In the Hub cache (``HF_HUB_CACHE``, by default ``$HF_HOME/hub``), a model's files live once, by
content, in ``models--ORG--NAME/blobs/``; a snapshot ``models--ORG--NAME/snapshots/<commit>/`` holds
symlinks to them, and ``refs/main`` names the commit ``main`` pointed to when it was downloaded.
A snapshot is bound without copying it: each symlink that resolves to a blob of the *same*
repository folder is followed, and the file is recorded under its logical path with the digest of
the content it resolves to. A link that leaves the repository folder, passes through a linked
directory, dangles or loops is refused. Blob names (an LFS blob's name is its sha256) are never
trusted: the content is hashed.

The Hub client may prune anything inside its cache, so a snapshot's fingerprint goes beside the
cache: ``<cache>.envprint/models--ORG--NAME/<commit>.fp``.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

from envprint._base import Record, record
from envprint.artifact.hashing import special_kind
from envprint.errors import UsageError

#: the scheme of Hub references: hf://ORG/NAME[@REV], hf://datasets/ORG/NAME[@REV]
SCHEME = "hf://"
#: suffix of the folder beside the Hub cache that holds snapshot fingerprints
FINGERPRINTS_SUFFIX = ".envprint"

_REPO_FOLDER = re.compile(r"(models|datasets|spaces)--([A-Za-z0-9][\w.\-]*(?:--[\w.\-]+)?)")
_FOLDER_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_REPO_ID = re.compile(r"(?:[A-Za-z0-9][\w.\-]*/)?[A-Za-z0-9][\w.\-]*")
_REVISION = re.compile(r"[\w.\-/]+")
_COMMIT_PREFIX = re.compile(r"[0-9a-f]{4,39}")
_MAX_HOPS = 40


@record
class HubSnapshot(Record):
    """One snapshot folder of a Hub cache: ``<cache>/<type>s--ORG--NAME/snapshots/<commit>``."""

    cache: Path  # the Hub cache directory, resolved (no symlinks)
    repo_type: str  # "model", "dataset" or "space"
    repo_id: str  # "ORG/NAME"
    commit: str  # the snapshot folder's name: a commit hash

    @property
    def repo_folder(self) -> Path:
        """Returns the repository's folder in the cache (``models--ORG--NAME``)."""
        return self.cache / f"{self.repo_type}s--{self.repo_id.replace('/', '--')}"

    @property
    def path(self) -> Path:
        """Returns the snapshot folder."""
        return self.repo_folder / "snapshots" / self.commit

    @property
    def fingerprint(self) -> Path:
        """Returns the snapshot's default fingerprint path, beside the cache (never inside it)."""
        return self.cache.with_name(self.cache.name + FINGERPRINTS_SUFFIX) / self.repo_folder.name / f"{self.commit}.fp"

    @property
    def reference(self) -> str:
        """Returns the pinned reference of this snapshot: ``hf://ORG/NAME@<commit>``."""
        kind = "" if self.repo_type == "model" else f"{self.repo_type}s/"
        return f"{SCHEME}{kind}{self.repo_id}@{self.commit}"


def _repo_of(folder: Path) -> tuple[str, str] | None:
    """Returns (repo type, repo id) when `folder` is named like a Hub cache repository folder and has blobs/."""
    match = _REPO_FOLDER.fullmatch(folder.name)
    if match is None or not (folder / "blobs").is_dir():
        return None
    return _FOLDER_TYPES[match.group(1)], match.group(2).replace("--", "/")


def snapshot_of(path: str | os.PathLike[str]) -> HubSnapshot | None:
    """Returns the Hub cache snapshot `path` is (symlinks in the path resolved), None when it is not one."""
    real = Path(os.path.realpath(path))
    if real.parent.name != "snapshots" or not real.is_dir():
        return None
    repo = _repo_of(real.parent.parent)
    if repo is None:
        return None
    return HubSnapshot(real.parent.parent.parent, repo[0], repo[1], real.name)


def snapshot_for_fingerprint(fp_path: str | os.PathLike[str]) -> HubSnapshot | None:
    """Returns the snapshot whose default fingerprint is `fp_path`, None when it is not such a place or is gone."""
    p = Path(os.path.abspath(fp_path))
    holder = p.parent.parent
    if not p.name.endswith(".fp") or not holder.name.endswith(FINGERPRINTS_SUFFIX):
        return None
    cache = holder.with_name(holder.name[: -len(FINGERPRINTS_SUFFIX)])
    return snapshot_of(cache / p.parent.name / "snapshots" / p.name[:-3])


def cache_holding(path: str | os.PathLike[str]) -> Path | None:
    """Returns the Hub cache repository folder that `path` lies in (or is), None when it lies in none."""
    real = Path(os.path.realpath(path))
    for folder in (real, *real.parents):
        if _repo_of(folder) is not None and (folder / "snapshots").is_dir():
            return folder
    return None


class LinkResolver:
    """Follows a snapshot's symlinks to blobs of the same repository folder, refusing every other link."""

    def __init__(self, snapshot: HubSnapshot) -> None:
        self.repo = os.path.realpath(snapshot.repo_folder)
        self.blobs = os.path.join(self.repo, "blobs")
        self._real_dirs: dict[str, str] = {}

    def _real(self, directory: str) -> str:
        real = self._real_dirs.get(directory)
        if real is None:
            real = self._real_dirs[directory] = os.path.realpath(directory)
        return real

    def _within(self, path: str) -> bool:
        return path == self.repo or path.startswith(self.repo + os.sep)

    def resolve(self, link: str) -> tuple[str, str, int] | str:
        """Returns (the blob's real path, the link's target text, its size), or why the link is refused.

        `link` is the real path of a symlink inside the snapshot. Every hop must stay inside the
        repository folder and pass through no linked directory; the chain must end, within 40 hops,
        at a regular file directly in ``blobs/``.
        """
        first = os.readlink(link)
        current = link
        for _ in range(_MAX_HOPS):
            target = first if current is link else os.readlink(current)
            following = os.path.normpath(os.path.join(os.path.dirname(current), target))
            if not self._within(following):
                return f"symlink to {first} leaves the repository folder {os.path.basename(self.repo)}"
            parent = os.path.dirname(following)
            if self._real(parent) != parent:
                return f"symlink to {first} passes through a linked directory"
            try:
                st = os.lstat(following)
            except FileNotFoundError:
                return f"symlink to {first} is dangling"
            if stat.S_ISLNK(st.st_mode):
                current = following
                continue
            if not stat.S_ISREG(st.st_mode):
                return f"symlink to {first} resolves to a {special_kind(st.st_mode)}"
            if parent != self.blobs:
                return f"symlink to {first} resolves outside the repository's blobs/"
            return following, first, st.st_size
        return f"symlink to {first} loops (more than {_MAX_HOPS} links)"


# ------------------------------------------------------------------------------------- references


@record
class HubReference(Record):
    """A parsed ``hf://`` reference."""

    text: str
    repo_type: str
    repo_id: str
    revision: str | None  # None: the cache's ``main`` ref


def parse_reference(text: str) -> HubReference:
    """Returns the parts of ``hf://[datasets/|spaces/]ORG/NAME[@REV]``; raises `UsageError` when malformed."""
    if not text.startswith(SCHEME):
        raise UsageError(f"{text!r} is not a Hugging Face reference ({SCHEME}ORG/NAME[@REV])")
    rest = text[len(SCHEME) :]
    repo_type = "model"
    for kind in ("datasets", "spaces"):
        if rest.startswith(kind + "/"):
            repo_type, rest = kind[:-1], rest[len(kind) + 1 :]
    repo_id, at, revision = rest.partition("@")
    if not _REPO_ID.fullmatch(repo_id) or "--" in repo_id or ".." in repo_id:
        raise UsageError(
            f"{text}: {repo_id!r} is not a Hub repository id",
            hint=f"write {SCHEME}ORG/NAME or {SCHEME}ORG/NAME@REVISION (a commit, branch or tag)",
        )
    if at and (not _REVISION.fullmatch(revision) or ".." in revision.split("/")):
        raise UsageError(f"{text}: {revision!r} is not a revision (a commit hash, branch or tag)")
    return HubReference(text, repo_type, repo_id, revision if at else None)


class _HubApi:
    """The parts of huggingface_hub that resolve a reference offline."""

    def __init__(self) -> None:
        try:
            # deferred: the optional `huggingface` extra, needed only for hf:// references
            from huggingface_hub import constants, file_download, snapshot_download
        except ImportError:
            raise UsageError(
                "hf:// references are resolved through huggingface_hub, which is not installed here",
                hint="pip install 'envprint[huggingface]' (or pass the snapshot folder's path instead)",
            ) from None
        self.cache = Path(constants.HF_HUB_CACHE)  # HF_HUB_CACHE, else $HF_HOME/hub, as the library reads them
        self.snapshot_download: Any = snapshot_download
        self.repo_folder_name: Any = file_download.repo_folder_name


def resolve_reference(text: str) -> tuple[HubSnapshot, str]:
    """Returns the cached snapshot an ``hf://`` reference names, and a description of the resolution.

    Resolved offline through huggingface_hub's own cache lookup (``snapshot_download`` with
    ``local_files_only=True``, honouring ``HF_HOME`` / ``HF_HUB_CACHE``): nothing is downloaded and
    no network call is made. Without ``@REV`` the cache's ``main`` ref is used; a commit may be
    abbreviated (at least 4 hex digits) when one cached snapshot starts with it. Raises
    `UsageError` when the revision is not in the cache.
    """
    ref = parse_reference(text)
    hub = _HubApi()
    cache = hub.cache
    revision = ref.revision or "main"
    try:
        folder = hub.snapshot_download(ref.repo_id, repo_type=ref.repo_type, revision=revision, local_files_only=True)
    except Exception as e:  # LocalEntryNotFoundError, IncompleteSnapshotError, a malformed id: all "not usable"
        commit = _by_prefix(cache, hub, ref, revision)
        if commit is None:
            raise UsageError(
                f"{text}: revision {revision!r} of {ref.repo_id} is not in the Hub cache {cache} "
                f"(resolved offline, nothing is downloaded: {type(e).__name__}: {_first_line(e)})",
                hint=f"download it where the network is allowed (`hf download {ref.repo_id} --revision {revision}`) "
                "into this cache, or point HF_HOME / HF_HUB_CACHE at the cache that holds it",
            ) from None
        folder = str(cache / hub.repo_folder_name(repo_id=ref.repo_id, repo_type=ref.repo_type))
        folder = os.path.join(folder, "snapshots", commit)
    snapshot = snapshot_of(folder)
    if snapshot is None:
        raise UsageError(f"{text}: huggingface_hub returned {folder}, which is not a snapshot of a Hub cache")
    via = "" if ref.revision == snapshot.commit else f" ({revision} → {snapshot.commit})"
    return snapshot, f"{text}{via} from the Hub cache {snapshot.cache}"


def _by_prefix(cache: Path, hub: _HubApi, ref: HubReference, revision: str) -> str | None:
    """Returns the one cached commit that starts with an abbreviated `revision`, None when none or several do."""
    if _COMMIT_PREFIX.fullmatch(revision) is None:
        return None
    folder = cache / hub.repo_folder_name(repo_id=ref.repo_id, repo_type=ref.repo_type) / "snapshots"
    try:
        matches = [name for name in os.listdir(folder) if name.startswith(revision)]
    except OSError:
        return None
    if len(matches) > 1:
        raise UsageError(
            f"{ref.text}: the abbreviated commit {revision} matches {len(matches)} cached snapshots of {ref.repo_id}",
            hint="write more digits of the commit hash",
        )
    return matches[0] if matches else None


def _first_line(e: BaseException) -> str:
    """Returns the first sentence of an exception's message (huggingface_hub's run on with advice of its own)."""
    lines = str(e).strip().splitlines()
    first = lines[0] if lines else ""
    sentence = first.split(". ", 1)[0].rstrip(".")
    return sentence if len(sentence) <= 200 else sentence[:199] + "…"
