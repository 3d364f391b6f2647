"""Golden bundles: transform probes as JSON Lines that serving code in any language can be checked against.

    from envprint.golden import synthetic, export_bundle, compare_bundle

    rows = synthetic(10_000, columns={"age": 40.0}, categories={"color": ["red", "green", "blue"]})
    export_bundle("golden/", modules=["mypkg.features"])     # inputs, expected outputs, manifest
    report = compare_bundle("golden/", "java-out/")           # a port's NAME.outputs.jsonl, row by row

The bundle is a language-neutral contract (docs/golden.md): ``manifest.json`` plus, per probe,
``NAME.inputs.jsonl`` and ``NAME.expected.jsonl``; the implementation under test writes
``NAME.outputs.jsonl``. `synthetic` and `export_bundle` load on first use (they need numpy);
comparing does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envprint._lazy import lazy_attributes
from envprint.golden.compare import compare_bundle, compare_rows
from envprint.golden.errors import GoldenExportError, GoldenFormatError
from envprint.golden.jsonl import dumps_row, encode_rows, loads_row, read_rows
from envprint.golden.manifest import Column, Manifest, ProbeEntry, read_manifest
from envprint.golden.report import GoldenReport, ProbeComparison, RowRef, ValueMismatch

if TYPE_CHECKING:
    from envprint.golden.export import export_bundle
    from envprint.parity.profiles import synthetic

__all__ = [
    "Column",
    "GoldenExportError",
    "GoldenFormatError",
    "GoldenReport",
    "Manifest",
    "ProbeComparison",
    "ProbeEntry",
    "RowRef",
    "ValueMismatch",
    "compare_bundle",
    "compare_rows",
    "dumps_row",
    "encode_rows",
    "export_bundle",
    "loads_row",
    "read_manifest",
    "read_rows",
    "synthetic",
]

# public name -> module that defines it; imported on first access (numpy, and the transform registry)
_LAZY = {"export_bundle": "envprint.golden.export", "synthetic": "envprint.parity.profiles"}

__getattr__ = lazy_attributes(__name__, _LAZY, globals())
