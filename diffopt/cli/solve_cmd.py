"""``diffopt solve FILE``: minimize, with live progress and a final report."""

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
    SetOpt,
    assignments,
    command,
    consoles,
    load,
    one_of,
    print_json,
    progress_display,
    report_warnings,
)
from diffopt.cli.explore_opts import (
    ClusterOpt,
    JobsOpt,
    StartsOpt,
    cases_progress,
    explore_problem,
)
from diffopt.errors import UsageError
from diffopt.status import ExitStatus
from diffopt.vocab import INTERVALS, METHODS, MODES, choices_text

METHOD_HELP = choices_text(METHODS, default="auto") + "."
MODE_HELP = "Gradient mode: " + choices_text(MODES, default="auto") + "."


@app.command("solve")
@command
def solve_command(
    file: FileArg,
    method: Annotated[str | None, typer.Option("--method", help=METHOD_HELP,
                                               autocompletion=one_of(METHODS))] = None,
    max_iter: Annotated[int | None, typer.Option("--max-iter", help="Iteration limit.")] = None,
    tol: Annotated[float | None, typer.Option("--tol", help="Gradient tolerance.")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Step (gd, momentum, adam).")] = None,
    mode: Annotated[str | None, typer.Option("--mode", help=MODE_HELP,
                                             autocompletion=one_of(MODES))] = None,
    intervals: Annotated[str | None, typer.Option(
        "--intervals", help="A fit's confidence intervals: " + choices_text(
            INTERVALS, default="asymptotic") + ".", autocompletion=one_of(INTERVALS))] = None,
    confidence: Annotated[float | None, typer.Option(
        "--confidence", help="The level of a fit's confidence intervals (default 0.95).",
        metavar="LEVEL")] = None,
    trace: Annotated[str | None, typer.Option(
        "--trace", help="Write one JSON object per iteration to this file (JSON Lines).",
        metavar="FILE")] = None,
    sensitivity: Annotated[bool, typer.Option(
        "--sensitivity", help="Derivatives of the optimum with respect to the consts, "
                              "and the constraints' multipliers.")] = False,
    wrt: Annotated[str | None, typer.Option(
        "--wrt", help="Only these consts (comma-separated); implies --sensitivity.",
        metavar="C1,C2")] = None,
    set: SetOpt = None, data: DataOpt = None, seed: SeedOpt = 0,
    max_memory: MaxMemoryOpt = None,
    starts: StartsOpt = 1, jobs: JobsOpt = None, cluster: ClusterOpt = None,
    json: JsonOpt = False, quiet: QuietOpt = False,
):
    """Minimize (or maximize) the problem; exit 1 if it does not converge."""
    from diffopt import api

    if mode is not None and mode not in MODES:
        raise UsageError(f"--mode must be {choices_text(MODES)}, not '{mode}'")
    if starts != 1:
        if trace:
            raise UsageError("--trace records one solve; it cannot be combined with --starts")
        options = dict(method=method, max_iter=max_iter, tol=tol, lr=lr, mode=mode)
        return _solve_starts(file, set, data, seed, options, starts, jobs, cluster, json, quiet,
                             max_memory, sensitivity, wrt)
    writer = None
    try:
        with progress_display(quiet) as progress:
            session = load(file, set, data, seed, progress=progress.phase, max_memory=max_memory)
            _refuse_to_overwrite(trace, file, assignments(data, "--data").values())
            _check_wrt(session, sensitivity, wrt)
            writer = _TraceWriter(trace, session.problem) if trace else None

            def callback(info):
                progress(info)
                if writer is not None:
                    writer(info)

            result = api.solve(session, method=method, max_iter=max_iter, tol=tol, lr=lr,
                               mode=mode, intervals=intervals, confidence=confidence,
                               callback=callback, progress=progress.phase)
    finally:
        if writer is not None:
            writer.close()
    return _report(session, result, result, json, sensitivity, wrt)


def _solve_starts(file, sets, data, seed, options, starts, jobs, cluster, json, quiet,
                  max_memory, sensitivity, wrt):
    """``--starts N``: every start solved by diffopt.explore, the best reported as usual."""
    from diffopt.explore.multistart import solve_starts

    session, ref = explore_problem(file, assignments(sets, "--set"), data, seed, options,
                                   max_memory=max_memory)
    _check_wrt(session, sensitivity, wrt)
    bar = cases_progress(quiet, "starts")
    if bar is None:
        result = solve_starts(ref, starts, jobs=jobs, cluster=cluster)
    else:
        with bar:
            result = solve_starts(ref, starts, jobs=jobs, cluster=cluster, progress=bar)
    return _report(session, result.best, result, json, sensitivity, wrt)


def _check_wrt(session, sensitivity: bool, wrt: str | None) -> None:
    """A bad --wrt is refused before the solve."""
    if sensitivity or wrt is not None:
        from diffopt.sensitivity import chosen_consts

        chosen_consts(session.problem, _names(wrt))


def _report(session, best, result, json: bool, sensitivity: bool, wrt: str | None):
    """Print the solution (with its sensitivities, and a multi-start's optima);
    the exit status of ``best``."""
    report_warnings(best.warnings)
    derivatives = None
    if (sensitivity or wrt is not None) and best.status != "interrupted":
        from diffopt.sensitivity import sensitivity as sensitivities

        derivatives = sensitivities(session, session.problem.flatten(best.params),
                                    wrt=_names(wrt), converged=best.status == "converged")
        report_warnings(derivatives.warnings)
    if json:
        document = result.to_json()
        if derivatives is not None:
            document["sensitivity"] = derivatives.to_json()
        print_json(document)
    else:
        from diffopt.report.console import print_solve_report

        print_solve_report(consoles()[0], best)
        if derivatives is not None:
            from diffopt.report.derivatives import print_sensitivity

            print_sensitivity(consoles()[0], derivatives)
        if result is not best:
            from diffopt.report.explore import print_optima

            print_optima(consoles()[0], result)
    if best.status == "converged":
        return ExitStatus.SUCCESS
    if best.status == "interrupted":
        return ExitStatus.INTERRUPTED
    return ExitStatus.FAILURE


def _names(wrt: str | None) -> list[str] | None:
    """``--wrt a,b`` as names; an empty item is a usage error."""
    if wrt is None:
        return None
    names = [name.strip() for name in wrt.split(",")]
    if not all(names):
        raise UsageError(f"--wrt {wrt}: expected const names separated by commas")
    return names


def _refuse_to_overwrite(trace: str | None, file: str, data_paths) -> None:
    """--trace must not clobber the problem or a data file the user wrote."""
    if not trace:
        return
    inputs = [file, *data_paths]
    target = os.path.realpath(trace)
    for path in inputs:
        if path not in ("-", "") and os.path.exists(path) and os.path.realpath(path) == target:
            raise UsageError(f"--trace {trace}: that is an input file; choose another name")
    if trace.endswith(".dop") or trace.endswith(".csv"):
        raise UsageError(f"--trace {trace}: refusing to write a trace over a .dop or .csv file")


class _TraceWriter:
    """One JSON object per iteration (JSON Lines), flushed as it goes."""

    def __init__(self, path: str, problem):
        try:
            self.handle = open(path, "w", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--trace {path}: {exc.strerror or exc}") from None
        self.problem = problem

    def __call__(self, info) -> None:
        from diffopt.report.jsonout import dumps

        record = {
            "iteration": info.iteration,
            "objective": info.objective,
            "gradient_norm": info.gradient_norm,
            "step": info.step,
            "elapsed": info.elapsed,
            "params": self.problem.unflatten(info.x),
        }
        if info.max_violation:
            record["max_violation"] = info.max_violation
        if info.validation is not None:  # stochastic methods: one record per epoch
            record["validation"] = info.validation
        self.handle.write(dumps(record) + "\n")
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()
