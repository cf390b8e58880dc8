"""Derivatives of any named value (``diffopt grad --of NAME``).

A scalar ``let`` (or ``var``) gets its gradient; a vector or matrix one its
Jacobian: rows are its entries flattened in row-major order, columns the
flat parameter entries. Forward mode costs one tangent per parameter entry
(n), reverse mode one adjoint sweep per output entry (m), so mode "auto"
takes forward when n < m and reverse otherwise; with ``repeat`` it times
both and keeps the faster. The objective (no ``--of``, or its label) goes
through ``api.gradient``, where "auto" likewise means reverse, or the
faster of the two when timed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from diffopt import api
from diffopt.check.problem import entry_labels
from diffopt.errors import UsageError, did_you_mean
from diffopt.points import resolve_point
from diffopt.timing import median_time
from diffopt.vocab import MODES, choices_text


@dataclass(frozen=True)
class JacobianResult:
    """d of / d params at ``params``: ``matrix[i, j]`` = d rows[i] / d columns[j]."""

    of: str
    value: np.ndarray
    rows: tuple
    columns: tuple
    matrix: np.ndarray
    mode: str
    params: dict
    gradient: dict | None = None  # a scalar's gradient, shaped like the parameters
    timing: dict | None = None

    def to_json(self) -> dict:
        value = self.value
        out: dict = {"of": self.of,
                     "value": float(value) if value.ndim == 0 else value.tolist()}
        if self.gradient is not None:
            out["gradient"] = {k: (float(v) if np.ndim(v) == 0 else np.asarray(v).tolist())
                               for k, v in self.gradient.items()}
        else:
            out["jacobian"] = {"of": self.of, "rows": list(self.rows),
                               "columns": list(self.columns), "matrix": self.matrix.tolist()}
        out["mode"] = self.mode
        if self.timing is not None:
            out["timing"] = dict(self.timing)
        return out


def differentiate(session, of: str | None = None, *, at=None, mode: str = "auto",
                  repeat: int = 0):
    """The gradient (``api.GradResult``) of the objective, or a ``JacobianResult`` of ``of``."""
    if mode not in MODES:
        raise UsageError(f"--mode must be {choices_text(MODES)}, not '{mode}'")
    problem = session.problem
    if of is None or (of == problem.objective_name and of not in session.recording.lets):
        return _objective(session, at, mode, repeat)
    names = list(session.recording.lets)
    if of not in names:
        choices = names + ([problem.objective_name] if problem.objective_name else [])
        raise UsageError(f"--of {of}: no let or var named '{of}'",
                         hint=did_you_mean(of, choices))
    x = resolve_point(problem, at)
    n = problem.n
    size = int(np.size(session.output_value(x, of)))
    timing = None
    if repeat and repeat > 0:
        timed = {m: median_time(lambda m=m: session.output_jacobian(x, of, m), repeat, warm_up=True)
                 for m in (("forward", "reverse") if mode == "auto" else (mode,))}
        if mode == "auto":
            mode = min(timed, key=timed.get)
        timing = {"value_s": median_time(lambda: session.output_value(x, of), repeat, warm_up=True),
                  "jacobian_s": timed[mode]}
        if len(timed) == 2:
            timing.update({f"{m}_s": t for m, t in timed.items()})
    elif mode == "auto":
        mode = "forward" if n < size else "reverse"
    value, J = session.output_jacobian(x, of, mode)
    gradient = problem.unflatten(J[0]) if value.ndim == 0 else None
    return JacobianResult(of=of, value=value, rows=tuple(entry_labels(of, value.shape)),
                          columns=tuple(problem.param_labels()), matrix=J, mode=mode,
                          params=problem.unflatten(x), gradient=gradient, timing=timing)


def _objective(session, at, mode: str, repeat: int):
    if mode != "auto":
        return api.gradient(session, at=at, mode=mode, repeat=repeat)
    if not repeat or repeat <= 0:
        return api.gradient(session, at=at, mode="reverse")
    results = {m: api.gradient(session, at=at, mode=m, repeat=repeat)
               for m in ("forward", "reverse")}
    fastest = min(results, key=lambda m: results[m].timing["gradient_s"])
    timing = dict(results[fastest].timing)
    timing.update({f"{m}_s": r.timing["gradient_s"] for m, r in results.items()})
    return replace(results[fastest], timing=timing)
