"""What every solve method shares: the settings, the base state and small helpers.

A method is an optax-style pair of plain functions over frozen state
(diffopt.solve.methods holds the table of them):

    state = bfgs_init(oracle, x0, settings)        # evaluates the start point
    state = bfgs_update(oracle, state, settings)   # one iteration; `state` is not mutated

Every state carries the current point ``x``, its objective ``f`` and gradient
``g`` (None for the derivative-free nelder-mead), ``moved`` (the update
accepted a new point), ``stall``: a plain reason when the update could not
make progress ("" otherwise), and ``exhausted``: a plain reason when it could
not because the decrease it predicts is below the objective's rounding error
(the driver reports that as converged, a stall as failed).

Bounds are native for every method: points are always projected into the
box [lower, upper] (``project``), and ``free_variables`` says which
variables a descent step may move. Non-finite values: a trial point whose
objective or gradient is NaN/inf is never accepted (each method says how it
backs off). Never prints; imports nothing from diffopt but the oracle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffopt.solve.oracle import Oracle

TINY = np.finfo(float).tiny
EPS = np.finfo(float).eps
ROUNDING = 10.0 * EPS  # a predicted decrease below ROUNDING |f| cannot be measured in f


# ---------------------------------------------------------------- settings and state


@dataclass(frozen=True, eq=False)
class Settings:
    """Per-solve knobs every method reads; the driver fills in the defaults.

    Attributes:
        lower, upper: bounds, arrays of shape (n,), -inf/inf where unbounded.
        lr: step size of gd, momentum and adam (ignored by the others).
        momentum: heavy-ball coefficient of momentum.
        beta1, beta2, eps: adam's moment decay rates and denominator guard.
        memory: number of (s, y) pairs lbfgs keeps.
        tol: the driver's tolerance (nelder-mead decides its restarts with it).
    """

    lower: np.ndarray
    upper: np.ndarray
    lr: float = 0.1
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    memory: int = 10
    tol: float = 1e-8

    @property
    def bounded(self) -> bool:
        return bool(np.any(np.isfinite(self.lower)) or np.any(np.isfinite(self.upper)))


def unbounded(n: int, **kwargs) -> Settings:
    """Settings for an n-dimensional problem without bounds."""
    return Settings(np.full(n, -np.inf), np.full(n, np.inf), **kwargs)


@dataclass(frozen=True, eq=False, kw_only=True)
class State:
    """What every method's state has; methods add their own fields."""

    x: np.ndarray
    f: float
    g: np.ndarray | None
    moved: bool = False
    stall: str = ""
    exhausted: str = ""


# ---------------------------------------------------------------- shared helpers


def evaluate(oracle: Oracle, x: np.ndarray) -> tuple[float, np.ndarray]:
    """f and g at x as a float and a float64 array."""
    f, g = oracle.value_and_grad(x)
    return float(f), np.asarray(g, dtype=float)


def project(x: np.ndarray, s: Settings) -> np.ndarray:
    return np.clip(x, s.lower, s.upper)


def projected_gradient(x: np.ndarray, g: np.ndarray, s: Settings) -> np.ndarray:
    """x - clip(x - g): the gradient with components that push against a bound removed.

    It is zero exactly at the first-order (KKT) points of the box-constrained problem.
    """
    return x - np.clip(x - g, s.lower, s.upper)


def free_variables(x: np.ndarray, g: np.ndarray, s: Settings) -> np.ndarray:
    """Mask of variables a descent step may move (not held at a bound by the gradient)."""
    binding = ((x <= s.lower) & (g > 0)) | ((x >= s.upper) & (g < 0))
    return ~binding
