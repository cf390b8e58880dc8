"""Turning a checked Problem into fast value/gradient/Hessian functions.

A ``Recording`` is one trace of the program at a point (diffopt.tape), with
the gradient staged onto the same tape and the pieces each caller needs
compiled into straight-line functions. ``Engine`` keeps the current
recording and re-traces only when a recorded branch decision (guard) no
longer holds at the new point, so a program without parameter-dependent
control flow is traced once.

Maximization is handled here: the engine's ``objective`` is what the solver
minimizes (``-f`` for ``maximize``); reports convert back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diffopt.ad.forward import forward, stage_jvp
from diffopt.ad.reverse import stage_gradient, stage_vjp
from diffopt.compile.buffers import BufferPool
from diffopt.compile.codegen import Compiled, compile_outputs
from diffopt.diagnose import NonFinite, first_nonfinite
from diffopt.gcpause import gc_paused
from diffopt.ir.tape import Tape
from diffopt.ops import random as dop_random
from diffopt.ops.registry import Var, as_array
from diffopt.program import Problem, run_traced
from diffopt.solve.oracle import Constraints, Oracle


@dataclass
class Recording:
    """One trace: the tape, what the program produced, and compiled views."""

    tape: Tape
    objective: object  # slot (int) or constant array: the value minimized
    reported: object  # slot or constant: the objective as the user wrote it
    lets: dict  # name -> slot or constant
    constraints: list  # (name, kind, slot or constant, shape)
    gradient: list  # per parameter: slot or constant
    residual: object | None = None  # slot of r for least squares
    residual_scale: float = 1.0
    jacobian_rows: list | None = None  # reverse-mode Jacobian rows, staged on demand
    tangents: dict = field(default_factory=dict)  # staged forward-mode columns, by key
    _compiled: dict = field(default_factory=dict)
    pool: BufferPool = field(default_factory=BufferPool)  # shared by its programs

    def compiled(self, key: str, outputs: list) -> Compiled:
        """Outputs compiled with the guard check as one extra, last, result."""
        program = self._compiled.get(key)
        if program is None:
            with gc_paused():
                program = compile_outputs(self.tape, outputs, self.tape.guards, self.pool)
            self._compiled[key] = program
        return program


def _slot(value):
    return value.id if isinstance(value, Var) else as_array(value)


class Engine:
    """Value, gradient, Hessian and Jacobian functions of a flat parameter vector."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.recording: Recording | None = None
        self.traces = 0
        self.counts = {"objective": 0, "gradient": 0, "hessian": 0}
        # (offset, size, shape) per parameter, to split a flat x without copies
        self._layout = [(p.offset, p.size, p.shape) for p in problem.params]
        self._all_scalar = bool(problem.params) and all(p.shape == () for p in problem.params)

    # ---------------------------------------------------------------- tracing

    def trace(self, x: np.ndarray) -> Recording:
        problem = self.problem
        tape = Tape()
        values = problem.unflatten(np.asarray(x, dtype=np.float64))
        inputs = {p.name: tape.new_input(values[p.name]) for p in problem.params}
        dop_random.set_seed(problem.seed)
        with np.errstate(all="ignore"), gc_paused():
            return self._record(problem, tape, inputs)

    def _record(self, problem, tape, inputs) -> Recording:
        result = run_traced(problem, tape, inputs)
        reported = result.objective
        tape.span = problem.objective_span
        minimized = -reported if problem.sense == "maximize" else reported
        gradient = stage_gradient(tape, minimized, tape.inputs)
        lets = {name: _slot(v) for name, v in {**result.lets, **result.vars}.items()}
        constraints = [
            (c.name, c.kind, _slot(c.value), np.shape(c.value.value if isinstance(c.value, Var)
                                                      else c.value))
            for c in result.constraints
        ]
        recording = Recording(
            tape=tape,
            objective=_slot(minimized),
            reported=_slot(reported),
            lets=lets,
            constraints=constraints,
            gradient=[_slot(g) for g in gradient],
        )
        if problem.sense == "minimize":
            _recognize_least_squares(recording)
        self.recording = recording
        self.traces += 1
        return recording

    def _run(self, key: str, outputs_of, x: np.ndarray):
        """Run compiled outputs at x, re-tracing if a guard fails there."""
        x = np.asarray(x, dtype=np.float64)
        recording = self.recording or self.trace(x)
        inputs = self._inputs(x)
        outputs = outputs_of(recording)
        result = recording.compiled(key, outputs).run(inputs)
        n = len(outputs)
        if recording.tape.guards and not result[n]:
            recording = self.trace(x)
            outputs = outputs_of(recording)
            result = recording.compiled(key, outputs).run(inputs)
        return recording, result[:n]

    def _inputs(self, x: np.ndarray) -> list:
        # Views of x (the compiled code never writes to its inputs); a scalar
        # parameter is passed as a float for the compiled scalar path.
        return [
            float(x[offset]) if shape == () else x[offset: offset + size].reshape(shape)
            for offset, size, shape in self._layout
        ]

    # ------------------------------------------------------------ evaluations

    def value(self, x) -> float:
        self.counts["objective"] += 1
        _, (f,) = self._run("value", lambda r: [r.objective], x)
        return float(f)

    def value_and_grad(self, x) -> tuple[float, np.ndarray]:
        self.counts["objective"] += 1
        self.counts["gradient"] += 1
        _, out = self._run("value_and_grad", lambda r: [r.objective] + r.gradient, x)
        f, grads = out[0], out[1:]
        return float(f), self._flat(grads)

    def _flat(self, pieces) -> np.ndarray:
        """One flat vector from per-parameter pieces (floats or arrays of their shapes)."""
        if self._all_scalar:
            return np.array(pieces, dtype=np.float64)
        if not pieces:
            return np.zeros(0)
        # axis=None flattens each piece inside the one call (a µs less than
        # ravelling them first: this runs on every gradient evaluation)
        return np.concatenate(pieces, axis=None, dtype=np.float64)

    def gradient_forward(self, x) -> tuple[float, np.ndarray]:
        """The gradient by forward mode: one tangent direction per parameter."""
        self.counts["objective"] += 1
        self.counts["gradient"] += 1
        values, columns = self._tangents(x, "objective", lambda r: [r.objective])
        return float(values[0]), np.array([float(c[0]) for c in columns])

    def _tangents(self, x, key: str, outputs_of) -> tuple[list, list]:
        """Values of some outputs and their tangents along each coordinate direction.

        Returns (values, columns) with columns[j][i] the tangent of output i
        along parameter entry j. Up to STAGED_FORWARD_LIMIT parameters the
        tangents are staged on the tape (stage_jvp) and compiled with the
        values; beyond, the batched forward interpreter carries all n
        directions in one sweep.
        """
        n = self.problem.n
        if n > STAGED_FORWARD_LIMIT:  # the batched interpreter
            recording = self._ensure(x)
            outputs = outputs_of(recording)
            values, dots = self._forward(recording, x, np.eye(n), outputs)
            return values, [[d[j] for d in dots] for j in range(n)]
        recording, out = self._run(f"tangents:{key}",
                                   lambda r: self._tangent_outputs(r, key, outputs_of), x)
        m = recording.tangents[key][1]
        return out[:m], [out[m + j * m: m + (j + 1) * m] for j in range(n)]

    def _tangent_outputs(self, recording: Recording, key: str, outputs_of) -> list:
        """[outputs..., then their tangents along each direction]: staged once per trace."""
        cached = recording.tangents.get(key)
        if cached is None:
            outputs = outputs_of(recording)
            tape = recording.tape
            columns: list = []
            with np.errstate(all="ignore"):
                for j in range(self.problem.n):
                    seeds = {}
                    for spec, slot in zip(self.problem.params, tape.inputs):
                        if spec.offset <= j < spec.offset + spec.size:
                            one_hot = np.zeros(spec.size)
                            one_hot[j - spec.offset] = 1.0
                            seeds[slot] = one_hot.reshape(spec.shape)
                    columns.extend(_slot(t) for t in stage_jvp(tape, seeds, outputs))
            cached = recording.tangents[key] = (list(outputs) + columns, len(outputs))
        return cached[0]

    def _ensure(self, x) -> Recording:
        recording, _ = self._run("value", lambda r: [r.objective], x)
        return recording

    def _forward(self, recording, x, directions: np.ndarray, outputs, watch=None):
        """Forward mode with the rows of ``directions`` (k, n) as tangents.

        ``watch``: a list that receives the first non-finite tangent's origin.
        """
        k = directions.shape[0]
        inputs = self._inputs(x)
        tangents = [
            directions[:, p.offset: p.offset + p.size].reshape((k,) + p.shape)
            for p in self.problem.params
        ]
        return forward(recording.tape, inputs, tangents, outputs, k, watch=watch)

    def hvp(self, x, v) -> np.ndarray:
        """H(x) v: forward mode over the staged gradient (forward over reverse)."""
        self.counts["hessian"] += 1
        recording = self._ensure(x)
        _, dots = self._forward(recording, x, np.asarray(v, dtype=np.float64)[None, :],
                                recording.gradient)
        return self._flat([d[0] for d in dots])

    def hessian(self, x) -> np.ndarray:
        """Dense Hessian: forward mode over the staged gradient, one column each."""
        self.counts["hessian"] += 1
        n = self.problem.n
        if n == 0:
            return np.zeros((0, 0))
        _, columns = self._tangents(x, "gradient", lambda r: r.gradient)
        H = np.array([self._flat(column) for column in columns])  # row j: d(gradient)/d(x_j)
        return 0.5 * (H + H.T)  # symmetric up to rounding

    def residuals(self, x) -> np.ndarray:
        self.counts["objective"] += 1
        _, (r,) = self._run("residuals", lambda rec: [rec.residual], x)
        return np.ravel(r)

    def residual_jacobian(self, x) -> tuple[np.ndarray, np.ndarray]:
        """(r, J) with J = dr/dx, by whichever mode is cheaper.

        Forward mode costs one tangent direction per parameter (n), reverse
        mode one staged adjoint sweep per residual (m): reverse when m < n.
        """
        self.counts["gradient"] += 1
        recording, _ = self._run("residuals", lambda rec: [rec.residual], x)
        n = self.problem.n
        m = recording.tape.values[recording.residual].size
        if m < n:
            recording, out = self._run("jacobian_rows", _jacobian_outputs, x)
            r = np.ravel(out[0])
            rows = out[1:]
            J = np.stack([self._flat(rows[i * len(self.problem.params):
                                          (i + 1) * len(self.problem.params)])
                          for i in range(m)]) if m else np.zeros((0, n))
            return r, J
        values, columns = self._tangents(x, "residual", lambda rec: [rec.residual])
        r = np.ravel(values[0])
        return r, np.array([np.ravel(c[0]) for c in columns]).reshape(n, r.size).T

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

    def report(self, x) -> dict:
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
        return {"objective": float(out[0]), "lets": lets, "constraints": constraints}

    def diagnose(self, x, mode: str = "value") -> NonFinite | None:
        """Where the first NaN/inf of the objective ("value"), the reverse-mode
        gradient ("gradient") or the forward-mode tangents ("forward") came from."""
        recording = self._ensure(x)
        if mode == "forward":
            found: list = []
            self._forward(recording, x, np.eye(self.problem.n), [recording.objective],
                          watch=found)
            return found[0] if found else None
        outputs = [recording.objective] if mode == "value" else recording.gradient
        slots = [o for o in outputs if isinstance(o, int)]
        return first_nonfinite(recording.tape, self._inputs(x), slots)

    # ------------------------------------------------------------------ oracle

    def oracle(self) -> Oracle:
        problem = self.problem
        lower, upper = problem.bounds()
        recording = self.recording or self.trace(problem.start_point())
        constraints = None
        if recording.constraints:
            names, kinds = [], []
            for name, kind, _, shape in recording.constraints:
                size = int(np.prod(shape, dtype=np.int64))
                if size == 1 and shape == ():
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
        )


# Forward-mode tangents are staged (one compiled pass per parameter entry) up
# to this many parameters; larger problems use the batched interpreter.
STAGED_FORWARD_LIMIT = 16


def _jacobian_outputs(recording: Recording) -> list:
    """[r, then for each residual i its gradient pieces]: rows staged once per trace."""
    if recording.jacobian_rows is None:
        tape = recording.tape
        r = tape.var(recording.residual)
        rows = []
        with np.errstate(all="ignore"):
            for i in range(r.value.size):
                seed = np.zeros(r.value.size)
                seed[i] = 1.0
                rows.extend(_slot(g) for g in
                            stage_vjp(tape, r, seed.reshape(r.shape), list(tape.inputs)))
        recording.jacobian_rows = rows
    return [recording.residual] + recording.jacobian_rows


# ------------------------------------------------------- least-squares shape


def _recognize_least_squares(recording: Recording) -> None:
    """Find r in objectives c·sumsq(r), c·sum(r^2), c·mean(r^2) (c > 0 constant).

    On the tape these read sum(r·r) or sum(r^2) (sumsq and mean are
    composites: mean is a sum divided by a constant), under any number of
    multiplications and divisions by positive constants.
    """
    tape = recording.tape
    slot = recording.objective
    scale = 1.0
    while isinstance(slot, int) and tape.producer[slot] >= 0:
        eqn = tape.eqns[tape.producer[slot]]
        name = eqn.prim.name
        args = eqn.args
        if name == "mul" and _positive_constant(args[0]) and isinstance(args[1], int):
            scale *= float(args[0])
            slot = args[1]
        elif name == "mul" and _positive_constant(args[1]) and isinstance(args[0], int):
            scale *= float(args[1])
            slot = args[0]
        elif name == "div" and _positive_constant(args[1]) and isinstance(args[0], int):
            scale /= float(args[1])
            slot = args[0]
        elif name == "sum" and eqn.params.get("axis") is None and isinstance(args[0], int):
            inner = tape.producer[args[0]]
            if inner < 0:
                return
            square = tape.eqns[inner]
            r = square.args[0]
            squared = isinstance(r, int) and (
                (square.prim.name == "pow" and not isinstance(square.args[1], int)
                 and np.all(square.args[1] == 2.0))
                or (square.prim.name == "mul" and isinstance(square.args[1], int)
                    and square.args[1] == r)
            )
            if squared:
                recording.residual, recording.residual_scale = r, scale
            return
        else:
            return


def _positive_constant(a) -> bool:
    return not isinstance(a, int) and np.ndim(a) == 0 and float(a) > 0
