"""Newton's method with the exact Hessian in a trust region.

An (init, update) pair over frozen state (see diffopt.solve.state), with the
trust-region subproblem (``trust_region_step``, any symmetric Hessian) and
the Hessian itself (``hessian_at``: the oracle's, Hessian-vector products,
or differences of gradients). Variables held at a bound by the gradient
stay fixed; the step over the others is projected into the box. A trial
with a NaN/inf objective or gradient is rejected and the region shrinks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from diffopt.solve.linesearch import is_finite
from diffopt.solve.oracle import Oracle
from diffopt.solve.state import (
    ROUNDING,
    TINY,
    Settings,
    State,
    evaluate,
    free_variables,
    project,
)

# ---------------------------------------------------------------- newton (trust region)


@dataclass(frozen=True, eq=False, kw_only=True)
class NewtonState(State):
    h: np.ndarray  # Hessian at x
    radius: float


TR_ACCEPT = 1e-4  # accept a trial when actual/predicted decrease exceeds this
TR_MAX = 1e20


def hessian_at(oracle: Oracle, x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The (symmetrised) Hessian at x: oracle.hessian, else n Hessian-vector
    products, else forward differences of the gradient (n gradient evaluations)."""
    n = x.size
    if oracle.hessian is not None:
        h = np.asarray(oracle.hessian(x), dtype=float)
    elif oracle.hvp is not None:
        h = np.column_stack([oracle.hvp(x, e) for e in np.eye(n)])
    else:
        h = np.empty((n, n))
        for i in range(n):
            step = math.sqrt(np.finfo(float).eps) * max(1.0, abs(x[i]))
            for sign in (1.0, -1.0):  # the other side when one side is not finite
                xi = x.copy()
                xi[i] += sign * step
                _, gi = evaluate(oracle, xi)
                if np.all(np.isfinite(gi)):
                    break
            h[:, i] = (gi - g) / (sign * step)
    return 0.5 * (h + h.T)


def trust_region_step(h: np.ndarray, g: np.ndarray, radius: float) -> np.ndarray:
    """argmin g'p + p'Hp/2 subject to |p| <= radius, for any symmetric H (Moré & Sorensen).

    Uses an eigendecomposition: p(sigma) = -(H + sigma I)^-1 g with
    sigma >= max(0, -lambda_min) chosen so that |p| = radius, unless the Newton
    step of a positive definite H already fits. In the "hard case" (g has no
    component along the lowest eigenvector of an indefinite H) the step moves
    along that eigenvector to the boundary, which is how Newton escapes a saddle.
    """
    lam, q = np.linalg.eigh(h)
    gt = q.T @ g
    if lam[0] > 0.0:
        p = -gt / lam
        if np.linalg.norm(p) <= radius:
            return q @ p
    floor = max(0.0, -lam[0])
    scale = max(1.0, float(np.max(np.abs(lam))))
    low = lam - lam[0] <= 1e-12 * scale
    if np.linalg.norm(gt[low]) <= 1e-12 * max(float(np.linalg.norm(gt)), TINY):
        p = np.zeros_like(gt)
        p[~low] = -gt[~low] / (lam[~low] + floor)
        gap = radius**2 - float(p @ p)
        if gap >= 0.0:
            p[np.flatnonzero(low)[0]] += math.sqrt(gap)
            return q @ p
    # Safeguarded Newton on the secular equation 1/radius - 1/|p(sigma)| = 0.
    lo = floor
    hi = floor + float(np.linalg.norm(g)) / radius + 1e-12 * scale
    sigma = hi
    for _ in range(100):
        shifted = np.maximum(lam + sigma, TINY)
        norm_p = float(np.linalg.norm(gt / shifted))
        if abs(norm_p - radius) <= 1e-10 * radius:
            break
        if norm_p > radius:
            lo = sigma
        else:
            hi = sigma
        slope = float(np.sum(gt**2 / shifted**3))
        guess = sigma + (1.0 / radius - 1.0 / norm_p) * norm_p**3 / max(slope, TINY)
        sigma = guess if lo < guess < hi else 0.5 * (lo + hi)
        if hi - lo <= 1e-15 * max(1.0, hi):
            break
    return q @ (-gt / np.maximum(lam + sigma, TINY))


def newton_init(oracle: Oracle, x0: np.ndarray, s: Settings) -> NewtonState:
    f, g = evaluate(oracle, x0)
    h = hessian_at(oracle, x0, g) if is_finite(f, g) else np.eye(x0.size)
    return NewtonState(x=x0, f=f, g=g, h=h, radius=max(1.0, float(np.linalg.norm(x0))))


def newton_update(oracle: Oracle, st: NewtonState, s: Settings) -> NewtonState:
    """One trust-region Newton trial: accept it, or shrink the region and stay."""
    if not np.all(np.isfinite(st.h)):
        return replace(st, moved=False, stall="the Hessian is not finite at the current point")
    free = np.flatnonzero(free_variables(st.x, st.g, s))
    p = np.zeros_like(st.x)
    p[free] = trust_region_step(st.h[np.ix_(free, free)], st.g[free], st.radius)
    x = project(st.x + p, s)
    step = x - st.x
    predicted = -float(st.g @ step + 0.5 * step @ st.h @ step)
    ratio = -math.inf
    if predicted > 0.0:
        f, g = evaluate(oracle, x)
        if is_finite(f, g):
            ratio = (st.f - f) / predicted
    length = float(np.linalg.norm(step))
    radius = st.radius
    if ratio < 0.25:
        radius = 0.25 * (length if length > 0.0 else radius)
    elif ratio > 0.75 and float(np.linalg.norm(p)) >= 0.99 * radius:
        radius = min(2.0 * radius, TR_MAX)
    if ratio > TR_ACCEPT:
        return NewtonState(x=x, f=f, g=g, h=hessian_at(oracle, x, g), radius=radius, moved=True)
    interior = float(np.linalg.norm(p)) < 0.99 * st.radius  # the radius did not limit p
    if interior and -float(st.g @ p + 0.5 * p @ st.h @ p) <= ROUNDING * abs(st.f):
        exhausted = "the Newton step's predicted decrease is below the rounding error of f"
        return replace(st, radius=radius, moved=False, exhausted=exhausted)
    stall = ""
    if radius <= 1e-15 * max(1.0, float(np.linalg.norm(st.x))):
        stall = "the trust region shrank to nothing without reducing the objective"
    return replace(st, radius=radius, moved=False, stall=stall)
