"""``diffopt fmt FILE``: print the file in canonical layout (never rewrites it)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from diffopt.cli.app import app
from diffopt.cli.common import FileArg, command
from diffopt.status import ExitStatus


@app.command("fmt")
@command
def fmt_command(
    file: FileArg,
    check: Annotated[bool, typer.Option(
        "--check", help="Print nothing; exit 1 if the file is not in canonical layout.")] = False,
):
    """Print FILE in canonical layout on standard output; the file itself is not changed."""
    from diffopt import api

    original, formatted = api.format_source(file)
    if check:
        if formatted != original:
            sys.stderr.write(f"{file}: would be reformatted\n")
            return ExitStatus.FAILURE
        return ExitStatus.SUCCESS
    sys.stdout.write(formatted)
    return ExitStatus.SUCCESS
