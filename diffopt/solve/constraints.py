"""General constraints: an augmented Lagrangian outer loop around any method.

Owns the treatment of ``oracle.constraints`` (c_i(x) <= 0 or c_i(x) == 0;
bounds are handled natively by the methods, not here): the merit function
of each round, the multiplier and penalty updates, the feasibility verdict,
and the per-constraint values and violations reported to the user. It runs
the inner method through a callable handed in by loop.py, so it does not
import the driver; it never prints.

The merit function is Powell-Hestenes-Rockafellar's (as in ALGENCAN):

    L(x) = f(x) + rho/2 * sum_i s_i(x)^2,   s_i = c_i + lambda_i / rho   (equality)
                                           s_i = max(0, c_i + mu_i / rho) (inequality)

(up to a constant). After each round lambda <- lambda + rho c and
mu <- max(0, mu + rho c); rho grows tenfold when the constraint measure
V = max_i |c_i| (equalities) or |max(c_i, -mu_i/rho)| (inequalities) did not
halve. A least-squares objective stays least squares: the penalty terms are
extra residuals, so lm can be the inner method.

Defaults: the constraint tolerance is the solve's ``tol``; at most
``MAX_ROUNDS`` rounds; rho starts at 10 max(1, |f(x0)|) / max(1, |c(x0)|^2/2)
clipped to [1e-6, 1e4] and stops growing at ``RHO_MAX``; the iteration
limit counts inner iterations over all rounds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from diffopt.solve.oracle import Constraints, Oracle
from diffopt.solve.result import SolveOutcome

MAX_ROUNDS = 50
RHO_MAX = 1e10  # beyond this the merit function is too ill-conditioned to help
RHO_GROWTH = 10.0
MEASURE_DECREASE = 0.5  # the constraint measure must at least halve per round, else rho grows

# observe(x) -> (f(x), largest violation at x): what progress events show under constraints
Observe = Callable[[np.ndarray], tuple[float, float]]
# inner(merit oracle, x0, tol, max_iter, first_iteration, observe) -> SolveOutcome
InnerSolve = Callable[[Oracle, np.ndarray, float, int, int, Observe], SolveOutcome]


def constraint_report(cons: Constraints, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, violations) of the constraints at x; violations are >= 0."""
    c = np.asarray(cons.value(x), dtype=float).reshape(len(cons.names))
    return c, cons.violation(c)


def _merit(oracle: Oracle, cons: Constraints, lam: np.ndarray, rho: float):
    """The round's merit oracle, and an ``Observe`` for progress events.

    The merit callables remember f and c at the points they evaluate, so the
    events can show the true objective and the violation without evaluating again.
    """
    eq = np.array(cons.kinds) == "eq"
    m = len(cons.names)
    seen: dict[bytes, tuple[float, np.ndarray]] = {}  # x -> (f, c), recent points only

    def remember(x: np.ndarray, f, c) -> np.ndarray:
        c = np.asarray(c, dtype=float).reshape(m)
        if len(seen) >= 64:
            seen.pop(next(iter(seen)))
        seen[x.tobytes()] = (float(f), c)
        return c

    def shifted(c: np.ndarray) -> np.ndarray:
        s = c + lam / rho
        return np.where(eq | (s > 0.0), s, 0.0)

    def value(x):
        f = float(oracle.value(x))
        s = shifted(remember(x, f, cons.value(x)))
        return f + 0.5 * rho * float(s @ s)

    def value_and_grad(x):
        f, g = oracle.value_and_grad(x)
        c, jac = cons.value_and_jacobian(x)
        s = shifted(remember(x, f, c))
        jac = np.asarray(jac, dtype=float).reshape(m, x.size)
        return float(f) + 0.5 * rho * float(s @ s), np.asarray(g, dtype=float) + rho * (jac.T @ s)

    def observe(x: np.ndarray) -> tuple[float, float]:
        known = seen.get(x.tobytes())
        if known is None:
            f = float(oracle.value(x))
            known = (f, remember(x, f, cons.value(x)))
        return known[0], float(np.max(cons.violation(known[1]), initial=0.0))

    merit = replace(
        oracle, value=value, value_and_grad=value_and_grad, hessian=None, hvp=None,
        residuals=None, jacobian=None, constraints=None,
    )  # fmt: skip
    if oracle.residuals is not None and oracle.jacobian is not None:
        # c * sum(r^2) + rho/2 * sum(s^2) = c * sum([r, w s]^2) with w = sqrt(rho / 2c).
        scale = oracle.residual_scale
        w = math.sqrt(0.5 * rho / scale)

        def residuals(x):
            r = np.asarray(oracle.residuals(x), dtype=float)
            c = remember(x, scale * float(r @ r), cons.value(x))
            return np.concatenate([r, w * shifted(c)])

        def jacobian(x):
            r, jr = oracle.jacobian(x)
            r = np.asarray(r, dtype=float)
            c, jc = cons.value_and_jacobian(x)
            s = shifted(remember(x, scale * float(r @ r), c))
            active = (eq | (s > 0.0))[:, None]
            jc = np.where(active, np.asarray(jc, dtype=float).reshape(m, x.size), 0.0)
            return np.concatenate([r, w * s]), np.vstack([jr, w * jc])

        merit = replace(merit, residuals=residuals, jacobian=jacobian)
    return merit, observe


def _initial_rho(f0: float, violation0: np.ndarray) -> float:
    """ALGENCAN's choice: balance the objective against the squared infeasibility."""
    rho = 10.0 * max(1.0, abs(f0)) / max(1.0, 0.5 * float(violation0 @ violation0))
    return float(np.clip(rho, 1e-6, 1e4)) if np.isfinite(rho) else 10.0


def augmented_lagrangian(
    oracle: Oracle, x0: np.ndarray, *, inner: InnerSolve, tol: float, max_iter: int
) -> SolveOutcome:
    """Minimise f subject to oracle.constraints by rounds of inner solves.

    Args:
        oracle: the problem, with ``constraints`` set (bounds pass through to
            the inner method untouched).
        x0: the start point, inside the bounds.
        inner: runs the chosen method on a merit oracle (see ``InnerSolve``).
        tol: inner tolerance and constraint tolerance (largest violation).
        max_iter: limit on inner iterations summed over all rounds.

    Returns:
        A SolveOutcome whose ``objective`` is f(x) (not the merit) and whose
        ``gradient_norm`` is that of the Lagrangian with the final multipliers.
        Its status is "failed" whenever the final largest violation exceeds
        ``tol``, with a message that says the problem looks infeasible.
    """
    cons = oracle.constraints
    assert cons is not None and cons.names
    eq = np.array(cons.kinds) == "eq"
    x, iterations, run = x0, 0, None
    try:
        c0, v0 = constraint_report(cons, x0)
        if not np.all(np.isfinite(c0)):
            bad = cons.names[int(np.flatnonzero(~np.isfinite(c0))[0])]
            return SolveOutcome(x0, math.nan, math.nan, "failed",
                       f"constraint '{bad}' is not finite at the start point", 0)  # fmt: skip
        lam = np.zeros(len(cons.names))
        rho = _initial_rho(float(oracle.value(x0)), v0)
        measure_prev, stuck = math.inf, 0
        for _ in range(MAX_ROUNDS):
            merit, observe = _merit(oracle, cons, lam, rho)
            run = inner(merit, x, tol, max_iter - iterations, iterations, observe)
            iterations += run.iterations
            x = run.x
            if run.status == "interrupted" or not np.isfinite(run.objective):
                break
            c = np.asarray(cons.value(x), dtype=float).reshape(len(cons.names))
            measure = float(np.max(np.abs(np.where(eq, c, np.maximum(c, -lam / rho)))))
            lam = np.where(eq, lam + rho * c, np.maximum(0.0, lam + rho * c))
            if measure <= tol and run.status == "converged":
                break
            if run.status == "max_iter" or iterations >= max_iter:
                # The inner run only saw what was left of the budget: report the whole limit.
                message = f"reached the iteration limit ({max_iter})"
                run = replace(run, status="max_iter", message=message)
                break
            if measure > MEASURE_DECREASE * measure_prev:
                if rho >= RHO_MAX:
                    stuck += 1
                    if stuck >= 2:  # no progress even at the largest penalty
                        break
                rho = min(rho * RHO_GROWTH, RHO_MAX)
            measure_prev = measure
    except KeyboardInterrupt:  # between inner runs: the last round's point is the best we have
        message = f"interrupted after {iterations} iterations; this is the best point found so far"
        run = SolveOutcome(x, math.nan, math.nan, "interrupted", message, iterations)
    assert run is not None
    return _verdict(oracle, cons, run, x, iterations, tol)


def _verdict(oracle: Oracle, cons: Constraints, run: SolveOutcome, x, iterations: int,
             tol: float) -> SolveOutcome:
    """Turn the last round into the solve's status and message."""
    f = float(oracle.value(x))
    _, violation = constraint_report(cons, x)
    worst = int(np.argmax(violation))
    vmax = float(violation[worst])
    where_ = f"{vmax:.2g} in '{cons.names[worst]}'"
    if run.status == "interrupted":
        return replace(run, x=x, objective=f, iterations=iterations)
    if not np.isfinite(run.objective):
        return replace(run, x=x, objective=f, iterations=iterations)
    if vmax > tol:
        if run.status == "max_iter":
            message = (
                f"stopped at the iteration limit with constraints still violated "
                f"(largest violation {where_}); the problem may be infeasible, "
                f"or may need more iterations"
            )
        else:
            message = (
                f"the constraints could not be satisfied (largest violation {where_} "
                f"is above tol {tol:.2g}); the problem looks infeasible"
            )
        return SolveOutcome(x, f, run.gradient_norm, "failed", message, iterations)
    if run.status == "converged":
        message = f"{run.message}; constraints satisfied (largest violation {vmax:.2g})"
        return SolveOutcome(x, f, run.gradient_norm, "converged", message, iterations)
    if run.status == "max_iter":
        return SolveOutcome(x, f, run.gradient_norm, "max_iter", run.message, iterations)
    message = (
        f"the augmented Lagrangian did not settle ({run.message}); "
        f"constraints satisfied (largest violation {vmax:.2g})"
    )
    return SolveOutcome(x, f, run.gradient_norm, "failed", message, iterations)
