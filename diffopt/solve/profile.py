"""Profile-likelihood confidence intervals of a least-squares fit (MINOS-style).

For each parameter entry j, the profile χ²ⱼ(t) is the smallest sum of squares
with xⱼ fixed at t, the other parameters re-solved (warm-started from the
neighbouring profile point); it is divided by the residual variance s²
(RSS/dof, or 1 with absolute uncertainties). The interval's ends are where
Δχ² = χ²ⱼ(t) − χ²_min reaches the threshold z² of the confidence level
(1 for one standard error, as iminuit's MINOS with errordef 1): stepping
out from the solution by √Δ·stderr, doubling the distance until the rise
passes the threshold, then root-finding the crossing (Illinois regula falsi).
An end that reaches a bound first is the bound (with a note); one that
never rises enough within 2¹² steps is infinite. Pure functions of an oracle;
never prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from diffopt.solve.loop import minimize
from diffopt.solve.oracle import Oracle

MAX_DOUBLINGS = 12  # the search for a bracket goes out to 2^12 first steps
MAX_ROOT_STEPS = 60
ROOT_TOL = 1e-10  # relative width of the final bracket


@dataclass(frozen=True)
class Profile:
    """The profile intervals of every entry (NaN where none was computed)."""

    lower: np.ndarray
    upper: np.ndarray
    notes: tuple  # plain sentences: an end at a bound, an open end, a better minimum
    evaluations: int  # residual evaluations spent on the re-solves


@dataclass
class _Profiler:
    oracle: Oracle
    x_hat: np.ndarray
    chi2_min: float  # Σ r² at x_hat
    variance: float  # s²: Δχ² = (Σ r² − chi2_min) / variance
    threshold: float
    method: str
    tol: float | None
    evaluations: int = 0
    best: float = math.inf  # the smallest Σ r² any re-solve found

    def rise(self, j: int, t: float, warm: np.ndarray) -> tuple[float, np.ndarray]:
        """(Δχ² − threshold, the re-solved point) with entry j fixed at t."""
        lower = np.array(self.oracle.lower, dtype=float)
        upper = np.array(self.oracle.upper, dtype=float)
        lower[j] = upper[j] = t
        start = warm.copy()
        start[j] = t
        fixed = replace(self.oracle, lower=lower, upper=upper)
        outcome = minimize(fixed, start, method=self.method, tol=self.tol)
        self.evaluations += outcome.evaluations.get("objective", 0)
        if outcome.status == "interrupted":  # Ctrl-C: stop profiling, keep the rest
            raise KeyboardInterrupt
        chi2 = outcome.objective / self.oracle.residual_scale
        if not np.isfinite(chi2):
            return math.inf, warm
        self.best = min(self.best, chi2)
        return (chi2 - self.chi2_min) / self.variance - self.threshold, outcome.x

    def end(self, j: int, direction: float, step: float, label: str) -> tuple[float, str | None]:
        """One end of entry j's interval, and a note when it is not a crossing."""
        centre = float(self.x_hat[j])
        bound = float((self.oracle.upper if direction > 0 else self.oracle.lower)[j])
        side = "upper" if direction > 0 else "lower"
        t_in, g_in, x_in = centre, -self.threshold, self.x_hat
        for k in range(MAX_DOUBLINGS + 1):
            t = centre + direction * step * 2.0**k
            at_bound = (t - bound) * direction >= 0
            t = bound if at_bound else t
            g, x = self.rise(j, t, x_in)
            if g >= 0:
                return self.crossing(j, (t_in, g_in, x_in), (t, g)), None
            t_in, g_in, x_in = t, g, x
            if at_bound:
                return bound, (f"{label}: the {side} end is the bound {bound:g} (chi2 rises by "
                               f"less than {self.threshold:.4g} before it)")
        return direction * math.inf, (f"{label}: chi2 does not rise by {self.threshold:.4g} "
                                      f"within {2**MAX_DOUBLINGS} steps on the {side} side")

    def crossing(self, j: int, inside: tuple, outside: tuple) -> float:
        """The t between ``inside`` (rise < 0) and ``outside`` (rise >= 0) where it is 0."""
        (a, ga, xa), (b, gb) = inside, outside
        side = 0
        for _ in range(MAX_ROOT_STEPS):
            if abs(b - a) <= ROOT_TOL * max(abs(a), abs(b), 1e-300):
                break
            t = b - gb * (b - a) / (gb - ga) if np.isfinite(gb) else 0.5 * (a + b)
            if not (min(a, b) < t < max(a, b)):
                t = 0.5 * (a + b)
            g, x = self.rise(j, t, xa)
            if g == 0.0:
                return t
            if g < 0:
                a, ga, xa = t, g, x
                if side == -1:
                    gb *= 0.5  # Illinois: halve the stale end's value
                side = -1
            else:
                b, gb = t, g
                if side == 1:
                    ga *= 0.5
                side = 1
        return b if abs(gb) < abs(ga) else a


def profile_intervals(oracle: Oracle, x_hat: np.ndarray, stderr: np.ndarray, labels,
                      *, variance: float, threshold: float, method: str = "lm",
                      tol: float | None = None) -> Profile:
    """Profile-likelihood intervals of every entry with a finite, positive stderr.

    Args:
        oracle: the fit (residuals, Jacobian, bounds); x_hat its solution.
        stderr: the asymptotic standard errors (they size the first steps).
        labels: one name per entry, for the notes.
        variance: s², the residual variance (1 for absolute uncertainties).
        threshold: the Δχ² that bounds the interval (z² of the level).
        method, tol: how the other parameters are re-solved.
    """
    x_hat = np.asarray(x_hat, dtype=float)
    n = x_hat.size
    lower_bounds = np.full(n, -np.inf) if oracle.lower is None else oracle.lower
    upper_bounds = np.full(n, np.inf) if oracle.upper is None else oracle.upper
    oracle = replace(oracle, lower=np.asarray(lower_bounds, float),
                     upper=np.asarray(upper_bounds, float))
    r = np.asarray(oracle.residuals(x_hat), dtype=float)
    chi2_min = float(r @ r)
    profiler = _Profiler(oracle, x_hat, chi2_min, variance, threshold, method, tol)
    lower, upper = np.full(n, np.nan), np.full(n, np.nan)
    notes = []
    with np.errstate(all="ignore"):
        for j in range(n):
            if not (np.isfinite(stderr[j]) and stderr[j] > 0):
                continue
            step = math.sqrt(threshold) * float(stderr[j])
            try:
                for direction, out in ((-1.0, lower), (1.0, upper)):
                    out[j], note = profiler.end(j, direction, step, labels[j])
                    if note:
                        notes.append(note)
            except KeyboardInterrupt:
                lower[j] = upper[j] = np.nan
                notes.append(f"interrupted while profiling {labels[j]}: its intervals and "
                             "those after it were not computed")
                break
    if profiler.best < chi2_min * (1 - 1e-9) - 1e-300:
        notes.append(f"a re-solve found a smaller chi2 ({profiler.best:.10g} < "
                     f"{chi2_min:.10g}): the fit had not reached its minimum")
    return Profile(lower, upper, tuple(notes), profiler.evaluations)
