"""``diffopt sweep FILE --set NAME=LO:HI:N ...``: solve for every case of a grid of constants."""

from __future__ import annotations

import os
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
    assignments,
    command,
    consoles,
    one_of,
    print_json,
)
from diffopt.cli.explore_opts import ClusterOpt, JobsOpt, cases_progress, explore_problem
from diffopt.cli.solve_cmd import METHOD_HELP, MODE_HELP
from diffopt.errors import UsageError
from diffopt.status import ExitStatus
from diffopt.vocab import METHODS, MODES, SWEEP_LAYOUTS, choices_text


@app.command("sweep")
@command
def sweep_command(
    file: FileArg,
    set: Annotated[list[str] | None, typer.Option(
        "--set", help="Sweep a const: NAME=LO:HI:N (N values from LO to HI) or "
                      "NAME=v1,v2,...; NAME=VALUE fixes it for every case.",
        metavar="NAME=VALUES")] = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Append one JSON line per finished case to this file.",
        metavar="FILE")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Run only the cases the -o file does not hold yet.")] = False,
    grid: Annotated[bool, typer.Option("--grid", help="Every combination (default).")] = False,
    zip_: Annotated[bool, typer.Option("--zip", help="Pair the values one to one.")] = False,
    starts: Annotated[int, typer.Option(
        "--starts", help="Starting points per case (see diffopt-solve(1)).",
        metavar="N")] = 1,
    jobs: JobsOpt = None, cluster: ClusterOpt = None,
    method: Annotated[str | None, typer.Option("--method", help=METHOD_HELP,
                                               autocompletion=one_of(METHODS))] = None,
    max_iter: Annotated[int | None, typer.Option("--max-iter", help="Iteration limit.")] = None,
    tol: Annotated[float | None, typer.Option("--tol", help="Gradient tolerance.")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Step (gd, momentum, adam).")] = None,
    mode: Annotated[str | None, typer.Option("--mode", help=MODE_HELP,
                                             autocompletion=one_of(MODES))] = None,
    data: DataOpt = None, seed: SeedOpt = 0, max_memory: MaxMemoryOpt = None,
    json: JsonOpt = False, quiet: QuietOpt = False,
):
    """Solve the problem for every case of a grid of constants; exit 1 if any fails."""
    from diffopt.explore import grid as grids
    from diffopt.explore.jsonl import ResultsWriter, has_content, read_records
    from diffopt.explore.sweep import run_sweep

    if grid and zip_:
        raise UsageError(f"choose one of {choices_text(tuple('--' + s for s in SWEEP_LAYOUTS))}")
    if method is not None and method not in METHODS:
        raise UsageError(f"--method must be {choices_text(METHODS)}, not '{method}'")
    if mode is not None and mode not in MODES:
        raise UsageError(f"--mode must be {choices_text(MODES)}, not '{mode}'")
    if starts < 1:
        raise UsageError(f"--starts must be at least 1, not {starts}")
    swept, fixed = grids.split_sets(assignments(set, "--set"))
    cases = grids.make_cases(swept, "zip" if zip_ else "grid")
    if resume and not output:
        raise UsageError("--resume needs the results file: -o FILE")
    if output and not resume and has_content(output):
        raise UsageError(f"-o {output}: the file exists; --resume runs the cases it lacks "
                         "(or remove it to start over)")
    _refuse_inputs(output, file, assignments(data, "--data").values())
    options = dict(method=method, max_iter=max_iter, tol=tol, lr=lr, mode=mode)
    # load once here with the first case: bad input is reported before any worker starts
    session, ref = explore_problem(file, fixed, data, seed, options,
                                   check_with=cases[0].as_dict(), max_memory=max_memory)
    params = {p.name for p in session.problem.params}
    for name in swept:
        if name in params:
            raise UsageError(f"--set {name}: sweep varies constants; '{name}' is a param "
                             "(give its start with NAME=VALUE)")
    previous = read_records(output) if resume else []
    writer = ResultsWriter(output) if output else None
    bar = cases_progress(quiet, "cases")
    try:
        if bar is None:
            result = run_sweep(ref, cases, swept, starts=starts, jobs=jobs, cluster=cluster,
                               previous=previous, write=writer and writer.write)
        else:
            with bar:
                result = run_sweep(ref, cases, swept, starts=starts, jobs=jobs, cluster=cluster,
                                   previous=previous, write=writer and writer.write,
                                   progress=bar)
    finally:
        if writer is not None:
            writer.close()
    if json:
        print_json(result.to_json())
    else:
        from diffopt.report.explore import print_sweep_summary

        print_sweep_summary(consoles()[0], result)
    if result.interrupted:
        return ExitStatus.INTERRUPTED
    return ExitStatus.FAILURE if result.failures else ExitStatus.SUCCESS


def _refuse_inputs(output: str | None, file: str, data_paths) -> None:
    """-o must not write over the problem or a data table."""
    if not output:
        return
    target = os.path.realpath(output)
    for path in [file, *data_paths]:
        if path not in ("-", "") and os.path.exists(path) and os.path.realpath(path) == target:
            raise UsageError(f"-o {output}: that is an input file; choose another name")
    if output.endswith((".dop", ".csv")):
        raise UsageError(f"-o {output}: refusing to write results over a .dop or .csv file")
