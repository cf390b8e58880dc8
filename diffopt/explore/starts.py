"""Starting points of a multi-start, and the distinct local optima its solves reach.

Start 0 is the file's own start. Start k >= 1 of ``--seed S`` draws, per
parameter (documented in diffopt-solve(1), MULTI-START):

* a parameter declared ``~ normal(m, s)`` or ``~ uniform(lo, hi)``: the start
  ``--seed S+k`` would give it (so the starts of ``--starts N --seed S`` are
  exactly the starts of N separate solves with seeds S .. S+N-1);
* else, entries with both bounds finite: uniform inside the bounds;
* else: the start plus a normal step whose standard deviation is the
  parameter's scale, the largest magnitude of its start (at least 1),
  clipped into a one-sided bound.

Each start's draws come from its own stream keyed by (S, k, parameter), so
a start does not depend on how many starts there are or where it runs.

Solutions are the same local optimum when their objective values agree to
``MERGE_RTOL`` relative (at least that much absolute): networks and other
symmetric problems reach one optimum at many points, which is still one
answer to "is this the best minimum?".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffopt.check.declarations import draw_start

EXPLORE_STREAM = 0x57A7  # key of the multi-start streams
MERGE_RTOL = 1e-6  # objectives this close (relative, at least absolute) are one optimum


def start_point(problem, seed: int, k: int) -> np.ndarray:
    """The flat start k of a multi-start under ``seed`` (0: the file's start)."""
    if k == 0:
        return problem.start_point()
    values = {}
    for number, p in enumerate(problem.params):
        rng = np.random.default_rng([seed, EXPLORE_STREAM, k, number])
        step = rng.standard_normal(p.shape)
        unit = rng.random(p.shape)
        if p.draw is not None:
            value = draw_start(p.draw, p.shape, seed + k)
        else:
            scale = max(1.0, float(np.max(np.abs(p.start)))) if p.size else 1.0
            boxed = np.isfinite(p.lower) & np.isfinite(p.upper)
            width = np.where(boxed, p.upper - p.lower, 0.0)
            inside = np.where(boxed, p.lower, 0.0) + unit * width
            value = np.where(boxed, inside, p.start + scale * step)
        values[p.name] = np.clip(value, p.lower, p.upper)
    return problem.flatten(values)


@dataclass(frozen=True)
class Optimum:
    """One distinct local optimum: its best solution and the starts that reached it."""

    objective: float  # the best objective value among its starts, as written
    starts: tuple  # indices of the starts that reached it, ascending
    params: dict  # the parameters of its best start

    @property
    def count(self) -> int:
        return len(self.starts)

    def to_json(self) -> dict:
        return {"objective": self.objective, "count": self.count,
                "starts": list(self.starts), "params": self.params}


def same_optimum(a: float, b: float, rtol: float = MERGE_RTOL) -> bool:
    """Objective values close enough to be one optimum."""
    return abs(a - b) <= rtol * max(1.0, abs(a), abs(b))


def distinct_optima(results, sense: str, rtol: float = MERGE_RTOL) -> list[Optimum]:
    """Group converged solutions (``SolveResult``s, start k at position k) by objective.

    Sorted best first; a solution joins the group whose best value it agrees
    with, else starts a new one. Non-converged solutions are left out.
    """
    sign = -1.0 if sense == "maximize" else 1.0
    ranked = sorted((sign * r.objective.value, k) for k, r in enumerate(results)
                    if r.status == "converged" and np.isfinite(r.objective.value))
    groups: list[list[int]] = []
    for value, k in ranked:
        if groups and same_optimum(sign * results[groups[-1][0]].objective.value, sign * value,
                                   rtol):
            groups[-1].append(k)
        else:
            groups.append([k])
    return [Optimum(float(results[g[0]].objective.value), tuple(sorted(g)), results[g[0]].params)
            for g in groups]


def best_index(results, sense: str) -> int:
    """The start whose solution is reported: the best converged one, else the best finite."""
    sign = -1.0 if sense == "maximize" else 1.0

    def rank(k: int):
        value = results[k].objective.value
        finite = bool(np.isfinite(value))
        return (results[k].status != "converged", not finite,
                sign * value if finite else 0.0, k)

    return min(range(len(results)), key=rank)
