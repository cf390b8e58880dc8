"""A session: a checked problem paired with its recorded, compiled program.

``Session`` is what ``api.load`` hands out. It keeps the current recording
and re-traces only when a recorded branch decision (guard) no longer holds
at the new point, so a program without parameter-dependent control flow is
traced once (by the checking pass itself). Its methods are functions of a
flat parameter vector: value, gradient (reverse or forward mode), Hessian,
residual Jacobian, constraints, the report of lets, NaN provenance, and the
``Oracle`` the solvers see.

Maximization is handled here: the session's ``value`` is what the solver
minimizes (``-f`` for ``maximize``); reports convert back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffopt import recording as rec
from diffopt.check.passes import Trace, trace
from diffopt.check.problem import CheckedProblem
from diffopt.diagnose import NonFinite, first_nonfinite
from diffopt.gcpause import gc_paused
from diffopt.notices import Notice, unique
from diffopt.ops.implicit import assess
from diffopt.ops.registry import Var
from diffopt.solve.oracle import Constraints, Oracle


@dataclass(frozen=True)
class PointReport:
    """The program's named values at one point."""

    objective: float  # as written (not negated for maximize)
    lets: dict  # let/var name -> value
    constraints: list  # (name, kind "le"/"eq", value, violation >= 0), values of any shape


class Session:
    """Value, gradient, Hessian and Jacobian functions of a flat parameter vector."""

    def __init__(self, problem: CheckedProblem, first: Trace):
        self.problem = problem
        self.traces = 1
        # (offset, size, shape) per parameter, to split a flat x without copies
        self._layout = [(p.offset, p.size, p.shape) for p in problem.params]
        self._all_scalar = bool(problem.params) and all(p.shape == () for p in problem.params)
        self.recording = rec.record(first, problem.sense, problem.objective_span)
        # every top-level name's value at the start point (consts, lets, tables,
        # defs), from the checking run itself: what an editor's hover shows
        self.start_names = {name: value.value if isinstance(value, Var) else value
                            for name, value in first.result.names.items()}

    # ---------------------------------------------------------------- tracing

    def trace(self, x: np.ndarray) -> rec.Recording:
        """Record the program again at x (the current recording's guards failed there)."""
        values = [np.asarray(v, dtype=np.float64)
                  for v in self.problem.unflatten(np.asarray(x, dtype=np.float64)).values()]
        with np.errstate(all="ignore"), gc_paused():
            self.recording = rec.record(trace(self.problem, values), self.problem.sense,
                                        self.problem.objective_span)
        self.traces += 1
        return self.recording

    def _run(self, key: str, outputs_of, x: np.ndarray, extra: tuple = ()):
        """Run compiled outputs at x, re-tracing if a guard fails there.

        ``extra``: values of the tangent placeholders, for the "directional:"
        programs (see ``recording.placeholder_tangents``).
        """
        x = np.asarray(x, dtype=np.float64)
        recording = self.recording
        inputs = self._inputs(x)
        if extra:
            inputs.extend(extra)
        outputs = outputs_of(recording)
        result = self._program(recording, key, outputs, extra).run(inputs)
        n = len(outputs)
        if recording.tape.guards and not result[n]:
            recording = self.trace(x)
            outputs = outputs_of(recording)
            result = self._program(recording, key, outputs, extra).run(inputs)
        return recording, result[:n]

    @staticmethod
    def _program(recording: rec.Recording, key: str, outputs: list, extra: tuple):
        program = recording.programs.get(key)
        if program is None:  # compiled once per recording and key
            slots = tuple(p.id for p in recording.placeholders) if extra else ()
            program = recording.compiled(key, outputs, slots)
        return program

    def _inputs(self, x: np.ndarray) -> list:
        # Views of x (the compiled code never writes to its inputs); a scalar
        # parameter is passed as a float for the compiled scalar path.
        return [
            float(x[offset]) if shape == () else x[offset: offset + size].reshape(shape)
            for offset, size, shape in self._layout
        ]

    def _flat(self, pieces) -> np.ndarray:
        """One flat vector from per-parameter pieces (floats or arrays of their shapes)."""
        if self._all_scalar:
            return np.array(pieces, dtype=np.float64)
        if not pieces:
            return np.zeros(0)
        # axis=None flattens each piece inside the one call (a µs less than
        # ravelling them first: this runs on every gradient evaluation)
        return np.concatenate(pieces, axis=None, dtype=np.float64)

    # ------------------------------------------------------------ evaluations

    def value(self, x) -> float:
        _, (f,) = self._run("value", lambda r: [r.objective], x)
        return float(f)

    def probe(self, x) -> tuple[float, tuple]:
        """The minimized value at x and the branch decisions, (place, taken), there.

        For probes that each go elsewhere (the staircase scan of ``check``):
        a point off the current path is traced but not compiled, and the
        current recording is kept.
        """
        x = np.asarray(x, dtype=np.float64)
        recording = self.recording
        out = self._program(recording, "value", [recording.objective], ()).run(self._inputs(x))
        if not recording.tape.guards or out[1]:
            return float(out[0]), _decisions(recording.tape)
        values = [np.asarray(v, dtype=np.float64) for v in self.problem.unflatten(x).values()]
        with np.errstate(all="ignore"), gc_paused():
            traced = trace(self.problem, values)
        f = traced.result.objective
        f = float(f.value if isinstance(f, Var) else f)
        return (-f if self.problem.sense == "maximize" else f), _decisions(traced.tape)

    def value_and_grad(self, x) -> tuple[float, np.ndarray]:
        _, out = self._run("value_and_grad", lambda r: [r.objective] + r.gradient, x)
        return float(out[0]), self._flat(out[1:])

    def gradient_forward(self, x) -> tuple[float, np.ndarray]:
        """The gradient by forward mode: one tangent direction per parameter."""
        values, columns = self._tangents(x, "objective", lambda r: [r.objective])
        return float(values[0]), np.array([float(c[0]) for c in columns])

    def _tangents(self, x, key: str, outputs_of) -> tuple[list, list]:
        """Values of some outputs and their tangents along each coordinate direction.

        Returns (values, columns) with columns[j][i] the tangent of output i
        along parameter entry j (see ``recording`` for how they are staged).
        """
        n = self.problem.n
        params = self.problem.params
        if n <= rec.STAGED_FORWARD_LIMIT:
            recording, out = self._run(
                f"tangents:{key}",
                lambda r: rec.one_hot_tangents(r, params, key, outputs_of(r)), x)
            m = len(recording.tangents[key]) // (n + 1)
            return out[:m], [out[m + j * m: m + (j + 1) * m] for j in range(n)]
        values, columns = None, []
        for direction in np.eye(n):
            values, tangents = self._directional(x, key, outputs_of, direction)
            columns.append(tangents)
        return values, columns

    def _directional(self, x, key: str, outputs_of, direction) -> tuple[list, list]:
        """Outputs and their tangents along one direction (a placeholder-seeded program)."""
        params = self.problem.params
        extra = tuple(np.asarray(direction[p.offset: p.offset + p.size]).reshape(p.shape)
                      for p in params)
        recording, out = self._run(
            f"directional:{key}",
            lambda r: rec.placeholder_tangents(r, params, key, outputs_of(r)), x, extra)
        m = len(out) // 2
        return list(out[:m]), list(out[m:])

    def hvp(self, x, v) -> np.ndarray:
        """H(x) v: forward mode over the staged gradient (forward over reverse)."""
        _, tangents = self._directional(x, "gradient", lambda r: r.gradient,
                                        np.asarray(v, dtype=np.float64))
        return self._flat(tangents)

    def hessian(self, x) -> np.ndarray:
        """Dense Hessian: forward mode over the staged gradient, one column each."""
        n = self.problem.n
        if n == 0:
            return np.zeros((0, 0))
        _, columns = self._tangents(x, "gradient", lambda r: r.gradient)
        H = np.array([self._flat(column) for column in columns])  # row j: d(gradient)/d(x_j)
        return 0.5 * (H + H.T)  # symmetric up to rounding

    def residuals(self, x) -> np.ndarray:
        _, (r,) = self._run("residuals", lambda rec_: [rec_.residual], x)
        return np.ravel(r)

    def residual_jacobian(self, x) -> tuple[np.ndarray, np.ndarray]:
        """(r, J) with J = dr/dx, by whichever mode is cheaper.

        Forward mode costs one tangent direction per parameter (n), reverse
        mode one staged adjoint sweep per residual (m): reverse when m < n.
        """
        recording, _ = self._run("residuals", lambda rec_: [rec_.residual], x)
        n, k = self.problem.n, len(self.problem.params)
        m = recording.tape.values[recording.residual].size
        if m < n:
            recording, out = self._run("jacobian_rows", rec.jacobian_rows, x)
            r, rows = np.ravel(out[0]), out[1:]
            J = np.stack([self._flat(rows[i * k: (i + 1) * k]) for i in range(m)]) if m \
                else np.zeros((0, n))
            return r, J
        values, columns = self._tangents(x, "residual", lambda rec_: [rec_.residual])
        r = np.ravel(values[0])
        return r, np.array([np.ravel(c[0]) for c in columns]).reshape(n, r.size).T

    def output_value(self, x, name: str) -> np.ndarray:
        """The value of a let or var at x."""
        _, (value,) = self._run(f"let:{name}", lambda r: [r.lets[name]], x)
        return np.asarray(value, dtype=np.float64)

    def output_jacobian(self, x, name: str, mode: str) -> tuple[np.ndarray, np.ndarray]:
        """(value, J) of a let or var at x, J[i, j] = d value_i / d x_j (value
        flattened): by forward mode (one tangent per parameter entry) or reverse
        mode (one adjoint sweep per entry of the value)."""
        n = self.problem.n
        if mode == "forward":
            values, columns = self._tangents(x, f"let:{name}", lambda r: [r.lets[name]])
            value = np.asarray(values[0], dtype=np.float64)
            J = np.array([np.ravel(c[0]) for c in columns]).reshape(n, value.size).T
            return value, J
        _, out = self._run(f"rows:let:{name}",
                           lambda r: rec.vjp_rows(r, f"let:{name}", r.lets[name]), x)
        value = np.asarray(out[0], dtype=np.float64)
        k, m = len(self.problem.params), value.size
        rows = [self._flat(out[1 + i * k: 1 + (i + 1) * k]) for i in range(m)]
        return value, np.array(rows).reshape(m, n)

    def constraint_values(self, x) -> np.ndarray:
        _, out = self._run("constraints", lambda r: [c[2] for c in r.constraints], x)
        return np.concatenate([np.ravel(v) for v in out]) if out else np.zeros(0)

    def constraint_jacobian(self, x) -> tuple[np.ndarray, np.ndarray]:
        values, columns = self._tangents(x, "constraints",
                                         lambda r: [c[2] for c in r.constraints])
        c = np.concatenate([np.ravel(v) for v in values]) if values else np.zeros(0)
        n = self.problem.n
        if not values:
            return c, np.zeros((0, n))
        J = np.array([np.concatenate([np.ravel(t) for t in column]) for column in columns])
        return c, J.reshape(n, c.size).T

    def report(self, x) -> PointReport:
        """Objective (as written), lets and constraints at x."""
        recording, out = self._run(
            "report",
            lambda r: [r.reported] + list(r.lets.values()) + [c[2] for c in r.constraints],
            x,
        )
        names = list(recording.lets)
        lets = dict(zip(names, out[1: 1 + len(names)]))
        constraints = []
        for (name, kind, _, _), value in zip(recording.constraints, out[1 + len(names):]):
            violation = np.abs(value) if kind == "eq" else np.maximum(value, 0.0)
            constraints.append((name, kind, value, violation))
        return PointReport(float(out[0]), lets, constraints)

    def notices(self, x) -> tuple:
        """Warnings about the program at x: its loops' exits (found by the trace
        that holds at x) and doubtful root/argmin solutions there."""
        recording = self.recording
        if not _implicit_equations(recording.tape):  # only the trace's own notices
            if recording.tape.guards:  # the recording that holds at x
                recording, _ = self._run("value", lambda r: [r.objective], x)
            if not _implicit_equations(recording.tape):
                return recording.notices
        recording, out = self._run("implicit", _implicit_outputs, x)
        found, values = list(recording.notices), iter(out)
        for eqn in _implicit_equations(recording.tape):
            x_star = next(values)
            theta = [next(values) if isinstance(a, int) else a for a in eqn.args]
            sub = eqn.params["sub"]
            found.extend(Notice(m, sub.span) for m in assess(sub, theta, x_star))
        return unique(found)

    def diagnose(self, x, mode: str = "value") -> NonFinite | None:
        """Where the first NaN/inf of the objective ("value"), the reverse-mode
        gradient ("gradient") or the forward-mode tangents ("forward") came from."""
        recording, _ = self._run("value", lambda r: [r.objective], x)
        sweep = None
        if mode == "forward" and self.problem.n <= rec.STAGED_FORWARD_LIMIT:
            outputs = rec.one_hot_tangents(recording, self.problem.params, "objective",
                                           [recording.objective])[1:]
            sweep = "forward"
        else:
            outputs = [recording.objective] if mode == "value" else recording.gradient
        slots = [o for o in outputs if isinstance(o, int)]
        return first_nonfinite(recording.tape, self._inputs(np.asarray(x, float)), slots, sweep)

    # ------------------------------------------------------------------ oracle

    def oracle(self) -> Oracle:
        problem = self.problem
        lower, upper = problem.bounds()
        recording = self.recording
        constraints = None
        if recording.constraints:
            names, kinds = [], []
            for name, kind, _, shape in recording.constraints:
                if shape == ():
                    names.append(name)
                    kinds.append(kind)
                else:
                    for index in np.ndindex(*shape):
                        names.append(f"{name}[{', '.join(map(str, index))}]")
                        kinds.append(kind)
            constraints = Constraints(tuple(names), tuple(kinds), self.constraint_values,
                                      self.constraint_jacobian)
        least_squares = recording.residual is not None
        return Oracle(
            n=problem.n,
            value=self.value,
            value_and_grad=self.value_and_grad,
            hvp=self.hvp,
            hessian=self.hessian,
            residuals=self.residuals if least_squares else None,
            jacobian=self.residual_jacobian if least_squares else None,
            residual_scale=recording.residual_scale,
            lower=lower,
            upper=upper,
            constraints=constraints,
            labels=tuple(problem.param_labels()),
        )


def _decisions(tape) -> tuple:
    return tuple((g.span.location if g.span is not None else "?", g.taken) for g in tape.guards)


def _implicit_equations(tape) -> list:
    """The program's root/argmin equations (not their staged derivatives)."""
    return [e for e in tape.eqns if e.prim.name == "implicit" and e.mode == "value"]


def _implicit_outputs(recording) -> list:
    """Per root/argmin equation: its solution, then its traced arguments (θ)."""
    outputs = []
    for eqn in _implicit_equations(recording.tape):
        outputs.append(eqn.out)
        outputs.extend(a for a in eqn.args if isinstance(a, int))
    return outputs
