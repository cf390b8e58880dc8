"""Closed sub-programs: a tape held as a primitive's parameter, and inlining it.

``root(x: g, init=)`` and ``argmin(x: f, init=)`` trace their body once into
a sub-tape whose inputs are the unknown x and the outer values θ the body
reads (Autodidax's "jaxpr as a parameter"). The ``implicit`` primitive keeps
that ``SubProgram``; its value rule runs the compiled sub-tape (Newton's
method) and its derivative rules ``inline`` it onto the outer tape, so no
rule ever re-enters the AST interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diffopt.ir.tape import Tape, live_equations
from diffopt.ops.registry import Var, as_array
from diffopt.source import Span


@dataclass(frozen=True, eq=False)
class SubProgram:
    """g(x, θ) = 0 as a closed tape (inputs ``[x, *θ]``) with ∂g/∂x staged on it.

    Attributes:
        kind: "root" or "argmin" (then g = ∇ₓf, staged by reverse mode).
        tape: the sub-tape; its guards are the body's branch decisions.
        g: slot of g on the sub-tape, or a constant (g does not depend on x).
        jacobian: per entry i of x, the slot (or constant) of ∂g/∂x_i.
        init, tol, max_iter: the call's Newton settings; span: the call.
    """

    kind: str
    tape: Tape
    g: object
    jacobian: tuple
    init: np.ndarray
    tol: float
    max_iter: int
    span: Span | None
    compiled: dict = field(default_factory=dict)  # outputs key -> Compiled (lazily)


def inline(sub: Tape, outputs: list, inputs: list) -> list:
    """Replay the equations ``outputs`` need with the sub-tape's inputs bound to ``inputs``.

    ``inputs`` are Vars of the current (outer) tape or constants, one per
    sub-tape input; each equation is bound again, so it is recorded on the
    outer tape (or folded when its arguments are constant) with its own span.
    Returns one value per output (an outer Var, or an array).
    """
    env: dict = dict(zip(sub.inputs, inputs))
    slots = [o for o in outputs if isinstance(o, int)]
    tape = next((v.tape for v in inputs if isinstance(v, Var)), None)
    for index in live_equations(sub, slots):
        eqn = sub.eqns[index]
        args = [env[a] if isinstance(a, int) else a for a in eqn.args]
        if tape is not None:
            tape.span = eqn.span
        env[eqn.out] = eqn.prim(*args, **eqn.params)
    return [env[o] if isinstance(o, int) else as_array(o) for o in outputs]
