"""Statistics of a least-squares fit at its solution: covariance, rank, identifiability.

The covariance of the parameters is s²·(JᵀJ)⁻¹ with s² = Σ rᵢ²/(m − n), as
lmfit and ``scipy.optimize.curve_fit`` report it. It is computed from an SVD
of the column-scaled Jacobian J·D⁻¹ (D = the columns' norms), never from
``pinv(JᵀJ)``: forming JᵀJ squares the condition number, and a default
cutoff on the squared matrix silently drops the directions that badly scaled
but well determined parameters live in. A singular value below
``max(m, n)·eps·σ_max`` of the scaled matrix means a direction the data do
not determine: the parameters with weight in it are reported as not
identifiable, and their errors as infinite instead of tiny or NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffopt.results import FitReport


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
    weight = np.einsum("ij,ij->i", null, null) if null.size else np.zeros(n)
    undetermined = tuple(int(i) for i in np.flatnonzero((weight > 1e-8) | (norms == 0)))
    for i in undetermined:
        inverse[i, :] = inverse[:, i] = np.nan
        inverse[i, i] = np.inf
    return Covariance(inverse, rank, undetermined)


def fit_report(r: np.ndarray, J: np.ndarray, params, labels: list[str]) -> FitReport:
    """Standard errors, correlations and reduced χ² from residuals and their Jacobian.

    For f = c·Σ rᵢ², the covariance of the parameters is s²·(JᵀJ)⁻¹ with
    s² = Σ rᵢ² / (m − rank J) (the reduced χ² when residuals are unweighted),
    as lmfit and scipy.optimize.curve_fit report it (they divide by m − n:
    the same for a full-rank J). Parameters the data do not determine are
    not fitted: their errors are infinite and they are named.

    Args:
        params: the parameter layout (name, shape, offset, size per entry).
        labels: one label per flat entry, for the correlation matrix.
    """
    m, n = J.shape
    with np.errstate(all="ignore"):
        found = unscaled_covariance(J)
        dof = m - (found.rank if found.rank or not n else n)
        reduced = float(r @ r) / dof if dof > 0 else float("nan")
        covariance = found.matrix * (reduced if dof > 0 else np.nan)
        stderr_flat = np.sqrt(np.abs(np.diag(covariance)))
        correlation = covariance / np.outer(stderr_flat, stderr_flat)
    stderr = {}
    for p in params:
        piece = stderr_flat[p.offset: p.offset + p.size]
        stderr[p.name] = float(piece[0]) if p.shape == () else piece.reshape(p.shape).tolist()
    return FitReport(int(m), int(dof), reduced, stderr, tuple(labels), correlation, found.rank,
                     tuple(labels[i] for i in found.undetermined))
