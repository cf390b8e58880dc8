"""One recording of a program, with its derivatives staged and compiled on demand.

A ``Recording`` is a trace (``check.runner.Trace``) plus what every caller
needs from it: the minimized objective (``-f`` for ``maximize``), the staged
reverse-mode gradient, lets, constraints, the least-squares residual when the
objective has that shape, and staged forward-mode tangents. Each set of
outputs is compiled once (``compile.codegen``) with the guard check as one
extra result. Forward mode is always staged: up to STAGED_FORWARD_LIMIT
parameter entries with constant one-hot seeds (which fold away), beyond that
as one program over tangent placeholders run once per direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diffopt.ad.forward import stage_jvp
from diffopt.ad.reverse import stage_gradient, stage_vjp
from diffopt.check.runner import Trace
from diffopt.compile.buffers import BufferPool
from diffopt.compile.codegen import Compiled, compile_outputs
from diffopt.gcpause import gc_paused
from diffopt.ir.passes import least_squares_residual
from diffopt.ir.tape import Tape
from diffopt.ops.registry import Var, as_array

# Forward-mode tangents are staged with one-hot seeds (one set of tangent
# equations per parameter entry, folded where the seed is zero) up to this
# many entries; larger problems run one placeholder-seeded program per direction.
STAGED_FORWARD_LIMIT = 64


def slot_of(value):
    return value.id if isinstance(value, Var) else as_array(value)


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
    tangents: dict = field(default_factory=dict)  # staged forward-mode outputs, by key
    placeholders: list = field(default_factory=list)  # tangent seed slots, per parameter
    programs: dict = field(default_factory=dict)
    pool: BufferPool = field(default_factory=BufferPool)  # shared by its programs
    notices: tuple = ()  # warnings the trace found (its loops' exits; diffopt.notices)

    def compiled(self, key: str, outputs: list, extra_inputs: tuple = ()) -> Compiled:
        """Outputs compiled with the guard check as one extra, last, result."""
        program = self.programs.get(key)
        if program is None:
            inputs = list(self.tape.inputs) + list(extra_inputs)
            with gc_paused():
                program = compile_outputs(self.tape, outputs, self.tape.guards, self.pool,
                                          inputs)
            self.programs[key] = program
        return program


def record(trace: Trace, sense: str, objective_span) -> Recording:
    """Stage the gradient of a trace and collect its named outputs."""
    tape, result = trace.tape, trace.result
    reported = result.objective
    with np.errstate(all="ignore"), gc_paused():
        tape.span = objective_span
        minimized = -reported if sense == "maximize" else reported
        gradient = stage_gradient(tape, minimized, tape.inputs)
    lets = {name: slot_of(v) for name, v in {**result.lets, **result.vars}.items()}
    constraints = [
        (c.name, c.kind, slot_of(c.value),
         np.shape(c.value.value if isinstance(c.value, Var) else c.value))
        for c in result.constraints
    ]
    recording = Recording(tape=tape, objective=slot_of(minimized), reported=slot_of(reported),
                          lets=lets, constraints=constraints,
                          gradient=[slot_of(g) for g in gradient], notices=result.notices)
    if sense == "minimize":
        found = least_squares_residual(tape, recording.objective)
        if found is not None:
            recording.residual, recording.residual_scale = found
    return recording


def one_hot_tangents(recording: Recording, params, key: str, outputs: list) -> list:
    """[outputs..., then their tangents along each parameter entry]: staged once."""
    cached = recording.tangents.get(key)
    if cached is None:
        tape = recording.tape
        columns: list = []
        with np.errstate(all="ignore"):
            for spec, slot in zip(params, tape.inputs):
                for j in range(spec.size):
                    one_hot = np.zeros(spec.size)
                    one_hot[j] = 1.0
                    seeds = {slot: one_hot.reshape(spec.shape)}
                    columns.extend(slot_of(t) for t in stage_jvp(tape, seeds, outputs))
        cached = recording.tangents[key] = list(outputs) + columns
    return cached


def placeholder_tangents(recording: Recording, params, key: str, outputs: list) -> list:
    """[outputs..., their tangents along a direction given at run time]: staged once."""
    key = f"directional:{key}"  # apart from the one-hot tangents of the same outputs
    cached = recording.tangents.get(key)
    if cached is None:
        tape = recording.tape
        if not recording.placeholders:
            recording.placeholders = [tape.new_slot(np.zeros(p.shape)) for p in params]
        seeds = {slot: t for slot, t in zip(tape.inputs, recording.placeholders)}
        with np.errstate(all="ignore"):
            tangents = stage_jvp(tape, seeds, outputs)
        cached = recording.tangents[key] = list(outputs) + [slot_of(t) for t in tangents]
    return cached


def jacobian_rows(recording: Recording) -> list:
    """[r, then for each residual i its gradient pieces]: rows staged once per trace."""
    if recording.jacobian_rows is None:
        recording.jacobian_rows = _staged_rows(recording.tape, recording.residual)
    return [recording.residual] + recording.jacobian_rows


def _staged_rows(tape, output: int) -> list:
    """For each entry i of slot ``output``, the staged pieces of d output_i / d params
    (one reverse sweep per entry)."""
    out = tape.var(output)
    rows = []
    with np.errstate(all="ignore"):
        for i in range(out.value.size):
            seed = np.zeros(out.value.size)
            seed[i] = 1.0
            rows.extend(slot_of(g) for g in
                        stage_vjp(tape, out, seed.reshape(out.shape), list(tape.inputs)))
    return rows


def vjp_rows(recording: Recording, key: str, output) -> list:
    """[output, then for each of its entries i the pieces of d output_i / d params]:
    the rows of its Jacobian by reverse mode, one staged sweep per entry, once per trace."""
    key = f"rows:{key}"
    cached = recording.tangents.get(key)
    if cached is None:
        tape = recording.tape
        if not isinstance(output, int):  # a constant: its Jacobian is zero
            size = np.size(output)
            zeros = [np.zeros_like(tape.values[s]) for s in tape.inputs]
            cached = recording.tangents[key] = [output] + zeros * size
            return cached
        cached = recording.tangents[key] = [output] + _staged_rows(tape, output)
    return cached
