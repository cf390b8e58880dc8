"""What ``solve`` reports about the solution besides the point itself.

The fit statistics of a least-squares objective (diffopt.fitting), the
gradient of the objective as written at the solution (per parameter, like
``diffopt grad``), which bounds are active there, and the settings in force
(after the file's options, the flags and the per-method defaults), so that a
pipeline can tell how a result was obtained. Never prints.
"""

from __future__ import annotations

import numpy as np

from diffopt import vocab


def solution_details(session, oracle, outcome, *, asked: str, mode: str, tol, max_iter, lr,
                     intervals: str, confidence: float) -> dict:
    """SolveResult's fields ``fit``, ``gradient``, ``active_bounds`` and ``settings``."""
    fit = None
    if oracle.residuals is not None:
        from diffopt.fitting import fit_statistics

        # after Ctrl-C the user wants the report now, not dozens of profile solves
        profile = intervals if outcome.status != "interrupted" else "asymptotic"
        fit = fit_statistics(session, outcome.x, intervals=profile, confidence=confidence,
                             method=outcome.method, tol=tol)
    settings = settings_in_force(session.problem, asked=asked, ran=outcome.method, mode=mode,
                                 tol=tol, max_iter=max_iter, lr=lr,
                                 intervals=intervals if fit else None,
                                 confidence=confidence if fit else None)
    return {"fit": fit, "gradient": gradient_at(session, outcome.x),
            "active_bounds": active_bounds(session.problem, outcome.x), "settings": settings}


def gradient_at(session, x: np.ndarray) -> dict:
    """The objective's gradient at x, as written (maximize: of f, not -f), per parameter."""
    problem = session.problem
    with np.errstate(all="ignore"):
        _, g = session.value_and_grad(x)
    sign = -1.0 if problem.sense == "maximize" else 1.0
    return problem.unflatten(sign * np.asarray(g, dtype=float))


def active_bounds(problem, x: np.ndarray) -> dict:
    """Per parameter: "lower" or "upper" where an entry sits on that bound, else None
    (a scalar for a scalar parameter, nested lists for an array)."""
    lower, upper = problem.bounds()
    x = np.asarray(x, dtype=float)
    flat = np.where(x <= lower, "lower", np.where(x >= upper, "upper", None))
    out = {}
    for p in problem.params:
        piece = flat[p.offset: p.offset + p.size]
        out[p.name] = piece[0] if p.shape == () else piece.reshape(p.shape).tolist()
    return out


def settings_in_force(problem, *, asked: str, ran: str, mode: str, tol, max_iter, lr,
                      intervals: str | None, confidence: float | None) -> dict:
    """The settings a solve ran with: every limit and tolerance, defaults filled in."""
    from diffopt.solve.methods import METHODS

    spec = METHODS.get(ran)
    uses_lr = spec is not None and spec.lr is not None
    limit = int(max_iter) if max_iter is not None else (
        spec.max_iter(problem.n) if spec is not None else None)
    # a method whose limit counts evaluations (lm: one trial per update) says so
    counts_evaluations = getattr(spec, "limit", "iteration") == "evaluation"
    return {
        "method": ran,
        "method_asked": asked,
        "mode": mode,
        "tol": float(tol) if tol is not None else vocab.DEFAULT_TOL,
        **_relative_tolerances(ran),
        "max_iter": limit,
        "max_evaluations": limit if counts_evaluations else None,
        "lr": (float(lr) if lr is not None else spec.lr) if uses_lr else None,
        "seed": problem.seed,
        "sigma": "absolute" if problem.options.get("sigma") is not None else None,
        "intervals": intervals,
        "confidence": confidence,
    }


def _relative_tolerances(method: str) -> dict:
    """lm's relative tolerances on the reduction of |r|² (ftol) and on the scaled
    step (xtol), MINPACK's names; null for a method (or an lm) without them."""
    from diffopt.solve import least_squares

    found = {"ftol": None, "xtol": None}
    if method == "lm":
        for name in found:
            value = getattr(least_squares, name.upper(), None)
            found[name] = float(value) if value is not None else None
    return found
