"""The `envprint` command line: a thin adapter (parse → call the library → render → exit code).

Exit codes (DESIGN.md): 0 equivalent / success, 1 differences or policy violation, 2 usage error or
unreadable input, 3 untrusted (bad signature, unknown key, artifact mismatch). Every option also
reads an ``ENVPRINT_*`` environment variable. Errors are caught in one place, `main()`: the message
goes to stderr, and a command run with ``--format json`` also prints
``{"error": {"kind", "message", "hint", "exit_code"}}`` on stdout.

Commands live in one module per group (`record`, `trust`, `check`, `compare`, `transforms`, `fleet`, ...);
each registers its commands on the shared `app` when imported. `main` imports only the group of the
command being run (`COMMANDS`), so a command pays for its own dependencies, not for every other
command's; ``--help`` and unknown commands load them all.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

import typer
import typer.main

from envprint._base import Record, record
from envprint.cli._app import app, error_line, no_color, stderr
from envprint.errors import EnvprintError

__all__ = ["COMMANDS", "INTERNAL_ERROR", "ErrorReport", "app", "load_blas_quietly", "load_commands", "main"]

#: exit status of an unexpected internal error (not 1, which means "differences found")
INTERNAL_ERROR = 70
#: exit status of a run aborted by the user (128 + SIGINT, as a shell reports Ctrl-C)
ABORTED = 130

#: command name -> the module of `envprint.cli` that defines it
COMMANDS: dict[str, str] = {
    "capture": "record",
    "show": "record",
    "keygen": "trust",
    "sign": "trust",
    "verify": "trust",
    "export": "trust",
    "check": "check",
    "diff": "compare",
    "parity": "transforms",
    "shadow": "transforms",
    "fleet": "fleet",
    "freshness": "freshness",
    "golden": "golden",
}

_HELP = ("-h", "--help")

#: commands whose process measures itself: they import numpy to capture it and run the probes
_MEASURING = frozenset({"capture", "check"})
#: the variables OpenBLAS reads for how long an idle worker thread spins before it sleeps
_BLAS_TIMEOUT_VARS = ("OPENBLAS_THREAD_TIMEOUT", "GOTO_THREAD_TIMEOUT", "THREAD_TIMEOUT")
#: 2**4 cycles: idle workers sleep at once (OpenBLAS's default, 2**28 cycles, spins ~0.1 s on a core)
_BLAS_TIMEOUT = "4"

# click's exception classes as this typer exposes them (typer 0.28 vendors click, older ones use click)
_CLICK_ERROR: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


@record
class ErrorReport(Record):
    """A failed command, as its message on stderr and, with ``--format json``, a document on stdout."""

    kind: str  # "usage", "signature", "artifact_mismatch", ... ("internal" for a bug)
    message: str
    hint: str | None
    exit_code: int

    def to_json(self) -> str:
        """Returns ``{"error": {"kind", "message", "hint", "exit_code"}}`` on one line."""
        fields = {"kind": self.kind, "message": self.message, "hint": self.hint, "exit_code": self.exit_code}
        return json.dumps({"error": fields}, ensure_ascii=False)

    def text(self) -> str:
        """Returns the message and its hint as shown on stderr."""
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


def error_kind(error: BaseException) -> str:
    """Returns the kind of an error: its class name in snake case without "Error" (SignatureError: "signature")."""
    name = type(error).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def load_commands(argv: Sequence[str]) -> None:
    """Imports the command module of the command `argv` names, or every command module when it names none.

    ``envprint --version`` alone loads none: it prints the version before any command is looked up.
    """
    name = next((a for a in argv if not a.startswith("-")), None)
    if name is None and "--version" in argv and not any(a in _HELP for a in argv):
        return
    modules = [COMMANDS[name]] if name in COMMANDS else sorted(set(COMMANDS.values()))
    for module in modules:
        importlib.import_module(f"envprint.cli.{module}")


def load_blas_quietly(argv: Sequence[str]) -> None:
    """Imports numpy first, with OpenBLAS's idle worker threads told to sleep at once, when `argv` runs a
    command that measures this process and nothing has set their spin time.

    OpenBLAS reads the spin time once, when numpy loads it; by default an idle worker spins ~0.1 s on a
    core after numpy's import and after each threaded call. On a machine with a busy neighbour, that
    spinning takes the core the command needs (issue 18: `capture` went from 1.05x to 0.81x `pip freeze`).
    The spin time changes when an idle thread yields the CPU, never how many threads run or what any
    BLAS call returns, so it hides nothing the probes measure. The variable is removed from the
    environment before any command code runs: it is neither recorded nor inherited by child processes.
    A variable the user set, a process that already loaded numpy, other commands and ``--help`` are left
    as they are.
    """
    name = next((a for a in argv if not a.startswith("-")), None)
    if name not in _MEASURING or any(a in _HELP for a in argv):
        return
    if "numpy" in sys.modules or any(v in os.environ for v in _BLAS_TIMEOUT_VARS):
        return
    if importlib.util.find_spec("numpy") is None:
        return
    os.environ[_BLAS_TIMEOUT_VARS[0]] = _BLAS_TIMEOUT
    try:
        import numpy  # noqa: F401
    except Exception:  # a broken numpy is for capture to record (Unavailable, with why), not a CLI crash
        pass
    finally:
        del os.environ[_BLAS_TIMEOUT_VARS[0]]


def _writable_in_any_locale() -> None:
    """Makes stdout and stderr escape what their encoding cannot hold: a C locale must not crash a report.

    Reports use "→" and "✗"; under LANG=C without UTF-8 mode the streams are ASCII.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (stream.encoding or "").lower().replace("-", "") != "utf8":
            reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> None:
    """Runs the CLI and exits with its status; the one place errors become messages and exit codes."""
    args = sys.argv[1:] if argv is None else argv
    _writable_in_any_locale()
    command: Any = None
    try:
        if argv is None:  # only as the program: a caller's process keeps its own BLAS settings
            load_blas_quietly(args)
        load_commands(args)
        command = typer.main.get_command(app)
        if argv is None:
            _freeze_gc()
        if no_color() and _shows_help(command, args):
            _help_without_styles()
        # standalone_mode=False: usage errors reach the handlers below instead of exiting inside click
        status = command.main(args=args, prog_name="envprint", standalone_mode=False)
    except EnvprintError as e:
        status = _fail(ErrorReport(error_kind(e), e.message, e.hint or None, e.exit_code), command, args)
    except _CLICK_ERROR as e:
        # a group run without a command has printed its help already (no_args_is_help); click exits 2
        no_command = type(e).__name__ == "NoArgsIsHelpError"
        status = 2 if no_command else _fail(_usage_error(e), command, args)
    except typer.Abort:
        status = _fail(ErrorReport("aborted", "aborted", None, ABORTED), command, args)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # a bug: say so, and never exit 1 ("different") on a crash
        if os.environ.get("ENVPRINT_DEBUG"):
            raise
        hint = "this is a bug in envprint; rerun with ENVPRINT_DEBUG=1 for the traceback and report it"
        status = _fail(ErrorReport("internal", f"internal error: {type(e).__name__}: {e}", hint, INTERNAL_ERROR),
                       command, args)  # fmt: skip
    if argv is None:
        _freeze_gc()
    sys.exit(status if isinstance(status, int) else 0)


def _freeze_gc() -> None:
    # envprint is a one-shot process: what is alive now stays alive until it exits, so the collector
    # need not traverse it again, in later collections or in the interpreter's final ones at exit
    # (~70-100 ms with numpy, typer and envprint loaded, on the 2-core bench machine). Only when main()
    # runs as the program: a caller's process (tests, an embedding application) keeps its collector as is.
    gc.freeze()


def _fail(error: ErrorReport, command: Any, args: Sequence[str]) -> int:
    """Returns the exit code after printing `error` on stderr, and as JSON on stdout under ``--format json``."""
    stderr().print(error_line(error.text()))
    if command is not None and _format_is_json(command, args):
        sys.stdout.write(error.to_json() + "\n")
        sys.stdout.flush()
    return error.exit_code


def _usage_error(e: Any) -> ErrorReport:
    """Returns the report of a click usage error (an unknown option, a bad value): always exit 2."""
    ctx = getattr(e, "ctx", None)
    where = ctx.command_path if ctx is not None else "envprint"
    return ErrorReport("usage", e.format_message(), f"run `{where} --help` to see the accepted options", 2)


def _resolve(command: Any, args: Sequence[str]) -> Any:
    """Returns the (sub)command `args` name: the root group, a command, or a sub-group such as `fleet`."""
    for token in args:
        commands = getattr(command, "commands", None)
        if token.startswith("-") or commands is None or token not in commands:
            break
        command = commands[token]
    return command


def _shows_help(command: Any, args: Sequence[str]) -> bool:
    """Returns whether this run prints help: -h/--help, or a group named without a command (no_args_is_help)."""
    return any(a in _HELP for a in args) or hasattr(_resolve(command, args), "commands")


def _help_without_styles() -> None:
    # typer renders help through rich with its own console settings; no color system means no ANSI
    # codes at all, where rich's own NO_COLOR handling keeps bold and dim
    import typer.rich_utils  # imports rich: only help under NO_COLOR pays it here

    typer.rich_utils.COLOR_SYSTEM = None


def _format_is_json(command: Any, args: Sequence[str]) -> bool:
    """Returns whether the command being run was asked for JSON: its --format/-f option, or that option's variable."""
    option = next((p for p in getattr(_resolve(command, args), "params", ()) if p.name == "format"), None)
    if option is None:
        return False
    names = set(option.opts) | set(option.secondary_opts)
    given = None  # the last value given wins, as click parses it
    for i, arg in enumerate(args):
        if arg == "--":
            break
        name, eq, value = arg.partition("=")
        if eq and name in names:
            given = value
        elif arg in names:
            given = args[i + 1] if i + 1 < len(args) else None
        elif len(arg) > 2 and arg[:2] in names:  # -fjson
            given = arg[2:]
    if given is not None:
        return given == "json"
    envvars = option.envvar if isinstance(option.envvar, list | tuple) else [option.envvar]
    return any(os.environ.get(v) == "json" for v in envvars if v)
