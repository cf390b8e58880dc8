"""A least-squares fit's report at its solution: what the statistics need, gathered.

Glue between the session and ``solve.statistics``/``solve.profile``: the
residuals and Jacobian at the solution, whether they carry absolute
uncertainties (``option sigma``), the data y behind a ``model - y``
residual (for R²), the surrogate derivatives the objective uses (then the
statistics do not apply), and, for ``--intervals profile``, the profile
intervals in place of the asymptotic ones. Never prints.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from diffopt.errors import UsageError
from diffopt.ir.passes import measured_data, surrogate_uses
from diffopt.solve.profile import profile_intervals
from diffopt.solve.statistics import FitInputs, fit_report
from diffopt.vocab import DEFAULT_CONFIDENCE, INTERVALS, choices_text


def interval_settings(options, intervals: str | None,
                      confidence: float | None) -> tuple[str, float]:
    """(intervals, confidence): the flags', else the file's options, else the defaults.

    The flags' values are checked here (the file's were checked with the file).
    """
    intervals = intervals or options.get("intervals", "asymptotic")
    confidence = confidence if confidence is not None else options.get(
        "confidence", DEFAULT_CONFIDENCE)
    if intervals not in INTERVALS:
        raise UsageError(f"--intervals must be {choices_text(INTERVALS)}, not '{intervals}'")
    if not 0.0 < confidence < 1.0:
        raise UsageError(f"--confidence must be between 0 and 1, not {confidence:g}")
    return intervals, float(confidence)


def fit_statistics(session, x: np.ndarray, *, intervals: str = "asymptotic",
                   confidence: float = 0.95, method: str = "lm", tol: float | None = None):
    """The FitReport of the least-squares objective at x (see solve.statistics)."""
    problem, recording = session.problem, session.recording
    with np.errstate(all="ignore"):
        r, J = session.residual_jacobian(x)
    recording = session.recording  # the one traced at x
    sigma = problem.options.get("sigma")
    data, unweighted = _data_and_model_residual(recording, r, sigma)
    inputs = FitInputs(r=r, J=J, x=np.asarray(x, dtype=float), params=problem.params,
                       labels=tuple(problem.param_labels()), absolute=sigma is not None,
                       data=data, unweighted=unweighted,
                       surrogates=tuple(surrogate_uses(recording.tape, [recording.objective])),
                       confidence=confidence)
    report = fit_report(inputs)
    if intervals != "profile" or report.intervals is None:
        return report
    stderr = np.sqrt(np.diag(report.covariance))
    variance = 1.0 if inputs.absolute else report.reduced_chi2
    asymptotic = report.intervals
    found = profile_intervals(session.oracle(), inputs.x, stderr, inputs.labels,
                              variance=variance, threshold=asymptotic.delta_chi2,
                              method=method, tol=tol)
    profiled = replace(asymptotic, method="profile", lower=found.lower, upper=found.upper,
                       notes=found.notes, evaluations=found.evaluations)
    return replace(report, intervals=profiled)


def _data_and_model_residual(recording, r: np.ndarray, sigma):
    """(y, model − y) when the fitted residual is model − y for constant data y.

    Under ``option sigma`` the recorded residual is (model − y)/σ: the
    residual before the division is looked at, and r·σ is model − y.
    """
    tape, slot = recording.tape, recording.residual
    if sigma is not None and isinstance(slot, int) and tape.producer[slot] >= 0:
        slot = tape.eqns[tape.producer[slot]].args[0]
    data = measured_data(tape, slot)
    if data is None:
        return None, None
    unweighted = r * (np.ravel(sigma) if np.ndim(sigma) else sigma) if sigma is not None else r
    return data, unweighted
