"""One task solved wherever it runs: this process, a pool process or a Dask worker.

A ``ProblemRef`` says how to load the problem (path or text, ``--set``,
``--data``, seed, solve options); a ``Task`` is one sweep case or a batch of
multi-start starts. ``run_task`` keeps the loaded session per thread, so a
worker reads, parses and checks the problem once for all the starts of a
multi-start, and once per case of a sweep (a swept constant is checked
anew: constants may change shapes and bounds).

Errors in a task's input (a swept value the problem refuses) come back as
the task's ``error``, as does any other exception (as text: the parent
process decides what to print).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass, field

from diffopt import api
from diffopt.errors import DopError, UsageError
from diffopt.explore.starts import start_point


@dataclass(frozen=True)
class ProblemRef:
    """What a worker needs to load the problem and solve it the way the command says."""

    path: str  # an absolute path, or "-" with ``text``
    text: str | None = None
    sets: tuple = ()  # the command's --set: ((name, value), ...)
    data: tuple = ()  # --data: ((name, path), ...)
    seed: int = 0
    options: tuple = ()  # api.solve keywords: ((name, value), ...)
    max_memory: str | None = None  # --max-memory, for every worker's load


@dataclass(frozen=True)
class Task:
    """Solve the problem with ``sets`` from each start in ``starts`` (multi-start indices).

    ``warm`` (parameter name -> value), when given, replaces start 0: the
    optimum of a finished neighbouring case. If that solve does not
    converge, start 0 proper is tried too and the better kept.
    """

    key: int
    sets: tuple = ()  # ((name, float), ...): a sweep case's constants
    starts: tuple = (0,)
    warm: dict | None = None


@dataclass(frozen=True)
class TaskResult:
    """The solutions of a task's starts, in the order of ``Task.starts``."""

    key: int
    results: tuple = ()  # SolveResult per start
    error: str | None = None  # the problem refused the task's settings, or a bug
    failure: DopError | None = None  # the refusal itself (None for a bug)
    crashed: bool = False  # the task ended its worker processes (killed, out of memory)
    warm_used: bool = False  # the reported solution of start 0 came from the warm start
    time_s: float = 0.0
    worker: str = field(default="")


_local = threading.local()


def run_task(ref: ProblemRef, task: Task) -> TaskResult:
    """Solve one task (what every executor calls, in whatever process)."""
    started = time.perf_counter()
    where = f"{socket.gethostname()}:{os.getpid()}"
    try:
        session = _session(ref, task.sets)
        results, warm_used = [], False
        for k in task.starts:
            result = None
            if k == task.starts[0] and task.warm is not None:
                result = _from_warm(session, ref, task.warm)
                warm_used = result is not None
            if result is None or result.status != "converged":
                fresh = _solve(session, ref, start_point(session.problem, ref.seed, k))
                if result is None or _better(fresh, result):
                    result, warm_used = fresh, False
            results.append(result)
    except DopError as exc:
        return TaskResult(task.key, error=str(exc), failure=exc,
                          time_s=time.perf_counter() - started, worker=where)
    except Exception as exc:  # a bug: the parent reports it, the worker lives on
        return TaskResult(task.key, error=f"internal error: {type(exc).__name__}: {exc}",
                          time_s=time.perf_counter() - started, worker=where)
    return TaskResult(task.key, tuple(results), warm_used=warm_used,
                      time_s=time.perf_counter() - started, worker=where)


def _session(ref: ProblemRef, sets: tuple):
    """The session of (ref, sets), loaded once per thread and kept while they repeat."""
    key = (ref.path, ref.text, ref.sets, ref.data, ref.seed, sets)
    cached = getattr(_local, "loaded", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    session = api.load(ref.path, sets={**dict(ref.sets), **dict(sets)}, data=dict(ref.data),
                       seed=ref.seed, stdin_text=ref.text, max_memory=ref.max_memory)
    _local.loaded = (key, session)
    return session


def _solve(session, ref: ProblemRef, x0):
    result = api.solve(session, start=x0, **dict(ref.options))
    if result.status == "interrupted":  # Ctrl-C or SIGTERM in this process: stop the run
        raise KeyboardInterrupt
    return result


def _from_warm(session, ref: ProblemRef, warm: dict):
    """The solve from a neighbour's optimum, or None when it does not fit this case."""
    problem = session.problem
    try:
        x0 = problem.flatten(warm)
    except (KeyError, ValueError):  # the case changed a parameter's shape
        return None
    lower, upper = problem.bounds()
    if (x0 < lower).any() or (x0 > upper).any():
        return None
    return _solve(session, ref, x0)


def _better(a, b) -> bool:
    """Is solution a better than b: converged first, then the objective in its sense."""
    if (a.status == "converged") != (b.status == "converged"):
        return a.status == "converged"
    sign = -1.0 if a.objective.sense == "maximize" else 1.0
    return sign * a.objective.value < sign * b.objective.value


def problem_ref(path: str, *, sets: dict, data: dict, seed: int, options: dict,
                stdin_text: str | None = None, max_memory: str | None = None) -> ProblemRef:
    """The ``ProblemRef`` of a command's arguments: paths made absolute (workers may
    run elsewhere), the problem's text kept when it came from standard input."""
    if "-" in data.values():
        raise UsageError("--data NAME=- cannot be combined with --starts or sweep: worker "
                         "processes cannot read standard input; save the table to a file")
    return ProblemRef(
        path=path if path == "-" else os.path.abspath(path),
        text=stdin_text if path == "-" else None,
        sets=tuple(sets.items()),
        data=tuple((name, os.path.abspath(p)) for name, p in data.items()),
        seed=int(seed),
        options=tuple((k, v) for k, v in options.items() if v is not None),
        max_memory=max_memory,
    )
