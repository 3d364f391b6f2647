"""Renders one fingerprint for `envprint show`: a readable rich tree, or stable JSON.

JSON shape (documented in docs/file-format.md)::

    {"format": "envprint-show", "version": 1, "file": PATH, "trust": "unsigned|unverified|verified",
     "payload_type": ..., "signatures": [{"keyid": ..., "alg": ...}], "fingerprint": {...}}

The document is always valid JSON (`envprint.render.safe_json`): a non-finite number in untyped data
is the string "nan", "inf" or "-inf", bytes are text with undecodable bytes as ``\\xNN``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from envprint._base import UNAVAILABLE_KEY, is_unavailable
from envprint.codec import Loaded
from envprint.model import Fingerprint, Unavailable
from envprint.render.safe_json import dumps

SHOW_JSON_VERSION = 1
_LARGE_MAPS = ("packages", "imported", "probes")


def written_line(fp: Fingerprint, path: Path, *, signed: bool) -> str:
    """Returns the line `envprint capture` prints: where, signed or not, size, and what was captured."""
    size = path.stat().st_size
    n_pkgs = "?" if isinstance(fp.packages, Unavailable) else len(fp.packages)
    n_probes = "?" if isinstance(fp.probes, Unavailable) else len(fp.probes)
    gpu = "unavailable" if isinstance(fp.gpu, Unavailable) else f"{len(fp.gpu.devices)} device(s)"
    trust = "signed" if signed else "UNSIGNED"
    bound = ""
    if fp.artifact is not None:  # a reference resolved at capture shows pinned: hf://org/name@<commit>
        bound = f", bound to {fp.artifact.source or fp.artifact.name} ({len(fp.artifact.files)} file(s))"
    return f"wrote {path} ({trust}, {size / 1024:.1f} KiB): {n_pkgs} packages, {n_probes} probes, gpu {gpu}{bound}"


def to_json(loaded: Loaded) -> str:
    """Returns the JSON document `envprint show --format json` prints."""
    doc = {
        "format": "envprint-show",
        "version": SHOW_JSON_VERSION,
        "file": str(loaded.path) if loaded.path else None,
        "trust": loaded.trust,
        "verified_keyids": list(loaded.verified_keyids),
        "payload_type": loaded.envelope.payload_type,
        "signatures": [{"keyid": s.keyid, "alg": s.alg} for s in loaded.envelope.signatures],
        "fingerprint": loaded.fingerprint.to_data(),
    }
    return dumps(doc)


def to_rich(loaded: Loaded) -> Any:
    """Returns a rich renderable: a header line, then one branch per section."""
    from rich.console import Group
    from rich.text import Text
    from rich.tree import Tree

    fp = loaded.fingerprint
    data = fp.to_data()
    meta = fp.meta
    trust_style = {"verified": "bold green", "unsigned": "bold yellow"}.get(loaded.trust, "bold red")
    header = Text.assemble(
        (f"{loaded.path or 'fingerprint'}", "bold"),
        "  ",
        (loaded.label, trust_style),
        f"  schema v{meta.schema_version}, envprint {meta.envprint_version}, captured {meta.created}"
        f" on {meta.hostname}" + (f", label {meta.label!r}" if meta.label else ""),
    )
    if loaded.envelope.signatures:
        keyids = ", ".join(s.keyid[:16] for s in loaded.envelope.signatures)
        header.append(f"\nsigned by key id(s) {keyids}", style="dim")
    tree = Tree(header)
    for section, value in data.items():
        if section == "meta":
            continue
        if section == "packages" and isinstance(value, dict) and not is_unavailable(value):
            tree.add(_packages_table(value))
        elif section == "probes" and isinstance(value, dict) and not is_unavailable(value):
            tree.add(_probes_table(value))
        else:
            _add(tree, section, value)
    return Group(tree)


def _add(parent: Any, key: str, value: Any) -> None:
    from rich.text import Text

    if isinstance(value, dict) and not is_unavailable(value):
        if not value:
            parent.add(Text.assemble((key, "bold"), ": ", ("(none)", "dim")))
            return
        branch = parent.add(Text(key, style="bold"))
        for k, v in value.items():
            _add(branch, str(k), v)
        return
    parent.add(Text.assemble((key, "bold" if parent.label else ""), ": ", _value(value)))


def _value(value: Any) -> tuple[str, str]:
    if is_unavailable(value):
        return (str(Unavailable(value[UNAVAILABLE_KEY])), "yellow")
    if value is None:
        return ("unset", "dim")
    if isinstance(value, list):
        return (", ".join(map(str, value)) if value else "(none)", "")
    return (str(value), "")


def _packages_table(packages: Mapping[str, Any]) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"packages ({len(packages)})", title_justify="left", show_edge=False, pad_edge=False)
    for col in ("name", "version", "installer", "wheel tag"):
        table.add_column(col)
    for name, pkg in packages.items():
        version: Any = _value(pkg.get("version"))[0]
        if pkg.get("unreadable"):
            version = Text(f"unreadable: {pkg['unreadable']}", style="yellow")
        installer = pkg.get("installer")
        tags = pkg.get("wheel_tags") or []
        table.add_row(*_cells(name, version, _value(installer)[0] if installer else "", tags[0] if tags else ""))
    return table


def _probes_table(probes: Mapping[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title=f"probes ({len(probes)})", title_justify="left", show_edge=False, pad_edge=False)
    for col in ("probe", "group", "status", "digest", "flags"):
        table.add_column(col)
    for name, p in probes.items():
        status = p.get("status", "?")
        if p.get("random_per_process"):
            status += " (random per process)"
        if p.get("stable") is False:
            status += " (unstable)"
        flags = ", ".join(f"{k}={_value(v)[0]}" for k, v in (p.get("flags") or {}).items())
        reason = flags or p.get("reason") or ""
        table.add_row(*_cells(name, p.get("group", ""), status, str(p.get("digest", ""))[:12], reason))
    return table


def _cells(*values: Any) -> list[Any]:
    """Returns table cells as rich Text: fingerprint content is shown literally, never parsed as markup."""
    from rich.text import Text

    return [v if isinstance(v, Text) else Text(str(v)) for v in values]
