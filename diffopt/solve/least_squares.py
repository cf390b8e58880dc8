"""Levenberg-Marquardt (lm) for least-squares objectives f = c |r|^2, as MINPACK's lmder does it.

An (init, update) pair over frozen state (see diffopt.solve.state); one
update is one trial point, i.e. one evaluation of the residuals (MINPACK's
``nfev``), and the Jacobian is evaluated again only where a trial is taken.
The algorithm follows Moré (1978) and MINPACK's lmder/lmpar:

- variables are scaled by D, the running maximum of the Jacobian's column
  norms, and the step p is limited to a trust region |D p| <= delta;
- the LM parameter lambda that puts the step on the region's edge is found
  by Moré's safeguarded Newton iteration on 1/|D p(lambda)| = 1/delta,
  here from one SVD of the scaled Jacobian J D^-1 per point (MINPACK uses a
  pivoted QR and a Givens update per lambda; the SVD gives every lambda's
  step in O(n^2) and a minimum-norm Gauss-Newton step when J is rank
  deficient);
- the ratio of the actual to the predicted relative reduction of |r|^2
  grows or shrinks delta with MINPACK's constants; a trial is taken when the
  ratio is >= 1e-4;
- MINPACK's three relative tests decide convergence (see ``_tests``).

Geodesic acceleration (Transtrum and Sethna 2012) was tried and measured on
the NIST StRD fits of tests/fits (one more residual evaluation per trial):
it halved the evaluations of MGH09 from start 1 and escaped the BoxBOD
plateau, but took 2-4x more on Lanczos1, MGH10 start 2 and Bennett5 start 2
and never converged on MGH10 from start 1, so it is not used.

Bounds (MINPACK has none): variables held at a bound by the gradient are
fixed; variables whose step would leave the box are put on their bound and
the step re-solved for the rest. A trial with NaN/inf residuals counts as a
bad step (the region shrinks tenfold).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from diffopt.solve.linesearch import is_finite
from diffopt.solve.oracle import Oracle
from diffopt.solve.state import (
    EPS,
    ROUNDING,
    TINY,
    Settings,
    State,
    free_variables,
    project,
)

FTOL = 1e-14  # relative reduction of |r|^2 (actual and predicted) below which lm has converged
XTOL = 1e-14  # relative scaled step below which lm has converged
FACTOR = 100.0  # the first trust region: FACTOR |D x0| (or FACTOR when x0 = 0), as MINPACK


@dataclass(frozen=True, eq=False, kw_only=True)
class LMState(State):
    r: np.ndarray  # residuals at x
    jac: np.ndarray  # their Jacobian
    diag: np.ndarray  # D: running max of the Jacobian's column norms (1 for a zero column)
    delta: float  # trust-region radius on |D p|
    par: float  # the last LM parameter (a warm start for the next)
    first: bool = True  # no trial taken yet: delta is cut to the first step's length
    cosine: float = math.nan  # largest |cos| between r and a column of J (MINPACK's gnorm)
    x0: np.ndarray | None = None  # the start (its size is the parameters' typical size)
    free: np.ndarray | None = None  # indices of the variables no bound holds

    @cached_property
    def gn_step(self) -> float:
        """The Gauss-Newton step relative to the parameters' size (see first_order); one SVD,
        computed only when a test needs it."""
        typical = np.maximum(np.abs(self.x), np.abs(self.x0))
        return first_order(self.r, self.jac, self.x, self.free, typical)[1]
    test: str = ""  # the convergence test that held after this trial, or ""


def _lm_point(oracle: Oracle, x: np.ndarray):
    r, jac = oracle.jacobian(x)
    r, jac = np.asarray(r, dtype=float), np.asarray(jac, dtype=float).reshape(r.size, x.size)
    f = oracle.residual_scale * float(r @ r)
    return r, jac, f, 2.0 * oracle.residual_scale * (jac.T @ r)


def first_order(r: np.ndarray, jac: np.ndarray, x: np.ndarray, free=None,
                typical: np.ndarray | None = None) -> tuple[float, float]:
    """(cosine, step): how far x is from a stationary point, two scale-free ways.

    ``cosine`` = max_j |J_j' r| / (|J_j| |r|) over the (free) nonzero
    columns: MINPACK's gtol measure, 0 at a stationary point whatever the
    scales of x and r. ``step`` = |N p| / |N t|, the (minimum-norm)
    Gauss-Newton step p relative to the parameters' typical size t
    (max(|x|, |x0|), or |x|), both scaled by the column norms N: the
    measure that still works when the residuals are at their rounding level
    (exact data), where the cosine stays O(1). Directions below the
    unit-column Jacobian's rounding are left out of the step.
    """
    rnorm = float(np.linalg.norm(r))
    if rnorm == 0.0:
        return 0.0, 0.0
    free = np.arange(x.size) if free is None else free
    a = jac[:, free]
    norms = np.linalg.norm(a, axis=0)
    live = norms > 0.0
    if not np.any(live):
        return 0.0, 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(r))):
        return math.inf, math.inf
    u, s, vt = np.linalg.svd(a[:, live] / norms[live], full_matrices=False)
    k = int(np.count_nonzero(s > max(a.shape) * EPS * s[0]))
    uf = u[:, :k].T @ r
    t = np.abs(x) if typical is None else typical
    xnorm = float(np.linalg.norm(norms[live] * t[free][live]))
    step = float(np.linalg.norm(uf / s[:k]))
    cosine = float(np.max(np.abs(a[:, live].T @ r) / (norms[live] * rnorm)))
    return cosine, step / xnorm if xnorm else step


def column_cosine(r: np.ndarray, jac: np.ndarray, free: np.ndarray) -> float:
    """max_j |J_j' r| / (|J_j| |r|) over the free nonzero columns (MINPACK's gnorm)."""
    rnorm = float(np.linalg.norm(r))
    a = jac[:, free]
    norms = np.sqrt(np.einsum("ij,ij->j", a, a))
    live = norms > 0.0
    if rnorm == 0.0 or not np.any(live):
        return 0.0
    if not (math.isfinite(rnorm) and np.all(np.isfinite(norms))):
        return math.inf
    return float(np.max(np.abs(r @ a[:, live]) / (norms[live] * rnorm)))


def lm_init(oracle: Oracle, x0: np.ndarray, s: Settings) -> LMState:
    r, jac, f, g = _lm_point(oracle, x0)
    norms = np.linalg.norm(jac, axis=0)
    diag = np.where(np.isfinite(norms) & (norms > 0.0), norms, 1.0)
    xnorm = float(np.linalg.norm(diag * x0))
    delta = FACTOR * xnorm if xnorm > 0.0 and math.isfinite(xnorm) else FACTOR
    free = np.flatnonzero(free_variables(x0, g, s))
    return LMState(x=x0, f=f, g=g, r=r, jac=jac, diag=diag, delta=delta, par=0.0,
                   cosine=column_cosine(r, jac, free), x0=x0, free=free)  # fmt: skip


# ---------------------------------------------------------------- the trust-region step (lmpar)


@dataclass(frozen=True)
class _Scaled:
    """The SVD of the scaled Jacobian J_F D_F^-1 of the free columns, and U' r."""

    s: np.ndarray
    vt: np.ndarray
    uf: np.ndarray  # U' r
    rank: int


def _scaled_svd(jac: np.ndarray, diag: np.ndarray, r: np.ndarray) -> _Scaled | None:
    a = jac / diag
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(r))):
        return None  # LAPACK may never return on inf
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    rank = int(np.count_nonzero(s > max(a.shape) * EPS * (s[0] if s.size else 0.0)))
    return _Scaled(s, vt, u.T @ r, rank)


def _scaled_step(sv: _Scaled, par: float) -> np.ndarray:
    """z = D p minimizing |J p + r|^2 + par |D p|^2 (the minimum-norm one when par = 0)."""
    if par == 0.0:
        k = sv.rank
        return -(sv.vt[:k].T @ (sv.uf[:k] / sv.s[:k]))
    return -(sv.vt.T @ (sv.s * sv.uf / (sv.s**2 + par)))


def lm_parameter(sv: _Scaled, delta: float, par: float) -> tuple[float, np.ndarray]:
    """Moré's LM parameter: (par, z) with |z| within 10% of delta, or par = 0 inside it.

    MINPACK's lmpar on the SVD: Newton steps on 1/|z(par)| = 1/delta, kept in
    [parl, paru] (parl from the Gauss-Newton step when J has full rank, paru
    = |A' r| / delta), at most 10 of them.
    """
    z = _scaled_step(sv, 0.0)
    dxnorm = float(np.linalg.norm(z))
    fp = dxnorm - delta
    if fp <= 0.1 * delta:
        return 0.0, z
    s2uf2 = (sv.s * sv.uf) ** 2
    parl = 0.0
    if sv.rank == sv.s.size and sv.s.size:
        # the Newton step from par = 0 is a lower bound (the function is convex there)
        parl = fp / delta * dxnorm**2 / float(np.sum(s2uf2 / sv.s**6))
    gnorm = float(np.linalg.norm(sv.s * sv.uf))
    paru = gnorm / delta
    if paru == 0.0:
        paru = TINY / min(delta, 0.1)
    par = min(max(par, parl), paru)
    if par == 0.0:
        par = gnorm / dxnorm
    for _ in range(10):
        if par == 0.0:
            par = max(TINY, 1e-3 * paru)
        z = _scaled_step(sv, par)
        dxnorm = float(np.linalg.norm(z))
        previous, fp = fp, dxnorm - delta
        if abs(fp) <= 0.1 * delta or (parl == 0.0 and fp <= previous < 0.0):
            break
        slope = float(np.sum(s2uf2 / (sv.s**2 + par) ** 3))
        if not slope > 0.0:
            break
        parc = fp / delta * dxnorm**2 / slope
        if fp > 0.0:
            parl = max(parl, par)
        elif fp < 0.0:
            paru = min(paru, par)
        par = max(parl, par + parc)
    return par, z


def _trial_step(st: LMState, free: np.ndarray, s: Settings):
    """(p, par, predicted relative reduction) for the current delta, kept inside the bounds.

    Without bounds in the way the prediction is MINPACK's cancellation-free
    (|J p|^2 + 2 par |D p|^2) / |r|^2; once a variable was put on its bound
    it is (|r|^2 - |r + J p|^2) / |r|^2 of the step taken.
    """
    step = np.zeros_like(st.x)
    rr = float(st.r @ st.r)
    par = st.par
    clipped = False
    for _ in range(st.x.size + 1):
        if free.size == 0:
            break
        rhs = st.r + st.jac @ step if clipped else st.r
        sv = _scaled_svd(st.jac[:, free], st.diag[free], rhs)
        if sv is None:
            return np.zeros_like(st.x), par, 0.0
        par, z = lm_parameter(sv, st.delta, st.par)
        p = z / st.diag[free]
        trial = st.x[free] + p
        out = (trial < s.lower[free]) | (trial > s.upper[free])
        if not np.any(out):
            step[free] = p
            if not clipped:
                reduced = sv.s**2 * sv.uf / (sv.s**2 + par) if par else sv.uf[: sv.rank]
                predicted = (float(reduced @ reduced) + 2.0 * par * float(z @ z)) / rr
                return step, par, predicted
            break
        clipped = True
        hit = free[out]
        step[hit] = np.clip(trial[out], s.lower[hit], s.upper[hit]) - st.x[hit]
        free = free[~out]
    return step, par, _predicted(st, step)


def _predicted(st: LMState, step: np.ndarray) -> float:
    """(|r|^2 - |r + J p|^2) / |r|^2 without forming |r + J p|^2."""
    jp = st.jac @ step
    return (-2.0 * float(st.r @ jp) - float(jp @ jp)) / float(st.r @ st.r)


# ---------------------------------------------------------------- one trial (lmder's inner loop)


def lm_update(oracle: Oracle, st: LMState, s: Settings) -> LMState:
    """One trial point: solve for the step, evaluate the residuals there, update delta.

    The trust-region update and the acceptance test are MINPACK's: a ratio of
    actual to predicted reduction <= 1/4 shrinks delta (by at least 10x when
    the residuals grew tenfold or turned non-finite), >= 3/4 (or a
    Gauss-Newton step) doubles it; a ratio >= 1e-4 takes the trial.
    """
    free = np.flatnonzero(free_variables(st.x, st.g, s))
    step, par, prered = _trial_step(st, free, s)
    x = project(st.x + step, s)  # clip again: x + (b - x) may round past b
    step = x - st.x
    pnorm = float(np.linalg.norm(st.diag * step))
    delta = min(st.delta, pnorm) if st.first and pnorm > 0.0 else st.delta
    fnorm = float(np.linalg.norm(st.r))
    r_trial = np.asarray(oracle.residuals(x), dtype=float) if pnorm > 0.0 else st.r
    fnorm1 = float(np.linalg.norm(r_trial)) if np.all(np.isfinite(r_trial)) else math.inf
    actred = 1.0 - (fnorm1 / fnorm) ** 2 if 0.1 * fnorm1 < fnorm else -1.0
    ratio = actred / prered if prered > 0.0 else 0.0
    if 0.0 < prered <= ROUNDING and par > 0.0 and abs(actred) <= ROUNDING and _far(st, s.tol):
        # The region is so small that the step changes |r|^2 below its rounding, while
        # the undamped step would go further: grow it (MINPACK would shrink it and stop).
        reach = st.gn_step * float(np.linalg.norm(np.linalg.norm(st.jac, axis=0) * st.x))
        delta = max(10.0 * st.delta, min(reach, 1e3 * st.delta)) if math.isfinite(reach) else 0.0
        return replace(st, delta=delta or 10.0 * st.delta, par=0.1 * par, moved=False, test="")
    if ratio <= 0.25:
        dirder = -prered + par * pnorm**2 / fnorm**2 if fnorm > 0.0 else 0.0
        temp = 0.5 if actred >= 0.0 else 0.5 * dirder / (dirder + 0.5 * actred)
        if 0.1 * fnorm1 >= fnorm or not temp >= 0.1:
            temp = 0.1
        delta, par = temp * min(delta, pnorm / 0.1), par / temp
    elif par == 0.0 or ratio >= 0.75:
        delta, par = pnorm / 0.5, 0.5 * par
    moved = ratio >= 1e-4
    new = replace(st, delta=delta, par=par, moved=moved, test="")
    if moved:
        r, jac, f, g = _lm_point(oracle, x)
        if not (is_finite(f, g) and np.all(np.isfinite(jac))):
            # the residuals were finite but their Jacobian is not: shrink and stay
            return replace(new, delta=0.1 * min(delta, pnorm), moved=False)
        norms = np.linalg.norm(jac, axis=0)
        diag = np.maximum(st.diag, np.where(np.isfinite(norms), norms, 0.0))
        free_now = np.flatnonzero(free_variables(x, g, s))
        new = replace(new, x=x, f=f, g=g, r=r, jac=jac, diag=diag, first=False,
                      cosine=column_cosine(r, jac, free_now), free=free_now)  # fmt: skip
    new = replace(new, test=_tests(new, actred, prered, ratio, s))
    if not new.test and new.delta <= EPS * float(np.linalg.norm(new.diag * new.x)):
        new = replace(new, stall="the trust region shrank below the rounding of the parameters")
    return new


def _tests(st: LMState, actred: float, prered: float, ratio: float, s: Settings) -> str:
    """MINPACK's convergence tests after a trial, as a message ("" when none holds)."""
    xnorm = float(np.linalg.norm(st.diag * st.x))
    ftol, xtol, gtol = FTOL, XTOL, s.tol
    if float(st.r @ st.r) == 0.0:
        return "the residuals are exactly zero"
    if st.cosine <= gtol:
        return (f"the largest cosine between the residuals and a Jacobian column, "
                f"{st.cosine:.2g}, is below gtol {gtol:.2g}")  # fmt: skip
    # ftol and xtol also hold where a tiny trust region stalls far from a fit (MINPACK
    # then reports success): they count only near a stationary point (the driver's guard)
    ftol_holds = abs(actred) <= ftol and prered <= ftol and 0.5 * ratio <= 1.0
    if not (ftol_holds or st.delta <= xtol * xnorm) or _far(st, gtol):
        return ""
    if ftol_holds:
        return (f"the actual and predicted relative reductions of the sum of squares "
                f"({abs(actred):.2g}, {prered:.2g}) are below ftol {ftol:.2g}")  # fmt: skip
    if st.delta <= xtol * xnorm:
        return (f"the trust region {st.delta:.2g} is below xtol {xtol:.2g} times the "
                f"scaled parameter norm {xnorm:.2g}")  # fmt: skip
    return ""


def _far(st: LMState, tol: float) -> bool:
    """The driver's guard fails: both scaled first-order measures are above sqrt(tol)."""
    return st.cosine > math.sqrt(tol) and st.gn_step > math.sqrt(tol)


def lm_converged(st: State, tol: float) -> str | None:
    """The driver's hook: the message of the MINPACK test that held, if one did."""
    return getattr(st, "test", "") or None
