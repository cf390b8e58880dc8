"""``diffopt graph FILE``: the expression graph as a text tree or Graphviz dot."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from diffopt.cli.app import app
from diffopt.cli.common import (
    DataOpt,
    FileArg,
    JsonOpt,
    MaxMemoryOpt,
    QuietOpt,
    SeedOpt,
    SetOpt,
    command,
    load,
    one_of,
    progress_display,
)
from diffopt.errors import UsageError
from diffopt.status import ExitStatus


@app.command("graph")
@command
def graph_command(
    file: FileArg,
    format: Annotated[str, typer.Option("--format", help="text or dot.",
                                        autocompletion=one_of(("text", "dot")))] = "text",
    set: SetOpt = None, data: DataOpt = None, seed: SeedOpt = 0,
    max_memory: MaxMemoryOpt = None,
    json: JsonOpt = False, quiet: QuietOpt = False,
):
    """Print the objective's expression graph (at the start point).

    The graph is the output; --quiet turns off the progress shown on a
    terminal's stderr while a large problem loads.
    """
    from diffopt import api

    if format not in ("text", "dot"):
        raise UsageError(f"--format must be text or dot, not '{format}'")
    with progress_display(quiet, label="loading") as progress:
        problem = load(file, set, data, seed, progress=progress.phase, max_memory=max_memory)
    sys.stdout.write(api.graph(problem, "json" if json else format))
    return ExitStatus.SUCCESS
