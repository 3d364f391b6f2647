"""Where a difference acts: only through the model, or outside it (on inputs, features, ids, time).

The model's golden predictions (`envprint.predictions`) prove what the model computes on the serving
host. A difference that can change numbers *only through the model* — library versions and builds,
BLAS kernels and threads, CPU and GPU features, framework precision settings — is cleared by golden
predictions that match: it did not change this model's outputs. A difference that acts *outside* the
model — time zone and tz database, locale and encodings, hash seeds and hash order, vocabularies and
transforms, text formatting of floats — changes what the model is given, which golden predictions on
fixed inputs cannot see. Anything not known to act only through the model is treated as outside.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from envprint.collect.variables import KNOWN
from envprint.report import Finding

__all__ = ["OUTSIDE_PACKAGES", "OUTSIDE_PROBE_GROUPS", "Scope", "scope_of"]

Scope = Literal["model", "outside"]

#: probe groups whose outputs feed features, ids and text rather than the model's arithmetic
OUTSIDE_PROBE_GROUPS = frozenset({"time", "locale", "text", "unicode_text", "hash", "rng", "casts", "fpenv", "libm"})
#: distributions that shape features, time and text before a model sees them
OUTSIDE_PACKAGES = frozenset(
    {"tzdata", "pytz", "python-dateutil", "babel", "tokenizers", "sentencepiece", "regex", "ftfy",
     "pandas", "polars", "pyarrow", "numexpr", "bottleneck", "feast", "tecton"}
)  # fmt: skip
#: sections and fields that act through the model
_MODEL_SECTIONS = ("cpu.", "gpu.", "blas.", "determinism.frameworks.", "platform.machine", "platform.os")
#: interpreter fields that change feature code: hashing, Unicode, float text
_OUTSIDE_PYTHON = ("python.hash_algorithm", "python.unicode_version", "python.float_repr_style")
#: readers of variables whose effect is on text, hashing or loaded libraries rather than the model
_OUTSIDE_READERS = frozenset({"Python", "dynamic loader"})


def scope_of(finding: Finding) -> Scope:
    """Returns "model" when the finding can change numbers only through the model, else "outside"."""
    path = finding.path
    section = path.partition(".")[0]
    if finding.kind.startswith(("parity.", "artifact.", "model.")):
        return "outside"  # transforms, vocabularies, model files, the golden predictions themselves
    if section == "packages":
        if finding.kind == "package.removed":
            # absent here: code that needs it fails loudly at import; what falls back silently is the
            # model's own computation (another engine, another BLAS), which matching predictions checked
            return "model"
        name = path.split(".")[1] if path.count(".") else ""
        return "outside" if name in OUTSIDE_PACKAGES else "model"
    if section == "probes":
        return "outside" if _probe_group(finding) in OUTSIDE_PROBE_GROUPS else "model"
    if path.startswith(("determinism.variables.", "env.")):
        known = KNOWN.get(path.rsplit(".", 1)[1])
        return "outside" if known is None or known.reader in _OUTSIDE_READERS else "model"
    if path in ("determinism", "determinism.hash_randomization", "determinism.seeds") or path.startswith(
        "determinism.seeds."
    ):
        return "outside"
    if path.startswith(_OUTSIDE_PYTHON):
        return "outside"
    if path.startswith(_MODEL_SECTIONS) or path in ("cpu", "gpu", "blas"):
        return "model"
    return "outside"


def _probe_group(finding: Finding) -> str:
    for side in (finding.old, finding.new):
        if isinstance(side, Mapping) and isinstance(side.get("group"), str):
            return str(side["group"])
    return finding.path.split(".", 2)[1] if finding.path.count(".") else ""
