"""Levenberg-Marquardt (lm) for least-squares objectives f = c |r|^2.

An (init, update) pair over frozen state (see diffopt.solve.state) that
reads residuals and their Jacobian from the oracle. Variables whose step
would leave the box are put on their bound and the step re-solved for the
others. A trial with NaN/inf residuals is rejected and the damping grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from diffopt.solve.linesearch import is_finite
from diffopt.solve.oracle import Oracle
from diffopt.solve.state import (
    ROUNDING,
    Settings,
    State,
    free_variables,
    project,
)

# ---------------------------------------------------------------- lm (Levenberg-Marquardt)


@dataclass(frozen=True, eq=False, kw_only=True)
class LMState(State):
    r: np.ndarray  # residuals at x
    jac: np.ndarray  # their Jacobian
    mu: float  # damping, relative to `scale`
    nu: float  # growth factor of mu after a rejected step (Nielsen)
    scale: np.ndarray  # running max of the squared column norms of J (Moré's scaling)


LM_MU0 = 1e-3
LM_MU_MAX = 1e16  # damping this strong leaves steps below rounding: give up


def _lm_point(oracle: Oracle, x: np.ndarray):
    r, jac = oracle.jacobian(x)
    r, jac = np.asarray(r, dtype=float), np.asarray(jac, dtype=float).reshape(r.size, x.size)
    f = oracle.residual_scale * float(r @ r)
    return r, jac, f, 2.0 * oracle.residual_scale * (jac.T @ r)


def lm_init(oracle: Oracle, x0: np.ndarray, s: Settings) -> LMState:
    r, jac, f, g = _lm_point(oracle, x0)
    colsq = np.sum(jac**2, axis=0)
    scale = np.where(np.isfinite(colsq) & (colsq > 0.0), colsq, 1.0)
    return LMState(x=x0, f=f, g=g, r=r, jac=jac, mu=LM_MU0, nu=2.0, scale=scale)


def _lm_step(st: LMState, free: np.ndarray, s: Settings) -> np.ndarray:
    """The damped step over the free variables, kept inside the bounds.

    Solves min |J p + r|^2 + mu |D p|^2 as a stacked least-squares problem
    (better conditioned than the normal equations). Variables whose step
    would leave the box are put on their bound and the rest re-solved, which
    keeps the linear model honest where plain clipping would bend the step.
    """
    step = np.zeros_like(st.x)
    for _ in range(st.x.size + 1):
        a = st.jac[:, free]
        stacked = np.vstack([a, np.diag(np.sqrt(st.mu * st.scale[free]))])
        rhs = np.concatenate([-(st.r + st.jac @ step), np.zeros(free.size)])
        if not (np.all(np.isfinite(stacked)) and np.all(np.isfinite(rhs))):
            # LAPACK may never return on inf (a scale of 1e308² overflows):
            # no step is a step the damping loop turns into a reasoned failure
            return np.zeros_like(st.x)
        p = np.linalg.lstsq(stacked, rhs, rcond=None)[0]
        trial = st.x[free] + p
        out = (trial < s.lower[free]) | (trial > s.upper[free])
        if not np.any(out):
            step[free] = p
            break
        hit = free[out]
        step[hit] = np.clip(trial[out], s.lower[hit], s.upper[hit]) - st.x[hit]
        free = free[~out]
    return step


def lm_update(oracle: Oracle, st: LMState, s: Settings) -> LMState:
    """One Levenberg-Marquardt trial on f = c |r|^2 (Nielsen's damping update).

    mu grows after a rejected trial and shrinks after a good one, from the
    ratio of the actual to the predicted decrease of |r|^2.
    """
    free = np.flatnonzero(free_variables(st.x, st.g, s))
    x = project(st.x + _lm_step(st, free, s), s)  # clip again: x + (b - x) may round past b
    step = x - st.x
    rr = float(st.r @ st.r)
    predicted = rr - float(np.sum((st.r + st.jac @ step) ** 2))
    ratio = -math.inf
    if predicted > 0.0 and np.any(step):
        r_trial = np.asarray(oracle.residuals(x), dtype=float)
        if np.all(np.isfinite(r_trial)):
            ratio = (rr - float(r_trial @ r_trial)) / predicted
    if ratio > 0.0:
        r, jac, f, g = _lm_point(oracle, x)
        if is_finite(f, g) and np.all(np.isfinite(jac)):
            mu = st.mu * max(1.0 / 3.0, 1.0 - (2.0 * ratio - 1.0) ** 3)
            scale = np.maximum(st.scale, np.sum(jac**2, axis=0))
            return LMState(x=x, f=f, g=g, r=r, jac=jac, mu=mu, nu=2.0, scale=scale, moved=True)
    mu, nu = st.mu * st.nu, st.nu * 2.0
    # Undamped, the Gauss-Newton model gains |r|^2 - min |J_F p + r|^2 at most.
    a = st.jac[:, free]
    p_gn = np.linalg.lstsq(a, -st.r, rcond=None)[0]
    if rr - float(np.sum((st.r + a @ p_gn) ** 2)) <= ROUNDING * rr:
        exhausted = "the Gauss-Newton model's decrease is below the rounding error of |r|^2"
        return replace(st, mu=mu, nu=nu, moved=False, exhausted=exhausted)
    stall = ""
    if mu > LM_MU_MAX:
        stall = "the damping grew without finding a smaller sum of squares"
    return replace(st, mu=mu, nu=nu, moved=False, stall=stall)
