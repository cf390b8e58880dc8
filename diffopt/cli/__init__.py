"""The ``diffopt`` command: a thin Typer layer over diffopt.api.

Owns the subcommand registration (the Typer app itself is diffopt.cli.app)
and the console-script entry point. Command modules parse options, call one
api function, hand the result to diffopt.report and return a status. No
Lark, no NumPy and no AST types are imported here or in the command modules
(tests/test_cli.py enforces it).
"""

from __future__ import annotations

import sys

from diffopt.cli import (  # the commands register themselves on app
    check_cmd,
    completion,
    eval_cmd,
    export_cmd,
    fmt_cmd,
    grad_cmd,
    graph_cmd,
    help_cmd,
    lsp_cmd,
    signals,
    solve_cmd,
    sweep_cmd,
)
from diffopt.cli.app import app

__all__ = ["app", "main", "check_cmd", "eval_cmd", "export_cmd", "fmt_cmd", "grad_cmd",
           "graph_cmd", "help_cmd", "lsp_cmd", "solve_cmd", "sweep_cmd"]

help_cmd.add_epilogs(app)  # after every command has registered: each --help ends with a pointer


def main() -> None:
    """Console-script entry point."""
    signals.install()
    signals.guard_stdout()
    status = completion.answer(sys.argv[1:], app)
    if status is None:
        try:
            app()
        except SystemExit as done:
            status = done.code
        except KeyboardInterrupt:  # outside a solve: nothing to report
            sys.stderr.write("interrupted\n")
            status = signals.interrupted_status()
        except BrokenPipeError:
            status = signals.stdout_closed()
        except signals.OutputError as error:
            status = signals.output_failed(error)
    failed = signals.flush_stdout()
    sys.exit(failed if failed is not None else status)
