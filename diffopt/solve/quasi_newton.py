"""Quasi-Newton methods: bfgs (dense inverse-Hessian model) and lbfgs (limited memory).

Each is an (init, update) pair over frozen state (see diffopt.solve.state).
The step is the model's over the free variables (variables held at a bound
by the gradient stay fixed; the model is reduced exactly to the free ones,
as L-BFGS-B's subspace step is), followed by a strong Wolfe line search, or
projected backtracking when there are bounds. A failed line search resets
the model once before the method reports a stall. Line searches treat a
non-finite trial point as "too far".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from diffopt.solve.linesearch import projected_backtracking, strong_wolfe
from diffopt.solve.oracle import Oracle
from diffopt.solve.state import (
    ROUNDING,
    TINY,
    Settings,
    State,
    evaluate,
    free_variables,
)

# ---------------------------------------------------------------- quasi-Newton shared parts


def _line_search(oracle: Oracle, st: State, d: np.ndarray, s: Settings, fresh: bool):
    """Strong Wolfe without bounds; backtracking along the projected path with them.

    A fresh quasi-Newton model knows nothing about the problem's scale, so its
    first trial step is limited to unit length.
    """
    alpha0 = min(1.0, 1.0 / max(float(np.linalg.norm(d)), TINY)) if fresh else 1.0

    def fg(x):
        return evaluate(oracle, x)

    if s.bounded:
        return projected_backtracking(fg, st.x, st.f, st.g, d, s.lower, s.upper, alpha0=alpha0)
    return strong_wolfe(fg, st.x, st.f, st.g, d, alpha0=alpha0)


def _quasi_newton_direction(
    apply_h: Callable[[np.ndarray], np.ndarray], st: State, s: Settings
) -> np.ndarray:
    """d = -H g over the free variables (-g there if rounding spoilt H's descent).

    With H positive definite, g . d = -g_F' H g_F < 0, so d is a descent direction.
    """
    free = free_variables(st.x, st.g, s)
    g_free = np.where(free, st.g, 0.0)
    d = np.where(free, -apply_h(g_free), 0.0)
    slope = float(st.g @ d)
    return d if np.isfinite(slope) and slope < 0.0 else -g_free


QN_EXHAUSTED = "the quasi-Newton model's predicted decrease is below the rounding error of f"


def _unmeasurable(st: State, d: np.ndarray) -> bool:
    """The model's decrease for the step d, -g.d/2, would be lost in f's rounding,
    so no line search could confirm progress (checked only once the model has
    learnt some curvature)."""
    return -0.5 * float(st.g @ d) <= ROUNDING * abs(st.f)


def _curvature_ok(sk: np.ndarray, yk: np.ndarray) -> bool:
    """s'y > 0 by a margin: the pair can update a positive definite model."""
    sy = float(sk @ yk)
    return np.isfinite(sy) and sy > 1e-10 * float(np.linalg.norm(sk) * np.linalg.norm(yk))


# ---------------------------------------------------------------- bfgs


@dataclass(frozen=True, eq=False, kw_only=True)
class BFGSState(State):
    h: np.ndarray  # inverse Hessian approximation
    fresh: bool = True  # h is still the unscaled identity


def bfgs_init(oracle: Oracle, x0: np.ndarray, s: Settings) -> BFGSState:
    f, g = evaluate(oracle, x0)
    return BFGSState(x=x0, f=f, g=g, h=np.eye(x0.size))


def bfgs_update(oracle: Oracle, st: BFGSState, s: Settings) -> BFGSState:
    """One BFGS step: dense inverse-Hessian model, line search, rank-two update."""
    d = _quasi_newton_direction(_reduced_inverse(st.h, free_variables(st.x, st.g, s)), st, s)
    if not st.fresh and _unmeasurable(st, d):
        return replace(st, moved=False, exhausted=QN_EXHAUSTED)
    ls = _line_search(oracle, st, d, s, st.fresh)
    if not ls.ok:
        if not st.fresh:
            # The model may have gone stale: restart from steepest descent once.
            return bfgs_update(oracle, replace(st, h=np.eye(st.x.size), fresh=True), s)
        return replace(st, moved=False, stall=ls.message)
    sk, yk = ls.x - st.x, ls.g - st.g
    h, fresh = st.h, st.fresh
    if _curvature_ok(sk, yk):
        h = bfgs_inverse_update(h * (float(sk @ yk) / float(yk @ yk)) if fresh else h, sk, yk)
        fresh = False
    return BFGSState(x=ls.x, f=ls.f, g=ls.g, h=h, fresh=fresh, moved=True)


def _reduced_inverse(h: np.ndarray, free: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """v -> (B_FF)^-1 v for B = H^-1: the model's inverse Hessian with the held variables fixed.

    H_FF alone would ignore how the held variables couple to the free ones;
    the Schur complement H_FF - H_FA H_AA^-1 H_AF is the exact reduced inverse.
    """
    held = ~free
    if not np.any(held) or not np.any(free):
        return lambda v: h @ v
    hff, hfa, haa = h[np.ix_(free, free)], h[np.ix_(free, held)], h[np.ix_(held, held)]
    try:
        reduced = hff - hfa @ np.linalg.solve(haa, hfa.T)
    except np.linalg.LinAlgError:
        reduced = hff

    def apply(v: np.ndarray) -> np.ndarray:
        out = np.zeros_like(v)
        out[free] = reduced @ v[free]
        return out

    return apply


def bfgs_inverse_update(h: np.ndarray, sk: np.ndarray, yk: np.ndarray) -> np.ndarray:
    """H+ = (I - rho s y') H (I - rho y s') + rho s s', rho = 1 / y's (N&W eq. 6.17).

    Before the first update H is the identity scaled by s'y / y'y (N&W eq. 6.20).
    """
    rho = 1.0 / float(yk @ sk)
    hy = h @ yk
    return (
        h
        - rho * (np.outer(sk, hy) + np.outer(hy, sk))
        + (rho * rho * float(yk @ hy) + rho) * np.outer(sk, sk)
    )


# ---------------------------------------------------------------- lbfgs


@dataclass(frozen=True, eq=False, kw_only=True)
class LBFGSState(State):
    s_hist: tuple[np.ndarray, ...] = ()  # steps, oldest first
    y_hist: tuple[np.ndarray, ...] = ()  # gradient changes, oldest first


def lbfgs_init(oracle: Oracle, x0: np.ndarray, s: Settings) -> LBFGSState:
    f, g = evaluate(oracle, x0)
    return LBFGSState(x=x0, f=f, g=g)


def lbfgs_apply(q: np.ndarray, s_hist, y_hist) -> np.ndarray:
    """H q for the limited-memory BFGS inverse Hessian (two-loop recursion, N&W Alg. 7.4)."""
    q = q.copy()
    alphas = []
    for sk, yk in zip(reversed(s_hist), reversed(y_hist), strict=True):
        a = float(sk @ q) / float(yk @ sk)
        alphas.append(a)
        q -= a * yk
    if s_hist:
        q *= float(s_hist[-1] @ y_hist[-1]) / float(y_hist[-1] @ y_hist[-1])
    for sk, yk, a in zip(s_hist, y_hist, reversed(alphas), strict=True):
        b = float(yk @ q) / float(yk @ sk)
        q += (a - b) * sk
    return q


def lbfgs_reduced_apply(v: np.ndarray, s_hist, y_hist, free: np.ndarray) -> np.ndarray:
    """(B_FF)^-1 v on the free variables, B the L-BFGS Hessian (zero elsewhere).

    B = theta I - W M W' in compact form (Byrd, Nocedal & Schnabel 1994), with
    W = [Y, theta S] and M^-1 = [[-D, L'], [L, theta S'S]]; restricted to the
    free rows, the Sherman-Morrison-Woodbury formula inverts it through a
    2m x 2m system, as L-BFGS-B's subspace minimisation does.
    """
    sm, ym = np.column_stack(s_hist), np.column_stack(y_hist)
    theta = float(ym[:, -1] @ ym[:, -1]) / float(sm[:, -1] @ ym[:, -1])
    sy = sm.T @ ym
    lower = np.tril(sy, -1)
    m_inv = np.block([[-np.diag(np.diag(sy)), lower.T], [lower, theta * (sm.T @ sm)]])
    wf = np.hstack([ym, theta * sm])[free]
    vf = v[free]
    out = np.zeros_like(v)
    out[free] = vf / theta + wf @ np.linalg.solve(m_inv - wf.T @ wf / theta, wf.T @ vf) / theta**2
    return out


def _lbfgs_direction_operator(st: LBFGSState, s: Settings) -> Callable[[np.ndarray], np.ndarray]:
    free = free_variables(st.x, st.g, s)
    if not st.s_hist or np.all(free) or not np.any(free):
        return lambda v: lbfgs_apply(v, st.s_hist, st.y_hist)

    def apply(v: np.ndarray) -> np.ndarray:
        try:
            return lbfgs_reduced_apply(v, st.s_hist, st.y_hist, free)
        except np.linalg.LinAlgError:  # rounding broke the small system: use H_FF instead
            return lbfgs_apply(v, st.s_hist, st.y_hist)

    return apply


def lbfgs_update(oracle: Oracle, st: LBFGSState, s: Settings) -> LBFGSState:
    """One L-BFGS step with ``settings.memory`` pairs (reduced to the free variables)."""
    fresh = not st.s_hist
    d = _quasi_newton_direction(_lbfgs_direction_operator(st, s), st, s)
    if not fresh and _unmeasurable(st, d):
        return replace(st, moved=False, exhausted=QN_EXHAUSTED)
    ls = _line_search(oracle, st, d, s, fresh)
    if not ls.ok:
        if not fresh:
            # The memory may describe a different region: forget it and retry once.
            return lbfgs_update(oracle, replace(st, s_hist=(), y_hist=()), s)
        return replace(st, moved=False, stall=ls.message)
    sk, yk = ls.x - st.x, ls.g - st.g
    s_hist, y_hist = st.s_hist, st.y_hist
    if _curvature_ok(sk, yk):
        s_hist = (s_hist + (sk,))[-s.memory :]
        y_hist = (y_hist + (yk,))[-s.memory :]
    return LBFGSState(x=ls.x, f=ls.f, g=ls.g, s_hist=s_hist, y_hist=y_hist, moved=True)
