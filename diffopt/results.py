"""Result dataclasses of the API, whose ``to_json`` follows ../shared/cli.md.

Fields carry the JSON contract's names. Values are floats or NumPy arrays;
``report.jsonout`` turns them into plain JSON (NaN/inf as strings).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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


@dataclass(frozen=True)
class FitReport:
    """The statistics of a least-squares fit at its solution."""

    residuals: int
    dof: int
    reduced_chi2: float
    stderr: dict  # parameter name -> standard error (a float, or nested lists)
    labels: tuple  # one per flat parameter entry: ``w`` or ``w[0, 1]``
    correlation: np.ndarray  # (n, n), in the order of ``labels``
    rank: int | None = None  # of the Jacobian at the solution
    not_identifiable: tuple = ()  # labels of entries the data do not determine

    def to_json(self) -> dict:
        out = {
            "residuals": self.residuals,
            "dof": self.dof,
            "reduced_chi2": self.reduced_chi2,
            "stderr": self.stderr,
            "correlation": {"names": list(self.labels), "matrix": self.correlation.tolist()},
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

    def to_json(self) -> dict:
        out = {"at": _plain_dict(self.at), "entries": [e.to_json() for e in self.entries]}
        if self.taylor is not None:
            out["taylor"] = self.taylor
        if self.notes:
            out["notes"] = list(self.notes)
        return out


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    points: list

    def to_json(self) -> dict:
        return {"passed": self.passed, "points": [p.to_json() for p in self.points]}


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
    training: TrainingReport | None = None

    def to_json(self) -> dict:
        out = {
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
        }
        if self.fit is not None:
            out["fit"] = self.fit.to_json()
        if self.training is not None:
            out["training"] = self.training.to_json()
        return out
