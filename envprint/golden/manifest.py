"""A golden bundle on disk: its manifest (probes, files, columns, kinds, tolerances) and its files, checked.

``DIR/manifest.json`` (docs/golden.md, "The bundle")::

    {"format": "envprint-golden", "version": 1,
     "baseline": {"file": "model/envprint.fp", "trust": "verified", "keyids": [...]} | null,
     "probes": {NAME: {"inputs": "NAME.inputs.jsonl", "expected": "NAME.expected.jsonl",
                       "labels": "NAME.labels.jsonl", "rows": N, "probe_version": 1,
                       "input_form": "rows", "input_dtype": null,
                       "input_columns": {COL: {"kind": KIND}},
                       "columns": {COL: {"kind": KIND, "rtol": R, "atol": A}},
                       "sha256": {FILE: HEX}}}}

KIND is one of float, int, bool, str, datetime. A reader refuses a newer ``version`` and any file
name that is not a plain name inside DIR; the readers of the bundle's files refuse one whose
sha256 is not the manifest's (a bundle is compared as it was exported).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envprint._files import read_regular
from envprint.golden.errors import GoldenFormatError
from envprint.golden.jsonl import MAX_FILE_BYTES, read_rows

__all__ = [
    "FORMAT",
    "KINDS",
    "MANIFEST",
    "VERSION",
    "Baseline",
    "Column",
    "Manifest",
    "ProbeEntry",
    "outputs_file",
    "parse_manifest",
    "read_expected",
    "read_input_lines",
    "read_labels",
    "read_manifest",
]

FORMAT = "envprint-golden"
VERSION = 1
MANIFEST = "manifest.json"
KINDS = ("float", "int", "bool", "str", "datetime")
#: how envprint's Python side hands the decoded inputs to the function (ports ignore it)
INPUT_FORMS = ("rows", "dataframe", "columns", "values", "array")
_MAX_MANIFEST_BYTES = 64 << 20
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]*")
_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_HEX = re.compile(r"[0-9a-f]{64}")


def outputs_file(name: str) -> str:
    """Returns the file name an implementation writes probe `name`'s outputs to: ``NAME.outputs.jsonl``."""
    return f"{name}.outputs.jsonl"


@dataclass(frozen=True)
class Column:
    """One column: its kind and, for outputs, the tolerance a value is compared within."""

    kind: str
    rtol: float = 0.0
    atol: float = 0.0

    @property
    def exact(self) -> bool:
        """Returns whether values must be equal (no tolerance)."""
        return self.rtol == 0.0 and self.atol == 0.0


@dataclass(frozen=True)
class ProbeEntry:
    """One transform probe of a bundle: its files, row count, columns and tolerances."""

    name: str
    rows: int
    inputs: str
    expected: str
    labels: str | None
    input_columns: Mapping[str, Column]
    columns: Mapping[str, Column]
    input_form: str = "rows"
    input_dtype: str | None = None
    probe_version: int = 1
    #: file name -> lowercase hex sha256 of its bytes, checked before a file is used
    sha256: Mapping[str, str] = field(default_factory=dict)

    @property
    def outputs(self) -> str:
        """Returns the name of the outputs file an implementation writes for this probe."""
        return outputs_file(self.name)

    def to_data(self) -> dict[str, Any]:
        """Returns the manifest entry as JSON-safe data."""
        return {
            "inputs": self.inputs,
            "expected": self.expected,
            "labels": self.labels,
            "rows": self.rows,
            "probe_version": self.probe_version,
            "input_form": self.input_form,
            "input_dtype": self.input_dtype,
            "input_columns": {k: {"kind": c.kind} for k, c in self.input_columns.items()},
            "columns": {k: {"kind": c.kind, "rtol": c.rtol, "atol": c.atol} for k, c in self.columns.items()},
            "sha256": dict(self.sha256),
        }


@dataclass(frozen=True)
class Baseline:
    """The signed fingerprint the expected outputs were checked against at export."""

    file: str
    trust: str  # "verified", "unverified" or "unsigned" (envprint.codec.read)
    keyids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    """A bundle's manifest: its probes in export order, and the baseline they were checked against."""

    probes: Mapping[str, ProbeEntry]
    baseline: Baseline | None = None

    def to_data(self) -> dict[str, Any]:
        """Returns ``manifest.json`` as JSON-safe data."""
        baseline = None
        if self.baseline is not None:
            baseline = {"file": self.baseline.file, "trust": self.baseline.trust, "keyids": list(self.baseline.keyids)}
        return {
            "format": FORMAT,
            "version": VERSION,
            "baseline": baseline,
            "probes": {name: entry.to_data() for name, entry in self.probes.items()},
        }

    def encode(self) -> bytes:
        """Returns ``manifest.json``'s bytes: indented, keys in a fixed order, so exports diff cleanly."""
        return (json.dumps(self.to_data(), indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()

    def describe(self) -> list[str]:
        """Returns one line per probe: name, rows, output columns and their tolerances."""
        out = []
        for entry in self.probes.values():
            columns = ", ".join(
                f"{name} ({c.kind}{'' if c.exact else f', rtol {c.rtol:g}, atol {c.atol:g}'})"
                for name, c in entry.columns.items()
            )
            out.append(f"{entry.name}: {entry.rows} row(s) → {columns}")
        return out


def read_manifest(directory: str | os.PathLike[str]) -> Manifest:
    """Returns the manifest of the bundle in `directory`; raises `GoldenFormatError` when it is not one."""
    root = Path(directory)
    if not root.is_dir():
        raise GoldenFormatError(
            f"{root}: no such bundle directory",
            hint="export one with `envprint golden export --probes-from MODULE -o DIR`",
        )
    path = root / MANIFEST
    data = read_regular(path, _MAX_MANIFEST_BYTES, "golden bundle manifest", error=GoldenFormatError)
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GoldenFormatError(f"{path}: not a JSON document ({e})") from None
    return parse_manifest(doc, source=str(path))


def read_expected(bundle: str | os.PathLike[str], entry: ProbeEntry) -> list[dict[str, Any]]:
    """Returns the expected rows of a bundle's probe, after checking the file's digest and row count."""
    return _bundle_rows(Path(bundle), entry, entry.expected)


def read_labels(bundle: str | os.PathLike[str], entry: ProbeEntry) -> list[str] | None:
    """Returns the row labels of a bundle's probe (one JSON string per line), None when it has none."""
    if entry.labels is None:
        return None
    path = Path(bundle) / entry.labels
    data = _checked_bytes(path, entry, entry.labels)
    try:
        lines = data.decode("utf-8").split("\n")  # not splitlines(): U+2028 may stand in a label
        labels = [json.loads(line) for line in (lines[:-1] if lines[-1] == "" else lines)]
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GoldenFormatError(f"{path}: not one JSON string per line ({e})") from None
    if len(labels) != entry.rows or not all(isinstance(x, str) for x in labels):
        raise GoldenFormatError(f"{path}: expected {entry.rows} JSON strings, one per row")
    return labels


def read_input_lines(bundle: str | os.PathLike[str], entry: ProbeEntry) -> list[str]:
    """Returns the lines of a bundle probe's inputs file (JSON text, one row each), digest and count checked."""
    path = Path(bundle) / entry.inputs
    try:
        lines = _checked_bytes(path, entry, entry.inputs).decode("utf-8").split("\n")
    except UnicodeDecodeError as e:
        raise GoldenFormatError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None
    if lines[-1] == "":
        lines.pop()
    if len(lines) != entry.rows:
        raise GoldenFormatError(f"{path}: {len(lines)} row(s), the manifest says {entry.rows}")
    return lines


def _bundle_rows(root: Path, entry: ProbeEntry, file: str) -> list[dict[str, Any]]:
    path = root / file
    _checked_bytes(path, entry, file)
    rows = read_rows(path, what="golden bundle")
    if len(rows) != entry.rows:
        raise GoldenFormatError(f"{path}: {len(rows)} row(s), the manifest says {entry.rows}")
    return rows


def _checked_bytes(path: Path, entry: ProbeEntry, file: str) -> bytes:
    """Returns the bytes of a bundle file whose sha256 matches the manifest's (a bundle is not edited)."""
    data = read_regular(path, MAX_FILE_BYTES, "golden bundle", error=GoldenFormatError)
    digest = entry.sha256.get(file)
    if digest is not None and hashlib.sha256(data).hexdigest() != digest:
        raise GoldenFormatError(
            f"{path}: changed since the bundle was exported (its sha256 is not the manifest's)",
            hint="export the bundle again with `envprint golden export`; a bundle is compared as exported",
        )
    return data


def parse_manifest(doc: Any, *, source: str = MANIFEST) -> Manifest:
    """Returns the manifest `doc` (parsed JSON) describes; raises `GoldenFormatError` naming the bad field."""
    top = _Fields(doc, source, "")
    if top.get("format", str) != FORMAT:
        raise GoldenFormatError(f"{source}: not a golden bundle manifest (format is not {FORMAT!r})")
    version = top.get("version", int)
    if version > VERSION:
        raise GoldenFormatError(
            f"{source}: bundle version {version} is newer than this envprint reads ({VERSION})",
            hint="upgrade envprint (pip install -U envprint) to compare against this bundle",
        )
    if version < 1:
        raise GoldenFormatError(f"{source}: version {version} is not a bundle version")
    baseline = None
    if doc.get("baseline") is not None:
        b = top.object("baseline")
        keyids = b.get("keyids", list)
        baseline = Baseline(b.get("file", str), b.get("trust", str), tuple(str(k) for k in keyids))
    probes = {}
    for name, value in top.object("probes").items():
        if not _NAME.fullmatch(name):
            raise GoldenFormatError(f"{source}: probes: {name!r} is not a probe name (letters, digits, '_', '-')")
        probes[name] = _entry(name, _Fields(value, source, f"probes.{name}"))
    return Manifest(probes, baseline)


def _entry(name: str, f: _Fields) -> ProbeEntry:
    files = {key: f.get(key, str) for key in ("inputs", "expected")}
    labels = f.optional("labels", str)
    for key, file in [*files.items(), ("labels", labels)]:
        if file is not None and (not _FILE.fullmatch(file) or file == MANIFEST):
            raise f.error(key, f"{file!r} is not a plain file name inside the bundle")
    rows = f.get("rows", int)
    if rows < 0:
        raise f.error("rows", f"{rows} is not a row count")
    form = f.get("input_form", str)
    if form not in INPUT_FORMS:
        raise f.error("input_form", f"{form!r} is not one of {', '.join(INPUT_FORMS)}")
    digests = {}
    for file, digest in f.object("sha256").items():
        if not isinstance(digest, str) or not _HEX.fullmatch(digest):
            raise f.error(f"sha256.{file}", "not a lowercase hex sha256")
        digests[file] = digest
    return ProbeEntry(
        name=name,
        rows=rows,
        inputs=files["inputs"],
        expected=files["expected"],
        labels=labels,
        input_columns=_columns(f, "input_columns", tolerance=False),
        columns=_columns(f, "columns", tolerance=True),
        input_form=form,
        input_dtype=f.optional("input_dtype", str),
        probe_version=f.get("probe_version", int),
        sha256=digests,
    )


def _columns(f: _Fields, key: str, *, tolerance: bool) -> dict[str, Column]:
    out = {}
    for column, value in f.object(key).items():
        c = _Fields(value, f.source, f"{f.where}.{key}.{column}")
        kind = c.get("kind", str)
        if kind not in KINDS:
            raise c.error("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
        rtol = atol = 0.0
        if tolerance:
            rtol, atol = c.number("rtol"), c.number("atol")
        out[column] = Column(kind, rtol, atol)
    return out


class _Fields:
    """Typed access to one JSON object of the manifest, with errors that name the field."""

    def __init__(self, value: Any, source: str, where: str) -> None:
        if not isinstance(value, dict):
            raise GoldenFormatError(f"{source}: {where or 'the document'} must be a JSON object")
        self.value, self.source, self.where = value, source, where

    def error(self, key: str, problem: str) -> GoldenFormatError:
        path = f"{self.where}.{key}" if self.where else key
        return GoldenFormatError(f"{self.source}: {path}: {problem}")

    def get(self, key: str, kind: Any) -> Any:
        if key not in self.value:
            raise self.error(key, "missing")
        value = self.value[key]
        if isinstance(value, bool) or not isinstance(value, kind):  # no manifest field is a boolean
            raise self.error(key, f"must be a JSON {_JSON_TYPE[kind]}, not {json.dumps(value)[:60]}")
        return value

    def optional(self, key: str, kind: Any) -> Any:
        return None if self.value.get(key) is None else self.get(key, kind)

    def object(self, key: str) -> Mapping[str, Any]:
        value: Mapping[str, Any] = self.get(key, dict)
        return value

    def number(self, key: str) -> float:
        value = self.get(key, (int, float))
        if not (value >= 0 and value != float("inf")):
            raise self.error(key, f"{value!r} is not a finite number >= 0")
        return float(value)


_JSON_TYPE: dict[Any, str] = {str: "string", int: "integer", dict: "object", list: "array", (int, float): "number"}
