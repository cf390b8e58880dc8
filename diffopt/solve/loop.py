"""The solve driver: ``minimize`` runs one method until a stopping rule fires.

Owns method selection (``auto``), option checks, evaluation counting, the
stopping rules, best-so-far tracking, Ctrl-C (KeyboardInterrupt is caught
here so the best point can be reported) and the per-iteration
``IterationInfo`` events. It never prints and never imports Rich or the CLI;
a caller that wants progress passes ``callback``.

Defaults (for the man page):

- ``tol`` = 1e-8: the relative gradient test, lm's gtol, the constraint and
  simplex tolerance; sqrt(tol) is the guard every converged verdict needs.
  The stopping rules and the status words are diffopt.solve.stopping's.
- The reported ``gradient_norm`` is the largest absolute component of the
  gradient (of the projected gradient x - clip(x - g, lower, upper) with
  bounds).
- nelder-mead: converged when the objective spread over the simplex is
  <= tol (1 + |f|), the vertices lie within sqrt(tol) (1 + max|x|) of the best
  one, and rebuilding the simplex there (at most 5 times) no longer lowers f
  by more than tol (1 + |f|). Its gradient norm is NaN (it never computes one).
- General constraints (augmented Lagrangian, see constraints.py): each round
  is an inner solve with the same tol; converged when the constraint measure
  (largest violation, with complementarity) is <= tol after a converged
  round; at most 50 rounds. A final largest violation above tol is "failed".
- ``max_iter``: gd, momentum, adam, bfgs, lbfgs 1000; newton 200;
  nelder-mead max(1000, 200 n); lm 200 (n + 1) trial evaluations. Under
  general constraints the limit counts inner iterations over all
  augmented-Lagrangian rounds.
- ``lr`` (gd, momentum, adam only): gd 0.1; momentum 0.01 with momentum
  coefficient 0.9; adam 0.01 with beta1 0.9, beta2 0.999, eps 1e-8. (The
  seed blog's terrain example runs gd with ``--lr 1.5 --max-iter 20``.)
- ``auto``: lm for a least-squares objective (residuals and Jacobian
  available) without general constraints, else lbfgs (projected when there
  are bounds).
- Evaluations: "objective" counts calls that computed f or the residuals,
  "gradient" calls that computed the gradient or the Jacobian (a call that
  returns both counts in both), "hessian" the Hessians formed (one per
  oracle.hessian call, or per n Hessian-vector products). Constraint
  evaluations are not counted. Without hessian or hvp, newton differences
  gradients (n gradient evaluations per Hessian).

Statuses (defined in diffopt.solve.stopping): converged, stalled, diverged,
max_iter, failed and interrupted (Ctrl-C: the best point found so far is
returned). Whatever the status, the returned point is the best one
seen, except that a converged run returns the point that met the rule. The
start point is first clipped into the bounds. NaN/inf warnings from NumPy
are silenced during a solve: non-finite values are handled explicitly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from diffopt import vocab
from diffopt.errors import OptionError, did_you_mean
from diffopt.solve.constraints import augmented_lagrangian, constraint_report
from diffopt.solve.linesearch import is_finite
from diffopt.solve.methods import METHODS, Method, choose_auto
from diffopt.solve.oracle import IterationInfo, Oracle
from diffopt.solve.result import SolveOutcome
from diffopt.solve.state import Settings
from diffopt.solve.stopping import (
    gradient_norm,
    least_squares_guard,
    num,
    runaway,
    start_rule,
    stopping_rule,
)

Callback = Callable[[IterationInfo], None]


# ---------------------------------------------------------------- counting evaluations


@dataclass
class _Counts:
    objective: int = 0
    gradient: int = 0
    hessian: int = 0


def _counting(oracle: Oracle, counts: _Counts) -> Oracle:
    """The same oracle with every call tallied; a Hessian is assembled from hvp if need be."""

    def value(x):
        counts.objective += 1
        return oracle.value(x)

    def value_and_grad(x):
        counts.objective += 1
        counts.gradient += 1
        return oracle.value_and_grad(x)

    def hessian(x):
        counts.hessian += 1
        if oracle.hessian is not None:
            return oracle.hessian(x)
        return np.column_stack([oracle.hvp(x, e) for e in np.eye(oracle.n)])

    def residuals(x):
        counts.objective += 1
        return oracle.residuals(x)

    def jacobian(x):
        counts.objective += 1
        counts.gradient += 1
        return oracle.jacobian(x)

    has_hessian = oracle.hessian is not None or oracle.hvp is not None
    return replace(
        oracle,
        value=value,
        value_and_grad=value_and_grad,
        hessian=hessian if has_hessian else None,
        residuals=residuals if oracle.residuals is not None else None,
        jacobian=jacobian if oracle.jacobian is not None else None,
    )


# ---------------------------------------------------------------- one run of one method


def run_method(
    oracle: Oracle,
    x0: np.ndarray,
    spec: Method,
    settings: Settings,
    *,
    tol: float,
    max_iter: int,
    callback: Callback | None = None,
    started: float | None = None,
    first_iteration: int = 0,
    observe: Callable[[np.ndarray], tuple[float, float]] | None = None,
) -> SolveOutcome:
    """Iterate ``spec`` from x0 until a stopping rule fires (see the module docstring).

    Args:
        oracle: the (counted) problem.
        x0: start point, inside the bounds.
        spec: the method.
        settings: bounds and step sizes.
        tol: gradient tolerance.
        max_iter: iteration limit for this run.
        callback: receives one IterationInfo per iteration.
        started: perf_counter() at the start of the whole solve (for ``elapsed``).
        first_iteration: iterations already done by earlier runs (event numbering).
        observe: x -> (objective, largest constraint violation) for the events, when
            the method sees a merit function rather than the objective itself.

    Returns:
        A SolveOutcome. KeyboardInterrupt is caught and turned into status "interrupted".
    """
    started = time.perf_counter() if started is None else started
    try:
        st = spec.init(oracle, x0, settings)
    except KeyboardInterrupt:
        return SolveOutcome(x0, math.nan, math.nan, "interrupted", "interrupted before the start "
                   "point was evaluated", 0)  # fmt: skip
    gnorm = gradient_norm(st, settings)
    if not is_finite(st.f, st.g):
        what = "objective" if not np.isfinite(st.f) else "gradient"
        shown = num(st.f) if what == "objective" else "not finite"
        return SolveOutcome(st.x, st.f, gnorm, "failed",
                            f"the {what} is {shown} at the start point", 0)
    message = start_rule(oracle, st, tol, settings)
    if message is not None:
        return SolveOutcome(st.x, st.f, gnorm, "converged", message, 0)

    best, best_gnorm = st, gnorm
    k = 0
    try:
        while k < max_iter:
            prev = st
            st = spec.update(oracle, st, settings)
            k += 1
            gnorm = gradient_norm(st, settings)
            if st.f < best.f:
                best, best_gnorm = st, gnorm
            if callback is not None:
                objective, violation = (st.f, 0.0) if observe is None else observe(st.x)
                callback(IterationInfo(
                    iteration=first_iteration + k,
                    objective=objective,
                    gradient_norm=gnorm,
                    step=float(np.linalg.norm(st.x - prev.x)),
                    elapsed=time.perf_counter() - started,
                    x=st.x.copy(),
                    max_violation=violation,
                ))  # fmt: skip
            # an augmented-Lagrangian round (observe given) is judged without the guard: its
            # penalty terms put the merit gradient's rounding far above sqrt(tol), and the
            # constraint measure decides the solve (see constraints.py)
            guarded = observe is None
            verdict = stopping_rule(prev, st, tol, settings, monotone=spec.monotone,
                                    own_test=spec.converged, x0=x0, labels=oracle.labels,
                                    guarded=guarded)  # fmt: skip
            if verdict is not None:
                status, message = verdict
                if status == "converged" and guarded:
                    ok, measured = least_squares_guard(oracle, st, tol, settings, x0)
                    if ok:
                        return SolveOutcome(st.x, st.f, gnorm, status, message, k)
                    status = "stalled"
                    message += f", but the {measured} is above {num(math.sqrt(tol))}"
                return SolveOutcome(best.x, best.f, best_gnorm, status, message, k)
    except KeyboardInterrupt:
        done = f"{k} iteration" + ("" if k == 1 else "s")
        message = f"interrupted after {done}; this is the best point found so far"
        return SolveOutcome(best.x, best.f, best_gnorm, "interrupted", message, k)
    if best.g is None:
        message = f"reached the {spec.limit} limit ({max_iter})"
    else:
        message = (
            f"reached the {spec.limit} limit ({max_iter}); gradient norm {num(best_gnorm)}"
        )
    ran_off = runaway(best, x0, oracle.labels)
    if ran_off is not None:
        return SolveOutcome(best.x, best.f, best_gnorm, "diverged", f"{message}; {ran_off}", k)
    return SolveOutcome(best.x, best.f, best_gnorm, "max_iter", message, k)


# ---------------------------------------------------------------- the public entry point


def _resolve_method(oracle: Oracle, method: str) -> Method:
    if method not in vocab.METHODS:
        hint = did_you_mean(method, vocab.METHODS)
        raise OptionError(
            f"unknown method '{method}'; choose one of {', '.join(vocab.METHODS)}", hint=hint,
            option="method",
        )
    name = choose_auto(oracle) if method == "auto" else method
    least_squares = oracle.residuals is not None and oracle.jacobian is not None
    if vocab.method_info(name).applies_to == "least-squares" and not least_squares:
        raise OptionError(
            f"method '{name}' needs a least-squares objective (a sum of squares of residuals)",
            hint="use --method lbfgs or --method auto", option="method",
        )
    return METHODS[name]


def _positive(option: str, value: float | None, default: float) -> float:
    if value is None:
        return default
    value = float(value)
    if not (math.isfinite(value) and value > 0.0):
        raise OptionError(f"--{option} must be a positive number, got {value!r}", option=option)
    return value


def _bounds(oracle: Oracle) -> tuple[np.ndarray, np.ndarray]:
    n = oracle.n
    lower = np.full(n, -np.inf) if oracle.lower is None else np.asarray(oracle.lower, float)
    upper = np.full(n, np.inf) if oracle.upper is None else np.asarray(oracle.upper, float)
    assert lower.shape == upper.shape == (n,), "bounds must have shape (n,)"
    assert not np.any(lower > upper), "lower bound above upper bound"
    return lower, upper


def minimize(
    oracle: Oracle,
    x0: np.ndarray,
    *,
    method: str = "auto",
    max_iter: int | None = None,
    tol: float | None = None,
    lr: float | None = None,
    callback: Callback | None = None,
) -> SolveOutcome:
    """Minimise the oracle's objective from x0.

    Args:
        oracle: the problem (objective, derivatives, bounds, constraints).
        x0: start point, shape (n,); clipped into the bounds first.
        method: "auto" or one of gd, momentum, adam, bfgs, lbfgs, newton, lm,
            nelder-mead.
        max_iter: iteration limit (default per method, see the module docstring).
        tol: gradient (and constraint) tolerance, default 1e-8.
        lr: step size for gd, momentum and adam (ignored by the others).
        callback: called with one IterationInfo per iteration; it may raise
            KeyboardInterrupt to stop the solve (status "interrupted").

    Returns:
        A SolveOutcome.

    Raises:
        OptionError: unknown method, lm without residuals, non-positive tol,
            lr or negative max_iter.
    """
    started = time.perf_counter()
    spec = _resolve_method(oracle, method)
    tol = _positive("tol", tol, vocab.DEFAULT_TOL)
    lr = _positive("lr", lr, spec.lr if spec.lr is not None else 0.1)
    if max_iter is None:
        max_iter = spec.max_iter(oracle.n)
    elif int(max_iter) != max_iter or max_iter < 0:
        raise OptionError(f"--max-iter must be a non-negative integer, got {max_iter!r}",
                          option="max_iter")
    lower, upper = _bounds(oracle)
    x0 = np.asarray(x0, dtype=float).reshape(oracle.n)
    x0 = np.clip(x0, lower, upper)
    settings = Settings(lower, upper, lr=lr, tol=tol)
    counts = _Counts()
    counted = _counting(oracle, counts)
    cons = oracle.constraints if oracle.constraints and oracle.constraints.names else None

    def inner(merit, x, inner_tol, budget, first, observe):
        return run_method(
            merit, x, spec, settings, tol=inner_tol, max_iter=max(budget, 0),
            callback=callback, started=started, first_iteration=first, observe=observe,
        )  # fmt: skip

    with np.errstate(all="ignore"):  # non-finite values are handled explicitly
        if oracle.n == 0:
            f = float(counted.value(x0))
            run = SolveOutcome(x0, f, 0.0, "converged", "there are no parameters to optimize", 0)
        elif cons is None:
            run = inner(counted, x0, tol, max_iter, 0, None)
        else:
            run = augmented_lagrangian(counted, x0, inner=inner, tol=tol, max_iter=max_iter)
        values = violations = None
        if cons is not None:
            values, violations = constraint_report(cons, run.x)
    return SolveOutcome(
        x=np.array(run.x, dtype=float),
        objective=float(run.objective),
        gradient_norm=float(run.gradient_norm),
        status=run.status,
        message=run.message,
        method=spec.name,
        iterations=run.iterations,
        evaluations={"objective": counts.objective, "gradient": counts.gradient,
                     "hessian": counts.hessian},
        constraint_values=values,
        constraint_violations=violations,
        time_s=time.perf_counter() - started,
    )  # fmt: skip
