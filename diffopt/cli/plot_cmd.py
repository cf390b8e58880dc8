"""``diffopt plot KIND FILE``: a landscape, trace, fit or slice, to a file or the terminal."""

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
    progress_display,
)
from diffopt.status import ExitStatus
from diffopt.vocab import PLOT_KINDS, choices_text


@app.command("plot")
@command
def plot_command(
    kind: Annotated[str, typer.Argument(help="What to draw: " + choices_text(PLOT_KINDS) + ".",
                                        metavar="KIND", autocompletion=one_of(PLOT_KINDS))],
    file: FileArg,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Write a PNG, SVG or PDF (by extension; needs matplotlib).",
        metavar="FILE")] = None,
    method: Annotated[str | None, typer.Option(
        "--method", help="Solve method, or several for a trace: gd,momentum,lbfgs.")] = None,
    params: Annotated[str | None, typer.Option(
        "--params", help="Parameter entries to draw: x1,x2 (landscape), or any for a slice.")
    ] = None,
    range_: Annotated[str | None, typer.Option(
        "--range", help="Axis ranges: NAME=LOW:HIGH,...", metavar="RANGES")] = None,
    grid: Annotated[int | None, typer.Option(
        "--grid", help="Landscape points per axis (default 100).")] = None,
    at: AtOpt = None,
    x: Annotated[str | None, typer.Option(
        "--x", help="Fit: the data column on the x axis (xs, trips.distance_km).")] = None,
    max_iter: Annotated[int | None, typer.Option("--max-iter", help="Iteration limit.")] = None,
    tol: Annotated[float | None, typer.Option("--tol", help="Gradient tolerance.")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Step (gd, momentum, adam).")] = None,
    set: SetOpt = None, data: DataOpt = None, seed: SeedOpt = 0,
    max_memory: MaxMemoryOpt = None, json: JsonOpt = False, quiet: QuietOpt = False,
):
    """Solve, then draw the objective's landscape, the trace, the fit or slices."""
    from diffopt.plot import figures
    from diffopt.plot.kinds import plot

    if output is not None:
        figures.check_output(output)
        figures.require()
    with progress_display(quiet) as progress:
        session = load(file, set, data, seed, progress=progress.phase, max_memory=max_memory)
        shown = plot(session, kind, methods=method, params=params, ranges=range_,
                         grid=grid, at=at, x_name=x,
                         solve_options={"max_iter": max_iter, "tol": tol, "lr": lr,
                                        "callback": progress, "progress": progress.phase})
    if json:
        print_json(shown.to_json())
    if output is not None:
        figures.save([shown], output)
    elif not json:
        from diffopt.plot.terminal import render

        console = consoles()[0]
        for line in render(shown):
            console.print(line, soft_wrap=True)
    return ExitStatus.SUCCESS
