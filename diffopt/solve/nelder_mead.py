"""Nelder-Mead simplex search (derivative-free), with restarts of a collapsed simplex.

An (init, update) pair over frozen state (see diffopt.solve.state) plus its
own stopping rule, ``nelder_mead_converged``. Vertices are clipped into the
bounds; a vertex with a NaN/inf objective ranks worst.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from diffopt.solve.oracle import Oracle
from diffopt.solve.state import Settings, State, project

# ---------------------------------------------------------------- nelder-mead


@dataclass(frozen=True, eq=False, kw_only=True)
class NelderMeadState(State):
    simplex: np.ndarray  # (n + 1, n), best vertex first
    values: np.ndarray  # objective at each vertex, +inf where not finite
    restarts: int = 0
    f_restart: float = math.inf  # best objective when the simplex was last rebuilt


NM_REFLECT, NM_EXPAND, NM_CONTRACT, NM_SHRINK = 1.0, 2.0, 0.5, 0.5
NM_RESTARTS = 5  # a collapsed simplex is rebuilt around its best vertex at most this often


def _nm_value(oracle: Oracle, x: np.ndarray) -> float:
    f = float(oracle.value(x))
    return f if np.isfinite(f) else math.inf


def _nm_simplex(x0: np.ndarray, s: Settings) -> np.ndarray:
    """x0 and n vertices x0 + h_i e_i (h_i = 5% of x0_i, or 0.00025 at 0), as scipy does."""
    n = x0.size
    simplex = np.tile(x0, (n + 1, 1))
    for i in range(n):
        h = 0.05 * x0[i] if x0[i] != 0.0 else 0.00025
        # Step into the box when the vertex would be clipped back onto x0.
        if not s.lower[i] <= x0[i] + h <= s.upper[i]:
            h = -h
        simplex[i + 1, i] += h
    return project(simplex, s)


def nelder_mead_init(oracle: Oracle, x0: np.ndarray, s: Settings) -> NelderMeadState:
    n = x0.size
    simplex = _nm_simplex(x0, s)
    f0 = float(oracle.value(x0))
    if not np.isfinite(f0):  # the driver reports a non-finite start; spare the evaluations
        return NelderMeadState(x=x0, f=f0, g=None, simplex=simplex, values=np.full(n + 1, f0))
    values = np.array([f0] + [_nm_value(oracle, v) for v in simplex[1:]])
    return _nm_state(simplex, values, moved=False)


def _nm_state(simplex: np.ndarray, values: np.ndarray, moved: bool) -> NelderMeadState:
    order = np.argsort(values, kind="stable")
    simplex, values = simplex[order], values[order]
    return NelderMeadState(
        x=simplex[0], f=float(values[0]), g=None, simplex=simplex, values=values, moved=moved
    )


def nelder_mead_update(oracle: Oracle, st: NelderMeadState, s: Settings) -> NelderMeadState:
    """One reflect / expand / contract / shrink cycle (Lagarias et al. 1998), clipped to bounds.

    A simplex that has become small is rebuilt around its best vertex (as at
    the start) while that keeps paying off: Nelder-Mead can collapse away
    from a minimum (McKinnon 1998), and a restart is the standard remedy.
    """
    if _nm_small(st, s.tol) and _nm_may_restart(st, s.tol):
        sim = _nm_simplex(st.x, s)
        val = np.array([st.f] + [_nm_value(oracle, v) for v in sim[1:]])
        nxt = _nm_state(sim, val, moved=False)
        return replace(
            nxt, moved=nxt.f < st.f, restarts=st.restarts + 1, f_restart=min(st.f, nxt.f)
        )
    sim, val = st.simplex.copy(), st.values.copy()
    centroid = sim[:-1].mean(axis=0)
    worst = sim[-1]

    def point(coef: float) -> tuple[np.ndarray, float]:
        x = project(centroid + coef * (centroid - worst), s)
        return x, _nm_value(oracle, x)

    xr, fr = point(NM_REFLECT)
    new = None
    if fr < val[0]:
        xe, fe = point(NM_REFLECT * NM_EXPAND)
        new = (xe, fe) if fe < fr else (xr, fr)
    elif fr < val[-2]:
        new = (xr, fr)
    elif fr < val[-1]:
        xc, fc = point(NM_REFLECT * NM_CONTRACT)
        new = (xc, fc) if fc <= fr else None
    else:
        xc, fc = point(-NM_CONTRACT)
        new = (xc, fc) if fc < val[-1] else None
    if new is not None:
        sim[-1], val[-1] = new
    else:
        sim[1:] = project(sim[0] + NM_SHRINK * (sim[1:] - sim[0]), s)
        val[1:] = [_nm_value(oracle, v) for v in sim[1:]]
    nxt = _nm_state(sim, val, moved=True)
    return replace(
        nxt, moved=bool(np.any(nxt.x != st.x)), restarts=st.restarts, f_restart=st.f_restart
    )


def _nm_spreads(st: NelderMeadState) -> tuple[float, float]:
    return float(st.values[-1] - st.values[0]), float(np.max(np.abs(st.simplex - st.x)))


def _nm_small(st: NelderMeadState, tol: float) -> bool:
    """Objective spread <= tol (1 + |f|) and vertex spread <= sqrt(tol) (1 + max|x|)
    (at a smooth minimum the two go together)."""
    spread_f, spread_x = _nm_spreads(st)
    xtol = math.sqrt(tol) * (1.0 + float(np.max(np.abs(st.x))))
    return spread_f <= tol * (1.0 + abs(st.f)) and spread_x <= xtol


def _nm_may_restart(st: NelderMeadState, tol: float) -> bool:
    """No restart yet, or the last one still lowered the objective by more than tol."""
    gained = st.f_restart - st.f
    return st.restarts < NM_RESTARTS and gained > tol * (1.0 + abs(st.f))


def nelder_mead_converged(st: NelderMeadState, tol: float) -> str | None:
    """Converged when the simplex is small and rebuilding it no longer helps."""
    if not _nm_small(st, tol) or _nm_may_restart(st, tol):
        return None
    spread_f, spread_x = _nm_spreads(st)
    return (
        f"the simplex shrank below tolerance (objective spread {spread_f:.2g}, "
        f"vertex spread {spread_x:.2g}) after {st.restarts} restart(s)"
    )
