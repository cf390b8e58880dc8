"""Statistics of a least-squares fit at its solution: covariance, rank, goodness of fit.

The covariance of the parameters is s²·(JᵀJ)⁻¹ with s² = Σ rᵢ²/(m − p), as
lmfit and ``scipy.optimize.curve_fit`` report it; with absolute
uncertainties (``option sigma``, residuals already divided by them) it is
(JᵀJ)⁻¹ itself, as ``curve_fit(absolute_sigma=True)``. (JᵀJ)⁻¹ comes from an
SVD of the column-scaled Jacobian J·D⁻¹ (D = the columns' norms), never from
``pinv(JᵀJ)``: forming JᵀJ squares the condition number, and a default
cutoff on the squared matrix silently drops the directions that badly scaled
but well determined parameters live in. A singular value below
``max(m, n)·eps·σ_max`` of the scaled matrix means a direction the data do
not determine: the parameters with weight in it are reported as not
identifiable, and their errors as infinite instead of tiny or NaN.

Goodness of fit follows lmfit: χ² = Σ rᵢ², reduced χ² = χ²/dof,
AIC = m·ln(χ²/m) + 2p, BIC = m·ln(χ²/m) + ln(m)·p, and R² = 1 − Σ(y − model)²
/ Σ(y − ȳ)² when the residual is a model minus data y.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from diffopt.results import FitReport, Intervals, shaped

STRONG_CORRELATION = 0.9  # |ρ| above this is flagged


@dataclass(frozen=True, eq=False)
class Covariance:
    """(JᵀJ)⁻¹ (unscaled by s²), the rank of J, and the columns it does not determine."""

    matrix: np.ndarray  # (n, n); inf on the diagonal of a column not determined
    rank: int
    undetermined: tuple  # column indices with weight in a null direction


def unscaled_covariance(J: np.ndarray) -> Covariance:
    """(JᵀJ)⁻¹ from the SVD of the column-scaled J (see the module docstring)."""
    m, n = J.shape
    if n == 0:
        return Covariance(np.zeros((0, 0)), 0, ())
    if not np.all(np.isfinite(J)):
        return Covariance(np.full((n, n), np.nan), 0, tuple(range(n)))
    norms = np.sqrt(np.einsum("ij,ij->j", J, J))
    scale = np.where(norms > 0, norms, 1.0)
    _, s, vt = np.linalg.svd(J / scale, full_matrices=False)
    cutoff = max(m, n) * np.finfo(float).eps * (s[0] if s.size else 0.0)
    keep = s > cutoff
    rank = int(np.count_nonzero(keep))
    v = vt.T[:, keep]
    inverse = (v / s[keep] ** 2) @ v.T / np.outer(scale, scale)
    null = vt.T[:, ~keep]
    if n > s.size:  # more parameters than residuals: the rest of the space is null too
        null = np.linalg.svd(J / scale, full_matrices=True)[2].T[:, rank:]
    weight = np.einsum("ij,ij->i", null, null) if null.size else np.zeros(n)
    undetermined = tuple(int(i) for i in np.flatnonzero((weight > 1e-8) | (norms == 0)))
    for i in undetermined:
        inverse[i, :] = inverse[:, i] = np.nan
        inverse[i, i] = np.inf
    return Covariance(inverse, rank, undetermined)


def z_value(confidence: float) -> float:
    """The two-sided normal quantile of a confidence level (1.96 for 0.95)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


@dataclass(frozen=True)
class FitInputs:
    """What the statistics are computed from, at the solution.

    Attributes:
        r, J: the residuals (divided by their uncertainties when ``absolute``)
            and their Jacobian, shape (m,) and (m, n).
        x: the flat parameter vector.
        params, labels: the parameter layout and one label per flat entry.
        absolute: the residuals are in units of their absolute uncertainties.
        data, unweighted: the data y and the residuals model − y before
            weighting, when the residual has that form (for R²), else None.
        surrogates: where the objective uses surrogate derivatives (then the
            Jacobian is not the residuals' derivative and nothing is inferred).
        confidence: the level of the asymptotic intervals.
    """

    r: np.ndarray
    J: np.ndarray
    x: np.ndarray
    params: tuple
    labels: tuple
    absolute: bool = False
    data: np.ndarray | None = None
    unweighted: np.ndarray | None = None
    surrogates: tuple = ()
    confidence: float = 0.95


def fit_report(inputs: FitInputs) -> FitReport:
    """χ², information criteria, R², and (where they apply) standard errors,
    covariance, correlations and asymptotic intervals, with notes saying why
    any of these is missing."""
    r, J, labels = inputs.r, inputs.J, inputs.labels
    m, n = J.shape
    with np.errstate(all="ignore"):
        chi2 = float(r @ r)
        found = unscaled_covariance(J)
        rank = found.rank if (found.rank or not n) and not inputs.surrogates else n
        dof = m - rank
        reduced = chi2 / dof if dof > 0 else None
        aic, bic = information_criteria(chi2, m, n)
        common = dict(residuals=m, dof=dof, reduced_chi2=reduced, labels=tuple(labels),
                      chi2=chi2, aic=aic, bic=bic, r_squared=r_squared(inputs),
                      absolute_sigma=inputs.absolute)
        reason = _not_applicable(inputs, m, n, dof)
        if reason is not None:
            empty = {p.name: None if p.shape == () else np.full(p.shape, None).tolist()
                     for p in inputs.params}
            return FitReport(stderr=empty, correlation=None, rank=found.rank,
                             not_identifiable=(), notes=(reason,), applies=False,
                             relative_error=empty, **common)
        covariance = found.matrix * (1.0 if inputs.absolute else reduced)
        stderr = np.sqrt(np.abs(np.diag(covariance)))
        correlation = covariance / np.outer(stderr, stderr)
        np.fill_diagonal(correlation, np.where(np.isfinite(stderr), 1.0, np.nan))
        relative = stderr / np.abs(inputs.x)
        z = z_value(inputs.confidence)
        intervals = Intervals("asymptotic", inputs.confidence, z * z,
                              inputs.x - z * stderr, inputs.x + z * stderr, inputs.params)
    not_identifiable = tuple(labels[i] for i in found.undetermined)
    notes = (_rank_note(not_identifiable, found.rank, n),) if not_identifiable else ()
    return FitReport(stderr=shaped(stderr, inputs.params), correlation=correlation,
                     rank=found.rank, not_identifiable=not_identifiable, notes=notes,
                     covariance=covariance, relative_error=shaped(relative, inputs.params),
                     strong_correlations=strong_correlations(correlation, labels),
                     intervals=intervals, **common)


def information_criteria(chi2: float, m: int, n: int) -> tuple:
    """(AIC, BIC) as lmfit defines them (χ² floored at 1e-250·m, as lmfit does)."""
    if m == 0:
        return None, None
    neg2_log_likelihood = m * math.log(max(chi2, 1e-250 * m) / m)
    return neg2_log_likelihood + 2 * n, neg2_log_likelihood + math.log(m) * n


def r_squared(inputs: FitInputs) -> float | None:
    """1 − Σ(y − model)²/Σ(y − ȳ)², when the residual is model − data with data that vary."""
    y, resid = inputs.data, inputs.unweighted
    if y is None or resid is None or y.size < 2:
        return None
    total = float(np.sum((y - y.mean()) ** 2))
    if not total > 0:
        return None
    return 1.0 - float(resid @ resid) / total


def strong_correlations(correlation: np.ndarray, labels) -> tuple:
    """(label, label, ρ) for each pair with |ρ| > STRONG_CORRELATION, strongest first."""
    n = correlation.shape[0]
    pairs = [(labels[i], labels[j], float(correlation[i, j]))
             for i in range(n) for j in range(i + 1, n)
             if np.isfinite(correlation[i, j]) and abs(correlation[i, j]) > STRONG_CORRELATION]
    return tuple(sorted(pairs, key=lambda pair: -abs(pair[2])))


def _not_applicable(inputs: FitInputs, m: int, n: int, dof: int) -> str | None:
    """Why standard errors and covariance do not apply here, or None when they do."""
    if inputs.surrogates:
        shown = ", ".join(inputs.surrogates[:3]) + (", ..." if len(inputs.surrogates) > 3
                                                    else "")
        return (f"the objective uses surrogate derivatives ({shown}): its Jacobian is not "
                "the derivative of the residuals, so standard errors, covariance and "
                "intervals do not apply")
    if not np.all(np.isfinite(inputs.J)):
        return ("the Jacobian at the solution is not finite: standard errors, covariance "
                "and intervals are undefined")
    if dof <= 0 and not inputs.absolute:
        fitted = f"{n} parameter" + ("" if n == 1 else "s")
        return (f"{m} residual{'' if m == 1 else 's'} for {fitted} leave no degrees of "
                "freedom: the residual variance RSS/(m - p) is undefined, and with it the "
                "standard errors, covariance and intervals (add data, or give the "
                "residuals' uncertainties with option sigma)")
    return None


def _rank_note(names: tuple, rank: int, n: int) -> str:
    listed = ", ".join(names)
    return (f"the data do not determine {listed} (the Jacobian has rank {rank} for {n} "
            "parameters): their standard errors are infinite; only combinations of them "
            "are identified")
