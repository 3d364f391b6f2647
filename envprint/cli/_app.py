"""The typer application and what its command groups share: output options, consoles, option parsers."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any

import typer

from envprint.errors import UsageError
from envprint.probes import GROUPS

app = typer.Typer(
    name="envprint",
    help="Capture, sign, diff and enforce the environment a model was trained and validated in.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root() -> None:
    """Capture, sign, diff and enforce the environment a model was trained and validated in."""
    # a callback keeps `envprint COMMAND` a command group even when only one command module is loaded


class TextOrJson(str, enum.Enum):
    """Output formats of the commands that print a report for people or for machines."""

    text = "text"
    json = "json"


#: the --format option of those commands
FormatOption = Annotated[TextOrJson, typer.Option("--format", "-f", envvar="ENVPRINT_FORMAT")]


def stderr() -> Any:
    """Returns a rich console on stderr (rich is imported only when a command prints through it)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout() -> Any:
    """Returns a rich console on stdout."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def parse_tags(tags: list[str]) -> dict[str, str]:
    out = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise UsageError(f"--tag {tag!r}: expected KEY=VALUE")
        out[key] = value
    return out


def probe_groups(text: str | None) -> list[str] | None:
    if text is None:
        return None
    groups = [g.strip() for g in text.split(",") if g.strip()]
    known = (*GROUPS, "parity")
    unknown = sorted(set(groups) - set(known))
    if unknown:
        raise UsageError(f"--probes: unknown group(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return groups


def key_paths(keys: list[Path] | None) -> list[str] | None:
    """Returns the --key options as the path strings the library takes, None when none were given."""
    return [str(k) for k in keys] if keys else None


def error_line(text: str) -> Any:
    """Returns an error message as rich text, "error:" in bold red."""
    from rich.text import Text

    return Text.assemble(("error:", "bold red"), " ", text)
