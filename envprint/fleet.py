"""Fleet grouping: find the executor or replica that computes differently from the rest (or from training).

    from envprint.fleet import find_files, group, read_files

    files, unreadable = read_files(find_files(["fleet/"]))
    report = group(files, reference=envprint.load("train.fp"))
    report.exit_code        # 0: every fingerprint matches the reference; 1: some group differs

Fingerprints are grouped by `envprint.diff.identity_digest`, so equal environments group together
whatever their hostnames, PIDs or timestamps. The reference is the training fingerprint when one is
given, else the largest group (a tie goes to the group holding the earliest input, and the report
says so). Every other group carries the `DiffReport` of its first member against the reference:
the same findings and explanations as ``envprint diff REFERENCE MEMBER``. Like `DiffReport`, the
report carries its own counts, verdict and exit code; renderers live in `envprint.render.fleet`.

Reading thousands of files fast: `read_files` verifies each file (when keys are given), decodes its
`meta` and computes a *content key*, the sha256 of its payload without the fields the model marks
descriptive (`envprint.model.descriptive`) and without the bits of probe results that cannot be
compared (random per process, or unstable). Equal content keys imply equal identity digests,
since identity is a function of the remaining fields only, so each distinct content key is
decoded in full and digested once, from the first file that has it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgpack

from envprint._base import is_unavailable
from envprint._serde import SchemaMismatch, from_data, type_hints
from envprint.codec import Loaded, authenticate, decode_fingerprint, unpack_payload
from envprint.diffing import diff, identity_digest
from envprint.envelope import Envelope, Trust, payload_type_for, read_envelope
from envprint.errors import EnvprintError, FingerprintFormatError, UsageError
from envprint.model import SCHEMA_VERSION, Fingerprint, Meta, ProbeResult, Unavailable

if TYPE_CHECKING:
    from envprint.report import DiffReport
    from envprint.signing import TrustedKeysLike

__all__ = [
    "FleetFile",
    "FleetGroup",
    "FleetReport",
    "Member",
    "Unreadable",
    "find_files",
    "group",
    "member_name",
    "read_files",
]

#: the file suffix `find_files` looks for in directories
SUFFIX = ".fp"


@dataclass(frozen=True)
class Member:
    """One fingerprint of the fleet and how to name it."""

    name: str  # the file as given, else "driver" / "executor ID" / the label / "fingerprint N"
    file: str | None
    host: str  # the "host" tag when present (Spark's executor host), else the captured hostname
    label: str | None
    tags: Mapping[str, str]
    trust: Trust  # of the file it was read from, or live (captured in memory)


@dataclass(frozen=True)
class FleetGroup:
    """Fingerprints with one identity digest, and how their first member differs from the reference."""

    digest: str
    members: tuple[Member, ...]
    #: the group is the reference (largest group) or has the given reference's digest
    reference: bool
    #: the first member diffed against the reference; None for the reference group
    diff: DiffReport | None

    @property
    def representative(self) -> Member:
        """Returns the member whose diff stands for the group (the first in input order)."""
        return self.members[0]

    @property
    def equivalent(self) -> bool:
        """Returns whether the group computes like the reference (no finding above info)."""
        return self.diff is None or self.diff.equivalent


@dataclass(frozen=True)
class Unreadable:
    """An input that could not be read or was not trusted, with the reason."""

    file: str
    error: str
    exit_code: int  # 2 unreadable, 3 untrusted (as the error would exit on its own)


@dataclass(frozen=True)
class FleetReport:
    """The groups of a fleet against one reference, with its own counts, verdict and exit code."""

    #: the reference group first (when a member has the reference's digest), then by size, then input order
    groups: tuple[FleetGroup, ...]
    reference: Member
    reference_digest: str
    #: "given" (a training fingerprint) or "largest group"
    reference_source: str
    #: how the reference was chosen when that needs saying (a tie between groups), else ""
    reference_note: str = ""
    #: inputs left out because they could not be read (``--skip-unreadable``)
    skipped: tuple[Unreadable, ...] = ()

    @property
    def fingerprints(self) -> int:
        """Returns the number of fingerprints grouped (a given reference is not counted)."""
        return sum(len(g.members) for g in self.groups)

    @property
    def differing(self) -> tuple[FleetGroup, ...]:
        """Returns the groups that compute differently from the reference."""
        return tuple(g for g in self.groups if not g.equivalent)

    @property
    def counts(self) -> dict[str, int]:
        """Returns fingerprints, groups, matching and differing (fingerprints), differing_groups, skipped."""
        differing = sum(len(g.members) for g in self.differing)
        return {
            "fingerprints": self.fingerprints,
            "groups": len(self.groups),
            "matching": self.fingerprints - differing,
            "differing": differing,
            "differing_groups": len(self.differing),
            "skipped": len(self.skipped),
        }

    @property
    def equivalent(self) -> bool:
        """Returns whether every fingerprint computes like the reference."""
        return not self.differing

    @property
    def exit_code(self) -> int:
        """Returns the CLI exit status: 0 when every fingerprint matches the reference, 1 otherwise."""
        return 0 if self.equivalent else 1

    @property
    def verdict(self) -> str:
        """Returns a one-line verdict, e.g. "DIFFERENT: 1 of 5 fingerprints (1 of 2 groups) differ from …"."""
        c = self.counts
        n = c["fingerprints"]
        if self.equivalent:
            extra = f" ({c['groups']} groups, differing in info-level fields only)" if c["groups"] > 1 else ""
            return f"MATCH: all {n} fingerprint{'s' if n != 1 else ''} match the reference{extra}"
        return (
            f"DIFFERENT: {c['differing']} of {n} fingerprints ({c['differing_groups']} of {c['groups']} groups)"
            " differ from the reference"
        )


# ---------------------------------------------------------------------------------------------- input


class _Environment:
    """The fingerprint of the first file with a given content key, decoded and digested on first use."""

    def __init__(self, envelope: Envelope, source: str) -> None:
        self.envelope = envelope
        self.source = source
        self._fingerprint: Fingerprint | None = None
        self._digest: str | None = None

    def fingerprint(self) -> Fingerprint:
        if self._fingerprint is None:
            self._fingerprint = decode_fingerprint(self.envelope, source=self.source)
        return self._fingerprint

    def digest(self) -> str:
        if self._digest is None:
            self._digest = identity_digest(self.fingerprint())
        return self._digest


@dataclass(frozen=True)
class FleetFile:
    """A fingerprint file read for grouping: who it is, and a key that is equal for equal environments."""

    member: Member
    #: sha256 of the payload without descriptive fields: equal keys imply equal identity digests
    content_key: str
    _environment: _Environment = field(repr=False, compare=False)


def find_files(paths: Iterable[str | Path]) -> list[Path]:
    """Returns the files named, with every ``*.fp`` under the directories named (recursively, sorted).

    A path that does not exist is returned as is, so reading it reports it like any unreadable input.
    """
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(sorted(f for f in p.rglob(f"*{SUFFIX}") if f.is_file()) if p.is_dir() else [p])
    return list(dict.fromkeys(out))


def read_files(
    files: Sequence[str | Path],
    *,
    trusted_keys: TrustedKeysLike | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[FleetFile], list[Unreadable]]:
    """Returns (the fingerprint files read, the inputs that could not be read or verified), in input order.

    With `trusted_keys`, a file that no trusted key verifies is unreadable with exit code 3.
    Each file's envelope and meta are checked; its other fields are decoded (and checked) once
    per distinct content key, from the first file that has it. `progress(done, total)` follows
    each file.
    """
    keys: TrustedKeysLike | None = None
    if trusted_keys is not None:
        from envprint.signing import Keyring  # defers cryptography to fleets read with keys

        keys = Keyring.of(trusted_keys)  # parse the key files once, not once per fingerprint
    environments: dict[str, _Environment] = {}
    read: list[FleetFile] = []
    unreadable: list[Unreadable] = []
    for done, f in enumerate(files, 1):
        try:
            read.append(_read_one(Path(f), keys, environments))
        except EnvprintError as e:
            unreadable.append(Unreadable(str(f), e.message, e.exit_code))
        if progress is not None:
            progress(done, len(files))
    return read, unreadable


def _read_one(path: Path, keys: TrustedKeysLike | None, environments: dict[str, _Environment]) -> FleetFile:
    source = str(path)
    envelope = read_envelope(path)
    trust, _ = authenticate(envelope, keys, source=source)
    if envelope.payload_type == payload_type_for(SCHEMA_VERSION):
        data = unpack_payload(envelope, source=source)
        meta = _meta(data.get("meta"), source)
        key = "c:" + hashlib.sha256(msgpack.packb(_strip(Fingerprint, data), use_bin_type=True)).hexdigest()
        environment = environments.get(key) or _Environment(envelope, source)
        environment.digest()  # the first file of an environment is decoded now, so its errors name it
    else:  # another schema version: decode in full (migrations apply) and key by identity itself
        environment = _Environment(envelope, source)
        meta = environment.fingerprint().meta
        key = "i:" + environment.digest()
    environment = environments.setdefault(key, environment)
    return FleetFile(_member_of(meta, source, trust, source), key, environment)


def _meta(data: Any, source: str) -> Meta:
    try:
        meta: Meta = from_data(Meta, data, "meta")
    except SchemaMismatch as e:
        raise FingerprintFormatError(f"{source}: not a valid fingerprint: {e}") from None
    if meta.schema_version != SCHEMA_VERSION:
        raise FingerprintFormatError(
            f"{source}: payload says schema {meta.schema_version!r} but its type says v{SCHEMA_VERSION}"
        )
    return meta


# ------------------------------------------------------------------------------------ content keys


#: a probe result that depends on the per-process hash seed, or that two runs in one process did not
#: reproduce, "can never be compared" (`ProbeResult`): its identity is its state, not its bits
_INCOMPARABLE_PROBE = frozenset({"digest", "outputs", "flags"})


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return type_hints(cls)


@functools.cache
def _descriptive_fields(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls) if f.metadata.get("descriptive"))


@functools.cache
def _fields_to_walk(cls: type) -> dict[str, Any]:
    """Returns the kept fields of `cls` whose values can hold descriptive fields, with their types."""
    drop = _descriptive_fields(cls)
    return {name: tp for name, tp in _hints(cls).items() if name not in drop and _has_descriptive(tp)}


@functools.cache
def _has_descriptive(tp: Any) -> bool:
    """Returns whether plain data of type `tp` can hold a descriptive field (so `_strip` must walk it)."""
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if _descriptive_fields(tp):
            return True
        # a recursive type (GpuDevice.mig_devices) has a descriptive field itself, so this ends
        return any(_has_descriptive(h) for h in _hints(tp).values())
    return any(_has_descriptive(a) for a in typing.get_args(tp) if a is not Ellipsis)


def _strip(tp: Any, data: Any) -> Any:
    """Returns plain `data` of schema type `tp` without its descriptive fields, keeping everything else."""
    if not _has_descriptive(tp):
        return data
    if isinstance(data, dict):
        cls = _dataclass_in(tp)
        if cls is not None:
            if is_unavailable(data):  # Unavailable(reason) in the dataclass's place
                return data
            walk, drop = _fields_to_walk(cls), _descriptive_fields(cls)
            if cls is ProbeResult and (data.get("random_per_process") is True or data.get("stable") is False):
                drop = drop | _INCOMPARABLE_PROBE  # bits that differ run to run are not part of any identity
            return {k: (_strip(walk[k], v) if k in walk else v) for k, v in data.items() if k not in drop}
        mapping = _mapping_value_in(tp)
        if mapping is not None:
            return {k: _strip(mapping, v) for k, v in data.items()}
    elif isinstance(data, list):
        item = _tuple_item_in(tp)
        if item is not None:
            return [_strip(item, v) for v in data]
    return data


@functools.cache
def _union(tp: Any) -> tuple[Any, ...]:
    return typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)


@functools.cache
def _dataclass_in(tp: Any) -> type | None:
    return next(
        (a for a in _union(tp) if isinstance(a, type) and dataclasses.is_dataclass(a) and a is not Unavailable), None
    )


@functools.cache
def _mapping_value_in(tp: Any) -> Any:
    for a in _union(tp):
        if typing.get_origin(a) in (Mapping, dict):
            return typing.get_args(a)[1]
    return None


@functools.cache
def _tuple_item_in(tp: Any) -> Any:
    for a in _union(tp):
        if typing.get_origin(a) is tuple:
            return typing.get_args(a)[0]
    return None


# ------------------------------------------------------------------------------------------- grouping


def group(
    fingerprints: Sequence[FleetFile | Loaded | Fingerprint],
    *,
    reference: Loaded | Fingerprint | None = None,
    skipped: Sequence[Unreadable] = (),
) -> FleetReport:
    """Returns the fleet grouped by identity digest, each group other than the reference's diffed against it.

    `reference` is the training fingerprint when there is one; without it the largest group is the
    reference. When `reference` is itself among `fingerprints` (the same object or file), it is not
    counted as a member. `skipped` lists inputs that could not be read, for the report.
    """
    ref: _Entry | None = None if reference is None else _entry(reference, "reference")
    entries = [_entry(item, f"fingerprint {i + 1}") for i, item in enumerate(fingerprints)]
    if ref is not None:
        entries = [e for e in entries if not _same_input(e, ref)]
    if not entries:
        raise UsageError("no fingerprints to group", hint="pass .fp files or directories holding them")
    by_digest: dict[str, list[_Entry]] = {}
    for e in entries:
        by_digest.setdefault(e.digest(), []).append(e)

    note = ""
    if ref is not None:
        ref_digest, source = identity_digest(ref.fingerprint()), "given"
    else:
        ref_digest, note = _largest(by_digest)
        ref, source = by_digest[ref_digest][0], "largest group"
    ordered = sorted(by_digest.items(), key=lambda item: (item[0] != ref_digest, -len(item[1])))
    groups = tuple(
        FleetGroup(
            digest,
            tuple(e.member for e in es),
            digest == ref_digest,
            None if digest == ref_digest else _diff(ref, es[0]),
        )
        for digest, es in ordered
    )
    return FleetReport(groups, ref.member, ref_digest, source, note, tuple(skipped))


@dataclass(frozen=True)
class _Entry:
    """One input of `group`: its member, how to get its fingerprint and identity digest, what it was."""

    member: Member
    fingerprint: Callable[[], Fingerprint]
    digest: Callable[[], str]
    item: object


def _entry(item: FleetFile | Loaded | Fingerprint, unnamed: str) -> _Entry:
    if isinstance(item, FleetFile):
        return _Entry(item.member, item._environment.fingerprint, item._environment.digest, item)
    if isinstance(item, Loaded):
        fp, file, trust = item.fingerprint, (str(item.path) if item.path else None), item.trust
    else:
        fp, file, trust = item, None, Trust.live
    member = _member_of(fp.meta, file, trust, file or member_name(fp.meta, unnamed))
    return _Entry(member, lambda: fp, functools.cache(lambda: identity_digest(fp)), item)


def _same_input(e: _Entry, ref: _Entry) -> bool:
    if e.item is ref.item:
        return True
    a, b = e.member.file, ref.member.file
    return a is not None and b is not None and Path(a).resolve() == Path(b).resolve()


def _largest(by_digest: Mapping[str, list[_Entry]]) -> tuple[str, str]:
    """Returns (the digest of the largest group, a note when a tie had to be broken).

    `by_digest` keeps first-appearance order, so `max` keeps the group seen first among equals.
    """
    digest = max(by_digest, key=lambda d: len(by_digest[d]))
    size = len(by_digest[digest])
    tied = sum(1 for es in by_digest.values() if len(es) == size)
    if tied == 1:
        return digest, ""
    first = by_digest[digest][0].member.name
    return digest, (
        f"{tied} groups tie at {size} fingerprint{'s' if size != 1 else ''} each; the reference is the group of "
        f"{first}, the earliest input (give a reference, e.g. the training fingerprint, to choose)"
    )


def _diff(reference: _Entry, entry: _Entry) -> DiffReport:
    return diff(
        reference.fingerprint(),
        entry.fingerprint(),
        a_label=reference.member.name,
        b_label=entry.member.name,
        a_trust=reference.member.trust,
        b_trust=entry.member.trust,
    )


def member_name(meta: Meta, unnamed: str) -> str:
    """Returns how to name an in-memory fingerprint: "driver", "executor ID", its label, else `unnamed`."""
    tags = meta.tags
    if tags.get("role") == "driver":
        return "driver"
    if tags.get("role") == "executor" and "executor_id" in tags:
        return f"executor {tags['executor_id']}"
    return meta.label or unnamed


def _member_of(meta: Meta, file: str | None, trust: Trust, name: str) -> Member:
    host = meta.tags.get("host") or meta.hostname
    return Member(name=name, file=file, host=host, label=meta.label, tags=dict(meta.tags), trust=trust)
