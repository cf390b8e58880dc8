"""``diffopt grad FILE``: objective and gradient at a point, forward or reverse mode."""

from __future__ import annotations

from typing import Annotated

import typer

from diffopt.cli.app import app
from diffopt.cli.common import (
    AtOpt,
    DataOpt,
    FileArg,
    JsonOpt,
    MaxMemoryOpt,
    QuietOpt,
    SeedOpt,
    SetOpt,
    command,
    consoles,
    load,
    one_of,
    print_json,
    report_warnings,
)
from diffopt.status import ExitStatus
from diffopt.vocab import GRADIENT_MODES, choices_text

MODE_HELP = choices_text(GRADIENT_MODES) + "."


@app.command("grad")
@command
def grad_command(
    file: FileArg,
    mode: Annotated[str, typer.Option("--mode", help=MODE_HELP,
                                      autocompletion=one_of(GRADIENT_MODES))] = "reverse",
    at: AtOpt = None,
    repeat: Annotated[int, typer.Option("--repeat", min=0,
                                        help="Time N evaluations; report medians.")] = 0,
    set: SetOpt = None, data: DataOpt = None, seed: SeedOpt = 0,
    max_memory: MaxMemoryOpt = None,
    json: JsonOpt = False, quiet: QuietOpt = False,
):
    """Print the objective and its gradient."""
    from diffopt import api

    problem = load(file, set, data, seed, max_memory=max_memory)
    result = api.gradient(problem, at=at, mode=mode, repeat=repeat)
    report_warnings(result.warnings)
    if json:
        print_json(result.to_json())
    else:
        from diffopt.report.console import print_grad

        print_grad(consoles()[0], result, quiet=quiet)
    return ExitStatus.SUCCESS
