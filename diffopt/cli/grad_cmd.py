"""``diffopt grad FILE``: the gradient of the objective, or the Jacobian of any let (``--of``)."""

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
from diffopt.vocab import MODES, choices_text

MODE_HELP = choices_text(MODES, default="auto") + "."


@app.command("grad")
@command
def grad_command(
    file: FileArg,
    of: Annotated[str | None, typer.Option(
        "--of", help="Differentiate this let instead of the objective (a vector or matrix "
                     "gives its Jacobian).", metavar="NAME")] = None,
    mode: Annotated[str | None, typer.Option("--mode", help=MODE_HELP,
                                             autocompletion=one_of(MODES))] = None,
    at: AtOpt = None,
    repeat: Annotated[int, typer.Option("--repeat", min=0,
                                        help="Time N evaluations; report medians.")] = 0,
    set: SetOpt = None, data: DataOpt = None, seed: SeedOpt = 0,
    max_memory: MaxMemoryOpt = None,
    json: JsonOpt = False, quiet: QuietOpt = False,
):
    """Print the objective and its gradient, or the Jacobian of a let."""
    from diffopt.jacobian import JacobianResult, differentiate

    problem = load(file, set, data, seed, max_memory=max_memory)
    result = differentiate(problem, of, at=at, mode=mode or "auto", repeat=repeat)
    report_warnings(getattr(result, "warnings", ()))
    if json:
        print_json(result.to_json())
    elif isinstance(result, JacobianResult):
        from diffopt.report.derivatives import print_jacobian

        print_jacobian(consoles()[0], result, quiet=quiet)
    else:
        from diffopt.report.console import print_grad

        print_grad(consoles()[0], result, quiet=quiet)
    return ExitStatus.SUCCESS
