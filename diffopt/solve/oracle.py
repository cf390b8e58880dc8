"""The oracle a solver sees: a flat parameter vector and callables over it.

The session (diffopt.session) builds an ``Oracle`` from a checked program;
the solvers know nothing else about the problem. Every callable takes and
returns float64 NumPy arrays; any value may be non-finite (NaN/inf) and
solvers must survive that (back off, never accept a non-finite point).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Oracle:
    """What a solver may ask of the problem.

    Attributes:
        n: number of scalar unknowns.
        value: x -> f(x) (a float; may be nan/inf).
        value_and_grad: x -> (f, g) with g of shape (n,).
        hvp: (x, v) -> H(x) @ v, or None when unavailable.
        hessian: x -> dense (n, n) Hessian, or None.
        residuals: for least-squares objectives f = residual_scale * sum(r(x)^2):
            x -> r of shape (m,); None when the objective is not a sum of squares.
        jacobian: x -> (r, J) with J of shape (m, n), the Jacobian of ``residuals``.
        residual_scale: the positive constant c in f = c * sum(r^2).
        lower, upper: bounds of shape (n,), -inf/inf where unbounded.
        constraints: general constraints (besides bounds), see ``Constraints``.
        labels: a name per scalar unknown ("w[0]"), for messages that name one.
    """

    n: int
    value: Callable[[np.ndarray], float]
    value_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]]
    hvp: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    hessian: Callable[[np.ndarray], np.ndarray] | None = None
    residuals: Callable[[np.ndarray], np.ndarray] | None = None
    jacobian: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None
    residual_scale: float = 1.0
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    constraints: Constraints | None = None
    labels: tuple[str, ...] | None = None

    @property
    def has_bounds(self) -> bool:
        return bool(
            (self.lower is not None and np.any(np.isfinite(self.lower)))
            or (self.upper is not None and np.any(np.isfinite(self.upper)))
        )


@dataclass(frozen=True)
class Constraints:
    """m scalar constraints c_i(x) {<= 0 | == 0}, evaluated together.

    Attributes:
        names: one label per scalar constraint (e.g. "budget", "cap[2]").
        kinds: one of "le" (c(x) <= 0) or "eq" (c(x) == 0) per constraint.
        value: x -> c(x) of shape (m,).
        value_and_jacobian: x -> (c, J) with J of shape (m, n).
    """

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    value: Callable[[np.ndarray], np.ndarray]
    value_and_jacobian: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]

    def violation(self, c: np.ndarray) -> np.ndarray:
        """Per-constraint violation (>= 0) of constraint values ``c``."""
        kinds = np.array(self.kinds)
        return np.where(kinds == "eq", np.abs(c), np.maximum(c, 0.0))


@dataclass(frozen=True)
class IterationInfo:
    """One event a solver emits per iteration (the CLI draws progress from it)."""

    iteration: int
    objective: float
    gradient_norm: float
    step: float
    elapsed: float
    x: np.ndarray = field(repr=False)
    max_violation: float = 0.0
    validation: float | None = None  # stochastic methods: the held-out rows' objective
