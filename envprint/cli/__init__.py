"""The `envprint` command line: a thin adapter (parse → call the library → render → exit code).

Exit codes (DESIGN.md): 0 equivalent / success, 1 differences or policy violation, 2 usage error or
unreadable input, 3 untrusted (bad signature, unknown key, artifact mismatch). Every option also
reads an ``ENVPRINT_*`` environment variable. Errors are caught in one place, `main()`.

Commands live in one module per group (`record`, `trust`, `compare`, `transforms`, `fleet`); each
registers its commands on the shared `app` when imported.
"""

from __future__ import annotations

import os
import sys

from envprint.cli import compare, fleet, record, transforms, trust  # noqa: F401  (register the commands)
from envprint.cli._app import app, error_line, stderr
from envprint.cli.compare import FailOn
from envprint.errors import EnvprintError

__all__ = ["INTERNAL_ERROR", "FailOn", "app", "main"]

#: exit status of an unexpected internal error (not 1, which means "differences found")
INTERNAL_ERROR = 70


def main(argv: list[str] | None = None) -> None:
    """Runs the CLI and exits with its status; the one place errors become messages and exit codes.

    Commands signal their status with `typer.Exit(code)`; typer itself exits 2 on usage errors.
    """
    try:
        app(args=argv, prog_name="envprint")
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
