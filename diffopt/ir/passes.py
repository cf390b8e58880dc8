"""Passes over a recorded tape that find structure: least-squares shape,
the data a residual is measured against, surrogate derivatives.

(Common subexpressions are merged as equations are recorded, in
``ir.tape``; reduction fusion is a compiler pass, in ``compile.fusion``.)
"""

from __future__ import annotations

import numpy as np

from diffopt.ir.tape import Tape, live_equations

# ------------------------------------------------------- least-squares shape


def least_squares_residual(tape: Tape, objective) -> tuple[int, float] | None:
    """Find r in objectives c·sumsq(r), c·sum(r^2), c·mean(r^2) (c > 0 constant).

    On the tape these read sum(r·r) or sum(r^2) (sumsq and mean are
    composites: mean is a sum divided by a constant), under any number of
    multiplications and divisions by positive constants.
    """
    slot = objective
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
                return None
            square = tape.eqns[inner]
            r = square.args[0]
            squared = isinstance(r, int) and (
                (square.prim.name == "pow" and not isinstance(square.args[1], int)
                 and np.all(square.args[1] == 2.0))
                or (square.prim.name == "mul" and isinstance(square.args[1], int)
                    and square.args[1] == r)
            )
            return (r, scale) if squared else None
        else:
            return None
    return None


def _positive_constant(a) -> bool:
    return not isinstance(a, int) and np.ndim(a) == 0 and float(a) > 0


def measured_data(tape: Tape, residual) -> np.ndarray | None:
    """The data y of a residual recorded as ``model - y`` or ``y - model``.

    y is a constant of the residual's shape (the fit's R² compares the
    residuals with y's spread); None when the residual has another form.
    """
    if not isinstance(residual, int) or tape.producer[residual] < 0:
        return None
    eqn = tape.eqns[tape.producer[residual]]
    if eqn.prim.name != "sub":
        return None
    size = np.size(tape.values[residual])
    for arg, other in ((eqn.args[1], eqn.args[0]), (eqn.args[0], eqn.args[1])):
        if not isinstance(arg, int) and isinstance(other, int) and np.size(arg) == size:
            return np.ravel(np.asarray(arg, dtype=np.float64))
    return None


def surrogate_uses(tape: Tape, outputs: list) -> list[str]:
    """Where ``outputs`` use a primitive whose derivative is a surrogate by
    design (straight-through estimators, stop_grad): "ste_round at f.dop:3:9"."""
    slots = [slot for slot in outputs if isinstance(slot, int)]
    found = []
    for index in live_equations(tape, slots):
        eqn = tape.eqns[index]
        if eqn.prim.surrogate:
            where = eqn.span.location if eqn.span is not None else "?"
            text = f"{eqn.prim.name} at {where}"
            if text not in found:
                found.append(text)
    return found
