"""`envprint golden export`: run the registered transform probes and write their golden bundle.

For each probe the export writes its inputs as JSON Lines, then **decodes them back and runs the
function on the decoded rows**: the expected outputs are what the function computes from exactly
what a Java, Go or Spark implementation reads, no more (a zone name, a numpy dtype, a pandas
category are not in the encoding). Before anything is written it checks that

* the inputs survive the encoding value for value (floats to the bit, datetimes with their offset);
* the function gives the same outputs twice (a bundle of a nondeterministic transform is useless);
* the outputs on the decoded inputs equal, within tolerance, those on the registered inputs;
* with a baseline, they equal what the signed fingerprint recorded at training (`envprint parity`'s
  comparison, with the tolerance training recorded).

The bundle is written into a new directory beside the target and renamed into place, manifest
last, so a reader never sees half a bundle (docs/golden.md, "The bundle").
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envprint import parity
from envprint._files import fsync_directory
from envprint.codec import read
from envprint.errors import EnvprintError, UsageError
from envprint.golden import shapes
from envprint.golden.compare import compare_rows
from envprint.golden.errors import GoldenExportError
from envprint.golden.jsonl import encode_rows, loads_row
from envprint.golden.manifest import MANIFEST, Baseline, Column, Manifest, ProbeEntry, read_manifest
from envprint.golden.report import ProbeComparison
from envprint.model import ProbeResult
from envprint.render.parity import parity_lines

if TYPE_CHECKING:
    from envprint.signing import TrustedKeysLike

__all__ = ["export_bundle"]

#: mismatch lines quoted in an export error
_QUOTED = 5


def export_bundle(
    directory: str | Path,
    *,
    names: Iterable[str] | None = None,
    modules: Iterable[str] = (),
    entry_points: bool = True,
    baseline: str | Path | None = None,
    trusted_keys: TrustedKeysLike | None = None,
) -> Manifest:
    """Returns the manifest of the golden bundle written to `directory` from the registered transform probes.

    `modules` and `entry_points` are imported first (`envprint.parity.discover`); `names` chooses
    probes (default: every registered one). With `baseline` (a ``.fp``, verified with
    `trusted_keys` when given) every exported probe's outputs must equal what the baseline
    recorded, and every probe it recorded must be exported. Raises `GoldenExportError` (exit 1)
    when the outputs cannot be vouched for, `UsageError` (exit 2) for what cannot be exported,
    `SignatureError` (exit 3) for a baseline that does not verify. `directory` must be new, empty
    or an earlier bundle (replaced whole).
    """
    target = Path(directory)
    _check_target(target)
    parity.discover(modules, entry_points=entry_points)
    transforms = _chosen(names)
    recorded: dict[str, ProbeResult] | None = None
    source: Baseline | None = None
    if baseline is not None:
        loaded = read(baseline, trusted_keys=trusted_keys)
        recorded = parity.recorded(loaded.fingerprint)
        source = Baseline(str(baseline), loaded.label.lower(), tuple(loaded.verified_keyids))
        _check_coverage(source, recorded, transforms, chosen=names is not None)
    files: dict[str, bytes] = {}
    entries = {}
    for t in transforms:
        entry, data = _build(t, recorded, source)
        entries[t.name] = entry
        files.update(data)
    manifest = Manifest(entries, source)
    _write(target, files, manifest.encode())
    return manifest


def _chosen(names: Iterable[str] | None) -> list[parity.Transform]:
    every = parity.registered()
    if not every:
        raise UsageError(
            "no transform probe is registered, so there is nothing to export",
            hint="pass --probes-from MODULE (or a .py file) whose import registers them with @envprint.probe",
        )
    if names is None:
        return list(every)
    wanted = list(dict.fromkeys(names))
    unknown = [n for n in wanted if parity.get(n) is None]
    if unknown:
        raise UsageError(
            f"no transform probe registered as {', '.join(map(repr, unknown))}; "
            f"registered: {', '.join(t.name for t in every)}"
        )
    return [t for t in every if t.name in wanted]


def _check_coverage(
    source: Baseline, recorded: Mapping[str, ProbeResult], transforms: Sequence[parity.Transform], *, chosen: bool
) -> None:
    where = f"{source.file} ({source.trust.upper()})"
    if not recorded:
        raise UsageError(
            f"{where}: records no transform (parity) probe to check the bundle against",
            hint="capture the baseline with `envprint capture --probes-from MODULE`",
        )
    names = {t.name for t in transforms}
    absent = [t.name for t in transforms if t.name not in recorded]
    if absent:
        raise GoldenExportError(
            f"{where} does not record {', '.join(absent)}: the bundle's expected outputs could not be checked",
            hint="record the baseline again with these probes registered, or leave them out with --probe",
        )
    left_out = [n for n in recorded if n not in names]
    if left_out and not chosen:
        raise GoldenExportError(
            f"{where} records {', '.join(left_out)}, not registered here: a bundle without them checks less than "
            "training recorded",
            hint="import the module that registers them (--probes-from), or choose the probes with --probe",
        )


@dataclass(frozen=True)
class _Run:
    result: Any  # the function's return value
    rows: list[dict[str, Any]]  # its output rows as JSON scalars
    kinds: dict[str, str]


def _build(
    t: parity.Transform, recorded: Mapping[str, ProbeResult] | None, source: Baseline | None
) -> tuple[ProbeEntry, dict[str, bytes]]:
    """Returns the manifest entry and the files of one probe, after every check of the module docstring."""
    rows, form, dtype = shapes.input_rows(t.inputs, probe=t.name)
    names = list(dict.fromkeys(k for r in rows for k in r))
    input_columns = {c: Column(shapes.kind_of([r.get(c, shapes.ABSENT) for r in rows])) for c in names}
    labels = list(t.row_labels) if t.row_labels is not None and len(t.row_labels) == len(rows) else None
    inputs = encode_rows(shapes.json_rows(rows, probe=t.name, what="input"), what=f"probe {t.name!r}: input row")
    lines = inputs.decode("utf-8").split("\n")[:-1]
    decoded = shapes.decode_inputs([loads_row(line) for line in lines], input_columns)  # what every port reads
    _check_inputs(t.name, rows, decoded, labels)

    def run(given: Any) -> _Run:
        try:
            result = t.fn(given)
        except EnvprintError:
            raise
        except Exception as e:  # the user's function failing: say which, on what
            raise UsageError(
                f"transform probe {t.name!r} raised {type(e).__name__}: {e}",
                hint="envprint golden export runs each transform on its inputs as decoded from the bundle's JSON",
            ) from None
        out, kinds = shapes.output_rows(result, len(rows), probe=t.name)
        return _Run(result, shapes.json_rows(out, probe=t.name, what="output"), kinds)

    def from_bundle() -> Any:
        return shapes.rebuild_inputs(decoded, form, dtype, names)

    first, second = run(from_bundle()), run(from_bundle())
    columns = {c: Column(k, t.rtol, t.atol) if k == "float" else Column(k) for c, k in first.kinds.items()}
    exact = {c: Column(spec.kind) for c, spec in columns.items()}
    _require(
        compare_rows(first.rows, second.rows, exact, name=t.name, labels=labels),
        t.name,
        "is not deterministic: two runs on the same inputs differ",
        "first run",
        "second run",
    )
    registered = run(copy.deepcopy(t.inputs))
    _require(
        compare_rows(registered.rows, first.rows, columns, name=t.name, labels=labels),
        t.name,
        "computes other outputs from the bundle's inputs than from its registered inputs: it depends on "
        "something the JSON encoding does not carry (a zone name, a Python or numpy type)",
        "registered inputs",
        "bundle inputs",
    )
    if recorded is not None and source is not None:
        _check_baseline(t, recorded[t.name], first.result, source)

    expected = encode_rows(first.rows, what=f"probe {t.name!r}: output row")
    files = {f"{t.name}.inputs.jsonl": inputs, f"{t.name}.expected.jsonl": expected}
    if labels is not None:
        files[f"{t.name}.labels.jsonl"] = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in labels).encode()
    entry = ProbeEntry(
        name=t.name,
        rows=len(rows),
        inputs=f"{t.name}.inputs.jsonl",
        expected=f"{t.name}.expected.jsonl",
        labels=f"{t.name}.labels.jsonl" if labels is not None else None,
        input_columns=input_columns,
        columns=columns,
        input_form=form,
        input_dtype=dtype,
        probe_version=t.version,
        sha256={name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    )
    return entry, files


def _check_inputs(
    name: str, rows: Sequence[Mapping[str, Any]], decoded: Sequence[Mapping[str, Any]], labels: Sequence[str] | None
) -> None:
    """Raises `GoldenExportError` naming the first input values the encoding does not carry unchanged."""
    lost = []
    for i, (a, b) in enumerate(zip(rows, decoded, strict=True)):
        for column in dict.fromkeys([*a, *b]):
            x, y = a.get(column, shapes.ABSENT), b.get(column, shapes.ABSENT)
            if (x is shapes.ABSENT) != (y is shapes.ABSENT) or not shapes.same_value(x, y):
                where = f"row {i}" + (f" ({labels[i]})" if labels else "")
                lost.append(f"{where}, column {column!r}: {x!r} is read back as {y!r}")
    if lost:
        raise GoldenExportError(
            f"transform probe {name!r}: {len(lost)} input value(s) do not survive the bundle's JSON encoding\n  "
            + "\n  ".join(lost[:_QUOTED]),
            hint="a string that reads as a date-time in a datetime column, a zone-aware value, or a nanosecond is "
            "not carried: change the inputs (docs/golden.md, Encoding)",
        )


def _require(result: ProbeComparison, name: str, problem: str, old: str, new: str) -> None:
    """Raises `GoldenExportError` with the differing rows when `result` did not pass."""
    if result.passed:
        return
    lines = [f"{m.where()}: {old} {m.expected}, {new} {m.got}" for m in result.mismatches]
    raise GoldenExportError(
        f"transform probe {name!r} {problem}; {result.summary()}\n  " + "\n  ".join(lines[:_QUOTED]),
    )


def _check_baseline(t: parity.Transform, recorded: ProbeResult, result: Any, source: Baseline) -> None:
    """Raises `GoldenExportError` unless `result` equals what the baseline recorded for `t`."""
    where = f"{source.file} ({source.trust.upper()})"
    tolerance = (recorded.flags.get("rtol"), recorded.flags.get("atol"))
    if tolerance != (t.rtol, t.atol):
        raise GoldenExportError(
            f"transform probe {t.name!r}: registered with rtol {t.rtol:g}, atol {t.atol:g}, but {where} recorded "
            f"rtol {tolerance[0]}, atol {tolerance[1]}",
            hint="register it with the tolerance training used, or record the baseline again",
        )
    # the bundle's outputs recorded the way training recorded its own, then compared as `envprint parity` does
    fresh = dataclasses.replace(t, fn=lambda _inputs: result).record()
    check = parity.compare(recorded, fresh, name=t.name)
    if not check.passed:
        raise GoldenExportError(
            f"transform probe {t.name!r}: the outputs differ from what {where} recorded\n  "
            + "\n  ".join(parity_lines(check)[: _QUOTED + 1]),
        )


# ------------------------------------------------------------------------------------------ writing


def _check_target(target: Path) -> None:
    """Raises `UsageError` unless `target` is new, an empty directory, or a bundle holding only its own files."""
    if not target.exists():
        return
    if not target.is_dir():
        raise UsageError(f"-o {target}: exists and is not a directory")
    entries = {p.name for p in target.iterdir()}
    if not entries:
        return
    if MANIFEST not in entries:
        raise UsageError(
            f"-o {target}: a directory with other files in it; refusing to replace it with a bundle",
            hint="export into a new or empty directory, or into an earlier bundle's directory",
        )
    old = read_manifest(target)
    own = {MANIFEST, *(f for e in old.probes.values() for f in (e.inputs, e.expected, e.labels) if f)}
    foreign = sorted(entries - own)
    if foreign:
        raise UsageError(
            f"-o {target}: the bundle there also holds {', '.join(foreign)}, which replacing it would delete",
            hint="move those files out (an implementation's outputs belong in their own directory)",
        )


def _write(target: Path, files: Mapping[str, bytes], manifest: bytes) -> None:
    """Writes the bundle into a new directory beside `target`, manifest last, then renames it into place."""
    parent = target.parent
    token = secrets.token_hex(4)
    staging = parent / f".{target.name}.{token}.tmp"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        for name, data in [*files.items(), (MANIFEST, manifest)]:
            with open(staging / name, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        fsync_directory(staging)
        if target.exists():
            # two renames: in between, `target` is absent (a reader finds no bundle), never half of one
            retired = parent / f".{target.name}.{token}.old"
            os.rename(target, retired)
            os.rename(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(staging, target)
        fsync_directory(parent)
    except OSError as e:
        raise UsageError(f"-o {target}: cannot write the bundle ({e.strerror or e})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
