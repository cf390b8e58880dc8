"""``diffopt graph FILE``: the expression graph as a text tree or Graphviz dot."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from diffopt.cli.app import app
from diffopt.cli.common import DataOpt, FileArg, JsonOpt, SeedOpt, SetOpt, command, load, one_of
from diffopt.errors import UsageError
from diffopt.status import ExitStatus


@app.command("graph")
@command
def graph_command(
    file: FileArg,
    format: Annotated[str, typer.Option("--format", help="text or dot.",
                                        autocompletion=one_of(("text", "dot")))] = "text",
    set: SetOpt = None, data: DataOpt = None, seed: SeedOpt = 0,
    json: JsonOpt = False,
):
    """Print the objective's expression graph (at the start point)."""
    from diffopt import api

    if format not in ("text", "dot"):
        raise UsageError(f"--format must be text or dot, not '{format}'")
    problem = load(file, set, data, seed)
    sys.stdout.write(api.graph(problem, "json" if json else format))
    return ExitStatus.SUCCESS
