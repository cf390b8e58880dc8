"""Line searches for the quasi-Newton methods: strong Wolfe, and projected backtracking.

Owns the one-dimensional searches along a direction ``d`` from a point ``x``.
Both searches treat a non-finite objective or gradient at a trial point as
"too far": they back off towards the last good step and never return a
non-finite point. They evaluate only through the ``fg`` callable they are
given (x -> (f, g)), so the caller's evaluation counting sees every call.
Must not import anything from diffopt beyond NumPy-level helpers; never prints.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

FG = Callable[[np.ndarray], tuple[float, np.ndarray]]

C1 = 1e-4  # sufficient decrease (Armijo) constant, Nocedal & Wright's usual choice
C2 = 0.9  # curvature constant for quasi-Newton directions (N&W section 3.1)
MAX_EVALS = 40  # trial points per search; 40 halvings reach 1e-12 of the first step
EXTRAPOLATE = 4.0  # growth of the trial step while the slope is still steeply negative
UNBOUNDED = "the objective kept decreasing along the search direction: it may be unbounded below"


@dataclass(frozen=True, eq=False)
class LineSearchResult:
    """Where a line search ended.

    Attributes:
        ok: a point with a finite objective and sufficient decrease was found.
        alpha: the accepted step multiplier (0.0 when not ok).
        x, f, g: the accepted point, or the start point when not ok.
        evaluations: trial points evaluated.
        wolfe: the strong Wolfe curvature condition holds too (always False
            for the backtracking search).
        message: why the search failed ("" when ok).
    """

    ok: bool
    alpha: float
    x: np.ndarray
    f: float
    g: np.ndarray
    evaluations: int
    wolfe: bool = False
    message: str = ""


@dataclass(frozen=True, eq=False)
class _Trial:
    """One evaluated step: phi(a) = f(x + a d) and its slope phi'(a) = g . d."""

    a: float
    f: float  # +inf when the point was not finite
    slope: float  # nan when the point was not finite
    x: np.ndarray | None = None
    g: np.ndarray | None = None


def is_finite(f: float, g: np.ndarray | None = None) -> bool:
    """True when f (and g, if given) are all finite numbers."""
    return bool(np.isfinite(f)) and (g is None or bool(np.all(np.isfinite(g))))


def strong_wolfe(
    fg: FG,
    x: np.ndarray,
    f0: float,
    g0: np.ndarray,
    d: np.ndarray,
    *,
    alpha0: float = 1.0,
    alpha_max: float = 1e20,
    c1: float = C1,
    c2: float = C2,
    max_evals: int = MAX_EVALS,
) -> LineSearchResult:
    """Find a step satisfying the strong Wolfe conditions (N&W Algorithms 3.5 and 3.6).

    Args:
        fg: x -> (f, g).
        x, f0, g0: the start point, its objective and gradient (finite).
        d: a descent direction (g0 . d < 0).
        alpha0: the first trial step multiplier.
        alpha_max: the largest step multiplier tried; reaching it with the
            objective still falling steeply is reported as a failure (unbounded below).
        c1, c2: sufficient decrease and curvature constants, 0 < c1 < c2 < 1.
        max_evals: evaluation budget.

    Returns:
        A LineSearchResult. If the budget runs out after some step achieved
        sufficient decrease, that step is returned with ``wolfe=False``.
    """
    slope0 = float(g0 @ d)
    if not slope0 < 0.0:  # rounding (or a non-finite start) left no way down along d
        return LineSearchResult(False, 0.0, x, f0, g0, 0, message=(
            f"the search direction is not a descent direction (slope {slope0:.3g})"))
    count = 0

    def trial(a: float) -> _Trial:
        nonlocal count
        count += 1
        xa = x + a * d
        fa, ga = fg(xa)
        if not is_finite(fa, ga):
            return _Trial(a, math.inf, math.nan)
        return _Trial(a, float(fa), float(ga @ d), xa, ga)

    def armijo(t: _Trial) -> bool:
        # Strictly lower too: far from 0, rounding can make f0 + c1 a slope0 equal f0.
        return t.f <= f0 + c1 * t.a * slope0 and t.f < f0

    def curvature(t: _Trial) -> bool:
        return abs(t.slope) <= -c2 * slope0

    def done(t: _Trial, wolfe: bool) -> LineSearchResult:
        return LineSearchResult(True, t.a, t.x, t.f, t.g, count, wolfe)

    def fail(message: str) -> LineSearchResult:
        return LineSearchResult(False, 0.0, x, f0, g0, count, message=message)

    def zoom(lo: _Trial, hi: _Trial) -> LineSearchResult:
        # N&W Algorithm 3.6. ``lo`` always holds the best step so far with sufficient
        # decrease (or a = 0), so when the budget runs out it is a safe fallback.
        while count < max_evals and abs(hi.a - lo.a) > 1e-14 * max(1.0, abs(lo.a)):
            t = trial(_interpolate(lo, hi))
            if not np.isfinite(t.f) or not armijo(t) or t.f >= lo.f:
                hi = t
                continue
            if curvature(t):
                return done(t, True)
            if t.slope * (hi.a - lo.a) >= 0.0:
                hi = lo
            lo = t
        if lo.a > 0.0:
            return done(lo, False)
        return fail("no step along the search direction reduced the objective")

    prev = _Trial(0.0, f0, slope0, x, g0)
    a = min(alpha0, alpha_max)
    while count < max_evals:
        t = trial(a)
        if not np.isfinite(t.f) or not armijo(t) or (prev.a > 0 and t.f >= prev.f):
            # The minimiser along d is bracketed by [prev, t]; a non-finite t is "too far".
            return zoom(prev, t)
        if curvature(t):
            return done(t, True)
        if t.slope >= 0.0:
            return zoom(t, prev)
        if a >= alpha_max:
            return fail(UNBOUNDED)
        prev, a = t, min(a * EXTRAPOLATE, alpha_max)
    if prev.a > 0.0:
        return done(prev, False)
    return fail("no step reduced the objective")


def _interpolate(lo: _Trial, hi: _Trial) -> float:
    """A trial step inside the bracket: cubic, else quadratic, else bisection.

    The result is kept at least 10% of the bracket away from either end so
    the bracket always shrinks (the safeguard of Moré & Thuente). A
    non-finite end carries no shape information, so we bisect: that is the
    "back off" when the step ran into NaN/inf territory.
    """
    a_lo, a_hi = lo.a, hi.a
    span = a_hi - a_lo
    guess = math.nan
    if np.isfinite(hi.f):
        if np.isfinite(hi.slope):
            d1 = lo.slope + hi.slope - 3.0 * (lo.f - hi.f) / (a_lo - a_hi)
            rad = d1 * d1 - lo.slope * hi.slope
            if rad >= 0.0:
                d2 = math.copysign(math.sqrt(rad), span)
                denom = hi.slope - lo.slope + 2.0 * d2
                if denom != 0.0:
                    guess = a_hi - span * (hi.slope + d2 - d1) / denom
        if not np.isfinite(guess):
            curv = hi.f - lo.f - lo.slope * span
            if curv > 0.0:
                guess = a_lo - lo.slope * span * span / (2.0 * curv)
    low, high = sorted((a_lo + 0.1 * span, a_hi - 0.1 * span))
    if not np.isfinite(guess) or not low <= guess <= high:
        guess = a_lo + 0.5 * span
    return guess


def projected_backtracking(
    fg: FG,
    x: np.ndarray,
    f0: float,
    g0: np.ndarray,
    d: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    alpha0: float = 1.0,
    c1: float = C1,
    max_evals: int = MAX_EVALS,
) -> LineSearchResult:
    """Backtrack along the projected path x(a) = clip(x + a d, lower, upper).

    Accepts the first a with f(x(a)) <= f0 + c1 * g0 . (x(a) - x) (the
    Armijo condition along the bent path, as in projected-gradient and
    L-BFGS-B-style methods). A finite trial that fails is replaced by the
    minimiser of the quadratic through f0, the slope and the trial, kept in
    [0.1 a, 0.5 a]; a non-finite trial halves the step.

    Args:
        fg: x -> (f, g).
        x, f0, g0: the start point (inside the bounds), its objective and gradient.
        d: the search direction (zero on variables held at a bound).
        lower, upper: the bounds (arrays, -inf/inf where unbounded).
        alpha0: the first trial step multiplier.
        c1: sufficient decrease constant.
        max_evals: evaluation budget.

    Returns:
        A LineSearchResult (``wolfe`` is always False).
    """
    a = alpha0
    for count in range(1, max_evals + 1):
        xa = np.clip(x + a * d, lower, upper)
        step = xa - x
        if not np.any(step):
            return LineSearchResult(
                False, 0.0, x, f0, g0, count - 1, message="the step became too small to change x"
            )
        fa, ga = fg(xa)
        slope = float(g0 @ step)
        if is_finite(fa, ga):
            fa = float(fa)
            # When projection bends the path, g0 . step may not be negative: then ask
            # at least for no increase.
            if fa <= f0 + c1 * min(slope, 0.0) and fa < f0:
                return LineSearchResult(True, a, xa, fa, ga, count)
            curv = fa - f0 - slope
            shrink = -slope / (2.0 * curv) if curv > 0.0 and slope < 0.0 else 0.5
            a *= min(max(shrink, 0.1), 0.5)
        else:
            a *= 0.5
    message = "no step along the projected path reduced the objective"
    return LineSearchResult(False, 0.0, x, f0, g0, max_evals, message=message)
