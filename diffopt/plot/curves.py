"""The curves of a least-squares fit and of slices through the optimum.

Decisions (mirrored in man/diffopt-plot.1):

* fit: the residual must read ``model - data`` (or ``data - model``) with
  the data a constant array; the model values are then data + residual.
  The x column is ``--x`` or the first data array or column of the
  residuals' length that is not the data itself (else the row number).
* slice half-width per parameter entry: the larger of its distance from the
  start to the optimum, a quarter of |optimum| and 0.1, clipped to bounds;
  the quadratic model is f + g dt + H_jj dt^2 / 2 from the exact gradient
  and Hessian at the optimum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diffopt.errors import DopError, UsageError, did_you_mean
from diffopt.plot.data import Run, entries, floats

SLICE_POINTS = 201  # points per slice
SLICE_PANELS = 12  # at most this many parameter entries sliced unless --params says


# ---------------------------------------------------------------- fit


@dataclass(frozen=True)
class Fit:
    """Data, model values and residuals of a least-squares fit against one column."""

    x_name: str
    y_name: str
    x: np.ndarray  # (m,) sorted by x
    observed: np.ndarray
    model: np.ndarray
    residuals: np.ndarray  # model - observed
    as_line: bool  # the model is a function of x here (rows sharing an x share a value)
    stats: dict  # rmse, reduced_chi2, r_squared (NaN when not reported), dof, residuals
    params: dict  # label -> (value, standard error)

    def to_json(self) -> dict:
        return {"kind": "fit", "x_name": self.x_name, "y_name": self.y_name,
                "x": floats(self.x), "observed": floats(self.observed),
                "model": floats(self.model), "residuals": floats(self.residuals),
                "as_line": self.as_line, "stats": self.stats,
                "params": {k: {"value": v, "stderr": e} for k, (v, e) in self.params.items()}}


def _data_columns(session) -> dict:
    """Every data array and table column by name (``xs``, ``trips.distance_km``)."""
    columns = {}
    for name, table in session.problem.tables.items():
        if isinstance(table, np.ndarray):
            columns[name] = table
        else:
            for column, values in getattr(table, "columns", {}).items():
                columns[f"{name}.{column}"] = np.asarray(values, dtype=float)
    return columns


def _split_residual(session, x: np.ndarray):
    """(model, observed) at x, from a residual recorded as ``model - data``."""
    problem = session.problem
    session.residuals(x)  # the recording at the solution (re-traced if need be)
    recording = session.recording
    tape, slot = recording.tape, recording.residual
    producer = tape.producer[slot] if isinstance(slot, int) else -1
    eqn = tape.eqns[producer] if producer >= 0 else None
    if eqn is None or eqn.prim.name != "sub" or \
            sum(isinstance(a, int) for a in eqn.args) != 1:
        raise DopError("a fit plot needs residuals written as model - data "
                       "(like `predicted - ys`)", problem.objective_span)
    r = np.ravel(session.residuals(x))
    data_first = not isinstance(eqn.args[0], int)
    observed = np.ravel(np.broadcast_to(eqn.args[0 if data_first else 1], np.shape(r)))
    model = observed - r if data_first else observed + r
    return model, observed, (-r if data_first else r)


def fit(session, run: Run, fit_report, x_name: str | None = None) -> Fit:
    problem = session.problem
    if session.recording.residual is None or fit_report is None:
        raise DopError("a fit plot needs a least-squares objective (a sum or mean of "
                       "squared residuals)", problem.objective_span,
                       hint="`diffopt plot landscape`, `slice` or `trace` apply to any problem")
    model, observed, residuals = _split_residual(session, run.x)
    columns = _data_columns(session)
    same_length = {k: v for k, v in columns.items() if v.shape == observed.shape}
    y_name = next((k for k, v in same_length.items() if np.array_equal(v, observed)), "data")
    if x_name is None:
        candidates = [k for k, v in same_length.items() if not np.array_equal(v, observed)]
        x_name = candidates[0] if candidates else "row"
    elif x_name not in columns:
        raise UsageError(f"--x: no data column named '{x_name}'",
                         hint=did_you_mean(x_name, list(columns)))
    elif columns[x_name].shape != observed.shape:
        raise UsageError(f"--x {x_name}: it has {columns[x_name].size} values, "
                         f"the residuals {observed.size}")
    xs = columns[x_name] if x_name in columns else np.arange(observed.size, dtype=float)
    order = np.argsort(xs, kind="stable")
    xs = np.ravel(xs)[order]
    # a line when the model is a function of x here: rows sharing an x share a model value
    model_sorted = model[order]
    tied = np.diff(xs) == 0
    scale = max(float(np.max(np.abs(model_sorted), initial=0.0)), 1e-300)
    as_line = bool(np.all(np.abs(np.diff(model_sorted)[tied]) <= 1e-12 * scale))
    dof = int(fit_report.dof)
    stats = {"residuals": int(observed.size), "dof": dof,
             "rmse": float(np.sqrt(np.mean(residuals ** 2))),
             "reduced_chi2": _number(fit_report.reduced_chi2),
             "r_squared": _number(getattr(fit_report, "r_squared", None))}
    # a standard error the report leaves out (None: it does not apply) is NaN here
    errors = np.concatenate([np.ravel(np.asarray(fit_report.stderr.get(p.name), dtype=float))
                             if fit_report.stderr.get(p.name) is not None
                             else np.full(p.size, np.nan) for p in problem.params])
    params = {label: (float(run.x[k]), float(errors[k]))
              for k, label in enumerate(problem.param_labels())}
    return Fit(x_name, y_name, xs, observed[order], model[order], residuals[order], as_line,
               stats, params)


def _number(value) -> float:
    return float("nan") if value is None else float(value)


# ---------------------------------------------------------------- slice


@dataclass(frozen=True)
class Slice:
    """The objective along each chosen entry through the optimum, and its quadratic model."""

    objective: str
    labels: tuple
    centers: np.ndarray  # (p,) the optimum's entries
    ts: np.ndarray  # (p, K) positions along each entry
    values: np.ndarray  # (p, K) objective
    quadratic: np.ndarray  # (p, K) f + g dt + H_jj dt^2 / 2
    curvature: np.ndarray  # (p,) H_jj
    omitted: int = 0  # entries not drawn (over SLICE_PANELS without --params)
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"kind": "slice", "objective": self.objective, "params": list(self.labels),
                "centers": floats(self.centers), "t": floats(self.ts),
                "values": floats(self.values), "quadratic": floats(self.quadratic),
                "curvature": floats(self.curvature), "omitted": self.omitted}


def slice_data(session, run: Run, *, params=None, ranges=None) -> Slice:
    problem = session.problem
    chosen = entries(problem, params, None, "slice")
    if not chosen:
        raise DopError("a slice plot needs at least one parameter", problem.objective_span)
    omitted = 0
    if not params and len(chosen) > SLICE_PANELS:
        omitted, chosen = len(chosen) - SLICE_PANELS, chosen[:SLICE_PANELS]
    labels = problem.param_labels()
    ranges = ranges or {}
    unknown = [name for name in ranges if name not in [labels[k] for k in chosen]]
    if unknown:
        raise UsageError(f"--range: '{unknown[0]}' is not a plotted parameter")
    x, start = run.x, run.path[0] if len(run.path) else problem.start_point()
    lower, upper = problem.bounds()
    sign = -1.0 if problem.sense == "maximize" else 1.0
    _, g = session.value_and_grad(x)
    H = session.hessian(x)
    f0 = float(run.objective)
    ts, points = [], []
    for k in chosen:
        if labels[k] in ranges:
            low, high = ranges[labels[k]]
        else:
            half = max(abs(start[k] - x[k]), 0.25 * abs(x[k]), 0.1)
            low, high = max(x[k] - half, lower[k]), min(x[k] + half, upper[k])
        t = np.linspace(low, high, SLICE_POINTS)
        block = np.repeat(x[None, :], SLICE_POINTS, axis=0)
        block[:, k] = t
        ts.append(t)
        points.append(block)
    f, _ = session.values_batch(np.vstack(points))
    values = f.reshape(len(chosen), SLICE_POINTS)
    ts = np.array(ts)
    dt = ts - x[chosen][:, None]
    curvature = sign * np.diag(H)[chosen]
    quadratic = f0 + sign * g[chosen][:, None] * dt + 0.5 * curvature[:, None] * dt ** 2
    return Slice(problem.objective_name or "objective", tuple(labels[k] for k in chosen),
                 x[chosen].copy(), ts, values, quadratic, curvature, omitted)
