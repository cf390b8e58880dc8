"""Forward mode, staged: tangents recorded as more equations on the tape.

Elementwise primitives combine their ``d`` partials, linear ones apply
themselves to the tangents, structural ones use their staged ``jvp`` rule.
"""

from __future__ import annotations

import numpy as np

from diffopt.compile.codegen import compile_outputs
from diffopt.ir.tape import Tape, live_equations
from diffopt.ops.registry import Var, as_array, broadcast_to, scale_cotangent, shape_of


def stage_jvp(tape: Tape, seeds: dict, outputs: list, stop=()) -> list:
    """Record the tangents of ``outputs`` given tangents of some slots.

    Forward mode staged on the tape, one direction at a time (tangents have
    their primal's shape, so scalar programs stay on the compiled scalar
    path): elementwise primitives combine their ``d`` partials, linear ones
    apply themselves to the tangents, the other structural ones use their
    (staged) ``jvp`` rule: one forward rule per primitive. A tangent that
    is a constant zero is pruned, so constant one-hot seeds fold away.
    Slots in ``stop`` are leaves (implicit functions hold x* fixed), and so
    are the seeded slots: their tangent is the seed, whatever produced them.

    Returns one tangent per output (a Var, or a constant array).
    """
    tangent = {s: t for s, t in seeds.items() if not _is_zero(t)}
    order = live_equations(tape, [o for o in outputs if isinstance(o, int)])
    with tape.recording_as(tape.span, "forward", tape.origin):
        for index in order:
            eqn = tape.eqns[index]
            if eqn.out in stop or eqn.out in seeds:
                continue
            ts = [tangent.get(a) if isinstance(a, int) else None for a in eqn.args]
            if eqn.prim.nondiff or all(t is None for t in ts):
                continue
            p = eqn.prim
            inputs = [tape.var(a) if isinstance(a, int) else a for a in eqn.args]
            out = tape.var(eqn.out)
            tape.span, tape.origin = eqn.span, p.name
            if p.d is not None:
                t = None
                for d_i, t_i in zip(p.d, ts):
                    if d_i is None or t_i is None:
                        continue
                    term = scale_cotangent(t_i, d_i(*inputs, out, **eqn.params))
                    if term is not None:
                        t = term if t is None else t + term
                if t is not None:
                    t = broadcast_to(t, out.shape)
            elif p.linear:
                t = p(*(np.zeros(shape_of(x)) if t_i is None else t_i
                        for t_i, x in zip(ts, inputs)), **eqn.params)
            else:  # every differentiable structural primitive has one (tested)
                t = p.jvp(ts, inputs, out, **eqn.params)
            if t is not None and not _is_zero(t):
                tangent[eqn.out] = t
    return [tangent.get(o, np.zeros_like(tape.values[o])) if isinstance(o, int)
            else np.zeros_like(as_array(o)) for o in outputs]


def _is_zero(t) -> bool:
    return not isinstance(t, Var) and not np.any(np.asarray(t))



# ------------------------------------------------- numeric, k directions


def forward(
    tape: Tape,
    inputs: list[np.ndarray],
    tangents: list[np.ndarray | None],
    outputs: list,
    k: int,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Values and tangents of ``outputs`` along k directions: the staged tangent
    program, compiled once and run once per direction.

    Args:
        inputs: one array per tape input slot (its value may differ from the
            traced one: the tape is a straight-line program).
        tangents: per input, None or an array of shape (k,) + input.shape.
        outputs: slots (or constants) wanted.

    Returns:
        (values, tangents), tangents of shape (k,) + value.shape.
    """
    placeholders = [tape.new_slot(np.zeros(np.shape(tape.values[s]))) if t is not None
                    else None for s, t in zip(tape.inputs, tangents)]
    seeds = {s: p for s, p in zip(tape.inputs, placeholders) if p is not None}
    with np.errstate(all="ignore"):
        dots = stage_jvp(tape, seeds, outputs) if seeds else [
            np.zeros(np.shape(tape.values[o]) if isinstance(o, int) else np.shape(o))
            for o in outputs]
    slots = [o if isinstance(o, int) else as_array(o) for o in outputs]
    extra = [p.id for p in placeholders if p is not None]
    program = compile_outputs(tape, slots + [d.id if isinstance(d, Var) else as_array(d)
                                             for d in dots],
                              inputs=list(tape.inputs) + extra)
    values: list = []
    columns: list = [[] for _ in outputs]
    m = len(outputs)
    for j in range(k):
        run = program.run([as_array(x) for x in inputs]
                          + [t[j] for t in tangents if t is not None])
        values = [as_array(v) for v in run[:m]]
        for i in range(m):
            columns[i].append(np.broadcast_to(as_array(run[m + i]), values[i].shape))
    if k == 0:
        values = [as_array(v) for v in program.run(
            [as_array(x) for x in inputs] + [np.zeros(np.shape(tape.values[s]))
                                             for s in extra])[:m]]
    return values, [np.array(c).reshape((k,) + v.shape) for c, v in zip(columns, values)]
