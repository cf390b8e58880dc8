"""``solve --starts N``: N solves from different starts, their best and distinct optima.

Starts are drawn by diffopt.explore.starts (start k depends only on the
seed and k), each is solved as its own task, and the results are put back
in start order, so the report is the same whatever the number of jobs or
the order in which tasks finished.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from diffopt.errors import UsageError
from diffopt.explore.executors import drive, make_executor
from diffopt.explore.starts import MERGE_RTOL, best_index, distinct_optima
from diffopt.explore.worker import ProblemRef, Task

MAX_STARTS = 100_000


@dataclass(frozen=True)
class MultiStartResult:
    """Every start's solution, the best one and the distinct optima they reached."""

    results: tuple  # SolveResult per start, start 0 first
    best_start: int
    optima: tuple  # Optimum, best first
    seed: int
    where: str  # where the starts ran, for the report
    time_s: float  # wall-clock time of all the starts

    @property
    def best(self):
        return self.results[self.best_start]

    @property
    def not_converged(self) -> int:
        return sum(r.status != "converged" for r in self.results)

    def to_json(self) -> dict:
        """The best solution's usual document plus ``multistart``: every start and optimum."""
        out = self.best.to_json()
        out["multistart"] = {
            "starts": len(self.results),
            "seed": self.seed,
            "best_start": self.best_start,
            "merge_rtol": MERGE_RTOL,
            "time_s": self.time_s,
            "optima": [o.to_json() for o in self.optima],
            "runs": [{"start": k, "status": r.status, "objective": r.objective.value,
                      "params": r.params, "start_point": r.start, "iterations": r.iterations,
                      "time_s": r.time_s} for k, r in enumerate(self.results)],
        }
        return out


def solve_starts(ref: ProblemRef, starts: int, *, jobs: int | None = None,
                 cluster: str | None = None,
                 progress: Callable[[int, int, int], None] | None = None) -> MultiStartResult:
    """Solve from ``starts`` starting points (see diffopt.explore.starts).

    ``progress(done, total, failures)`` is called as each start finishes.
    """
    if starts < 1 or starts > MAX_STARTS:
        raise UsageError(f"--starts must be between 1 and {MAX_STARTS}, not {starts}")
    began = time.perf_counter()
    executor = make_executor(ref, jobs, cluster, starts)
    where = executor.describe()
    queue = iter(range(starts))
    results: dict = {}
    failures = 0

    def next_task():
        k = next(queue, None)
        return None if k is None else Task(key=k, starts=(k,))

    def on_done(done) -> None:
        nonlocal failures
        if done.failure is not None:
            raise done.failure
        if done.error is not None:  # a bug in a worker
            raise RuntimeError(f"start {done.key}: {done.error}")
        results[done.key] = done.results[0]
        failures += done.results[0].status != "converged"
        if progress is not None:
            progress(len(results), starts, failures)

    drive(executor, next_task, on_done)
    ordered = tuple(results[k] for k in range(starts))
    sense = ordered[0].objective.sense
    return MultiStartResult(ordered, best_index(ordered, sense),
                            tuple(distinct_optima(ordered, sense)), ref.seed, where,
                            time.perf_counter() - began)
