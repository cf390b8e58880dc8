"""``diffopt export FILE --to numpy|jax``: a standalone module of the objective and gradient."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from diffopt.cli.app import app
from diffopt.cli.common import (
    AtOpt,
    DataOpt,
    FileArg,
    MaxMemoryOpt,
    SeedOpt,
    SetOpt,
    command,
    load,
    one_of,
)
from diffopt.errors import UsageError
from diffopt.status import ExitStatus


@app.command("export")
@command
def export_command(
    file: FileArg,
    to: Annotated[str, typer.Option("--to", help="The array library: numpy or jax.",
                                    metavar="numpy|jax",
                                    autocompletion=one_of(("numpy", "jax")))] = "numpy",
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Write the module to this file (default: standard output).",
        metavar="FILE")] = None,
    at: AtOpt = None,
    set: SetOpt = None, data: DataOpt = None, seed: SeedOpt = 0,
    max_memory: MaxMemoryOpt = None,
):
    """Write a standalone Python module computing the objective and its gradient."""
    from diffopt.export import export_module

    session = load(file, set, data, seed, max_memory=max_memory)
    source = export_module(session, to, at=at)
    if output is None:
        sys.stdout.write(source)
        return ExitStatus.SUCCESS
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(source)
    except OSError as exc:
        raise UsageError(f"cannot write '{output}': {(exc.strerror or str(exc)).lower()}") from None
    return ExitStatus.SUCCESS
