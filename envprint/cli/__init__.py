"""The `envprint` command line: a thin adapter (parse → call the library → render → exit code).

Exit codes (DESIGN.md): 0 equivalent / success, 1 differences or policy violation, 2 usage error or
unreadable input, 3 untrusted (bad signature, unknown key, artifact mismatch). Every option also
reads an ``ENVPRINT_*`` environment variable. Errors are caught in one place, `main()`.

Commands live in one module per group (`record`, `trust`, `check`, `compare`, `transforms`, `fleet`); each
registers its commands on the shared `app` when imported. `main` imports only the group of the
command being run (`COMMANDS`), so a command pays for its own dependencies, not for every other
command's; ``--help`` and unknown commands load them all.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from envprint.cli._app import app, error_line, stderr
from envprint.errors import EnvprintError

__all__ = ["COMMANDS", "INTERNAL_ERROR", "app", "load_commands", "main"]

#: exit status of an unexpected internal error (not 1, which means "differences found")
INTERNAL_ERROR = 70

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


def load_commands(argv: Sequence[str]) -> None:
    """Imports the command module of the command `argv` names, or every command module when it names none."""
    name = next((a for a in argv if not a.startswith("-")), None)
    modules = [COMMANDS[name]] if name in COMMANDS else sorted(set(COMMANDS.values()))
    for module in modules:
        importlib.import_module(f"envprint.cli.{module}")


def main(argv: list[str] | None = None) -> None:
    """Runs the CLI and exits with its status; the one place errors become messages and exit codes.

    Commands signal their status with `typer.Exit(code)`; typer itself exits 2 on usage errors.
    """
    args = sys.argv[1:] if argv is None else argv
    try:
        load_commands(args)
        app(args=args, prog_name="envprint")
    except EnvprintError as e:
        stderr().print(error_line(e.diagnostics()))
        sys.exit(e.exit_code)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # a bug: say so, and never exit 1 ("different") on a crash
        if os.environ.get("ENVPRINT_DEBUG"):
            raise
        stderr().print(
            error_line(
                f"internal error: {type(e).__name__}: {e}\n  hint: this is a bug in envprint; rerun with "
                "ENVPRINT_DEBUG=1 for the traceback and report it"
            )
        )
        sys.exit(INTERNAL_ERROR)
