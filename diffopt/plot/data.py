"""What each plot kind draws, computed from a session and its solver runs.

A ``Run`` is one solve with every iterate (the solver's events, iteration 0
the start). From runs and the session, ``landscape`` and ``trace`` (here)
and ``fit`` and ``slice_data`` (``diffopt.plot.curves``) build frozen
dataclasses of plain arrays, each with ``to_json`` (what ``diffopt plot
--json`` prints). Grids and slices are evaluated in one batched run of the compiled program
(``Session.values_batch``). Values are the objective as written (not
negated for ``maximize``). Never prints, never imports matplotlib.

Decisions (mirrored in man/diffopt-plot.1):

* landscape box: the smallest box holding the start, every iterate and the
  optimum, widened by ``MARGIN`` of its size on each side (a flat side by
  ``max(1, |centre|) / 2``), unless ``--range`` gives an axis;
* fit and slice: see ``diffopt.plot.curves``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffopt.errors import DopError, UsageError, did_you_mean

MARGIN = 0.1  # of the box's size, added on each side of a landscape


def floats(a) -> np.ndarray:
    """A float64 array for the JSON writer (which spells NaN/inf as "nan", "inf")."""
    return np.asarray(a, dtype=np.float64)


@dataclass(frozen=True)
class Run:
    """One solve: its method, outcome, and every iterate (row 0 the start)."""

    method: str
    status: str
    objective: float  # final, as written
    x: np.ndarray  # final flat point
    iterations: np.ndarray  # (k,) iteration numbers
    path: np.ndarray  # (k, n) flat iterates
    objectives: np.ndarray  # (k,) as written
    gradient_norms: np.ndarray  # (k,)

    @classmethod
    def of(cls, problem, result, events) -> Run:
        """From an api SolveResult and the solver's IterationInfo events."""
        sign = -1.0 if problem.sense == "maximize" else 1.0
        n = problem.n
        path = np.array([e.x for e in events], dtype=float).reshape(len(events), n)
        return cls(result.method, result.status, float(result.objective.value),
                   problem.flatten(result.params),
                   np.array([e.iteration for e in events], dtype=int), path,
                   sign * np.array([e.objective for e in events], dtype=float),
                   np.array([e.gradient_norm for e in events], dtype=float))

    def to_json(self) -> dict:
        return {"method": self.method, "status": self.status, "objective": self.objective,
                "iterations": self.iterations.tolist(), "objectives": floats(self.objectives),
                "gradient_norms": floats(self.gradient_norms), "x": floats(self.x)}


# ---------------------------------------------------------------- choosing parameters


def entries(problem, names: list[str] | None, want: int | None, kind: str) -> list[int]:
    """Flat entries named by --params (``x``, ``w[1]`` or a whole array ``w``), or the first."""
    labels = problem.param_labels()
    if not names:
        chosen = list(range(problem.n))
    else:
        chosen = []
        for name in names:
            if name in labels:
                chosen.append(labels.index(name))
                continue
            spec = next((p for p in problem.params if p.name == name), None)
            if spec is None:
                raise UsageError(f"--params: no parameter named '{name}'",
                                 hint=did_you_mean(name, [p.name for p in problem.params]))
            chosen.extend(range(spec.offset, spec.offset + spec.size))
    if want is not None:
        if len(chosen) < want:
            what = ", ".join(labels[i] for i in chosen) or "none"
            raise DopError(f"a {kind} plot needs {want} parameter entries; "
                           f"this problem has {len(chosen)} ({what})",
                           problem.params[0].span if problem.params else problem.objective_span,
                           hint="try `diffopt plot slice` or `diffopt plot trace`")
        if names and len(chosen) > want:
            raise UsageError(f"--params: a {kind} plot takes {want} parameter entries, "
                             f"got {len(chosen)}")
        chosen = chosen[:want]
    return chosen


def held_point(problem, optimum: np.ndarray, at) -> np.ndarray:
    """The optimum with ``--at`` values (a dict name -> value) put in."""
    if isinstance(at, str):
        from diffopt.option_values import parse_at

        at = parse_at(at)
    if not at:
        return optimum.copy()
    if not isinstance(at, dict):
        raise UsageError("--at: give parameter values (NAME=VALUE,... or a JSON object) "
                         "for a plot")
    values = problem.unflatten(optimum)
    for name, value in at.items():
        spec = next((p for p in problem.params if p.name == name), None)
        if spec is None:
            raise UsageError(f"--at: no parameter named '{name}'",
                             hint=did_you_mean(name, [p.name for p in problem.params]))
        try:
            values[name] = np.broadcast_to(np.asarray(value, dtype=float), spec.shape)
        except ValueError:
            raise UsageError(f"--at: '{name}' has shape {spec.shape}, the value given has "
                             f"shape {np.shape(value)}") from None
    return problem.flatten(values)


def _interval(points: np.ndarray, given) -> tuple[float, float]:
    if given is not None:
        return float(given[0]), float(given[1])
    finite = points[np.isfinite(points)]
    low, high = float(np.min(finite)), float(np.max(finite))
    pad = (high - low) * MARGIN if high > low else max(1.0, abs(low)) / 2
    return low - pad, high + pad


# ---------------------------------------------------------------- landscape


@dataclass(frozen=True)
class Landscape:
    """The objective over two parameter entries, with the solver's path."""

    objective: str
    labels: tuple  # (x label, y label)
    xs: np.ndarray  # (N,)
    ys: np.ndarray  # (M,)
    values: np.ndarray  # (M, N): values[j, i] at (xs[i], ys[j])
    run: Run
    path: np.ndarray  # (k, 2) the iterates' two coordinates
    start: np.ndarray  # (2,)
    optimum: np.ndarray  # (2,)
    held: dict  # label -> value of every other entry
    bounds: dict  # "x"/"y" -> {"lower"/"upper": value} for finite bounds inside the box
    constraints: tuple = ()  # (name, kind, (M, N) values; boundary where 0)
    log_scale: bool = False

    def to_json(self) -> dict:
        return {"kind": "landscape", "objective": self.objective, "params": list(self.labels),
                "x": floats(self.xs), "y": floats(self.ys), "values": floats(self.values),
                "path": floats(self.path), "start": floats(self.start),
                "optimum": floats(self.optimum), "held": self.held, "bounds": self.bounds,
                "constraints": [{"name": n, "kind": k, "values": floats(v)}
                                for n, k, v in self.constraints],
                "log_scale": self.log_scale, "run": self.run.to_json()}


def landscape(session, run: Run, *, params=None, ranges=None, grid: int = 100,
              at=None) -> Landscape:
    """The objective over a box of two entries, the others held at the optimum or ``at``."""
    problem = session.problem
    i, j = entries(problem, params, 2, "landscape")
    labels = problem.param_labels()
    ranges = ranges or {}
    unknown = [name for name in ranges if name not in (labels[i], labels[j])]
    if unknown:
        raise UsageError(f"--range: '{unknown[0]}' is not a plotted parameter "
                         f"({labels[i]}, {labels[j]})")
    if grid < 2 or grid > 2000:
        raise UsageError(f"--grid must be between 2 and 2000, got {grid}")
    points = np.vstack([run.path, run.x[None, :]])
    x_low, x_high = _interval(points[:, i], ranges.get(labels[i]))
    y_low, y_high = _interval(points[:, j], ranges.get(labels[j]))
    xs, ys = np.linspace(x_low, x_high, grid), np.linspace(y_low, y_high, grid)
    base = held_point(problem, run.x, at)
    X = np.repeat(base[None, :], grid * grid, axis=0)
    gx, gy = np.meshgrid(xs, ys)  # row j is ys[j]
    X[:, i], X[:, j] = gx.ravel(), gy.ravel()
    f, cons = session.values_batch(X)
    values = f.reshape(grid, grid)
    lower, upper = problem.bounds()
    bounds = {axis: {side: float(b) for side, b in (("lower", lower[k]), ("upper", upper[k]))
                     if np.isfinite(b) and lo <= b <= hi}
              for axis, k, lo, hi in (("x", i, x_low, x_high), ("y", j, y_low, y_high))}
    constraint_grids = tuple((name, kind, cons[:, c].reshape(grid, grid))
                             for c, (name, kind) in enumerate(_constraint_names(session)))
    finite = values[np.isfinite(values)]
    log_scale = bool(finite.size and finite.min() > 0 and finite.max() / finite.min() > 100)
    held = {labels[k]: float(base[k]) for k in range(problem.n) if k not in (i, j)}
    return Landscape(problem.objective_name or "objective", (labels[i], labels[j]), xs, ys,
                     values, run, run.path[:, [i, j]], run.path[0, [i, j]], run.x[[i, j]],
                     held, bounds, constraint_grids, log_scale)


def _constraint_names(session) -> list[tuple[str, str]]:
    names = []
    for name, kind, _, shape in session.recording.constraints:
        if shape == ():
            names.append((name, kind))
        else:
            names.extend((f"{name}[{', '.join(map(str, index))}]", kind)
                         for index in np.ndindex(*shape))
    return names


# ---------------------------------------------------------------- trace


@dataclass(frozen=True)
class Trace:
    """Objective and gradient norm against iteration, one curve per method."""

    objective: str
    problem: str
    runs: tuple
    log_scale: bool

    def to_json(self) -> dict:
        return {"kind": "trace", "objective": self.objective, "problem": self.problem,
                "log_scale": self.log_scale, "runs": [r.to_json() for r in self.runs]}


def trace(session, runs) -> Trace:
    values = np.concatenate([r.objectives for r in runs])
    values = values[np.isfinite(values)]
    log_scale = bool(values.size and values.min() > 0 and values.max() / values.min() > 100)
    problem = session.problem
    return Trace(problem.objective_name or "objective", problem.name, tuple(runs), log_scale)
