"""Options and plumbing ``solve --starts`` and ``sweep`` share: jobs, cluster, the problem.

``--jobs`` and ``--cluster`` say where tasks run (diffopt.explore.executors);
``explore_problem`` loads the problem once here, so bad input is reported
with its location before any worker starts, and describes it for workers.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from diffopt.cli.common import assignments, consoles

StartsOpt = Annotated[int, typer.Option(
    "--starts", help="Solve from N starting points (the file's start first; see "
                     "MULTI-START in diffopt-solve(1)) and list the distinct optima.",
    metavar="N")]
JobsOpt = Annotated[int | None, typer.Option(
    "--jobs", "-j", help="Local worker processes (default: the number of cores; 1 runs "
                         "in this process).", metavar="K")]
ClusterOpt = Annotated[str | None, typer.Option(
    "--cluster", help="Run on a Dask scheduler at tcp://HOST:PORT (default: "
                      "$DIFFOPT_CLUSTER); needs pip install 'diffopt-cli[dask]'.",
    metavar="ADDRESS")]


def explore_problem(file: str, sets: dict, data, seed: int, options: dict,
                    check_with: dict | None = None, max_memory: str | None = None):
    """(session, ProblemRef): the problem loaded here (with ``check_with``'s settings
    added: a sweep's first case), and how workers load it (with ``sets`` only)."""
    from diffopt import api
    from diffopt.explore.worker import problem_ref
    from diffopt.standard_input import standard_input_text

    text = standard_input_text() if file == "-" else None
    data_paths = assignments(data, "--data")
    ref = problem_ref(file, sets=sets, data=data_paths, seed=seed, options=options,
                      stdin_text=text, max_memory=max_memory)
    session = api.load(file, sets={**sets, **(check_with or {})}, data=data_paths, seed=seed,
                       stdin_text=text, max_memory=max_memory)
    return session, ref


def cases_progress(quiet: bool, label: str):
    """The progress bar of starts or cases on a terminal's stderr, else None."""
    if quiet or not sys.stderr.isatty():
        return None
    from diffopt.report.explore import CasesProgress

    return CasesProgress(consoles()[1], label)
