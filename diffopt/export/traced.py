"""The export's one contact with the engine: a traced program as plain data.

``traced_program(session, x)`` records the program at ``x`` with its staged
gradient (the session's ``Recording``) and copies what the code generator
needs into the small dataclasses below, so that the rest of diffopt.export
reads the IR through this one module. An ``implicit`` equation (``root``,
``argmin``) keeps its closed sub-program as ``params["sub"]``, copied the
same way into an ``Implicit`` (its own lines, one level deeper).

Must not import the CLI or Rich.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diffopt.source import Span


@dataclass(frozen=True)
class Line:
    """One equation ``out = prim(*args, **params)``; an arg is a slot or a constant array."""

    prim: object  # the registry's Prim (name, export rule)
    args: tuple
    params: dict
    out: int
    span: Span | None
    mode: str  # "value" (the program) or "reverse" (the staged gradient)
    origin: str | None  # reverse mode: the primitive whose derivative this is


@dataclass(frozen=True)
class Branch:
    """A recorded branch decision: condition slot ``slot`` was all-nonzero iff ``taken``."""

    slot: int
    taken: bool
    span: Span | None


@dataclass(frozen=True)
class Implicit:
    """A ``root``/``argmin`` call: g(x, θ) = 0 as its own lines (ir.subprogram.SubProgram).

    ``inputs`` are the slots ``[x, *θ]`` of the sub-program (θ in the order of
    the implicit equation's arguments); ``g`` and each column ``∂g/∂x_i`` of
    ``jacobian`` are slots of ``lines`` or constants. Slots number the
    sub-program's own recording (they overlap the outer program's).
    """

    kind: str  # "root" or "argmin" (then g is ∇ₓf, already staged)
    lines: list
    inputs: list
    g: object
    jacobian: tuple
    init: np.ndarray
    tol: float
    max_iter: int
    span: Span | None


@dataclass
class TracedProgram:
    """What one trace produced, with the gradient of the objective as written."""

    lines: list  # every equation, in recording order (topological)
    inputs: list  # slots of the parameters, in declaration order
    branches: list  # Branch, in the order they were taken
    objective: object  # slot or constant array: the objective as written
    gradient: list  # per parameter: slot or constant, of the *minimized* objective
    gradient_sign: float  # -1.0 for maximize: d(written)/dx = -gradient
    lets: dict  # let/var name -> slot or constant array
    values: list = field(default_factory=list)  # each slot's value at the trace point


def traced_program(session, x: np.ndarray) -> TracedProgram:
    """Trace ``problem`` at the flat point ``x`` and stage its gradient.

    Args:
        session: a loaded problem (``api.load``).
        x: the flat point whose path (branch decisions) is exported.

    Returns:
        The program as plain data (see ``TracedProgram``).
    """
    problem = session.problem
    recording = session.trace(np.asarray(x, dtype=np.float64))
    tape = recording.tape
    lines = _lines(tape)
    branches = [Branch(g.slot, bool(g.taken), g.span) for g in tape.guards]
    return TracedProgram(
        lines=lines,
        inputs=list(tape.inputs),
        branches=branches,
        objective=recording.reported,
        gradient=list(recording.gradient),
        gradient_sign=-1.0 if problem.sense == "maximize" else 1.0,
        lets=dict(recording.lets),
        values=tape.values,
    )


def _lines(tape) -> list:
    lines = []
    for e in tape.eqns:
        params = dict(e.params)
        if e.prim.name == "implicit":
            params["sub"] = _implicit(params["sub"])
        lines.append(Line(e.prim, tuple(e.args), params, e.out, e.span, e.mode, e.origin))
    return lines


def _implicit(sub) -> Implicit:
    # the sub-program's guards are not copied: diffopt's Newton iterations
    # ignore them, and the call promoted them to guards of the outer program
    return Implicit(kind=sub.kind, lines=_lines(sub.tape), inputs=list(sub.tape.inputs),
                    g=sub.g, jacobian=tuple(sub.jacobian), init=sub.init, tol=float(sub.tol),
                    max_iter=int(sub.max_iter), span=sub.span)


def live_lines(program: TracedProgram | Implicit, outputs: list) -> list[int]:
    """Indices (into ``program.lines``) of the equations ``outputs`` need, in order."""
    producer = {line.out: index for index, line in enumerate(program.lines)}
    needed: set[int] = set()
    stack = [s for s in outputs if isinstance(s, int) and s in producer]
    seen = set(stack)
    while stack:
        index = producer[stack.pop()]
        needed.add(index)
        for a in program.lines[index].args:
            if isinstance(a, int) and a not in seen and a in producer:
                seen.add(a)
                stack.append(a)
    return sorted(needed)
