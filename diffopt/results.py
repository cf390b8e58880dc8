"""Result dataclasses of the API, whose ``to_json`` follows ../shared/cli.md.

Fields carry the JSON contract's names. Values are floats or NumPy arrays;
``report.jsonout`` turns them into plain JSON (NaN/inf as strings).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diffopt.notices import warning_json

SCHEMA = 2  # the version of solve's JSON document (1: before gradient, settings, schema)


def _plain(value):
    if isinstance(value, np.ndarray):
        return float(value) if value.ndim == 0 else value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return float(value)
    return value


def _plain_dict(d: dict) -> dict:
    return {k: _plain(v) for k, v in d.items()}


@dataclass(frozen=True)
class ConstraintRow:
    """One scalar constraint at a point (a vector constraint gives one per element)."""

    name: str
    value: float
    violation: float  # >= 0: how far the point is from satisfying it

    def to_json(self) -> dict:
        return {"name": self.name, "value": self.value, "violation": self.violation}


def shaped(flat, params) -> dict:
    """Parameter name -> its piece of a flat vector (a float, or nested lists)."""
    out = {}
    for p in params:
        piece = np.asarray(flat[p.offset: p.offset + p.size], dtype=float)
        out[p.name] = float(piece[0]) if p.shape == () else piece.reshape(p.shape).tolist()
    return out


@dataclass(frozen=True, eq=False)
class Intervals:
    """Confidence intervals of a fit's parameters, one [lower, upper] per flat entry."""

    method: str  # "asymptotic" (value ± z·stderr) or "profile" (profile likelihood)
    confidence: float  # the level, e.g. 0.95
    delta_chi2: float  # the rise of χ² that bounds the interval (z²)
    lower: np.ndarray
    upper: np.ndarray
    params: tuple = field(repr=False, default=())  # the layout, to shape them per name
    notes: tuple = ()  # e.g. an end that is a bound, not a crossing
    evaluations: int = 0  # residual evaluations the profiles cost

    def to_json(self) -> dict:
        out = {"method": self.method, "confidence": self.confidence,
               "delta_chi2": self.delta_chi2,
               "lower": shaped(self.lower, self.params),
               "upper": shaped(self.upper, self.params)}
        if self.method == "profile":
            out["notes"] = list(self.notes)
            out["evaluations"] = self.evaluations
        return out


@dataclass(frozen=True, eq=False)
class FitReport:
    """The statistics of a least-squares fit at its solution (see solve.statistics)."""

    residuals: int
    dof: int
    reduced_chi2: float | None  # None without degrees of freedom
    stderr: dict  # parameter name -> standard error (a float, or nested lists; None: n/a)
    labels: tuple  # one per flat parameter entry: ``w`` or ``w[0, 1]``
    correlation: np.ndarray | None  # (n, n), in the order of ``labels``; None: n/a
    rank: int | None = None  # of the Jacobian at the solution
    not_identifiable: tuple = ()  # labels of entries the data do not determine
    chi2: float = 0.0  # Σ r², of the weighted residuals under option sigma
    aic: float | None = None
    bic: float | None = None
    r_squared: float | None = None  # only when the residual is model - data
    absolute_sigma: bool = False  # residuals weighted by option sigma
    applies: bool = True  # standard errors, covariance and intervals apply
    notes: tuple = ()  # why something is missing or infinite, in words
    covariance: np.ndarray | None = None
    relative_error: dict = field(default_factory=dict)  # stderr / |value|, like stderr
    strong_correlations: tuple = ()  # (label, label, rho) with |rho| > 0.9
    intervals: Intervals | None = None

    def to_json(self) -> dict:
        matrix = lambda a: None if a is None else a.tolist()  # noqa: E731
        out = {
            "residuals": self.residuals,
            "dof": self.dof,
            "reduced_chi2": self.reduced_chi2,
            "stderr": self.stderr,
            "correlation": {"names": list(self.labels), "matrix": matrix(self.correlation)},
            "chi2": self.chi2,
            "aic": self.aic,
            "bic": self.bic,
            "r_squared": self.r_squared,
            "absolute_sigma": self.absolute_sigma,
            "statistics_apply": self.applies,
            "notes": list(self.notes),
            "relative_error": self.relative_error,
            "covariance": {"names": list(self.labels), "matrix": matrix(self.covariance)},
            "strong_correlations": [list(pair) for pair in self.strong_correlations],
            "intervals": self.intervals.to_json() if self.intervals is not None else None,
        }
        if self.rank is not None:
            out["rank"] = self.rank
            out["not_identifiable"] = list(self.not_identifiable)
        return out


@dataclass(frozen=True)
class ObjectiveInfo:
    name: str | None
    value: float
    sense: str

    def to_json(self) -> dict:
        return {"name": self.name, "value": self.value, "sense": self.sense}


@dataclass(frozen=True)
class EvalResult:
    objective: ObjectiveInfo
    lets: dict
    params: dict
    constraints: list = field(default_factory=list)
    warnings: tuple = ()

    def to_json(self) -> dict:
        out = {
            "objective": self.objective.value,
            "lets": _plain_dict(self.lets),
            "params": _plain_dict(self.params),
        }
        if self.constraints:
            out["constraints"] = [c.to_json() for c in self.constraints]
        out["warnings"] = [warning_json(w) for w in self.warnings]
        return out


@dataclass(frozen=True)
class GradResult:
    objective: ObjectiveInfo
    gradient: dict
    mode: str
    params: dict = field(default_factory=dict)
    timing: dict | None = None
    warnings: tuple = ()

    def to_json(self) -> dict:
        out = {
            "objective": self.objective.value,
            "gradient": _plain_dict(self.gradient),
            "mode": self.mode,
        }
        if self.timing is not None:
            out["timing"] = dict(self.timing)
        out["warnings"] = [warning_json(w) for w in self.warnings]
        return out


@dataclass(frozen=True)
class CheckEntry:
    param: str
    index: tuple
    forward: float
    reverse: float
    numeric: float
    abs_error: float
    rel_error: float
    ok: bool

    def to_json(self) -> dict:
        return {
            "param": self.param,
            "index": list(self.index),
            "forward": self.forward,
            "reverse": self.reverse,
            "numeric": self.numeric,
            "abs_error": self.abs_error,
            "rel_error": self.rel_error,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class CheckPoint:
    at: dict
    entries: list
    taylor: dict | None = None
    notes: tuple = ()
    staircase: str | None = None  # why the objective is a staircase here (a failure)

    def to_json(self) -> dict:
        out = {"at": _plain_dict(self.at), "entries": [e.to_json() for e in self.entries]}
        if self.staircase is not None:
            out["staircase"] = self.staircase
        if self.taylor is not None:
            out["taylor"] = self.taylor
        if self.notes:
            out["notes"] = list(self.notes)
        return out


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    points: list
    warnings: tuple = ()  # about the program at the points checked (diffopt.notices)

    def to_json(self) -> dict:
        return {"passed": self.passed, "points": [p.to_json() for p in self.points],
                "warnings": [warning_json(w) for w in self.warnings]}


@dataclass(frozen=True)
class TrainingReport:
    """What a stochastic method's run adds: batches, epochs and the two losses.

    ``train_loss`` and ``validation_loss`` are the objective over the training
    and the held-out rows at the returned point (a sum rescaled to all rows,
    as batches are); ``best_epoch`` is the epoch of the best validation loss.
    """

    batch: int
    epochs: int
    steps: int
    train_loss: float
    validation_loss: float | None = None
    best_epoch: int | None = None
    validation_rows: int = 0

    def to_json(self) -> dict:
        return {"batch": self.batch, "epochs": self.epochs, "steps": self.steps,
                "train_loss": self.train_loss, "validation_loss": self.validation_loss,
                "best_epoch": self.best_epoch, "validation_rows": self.validation_rows}


@dataclass(frozen=True)
class SolveResult:
    problem: str
    status: str
    message: str
    method: str
    mode: str
    objective: ObjectiveInfo
    params: dict
    start: dict
    lets: dict
    gradient_norm: float
    iterations: int
    evaluations: dict
    constraints: list
    time_s: float
    fit: FitReport | None = None
    warnings: tuple = ()
    gradient: dict = field(default_factory=dict)  # of the objective as written, per parameter
    active_bounds: dict = field(default_factory=dict)  # name -> "lower"/"upper"/None per entry
    settings: dict = field(default_factory=dict)  # what the solve ran with, defaults filled in
    training: TrainingReport | None = None  # stochastic methods (diffopt.training)

    @property
    def success(self) -> bool:
        """The solve converged (a documented stopping test holds at the point)."""
        return self.status == "converged"

    def to_json(self) -> dict:
        from diffopt import __version__

        out = {
            "schema": SCHEMA,
            "diffopt_version": __version__,
            "problem": self.problem,
            "status": self.status,
            "message": self.message,
            "method": self.method,
            "mode": self.mode,
            "objective": self.objective.to_json(),
            "params": _plain_dict(self.params),
            "lets": _plain_dict(self.lets),
            "gradient_norm": self.gradient_norm,
            "iterations": self.iterations,
            "evaluations": dict(self.evaluations),
            "constraints": [c.to_json() for c in self.constraints],
            "time_s": self.time_s,
            "success": self.success,
            "gradient": _plain_dict(self.gradient),
            "active_bounds": dict(self.active_bounds),
            "settings": dict(self.settings),
        }
        if self.fit is not None:
            out["fit"] = self.fit.to_json()
        if self.training is not None:
            out["training"] = self.training.to_json()
        out["warnings"] = [warning_json(w) for w in self.warnings]
        return out
