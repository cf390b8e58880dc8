"""Weighted least squares: ``option sigma`` divides each residual by its uncertainty.

The objective must have the least-squares shape c·Σ rᵢ² (see
``ir.passes.least_squares_residual``); with ``option sigma = s`` it is
recorded as c·Σ (rᵢ/sᵢ)² instead, so every solver, ``eval`` and ``grad`` see
the weighted objective and the fit statistics see the weighted residuals
rᵢ/sᵢ, whose uncertainties are 1 (absolute sigma, as
``scipy.optimize.curve_fit(absolute_sigma=True)``). ``s`` is a scalar or
has the residuals' shape; it was checked finite and positive with the option.
"""

from __future__ import annotations

import numpy as np

from diffopt.errors import OptionError, ShapeError
from diffopt.ir.passes import least_squares_residual
from diffopt.ir.tape import Tape
from diffopt.ops.registry import REGISTRY, Var, format_shape


def weighted_objective(tape: Tape, objective, sense: str, sigma: np.ndarray, span):
    """The objective c·Σ (rᵢ/σᵢ)² for the least-squares objective c·Σ rᵢ² (a Var).

    Raises (located at ``span``, the option's value):
        OptionError: the objective is not a least-squares sum to minimize.
        ShapeError: sigma is neither a scalar nor of the residuals' shape.
    """
    found = None
    if sense == "minimize" and isinstance(objective, Var):
        found = least_squares_residual(tape, objective.id)
    if found is None:
        raise OptionError("option 'sigma' weights the residuals of a least-squares fit, but the "
                          "objective is not a minimized sum or mean of squares", span,
                          hint="write the objective as sum(r^2), sumsq(r) or mean(r^2)")
    slot, scale = found
    residual = tape.var(slot)
    if sigma.ndim and sigma.shape != residual.shape:
        raise ShapeError(f"option 'sigma' has shape {format_shape(sigma.shape)}, but the "
                         f"residuals have shape {format_shape(residual.shape)}", span,
                         hint="give one uncertainty per residual, or a single number")
    with tape.recording_as(span):
        weighted = REGISTRY["div"](residual, sigma)
        total = REGISTRY["sum"](REGISTRY["mul"](weighted, weighted))
        return REGISTRY["mul"](np.float64(scale), total) if scale != 1.0 else total
