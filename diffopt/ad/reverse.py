"""Reverse mode, staged: the adjoint sweep recorded as more equations on the tape.

Walks the equations backwards and applies each primitive's staged VJP rule,
which records the adjoint computation on the same tape: the gradient of a
program is itself a tape, compiles like the value, and forward mode over it
gives Hessian-vector products.
"""

from __future__ import annotations

import numpy as np

from diffopt.ir.tape import Tape
from diffopt.ops.registry import Var


def stage_gradient(tape: Tape, output: Var | np.ndarray, wrt: list[int]) -> list:
    """Record d output / d wrt on ``tape``; returns one adjoint per slot in ``wrt``.

    Each adjoint is a Var (computed by recorded equations) or a constant array
    (when the derivative does not depend on the parameters, e.g. zero).
    """
    if not isinstance(output, Var):
        return [np.zeros_like(tape.values[s]) for s in wrt]
    return stage_vjp(tape, output, np.ones_like(output.value), wrt)


def stage_vjp(tape: Tape, output: Var, seed, wrt: list[int], stop=()) -> list:
    """Record seedᵀ · d output / d wrt on the tape; one adjoint per ``wrt`` slot.

    ``seed`` may be a Var (a cotangent that is itself traced) or an array.
    Only equations recorded after the earliest ``wrt`` slot can depend on it,
    so the sweep starts there. Slots in ``stop`` are leaves: the sweep does
    not differentiate through the equations that produced them (implicit
    functions hold x* fixed to take ∂g/∂θ). The ``wrt`` slots are leaves too:
    this is the partial derivative with respect to them (a wrt slot computed
    from another must not pass its adjoint on, or the caller's own sweep
    would count that path twice).

    A slot's adjoint contributions are collected and added when the sweep
    reaches the slot (``_total_adjoint``), so n equal contributions cost one
    product: a loop that adds the same increment every step (``px += vx·dt``)
    gets ``n·ḡ`` instead of a chain of n additions.
    """
    adjoint: dict[int, list] = {output.id: [seed]}
    end = len(tape.eqns)
    start = min((tape.producer[s] + 1 for s in wrt), default=0) if wrt else end
    stop = set(stop).union(wrt)
    eqns, values = tape.eqns, tape.values
    # staged equations are marked as the reverse sweep's; span and origin
    # follow the equation being differentiated, and are restored afterwards
    with tape.recording_as(tape.span, "reverse", tape.origin):
        for index in range(end - 1, start - 1, -1):
            eqn = eqns[index]
            out = eqn.out
            if out in stop:
                continue
            parts = adjoint.pop(out, None)
            if parts is None:
                continue
            p = eqn.prim
            if p.nondiff:
                continue
            # the adjoint's additions belong to this equation's sweep step
            tape.span, tape.origin = eqn.span, eqn.origin or p.name
            g = parts[0] if len(parts) == 1 else _total_adjoint(parts)
            args = eqn.args
            inputs = [Var(tape, a, values[a]) if a.__class__ is int else a for a in args]
            grads = p.vjp(g, inputs, Var(tape, out, values[out]), **eqn.params)
            for a, ga in zip(args, grads):
                if ga is None or a.__class__ is not int:
                    continue
                parts = adjoint.get(a)
                if parts is None:
                    adjoint[a] = [ga]
                else:
                    parts.append(ga)
        # the wrt slots' adjoints are totalled in the span of the last
        # equation swept (the earliest one that uses them)
        return [_total_adjoint(adjoint[s]) if s in adjoint else np.zeros_like(values[s])
                for s in wrt]


def _total_adjoint(parts: list):
    """The sum of a slot's adjoint contributions, in the order they came.

    Equal contributions (the same traced slot, or the same constant object)
    are counted and scaled once: Σ of n copies of ḡ is n·ḡ. Without repeats
    this is the left-to-right sum the sweep always made.
    """
    if len(parts) == 1:
        return parts[0]
    groups: dict = {}
    for part in parts:
        key = part.id if part.__class__ is Var else ("constant", id(part))
        group = groups.get(key)
        if group is None:
            groups[key] = [part, 1]
        else:
            group[1] += 1
    total = None
    for part, count in groups.values():
        term = part if count == 1 else float(count) * part
        total = term if total is None else total + term
    return total


