"""``diffopt lsp``: the language server for .dop files, on standard input and output.

Needs the optional extra ``[lsp]`` (pygls); without it the command says so in
one line and exits with status 2. The server is diffopt.lsp.server. SIGTERM
and SIGHUP get their default action back (an editor stopping its server ends
it at once: there is no solve to stop at a best point).
"""

from __future__ import annotations

import importlib.util
import signal
import sys

import typer

from diffopt.cli.app import app
from diffopt.cli.common import command
from diffopt.status import ExitStatus

MISSING_EXTRA = "diffopt lsp needs the optional extra: pip install 'diffopt-cli[lsp]'"


def _have_pygls() -> bool:
    try:
        return all(importlib.util.find_spec(name) is not None
                   for name in ("pygls", "lsprotocol"))
    except (ImportError, ValueError):
        return False


@app.command("lsp")
@command
def lsp_command():
    """Run the language server (diagnostics, hover, definition, formatting) on stdio."""
    if not _have_pygls():
        sys.stderr.write(MISSING_EXTRA + "\n")
        raise typer.Exit(ExitStatus.BAD_INPUT)
    try:
        from diffopt.lsp.server import run_stdio
    except ImportError:  # an installed pygls too old or broken
        sys.stderr.write(MISSING_EXTRA + "\n")
        raise typer.Exit(ExitStatus.BAD_INPUT) from None
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, signal.SIG_DFL)
    run_stdio()
    return ExitStatus.SUCCESS
