"""The ``diffopt`` command: a thin Typer layer over diffopt.api.

Owns the app, the subcommand registration and the mapping from outcomes to
exit statuses (diffopt.status). Command modules parse options, call one api
function, hand the result to diffopt.report and return a status. No Lark, no
NumPy and no AST types are imported here or in the command modules
(tests/test_cli.py enforces it).
"""

from __future__ import annotations

import sys

import typer

from diffopt import __version__
from diffopt.status import ExitStatus

app = typer.Typer(
    name="diffopt",
    help="Minimize what a .dop file describes, with exact derivatives.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool):
    if value:
        typer.echo(f"diffopt {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
):
    """Minimize what a .dop file describes, with exact derivatives."""


from diffopt.cli import (  # noqa: E402  (commands register themselves on app)
    check_cmd,
    eval_cmd,
    fmt_cmd,
    grad_cmd,
    graph_cmd,
    solve_cmd,
)

__all__ = ["app", "main", "check_cmd", "eval_cmd", "fmt_cmd", "grad_cmd", "graph_cmd",
           "solve_cmd"]


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # outside a solve: nothing to report
        sys.stderr.write("interrupted\n")
        sys.exit(ExitStatus.INTERRUPTED)
