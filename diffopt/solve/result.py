"""The outcome of one solve: what ``diffopt solve`` reports, in the JSON contract's names.

This module owns only the result record. It does not format, print or
serialise (``report/`` does that) and imports nothing from the rest of
diffopt, so the CLI, the API and the tests can all depend on it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Status = Literal["converged", "stalled", "diverged", "max_iter", "failed", "interrupted"]

# defined in diffopt.solve.stopping and man/diffopt-solve.1
STATUSES: tuple[str, ...] = ("converged", "stalled", "diverged", "max_iter", "failed",
                             "interrupted")


@dataclass(frozen=True, eq=False)
class SolveOutcome:
    """What a solve found and why it stopped; also what each method's run hands on.

    Attributes:
        x: the best point found (inside the bounds), shape (n,).
        objective: f(x) (for least squares, ``residual_scale * sum(r^2)``);
            within the solver, of the function the method saw (under an
            augmented Lagrangian, the merit function of one round).
        gradient_norm: largest absolute component of the gradient at ``x``;
            of the projected gradient ``x - clip(x - g, lower, upper)`` when
            bounds exist; of the Lagrangian's gradient when general
            constraints exist; NaN for the derivative-free nelder-mead.
        status: one of STATUSES (see diffopt.solve.stopping).
        message: a plain-language reason for stopping.
        iterations: iterations performed (inner iterations, summed, under an
            augmented Lagrangian).
        method: the method that ran ("lbfgs", "lm", ...), the concrete choice
            when ``auto`` was asked for ("" inside the solver, filled at the end).
        evaluations: {"objective": k, "gradient": k, "hessian": k}: calls that
            computed f or residuals, calls that computed the gradient or the
            Jacobian (a call returning both counts in both), and Hessians formed.
        constraint_values: c(x) of the general constraints, or None without any.
        constraint_violations: per-constraint violation (>= 0), or None.
        time_s: wall-clock seconds spent in the solve.
    """

    x: np.ndarray
    objective: float
    gradient_norm: float
    status: Status
    message: str
    iterations: int
    method: str = ""
    evaluations: dict = field(default_factory=dict)
    constraint_values: np.ndarray | None = None
    constraint_violations: np.ndarray | None = None
    time_s: float = 0.0

    def __post_init__(self) -> None:
        assert self.status in STATUSES, self.status
        assert not self.evaluations or set(self.evaluations) == {"objective", "gradient",
                                                                  "hessian"}

    @property
    def converged(self) -> bool:
        return self.status == "converged"

    @property
    def max_violation(self) -> float:
        """Largest constraint violation (0.0 without general constraints)."""
        v = self.constraint_violations
        return float(np.max(v)) if v is not None and v.size else 0.0
