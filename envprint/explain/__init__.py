"""The explanation catalogue: for every kind of finding, why it matters for training-serving skew
and the setting, pin or variable that restores parity.

`diff` fills each finding's ``why`` and ``remedy`` from here (`explain`); docs/explanations.md is
generated from the same data (``python -m envprint.explain > docs/explanations.md``, or
``scripts/regen_golden.py``) and a test fails when the two drift apart.

Remedies are templates over the finding: ``{name}`` (the variable, package, probe or field),
``{old}`` / ``{new}`` (the values on side a, the reference, and side b), ``{set_old}`` (the shell
line that restores side a's value of a variable: ``export NAME=VALUE`` or ``unset NAME``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envprint._base import is_unavailable
from envprint.collect.variables import KNOWN, Variable
from envprint.explain.catalogue import CATALOGUE, ENTRIES, KINDS, PROBE_GROUPS, PROBE_REMEDIES, Explanation
from envprint.report import Finding

__all__ = ["CATALOGUE", "KINDS", "PROBE_GROUPS", "PROBE_REMEDIES", "Explanation", "catalogue_markdown", "explain"]


class _Values(dict[str, str]):
    """Template values; unknown placeholders stay as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


#: fields that record an environment variable under another name
_VARIABLE_NAMES = {"locale_time.tz_env": "TZ"}


def _name(path: str) -> str:
    parts = path.split(".")
    if parts[0] in ("packages", "probes") and len(parts) > 1:
        return parts[1]
    if parts[0] == "determinism" and len(parts) > 3 and parts[1] == "frameworks":
        return ".".join(parts[2:])
    if parts[0] == "blas" and len(parts) > 2:
        return parts[2]
    return _VARIABLE_NAMES.get(path, parts[-1])


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, Mapping):
        if is_unavailable(value):
            return "unavailable"
        return str(value.get("version") or value.get("digest") or "…")
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


#: framework field -> the call that sets it back to training's value ({v}: that value, as Python)
_CALLS: Mapping[str, str] = {
    "tensorflow.op_determinism": "tf.config.experimental.enable_op_determinism()  # only turns it on",
    "tensorflow.tensor_float_32": "tf.config.experimental.enable_tensor_float_32_execution({v})",
    "tensorflow.intra_op_threads": "tf.config.threading.set_intra_op_parallelism_threads({v})",
    "tensorflow.inter_op_threads": "tf.config.threading.set_inter_op_parallelism_threads({v})",
    "tensorflow.onednn_enabled": "export TF_ENABLE_ONEDNN_OPTS={flag}  # before TensorFlow is imported",
    "tensorflow.mixed_precision_policy": "keras.mixed_precision.set_global_policy({q})",
    "torch.deterministic_algorithms": "torch.use_deterministic_algorithms({v})",
    "torch.cudnn_deterministic": "torch.backends.cudnn.deterministic = {v}",
    "torch.cudnn_benchmark": "torch.backends.cudnn.benchmark = {v}",
    "torch.cudnn_allow_tf32": "torch.backends.cudnn.allow_tf32 = {v}",
    "torch.matmul_allow_tf32": "torch.backends.cuda.matmul.allow_tf32 = {v}",
    "torch.float32_matmul_precision": "torch.set_float32_matmul_precision({q})",
    "torch.num_threads": "torch.set_num_threads({v})",
    "torch.num_interop_threads": "torch.set_num_interop_threads({v})",
    "torch.mkldnn_enabled": "torch.backends.mkldnn.enabled = {v}",
    "torch.cpu_capability": "export ATEN_CPU_CAPABILITY={v}  # before torch is imported",
    "jax.enable_x64": "jax.config.update('jax_enable_x64', {v})",
    "jax.default_matmul_precision": "jax.config.update('jax_default_matmul_precision', {q})",
}


def _call(name: str, value: Any) -> str:
    """Returns the pasteable call that restores a framework setting, or what to set when none exists."""
    template = _CALLS.get(name)
    if template is None:
        return f"set {name} to {_show(value)} in the serving process, as in training"
    return template.format(v=repr(value), q=repr(_show(value)), flag=1 if value else 0)


def _variable(path: str) -> Variable | None:
    if path.startswith(("determinism.variables.", "env.")):
        return KNOWN.get(path.rsplit(".", 1)[1])
    return None


def _setting(name: str, value: Any) -> str:
    if value is None:
        return f"unset {name}"
    return f"export {name}={_show(value)}"


def explain(finding: Finding) -> tuple[str, str]:
    """Returns (why, remedy) for a finding from the catalogue, the remedy filled in with its values."""
    entry = CATALOGUE[finding.kind]
    name = _name(finding.path)
    values = _Values(
        name=name,
        old=_show(finding.old),
        new=_show(finding.new),
        set_old=_setting(name, finding.old),
        call=_call(name, finding.old),
    )
    why, remedy = entry.why, entry.remedy
    variable = _variable(finding.path)
    if variable is not None:  # each variable says who reads it and what it does, then why that matters
        why = f"{variable.name} ({variable.reader}): {variable.note}. {why}"
    if finding.kind == "probe.differs" and isinstance(finding.old, Mapping):
        group = str(finding.old.get("group"))
        # the group's own effect; the general paragraph about probes is said once, in the catalogue
        why = PROBE_GROUPS.get(group, why)
        remedy = PROBE_REMEDIES.get(group, remedy)
    return why, remedy.format_map(values)


def catalogue_markdown() -> str:
    """Returns docs/explanations.md: every finding kind with its why and remedy template."""
    lines = [
        "# Finding kinds and what to do about them",
        "",
        "<!-- generated from envprint/explain/catalogue.py by `python -m envprint.explain`; do not edit -->",
        "",
        "Every finding `envprint diff` reports has one of these kinds. Remedies are templates: "
        "`{name}` is the variable, package, probe or field; `{old}` and `{new}` are the values on side a "
        "(the reference, e.g. training) and side b (e.g. serving); `{set_old}` is the shell line that "
        "restores side a's value (`export NAME=VALUE` or `unset NAME`). A probe difference takes the "
        "remedy of its likely cause when one is named.",
        "",
    ]
    for e in ENTRIES:
        lines += [f"## `{e.kind}` — {e.title}", "", f"**Why it matters.** {e.why}", "", f"**Remedy.** {e.remedy}", ""]
    lines += ["## Probe groups", "", "What a `probe.differs` finding means, by probe group:", ""]
    lines += ["| group | effect on a model |", "|---|---|"]
    lines += [f"| `{g}` | {text} |" for g, text in PROBE_GROUPS.items()]
    lines += ["", "Remedies for probe groups whose difference no other finding explains:", ""]
    lines += [f"- `{g}`: {text}" for g, text in PROBE_REMEDIES.items()]
    return "\n".join(lines) + "\n"
