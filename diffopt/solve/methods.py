"""Optimization methods, each an (init, update) pair of plain functions over frozen state.

Owns the update rules of gd, momentum, adam, bfgs, lbfgs, newton, lm and
nelder-mead, the trust-region subproblem, and the method table ``METHODS``.
The driver (loop.py) owns stopping rules, evaluation counting, best-so-far,
Ctrl-C and progress events; constraints.py owns general constraints. This
module never prints and imports nothing from diffopt but the oracle and the
line searches.

Optax style: a method is two functions,

    state = bfgs_init(oracle, x0, settings)        # evaluates the start point
    state = bfgs_update(oracle, state, settings)   # one iteration; `state` is not mutated

Every state carries the current point ``x``, its objective ``f`` and gradient
``g`` (None for the derivative-free nelder-mead), ``moved`` (the update
accepted a new point), ``stall``: a plain reason when the update could not
make progress ("" otherwise), and ``exhausted``: a plain reason when it could
not because the decrease it predicts is below the objective's rounding error
(the driver reports that as converged, a stall as failed).

Bounds are native for every method: points are always projected into the
box [lower, upper]. Quasi-Newton and Newton steps hold variables that sit on
a bound with the gradient pushing outwards fixed ("binding"), take the model's
step over the rest (the quasi-Newton model reduced exactly to the free
variables, as L-BFGS-B's subspace step is), and line-search along the
projected path; lm solves for the free variables, puts variables whose step
would leave the box on their bound and re-solves for the others; first-order
methods and nelder-mead clip.

Non-finite values: a trial point whose objective or gradient is NaN/inf is
never accepted. First-order methods halve the step until the point is finite;
line searches treat such a point as "too far"; newton and lm shrink their
trust region / raise their damping; nelder-mead ranks it worst.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from diffopt.solve.linesearch import is_finite, projected_backtracking, strong_wolfe
from diffopt.solve.oracle import Oracle

BACKOFFS = 40  # halvings a first-order step may take to get out of NaN/inf territory
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


def _first_order_step(
    oracle: Oracle, x: np.ndarray, delta: np.ndarray, s: Settings
) -> tuple[np.ndarray, float, np.ndarray] | None:
    """Evaluate clip(x + t delta) for t = 1, 1/2, 1/4, ... until the point is finite.

    Returns (x_new, f, g), or None when every trial was non-finite. A fixed-step
    method keeps its step; the halving only keeps it out of NaN/inf territory.
    """
    t = 1.0
    for _ in range(BACKOFFS):
        xt = project(x + t * delta, s)
        f, g = evaluate(oracle, xt)
        if is_finite(f, g):
            return xt, f, g
        t *= 0.5
    return None


NO_FINITE_STEP = "every trial step led to a non-finite objective or gradient"


# ---------------------------------------------------------------- gd


def gd_init(oracle: Oracle, x0: np.ndarray, s: Settings) -> State:
    f, g = evaluate(oracle, x0)
    return State(x=x0, f=f, g=g)


def gd_update(oracle: Oracle, st: State, s: Settings) -> State:
    """x <- clip(x - lr g): plain gradient descent with a fixed step."""
    trial = _first_order_step(oracle, st.x, -s.lr * st.g, s)
    if trial is None:
        return replace(st, moved=False, stall=NO_FINITE_STEP)
    x, f, g = trial
    return State(x=x, f=f, g=g, moved=True)


# ---------------------------------------------------------------- momentum


@dataclass(frozen=True, eq=False, kw_only=True)
class MomentumState(State):
    velocity: np.ndarray


def momentum_init(oracle: Oracle, x0: np.ndarray, s: Settings) -> MomentumState:
    f, g = evaluate(oracle, x0)
    return MomentumState(x=x0, f=f, g=g, velocity=np.zeros_like(x0))


def momentum_update(oracle: Oracle, st: MomentumState, s: Settings) -> MomentumState:
    """Heavy ball: v <- momentum v - lr g; x <- clip(x + v)."""
    v = s.momentum * st.velocity - s.lr * st.g
    trial = _first_order_step(oracle, st.x, v, s)
    if trial is None:
        return replace(st, moved=False, velocity=np.zeros_like(v), stall=NO_FINITE_STEP)
    x, f, g = trial
    # Keep the velocity actually travelled, so halving and bounds do not build up speed.
    return MomentumState(x=x, f=f, g=g, velocity=x - st.x, moved=True)


# ---------------------------------------------------------------- adam


@dataclass(frozen=True, eq=False, kw_only=True)
class AdamState(State):
    m: np.ndarray
    v: np.ndarray
    t: int = 0


def adam_init(oracle: Oracle, x0: np.ndarray, s: Settings) -> AdamState:
    f, g = evaluate(oracle, x0)
    return AdamState(x=x0, f=f, g=g, m=np.zeros_like(x0), v=np.zeros_like(x0))


def adam_update(oracle: Oracle, st: AdamState, s: Settings) -> AdamState:
    """Adam (Kingma & Ba): bias-corrected moment estimates scale each coordinate's step."""
    t = st.t + 1
    m = s.beta1 * st.m + (1.0 - s.beta1) * st.g
    v = s.beta2 * st.v + (1.0 - s.beta2) * st.g**2
    m_hat = m / (1.0 - s.beta1**t)
    v_hat = v / (1.0 - s.beta2**t)
    trial = _first_order_step(oracle, st.x, -s.lr * m_hat / (np.sqrt(v_hat) + s.eps), s)
    if trial is None:
        return replace(st, moved=False, m=m, v=v, t=t, stall=NO_FINITE_STEP)
    x, f, g = trial
    return AdamState(x=x, f=f, g=g, m=m, v=v, t=t, moved=True)


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


# ---------------------------------------------------------------- the method table


@dataclass(frozen=True)
class Method:
    """One method as the driver sees it.

    Attributes:
        name: the name users type (``--method``).
        init, update: the optax-style pair.
        needs: "gradient" (value_and_grad), "residuals" (residuals and
            jacobian) or "value" (value only).
        lr: default step size for methods that take one, else None.
        max_iter: default iteration limit as a function of n.
        summary: one line for help texts.
        monotone: every accepted step lowers f (line search or trust region), so a
            negligible step or change in f means precision is exhausted. Fixed-step
            methods can also stall by oscillating, so they get no such rule.
        converged: an extra, method-specific stopping rule (tol -> message or None).
    """

    name: str
    init: Callable[[Oracle, np.ndarray, Settings], State]
    update: Callable[[Oracle, State, Settings], State]
    needs: Literal["gradient", "residuals", "value"]
    lr: float | None
    max_iter: Callable[[int], int]
    summary: str
    monotone: bool = True
    converged: Callable[[State, float], str | None] | None = None


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("gd", gd_init, gd_update, "gradient", 0.1, lambda n: 1000,
               "gradient descent with a fixed step lr", monotone=False),
        Method("momentum", momentum_init, momentum_update, "gradient", 0.01, lambda n: 1000,
               "heavy-ball gradient descent (step lr, momentum 0.9)", monotone=False),
        Method("adam", adam_init, adam_update, "gradient", 0.01, lambda n: 1000,
               "Adam (step lr, beta1 0.9, beta2 0.999)", monotone=False),
        Method("bfgs", bfgs_init, bfgs_update, "gradient", None, lambda n: 1000,
               "BFGS with a dense inverse-Hessian model and a strong Wolfe line search"),
        Method("lbfgs", lbfgs_init, lbfgs_update, "gradient", None, lambda n: 1000,
               "L-BFGS (10 pairs) with a strong Wolfe line search; projected with bounds"),
        Method("newton", newton_init, newton_update, "gradient", None, lambda n: 200,
               "Newton with the exact Hessian in a trust region (indefinite Hessians are fine)"),
        Method("lm", lm_init, lm_update, "residuals", None, lambda n: 200,
               "Levenberg-Marquardt for least squares"),
        Method("nelder-mead", nelder_mead_init, nelder_mead_update, "value", None,
               lambda n: max(1000, 200 * n), "Nelder-Mead simplex search (derivative-free)",
               monotone=False, converged=nelder_mead_converged),
    )
}  # fmt: skip

METHOD_NAMES: tuple[str, ...] = ("auto", *METHODS)


def choose_auto(oracle: Oracle) -> str:
    """lm for a least-squares objective without general constraints, else lbfgs."""
    least_squares = oracle.residuals is not None and oracle.jacobian is not None
    if least_squares and not (oracle.constraints and oracle.constraints.names):
        return "lm"
    return "lbfgs"
