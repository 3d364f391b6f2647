"""The typer application and what its command groups share: output options, message lines, option parsers.

Messages for people go through `stderr()` (or `stdout()` for a rich renderable such as `envprint
show`'s tree). rich is imported only to style a line for a terminal: a message piped to a log is
written as plain text, and ``NO_COLOR`` (https://no-color.org) drops every style, bold and dim too.
"""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from envprint._base import Record, record
from envprint._version import __version__
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


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"envprint {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print envprint's version and exit."),
    ] = False,
) -> None:
    """Capture, sign, diff and enforce the environment a model was trained and validated in."""
    # a callback keeps `envprint COMMAND` a command group even when only one command module is loaded


class TextOrJson(str, enum.Enum):
    """Output formats of the commands that print a report for people or for machines."""

    text = "text"
    json = "json"


#: the --format option of those commands
FormatOption = Annotated[TextOrJson, typer.Option("--format", "-f", envvar="ENVPRINT_FORMAT")]
#: options shared by the commands that capture (capture, fleet spark) or re-run transform probes
#: (parity, golden export, golden spark): one spelling, one variable, one help text
NoProbesOption = Annotated[
    bool, typer.Option("--no-probes", envvar="ENVPRINT_NO_PROBES", help="Skip the numeric probes.")
]
ProbeGroupsOption = Annotated[
    str | None, typer.Option("--probes", envvar="ENVPRINT_PROBES", help="Run only these probe groups: GROUP,GROUP...")
]
ProbesFromOption = Annotated[
    list[str] | None,
    typer.Option(
        "--probes-from",
        envvar="ENVPRINT_PROBES_FROM",
        help="Import MODULE (or a .py file) that registers transform probes (repeatable).",
    ),
]
NoEntryPointsOption = Annotated[
    bool,
    typer.Option(
        "--no-entry-points",
        envvar="ENVPRINT_NO_ENTRY_POINTS",
        help="Do not load the envprint.probes entry points of installed packages.",
    ),
]


def no_color() -> bool:
    """Returns whether NO_COLOR asks for output without styles: set and not empty (https://no-color.org)."""
    return bool(os.environ.get("NO_COLOR"))


def styled(stream: TextIO) -> bool:
    """Returns whether text for `stream` gets styles: a terminal (or FORCE_COLOR, as rich reads it), no NO_COLOR."""
    if no_color():
        return False
    return bool(os.environ.get("FORCE_COLOR")) or stream.isatty()


@record
class Line(Record):
    """A message line in parts, each with a rich style ("bold red", or "" for none), shown plain off a terminal."""

    parts: tuple[tuple[str, str], ...]

    def plain(self) -> str:
        """Returns the line without its styles."""
        return "".join(text for text, _ in self.parts)


class Messages:
    """Prints lines for people on one stream: plain text, or styled by rich when the stream is a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def print(self, message: str | Line) -> None:
        """Writes `message` and a newline; its text is shown literally, never parsed as rich markup."""
        line = message if isinstance(message, Line) else Line(((message, ""),))
        if not styled(self.stream):
            self.stream.write(line.plain() + "\n")
            self.stream.flush()
            return
        # rich costs ~30 ms to import: only a line styled for a terminal pays it
        from rich.console import Console
        from rich.text import Text

        console = Console(file=self.stream, highlight=False, soft_wrap=True, markup=False, emoji=False)
        console.print(Text.assemble(*line.parts))


def stderr() -> Messages:
    """Returns the printer of messages on stderr."""
    return Messages(sys.stderr)


def stdout() -> Any:
    """Returns a rich console on stdout, for rich renderables (`envprint show`); without styles under NO_COLOR."""
    from rich.console import Console  # rich costs ~30 ms to import: only the commands that render with it pay

    return Console(highlight=False, soft_wrap=False, color_system=None if no_color() else "auto")


def error_line(text: str) -> Line:
    """Returns an error message as a line, "error:" in bold red on a terminal."""
    return Line((("error:", "bold red"), (" " + text, "")))


def parse_tags(tags: list[str]) -> dict[str, str]:
    """Returns the --tag KEY=VALUE options as a mapping; a tag without "=" or key is a UsageError."""
    out = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise UsageError(f"--tag {tag!r}: expected KEY=VALUE")
        out[key] = value
    return out


def probe_groups(text: str | None) -> list[str] | None:
    """Returns the --probes GROUP,GROUP option as a list (None when not given); an unknown group is a UsageError."""
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
