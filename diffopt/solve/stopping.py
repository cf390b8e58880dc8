"""When a run stops, and with which status word: the tests behind each one.

The words are the same for every method (man/diffopt-solve.1 defines them):

- ``converged``: a documented test holds at the returned point: the relative
  gradient (below) is <= tol, or the method's own test (lm: MINPACK's ftol,
  xtol or gtol test; nelder-mead: its simplex test), or precision is
  exhausted (a monotone method's step or decrease is below float64's
  rounding) at a point whose relative gradient is <= sqrt(tol). Never at a
  non-finite objective or gradient, and never when the relative gradient
  is above sqrt(tol): that is ``stalled``.
- ``stalled``: no progress is possible (the reason is given) and the
  point does not pass the tests above.
- ``diverged``: the objective fell below -1e300 or a line search found no
  end to its decrease; or a run that stalled or reached its limit has a
  parameter that ran off (|x_i| above RUNAWAY max(1, |x0_i|); it is named);
  or, for least squares, a parameter moved far from its start onto a
  plateau where the residuals no longer depend on it (``plateau``).
- ``max_iter``: the iteration (for lm: evaluation) limit came first.
- ``failed``: the objective or gradient is not finite at the start, or the
  constraints are left violated: the point is not a solution.

The relative gradient is max_i |g_i| max(|x_i|, 1) / max(|f|, 1) (Dennis &
Schnabel's scaled gradient test with typical x and f of 1), with g the
projected gradient x - clip(x - g, lower, upper) when there are bounds.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from diffopt.solve.least_squares import first_order
from diffopt.solve.linesearch import UNBOUNDED
from diffopt.solve.oracle import Oracle
from diffopt.solve.state import EPS, Settings, State, free_variables, projected_gradient

STEP_TOL = 1e-12  # relative per-coordinate step below which precision is exhausted
OBJECTIVE_TOL = 1e-15  # relative objective change below which precision is exhausted
UNBOUNDED_BELOW = -1e300  # an objective this low is taken as unbounded below
RUNAWAY = 1e10  # a parameter beyond RUNAWAY max(1, |x0_i|) has run off
PLATEAU_MOVE = 10.0  # least squares: moved this far (relative) onto a plateau is running off


def num(v: float) -> str:
    return f"{v:.2g}"


def gradient_norm(st: State, s: Settings) -> float:
    """Largest |component| of the (projected, when bounded) gradient; NaN without one."""
    if st.g is None:
        return math.nan
    g = projected_gradient(st.x, st.g, s) if s.bounded else st.g
    return float(np.max(np.abs(g), initial=0.0))


def relative_gradient(st: State, s: Settings) -> float:
    """max_i |g_i| max(|x_i|, 1) / max(|f|, 1); NaN without a gradient, inf when not finite."""
    if st.g is None:
        return math.nan
    g = projected_gradient(st.x, st.g, s) if s.bounded else st.g
    if not (math.isfinite(st.f) and np.all(np.isfinite(g))):
        return math.inf
    scaled = np.abs(g) * np.maximum(np.abs(st.x), 1.0)
    return float(np.max(scaled, initial=0.0)) / max(abs(st.f), 1.0)


def first_order_ok(st: State, s: Settings, tol: float) -> tuple[bool, str]:
    """Whether st passes the guard every converged verdict needs, and what was measured.

    The guard is sqrt(tol) (1e-4 by default) on a scale-free first-order
    measure: for least squares (a state with ``cosine``) the cosine between
    the residuals and the Jacobian's columns, or the Gauss-Newton step
    relative to x (see diffopt.solve.least_squares.first_order); otherwise
    the relative gradient. A point without a gradient (nelder-mead) passes;
    a non-finite one never does.
    """
    guard = math.sqrt(tol)
    finite = math.isfinite(st.f) and (st.g is None or bool(np.all(np.isfinite(st.g))))
    cosine = getattr(st, "cosine", None)
    if cosine is not None:
        step = st.gn_step
        ok = finite and (cosine <= guard or step <= guard)
        return ok, f"largest cosine {num(cosine)}, Gauss-Newton step {num(step)} (relative)"
    rel = relative_gradient(st, s)
    return finite and not rel > guard, f"relative gradient {num(rel)}"


def gradient_rule(st: State, tol: float, s: Settings) -> str | None:
    """The converged message when the relative gradient is <= tol, else None."""
    rel = relative_gradient(st, s)
    if rel <= tol:
        what = "projected gradient" if s.bounded else "gradient"
        return f"relative {what} {num(rel)} below tol {num(tol)}"
    return None


def start_rule(oracle: Oracle, st: State, tol: float, s: Settings) -> str | None:
    """The converged message when the start point already passes, else None.

    lm: the cosine test (gtol = tol); other methods: the relative gradient,
    and on a least-squares objective also the least-squares guard.
    """
    cosine = getattr(st, "cosine", None)
    if cosine is not None:
        if cosine <= tol:
            return f"the largest cosine between the residuals and a Jacobian column, {num(cosine)}, is below gtol {num(tol)}"  # noqa: E501
        return None
    message = gradient_rule(st, tol, s) if st.g is not None else None
    if message is None or not least_squares_guard(oracle, st, tol, s, st.x)[0]:
        return None
    return message


def least_squares_guard(oracle: Oracle, st: State, tol: float, s: Settings,
                        x0: np.ndarray) -> tuple[bool, str]:
    """The least-squares guard of ``first_order_ok`` for a method other than lm.

    On a least-squares objective a small relative gradient can hide a point
    far from a fit (data of 1e150 make f huge and any gradient small beside
    it); the cosine and the Gauss-Newton step cannot be fooled so. One more
    Jacobian evaluation, made only where a run is about to be called converged.
    """
    if oracle.jacobian is None or getattr(st, "cosine", None) is not None or st.g is None:
        return True, ""  # nelder-mead's simplex test stands on its own (no gradient)
    r, jac = oracle.jacobian(st.x)
    r = np.asarray(r, dtype=float)
    jac = np.asarray(jac, dtype=float).reshape(r.size, st.x.size)
    free = np.flatnonzero(free_variables(st.x, st.g, s))
    cosine, step = first_order(r, jac, st.x, free, np.maximum(np.abs(st.x), np.abs(x0)))
    guard = math.sqrt(tol)
    ok = cosine <= guard or step <= guard
    return ok, f"largest cosine {num(cosine)}, Gauss-Newton step {num(step)} (relative)"


def runaway(st: State, x0: np.ndarray, labels: tuple[str, ...] | None) -> str | None:
    """The diverged message when a parameter has run off, else None."""
    far = np.abs(st.x) > RUNAWAY * np.maximum(np.abs(x0), 1.0)
    if not np.any(far):
        return None
    i = int(np.flatnonzero(far)[0])
    name = labels[i] if labels is not None and i < len(labels) else f"entry {i}"
    return (f"parameter '{name}' ran off to {num(st.x[i])} (from {num(x0[i])}) while the "
            f"objective went to {num(st.f)}")  # fmt: skip


def plateau(st: State, x0: np.ndarray, labels: tuple[str, ...] | None) -> str | None:
    """The diverged message when a least-squares parameter ran onto a plateau, else None.

    Such a parameter moved by more than PLATEAU_MOVE max(1, |x0_i|) from its
    start to where the residuals no longer depend on it (its Jacobian column,
    times max(1, |x_i|), is below the rounding of |r|): exp(-b x) with b
    running off, say. Only states with a Jacobian (lm) can tell.
    """
    jac = getattr(st, "jac", None)
    r = getattr(st, "r", None)
    if jac is None or r is None:
        return None
    influence = np.linalg.norm(jac, axis=0) * np.maximum(np.abs(st.x), 1.0)
    moved = np.abs(st.x - x0) > PLATEAU_MOVE * np.maximum(np.abs(x0), 1.0)
    flat = moved & (influence <= EPS * float(np.linalg.norm(r)))
    if not np.any(flat):
        return None
    i = int(np.flatnonzero(flat)[0])
    name = labels[i] if labels is not None and i < len(labels) else f"entry {i}"
    return (f"parameter '{name}' ran off from {num(x0[i])} to {num(st.x[i])} onto a plateau: "
            f"the residuals no longer depend on it")  # fmt: skip


def _exhausted(prev: State, st: State, monotone: bool) -> str | None:
    if st.exhausted:
        return st.exhausted
    if not (st.moved and monotone):
        return None
    if np.all(np.abs(st.x - prev.x) <= STEP_TOL * np.abs(st.x)):
        return f"the last step changed no coordinate by more than {num(STEP_TOL)} (relative)"
    change = abs(prev.f - st.f)
    if change <= OBJECTIVE_TOL * max(abs(prev.f), abs(st.f)):
        change /= max(abs(prev.f), abs(st.f), math.ulp(0.0))
        return f"the objective changed by only {num(change)} (relative) in the last step"
    return None


def stopping_rule(
    prev: State,
    st: State,
    tol: float,
    s: Settings,
    *,
    monotone: bool,
    own_test: Callable[[State, float], str | None] | None,
    x0: np.ndarray,
    labels: tuple[str, ...] | None = None,
    guarded: bool = True,
) -> tuple[str, str] | None:
    """(status, message) when the run should stop after this update, else None.

    ``guarded=False`` (an augmented-Lagrangian round) drops the sqrt(tol) guard.
    """
    verdict = _verdict(prev, st, tol, s, monotone=monotone, own_test=own_test, x0=x0,
                       guarded=guarded)  # fmt: skip
    if verdict is not None and verdict[0] in ("converged", "stalled"):
        flat = plateau(st, x0, labels)
        if flat is not None:
            return "diverged", flat
    if verdict is not None and verdict[0] == "stalled":
        ran_off = runaway(st, x0, labels)
        if ran_off is not None:
            return "diverged", ran_off
    return verdict


def _verdict(
    prev: State,
    st: State,
    tol: float,
    s: Settings,
    *,
    monotone: bool,
    own_test: Callable[[State, float], str | None] | None,
    x0: np.ndarray,
    guarded: bool = True,
) -> tuple[str, str] | None:
    finite = math.isfinite(st.f) and (st.g is None or bool(np.all(np.isfinite(st.g))))
    if st.f < UNBOUNDED_BELOW:
        return "diverged", f"the objective fell to {num(st.f)}: it looks unbounded below"
    if st.stall == UNBOUNDED:
        return "diverged", st.stall
    if finite and own_test is None:
        message = gradient_rule(st, tol, s)
        if message is not None:
            return "converged", message
    test = own_test(st, tol) if own_test is not None else None
    reason = None if test is not None else _exhausted(prev, st, monotone)
    if test is None and reason is None and not st.stall:
        return None
    ok, measured = first_order_ok(st, s, tol)  # (the Gauss-Newton measure costs an SVD)
    ok = ok or (finite and not guarded)
    above = f", but the {measured} is above {num(math.sqrt(tol))}"
    suffix = "" if st.g is None else f"; {measured}"
    if test is not None:
        return ("converged", test + suffix) if ok else ("stalled", test + above)
    if reason is not None:
        if ok:
            return "converged", f"{reason}: precision is exhausted{suffix}"
        return "stalled", reason + above
    return "stalled", st.stall + suffix
