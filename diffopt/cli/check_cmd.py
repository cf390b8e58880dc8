"""``diffopt check FILE``: forward vs reverse vs central differences."""

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
    print_json,
    progress_display,
    report_warnings,
)
from diffopt.status import ExitStatus


@app.command("check")
@command
def check_command(
    file: FileArg,
    at: AtOpt = None,
    points: Annotated[int, typer.Option("--points", min=1, help="Number of points.")] = 1,
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance.")] = 1e-5,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance.")] = 1e-6,
    eps: Annotated[float | None, typer.Option(
        "--eps", help="Finite-difference step (relative); default cbrt(machine eps).")] = None,
    set: SetOpt = None, data: DataOpt = None, seed: SeedOpt = 0,
    max_memory: MaxMemoryOpt = None,
    json: JsonOpt = False, quiet: QuietOpt = False,
):
    """Check the derivatives: exit 1 when they disagree."""
    from diffopt import api

    with progress_display(quiet, label="checking") as progress:
        problem = load(file, set, data, seed, progress=progress.phase, max_memory=max_memory)
        progress.phase("comparing derivatives")
        result = api.check(problem, at=at, points=points, rtol=rtol, atol=atol, eps=eps)
    report_warnings(result.warnings)
    if json:
        print_json(result.to_json())
    else:
        from diffopt.report.console import print_check

        print_check(consoles()[0], result, quiet=quiet)
    return ExitStatus.SUCCESS if result.passed else ExitStatus.FAILURE

