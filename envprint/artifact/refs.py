"""Artifact references: a model named by a scheme (``hf://ORG/NAME@REV``) instead of a path, resolved in one place.

A scheme maps a reference to a `ResolvedArtifact`: the local model file or directory, its default
fingerprint path, and a description recorded for the user. `resolve` accepts a plain path too, so
`capture`, `verify`, `check` and `guard()` all go through it; `locate` turns what a user named
(a model, a fingerprint, a reference, or a model and a fingerprint) into the fingerprint to read and
the artifact to check.

Built in: ``hf://`` (a Hugging Face Hub cache snapshot, resolved offline). Another scheme is added
with `register`, its resolver given as a callable or as ``"module:function"`` (imported on first use,
so an optional integration costs nothing until a reference names it).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path

from envprint._base import Record, record
from envprint.artifact import hub
from envprint.artifact.places import default_fp_path, find_fingerprint
from envprint.artifact.tree import FINGERPRINT_NAME
from envprint.errors import UsageError


@record
class ResolvedArtifact(Record):
    """A model file or directory on this machine, found from what the user named."""

    path: Path  # the local model file or directory
    fingerprint: Path  # where its fingerprint goes by default, and is looked for first
    #: the reference pinned to what was found (e.g. "hf://org/name@<commit>"), recorded in the manifest's
    #: `source`; None for a plain path
    reference: str | None = None
    #: how it was resolved, for people: "hf://org/name (main → <commit>) from the Hub cache /data/hub"
    description: str = ""
    #: other places a fingerprint may be found (a fingerprint uploaded inside a Hub snapshot)
    also: tuple[Path, ...] = ()


Resolver = Callable[[str], ResolvedArtifact]


@record
class Scheme(Record):
    """A kind of artifact reference, recognised by its prefix."""

    prefix: str  # "hf://", "models:/"
    #: the resolver, or "module:function" imported when a reference first needs it
    resolver: Resolver | str
    #: the pip extra that provides what the resolver needs, named in errors
    extra: str | None = None
    #: resolves from this machine's state alone (no network): a pinned reference recorded in a
    #: signed manifest may then be followed to find the model when no path is given
    offline: bool = False

    def load(self) -> Resolver:
        """Returns the resolver, importing it first when it is given by name."""
        if not isinstance(self.resolver, str):
            return self.resolver
        module, _, name = self.resolver.partition(":")
        try:
            found: Resolver = getattr(importlib.import_module(module), name)
        except ImportError as e:
            extra = f" (pip install 'envprint[{self.extra}]')" if self.extra else ""
            missing = e.name or module
            raise UsageError(f"{self.prefix} references need {missing}, which is not installed{extra}") from None
        return found


_SCHEMES: dict[str, Scheme] = {}


def register(scheme: Scheme, *, replace: bool = False) -> None:
    """Registers a reference scheme; a prefix already taken raises `UsageError` unless `replace`."""
    if scheme.prefix in _SCHEMES and not replace:
        raise UsageError(f"the artifact reference scheme {scheme.prefix} is already registered")
    _SCHEMES[scheme.prefix] = scheme


def schemes() -> tuple[Scheme, ...]:
    """Returns the registered reference schemes."""
    return tuple(_SCHEMES.values())


def scheme_of(target: str | os.PathLike[str]) -> Scheme | None:
    """Returns the scheme of a reference, None when `target` is a path."""
    if not isinstance(target, str):
        return None
    return next((s for prefix, s in _SCHEMES.items() if target.startswith(prefix)), None)


def is_reference(target: str | os.PathLike[str]) -> bool:
    """Returns whether `target` is a reference of a registered scheme rather than a path."""
    return scheme_of(target) is not None


def resolve(target: str | os.PathLike[str]) -> ResolvedArtifact:
    """Returns the local artifact `target` names: a reference resolved by its scheme, or a path as it is.

    A path that is a Hub cache snapshot gets the snapshot's pinned reference and fingerprint place.
    Raises `UsageError` when a reference cannot be resolved (not cached, malformed, extra missing).
    """
    scheme = scheme_of(target)
    if scheme is not None:
        assert isinstance(target, str)
        return scheme.load()(target)
    snapshot = hub.snapshot_of(target)
    if snapshot is not None:
        return _snapshot(Path(target), snapshot, snapshot.reference)
    return ResolvedArtifact(Path(target), default_fp_path(target))


def _snapshot(path: Path, snapshot: hub.HubSnapshot, description: str) -> ResolvedArtifact:
    return ResolvedArtifact(
        path, snapshot.fingerprint, snapshot.reference, description, also=(snapshot.path / FINGERPRINT_NAME,)
    )


def _resolve_hf(reference: str) -> ResolvedArtifact:
    snapshot, description = hub.resolve_reference(reference)
    return _snapshot(snapshot.path, snapshot, description)


register(Scheme(hub.SCHEME, _resolve_hf, extra="huggingface", offline=True))
register(Scheme("models:/", "envprint.integrations.mlflow:resolve", extra="mlflow"))  # MLflow registry
register(Scheme("runs:/", "envprint.integrations.mlflow:resolve", extra="mlflow"))  # an MLflow run's artifact


@record
class Located(Record):
    """The fingerprint to read and the artifact to check, from what the user named."""

    fingerprint: Path
    #: the artifact named (a path or a resolved reference); None: the fingerprint's own default place
    artifact: Path | None
    description: str = ""  # how a reference was resolved, "" for paths


def locate(
    named: str | os.PathLike[str],
    *,
    fingerprint: str | os.PathLike[str] | None = None,
    artifact: str | os.PathLike[str] | None = None,
) -> Located:
    """Returns the fingerprint and artifact that `named` (and the optional explicit ones) designate.

    * `named` a reference: the resolved artifact, and its fingerprint (`fingerprint`, else where the
      scheme puts it);
    * `named` a model path with `fingerprint`: both as given;
    * `named` a model path or a .fp file: `find_fingerprint`, and the model when one was named;
    * `artifact` (a path or a reference) names the model to check explicitly.

    Raises `UsageError` when a reference cannot be resolved or no fingerprint is found.
    """
    description = ""
    model: Path | None = None
    if is_reference(named) or fingerprint is not None:
        resolved = resolve(named)
        model, description = resolved.path, resolved.description
        fp = Path(fingerprint) if fingerprint is not None else _first_existing(named, resolved)
    else:
        fp = find_fingerprint(named)
        model = Path(named) if Path(named) != fp else None
    if artifact is not None:
        resolved = resolve(artifact)
        model, description = resolved.path, resolved.description
    return Located(fp, model, description)


def _first_existing(named: str | os.PathLike[str], resolved: ResolvedArtifact) -> Path:
    candidates = (resolved.fingerprint, *resolved.also)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise UsageError(
        f"{named}: no fingerprint found for {resolved.reference or resolved.path} "
        f"(looked for {' and '.join(str(c) for c in candidates)})",
        hint=f"capture one with `envprint capture --artifact {named}`, or name the .fp file (--fingerprint FILE)",
    )


def fp_destination(artifact: str | os.PathLike[str] | None, output: str | os.PathLike[str] | None) -> Path:
    """Returns where `envprint capture` writes the fingerprint: `output`, else the artifact's default place.

    `artifact` is a path or a reference. Raises `UsageError` when that place is inside a Hugging Face
    Hub cache, where the Hub client may delete it (pass ``-o`` with a path outside the cache, or bind
    the snapshot folder, whose fingerprint goes beside the cache: that folder is created if needed).
    """
    resolved = resolve(artifact) if artifact is not None else None
    if output is not None:
        target = Path(output)
    elif resolved is not None:
        target = resolved.fingerprint
    else:
        return Path(FINGERPRINT_NAME)
    where = hub.cache_holding(target.parent)
    snapshot = hub.snapshot_of(resolved.path) if resolved is not None else None
    if where is None and snapshot is not None and _within(target, snapshot.cache):
        where = snapshot.cache
    if where is not None:
        raise UsageError(
            f"{target}: is inside the Hugging Face Hub cache ({where}), where the Hub client may delete it",
            hint="write the fingerprint outside the cache with -o PATH, or bind the snapshot folder "
            "(its fingerprint then goes beside the cache)",
        )
    if output is None and snapshot is not None:  # the folder beside the cache is envprint's to make
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"{target.parent}: cannot create it ({e.strerror or e})", hint="pass -o PATH") from None
    return target


def _within(path: Path, folder: Path) -> bool:
    real = os.path.realpath(path.parent)
    base = os.path.realpath(folder)
    return real == base or real.startswith(base + os.sep)
