"""``diffopt sweep``: solve a problem for every case of a grid of constants.

Cases are handed to an executor (diffopt.explore.executors) as workers free
up; each starts from the optimum of its nearest finished neighbour when
there is one (the worker falls back to the file's start if that solve does
not converge). Each finished case becomes one record, written to the
results file at once; ``--resume`` skips the cases the file already holds.
The order of the lines is the order cases finished; ``case`` numbers them
in grid order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from diffopt.explore.executors import drive, make_executor
from diffopt.explore.grid import Case, nearest, ranges
from diffopt.explore.jsonl import settings_key
from diffopt.explore.starts import best_index
from diffopt.explore.worker import ProblemRef, Task, TaskResult

ERROR_STATUS = "error"  # a case whose constants the problem refused


@dataclass(frozen=True)
class SweepResult:
    """The records of every case (resumed ones included), in case order."""

    records: tuple
    swept: tuple  # the swept constants' names
    resumed: int  # cases taken from the results file
    where: str
    time_s: float
    interrupted: bool = False

    @property
    def failures(self) -> int:
        return sum(r["status"] != "converged" for r in self.records)

    def to_json(self) -> dict:
        return {"swept": list(self.swept), "cases": list(self.records),
                "resumed": self.resumed, "time_s": self.time_s,
                "interrupted": self.interrupted}


def record_of(case: Case, done: TaskResult, starts: int, warm_from: int | None) -> dict:
    """The results-file line of a finished case."""
    record = {"case": case.index, "settings": case.as_dict()}
    if done.error is not None:
        record.update(status=ERROR_STATUS, error=done.error, time_s=done.time_s)
        return record
    results = done.results
    best = results[best_index(results, results[0].objective.sense)]
    record.update(
        status=best.status,
        objective=best.objective.value,
        objective_name=best.objective.name,
        params=best.params,
        iterations=best.iterations,
        time_s=done.time_s,
        message=best.message,
        warm_start=warm_from if done.warm_used else None,
    )
    if starts > 1:
        record["starts"] = starts
    return record


def run_sweep(ref: ProblemRef, cases: list[Case], swept: dict, *, starts: int = 1,
              jobs: int | None = None, cluster: str | None = None,
              previous: list[dict] = (), write: Callable[[dict], None] | None = None,
              progress: Callable[[int, int, int], None] | None = None) -> SweepResult:
    """Solve every case not already in ``previous`` (records of a results file).

    ``write(record)`` is called as each case finishes (before the next one is
    taken); ``progress(done, total, failures)`` after it.
    """
    began = time.perf_counter()
    wanted = {settings_key(case.as_dict()): case for case in cases}
    records: dict[int, dict] = {}
    for record in previous:
        case = wanted.get(settings_key(record["settings"]))
        if case is not None and case.index not in records:
            records[case.index] = {**record, "case": case.index}
    resumed = len(records)
    todo = iter([case for case in cases if case.index not in records])
    spans = ranges(swept)
    by_index = {case.index: case for case in cases}
    warm_of: dict[int, int | None] = {}
    executor = make_executor(ref, jobs, cluster, len(cases) - resumed)
    where = executor.describe()
    failures = sum(r["status"] != "converged" for r in records.values())

    def next_task():
        case = next(todo, None)
        if case is None:
            return None
        finished = [by_index[i] for i, r in records.items()
                    if r["status"] == "converged" and isinstance(r.get("params"), dict)]
        neighbour = nearest(case, finished, spans)
        warm_of[case.index] = neighbour.index if neighbour is not None else None
        warm = records[neighbour.index]["params"] if neighbour is not None else None
        return Task(key=case.index, sets=case.settings, starts=tuple(range(starts)),
                    warm=_plain(warm))

    def on_done(done: TaskResult) -> None:
        nonlocal failures
        if done.error is not None and done.failure is None and not done.crashed:
            raise RuntimeError(f"case {done.key}: {done.error}")  # a bug in a worker
        record = record_of(by_index[done.key], done, starts, warm_of.get(done.key))
        records[done.key] = record
        if write is not None:
            write(record)
        failures += record["status"] != "converged"
        if progress is not None:
            progress(len(records), len(cases), failures)

    interrupted = False
    if progress is not None:
        progress(len(records), len(cases), failures)
    try:
        drive(executor, next_task, on_done)
    except KeyboardInterrupt:
        interrupted = True
    return SweepResult(tuple(records[i] for i in sorted(records)), tuple(swept), resumed,
                       where, time.perf_counter() - began, interrupted)


def _plain(params: dict | None) -> dict | None:
    """Parameter values as arrays (records read back from a file hold lists)."""
    if params is None:
        return None
    return {name: np.asarray(value, dtype=np.float64) for name, value in params.items()}
