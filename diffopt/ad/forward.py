"""Forward mode, staged: tangents recorded as more equations on the tape.

Elementwise primitives combine their ``d`` partials, linear ones apply
themselves to the tangents, structural ones use their staged ``jvp`` rule.
"""

from __future__ import annotations

import numpy as np

from diffopt.diagnose import NonFinite
from diffopt.ir.tape import Tape, live_equations
from diffopt.ops.registry import Var, as_array


def stage_jvp(tape: Tape, seeds: dict, outputs: list, stop=()) -> list:
    """Record the tangents of ``outputs`` given tangents of some slots.

    Forward mode staged on the tape, one direction at a time (tangents have
    their primal's shape, so scalar programs stay on the compiled scalar
    path): elementwise primitives combine their ``d`` partials, linear ones
    apply themselves to the tangents, ``fjvp`` primitives use their staged
    rule and the rest call their numeric ``jvp`` at run time. A tangent that
    is a constant zero is pruned, so constant one-hot seeds fold away.
    Slots in ``stop`` are leaves (implicit functions hold x* fixed).

    Returns one tangent per output (a Var, or a constant array).
    """
    from diffopt.ops.registry import REGISTRY, broadcast_to, scale_cotangent, shape_of

    tangent = {s: t for s, t in seeds.items() if not _is_zero(t)}
    order = live_equations(tape, [o for o in outputs if isinstance(o, int)])
    saved = tape.span, tape.mode, tape.origin
    tape.mode = "forward"
    try:
        for index in order:
            eqn = tape.eqns[index]
            if eqn.out in stop:
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
            elif p.fjvp is not None:
                t = p.fjvp(ts, inputs, out, **eqn.params)
            else:
                mask = tuple(t_i is not None for t_i in ts)
                t = REGISTRY["jvp_call"](*inputs, out, *(t_i for t_i in ts if t_i is not None),
                                         prim=p, params=eqn.params, mask=mask)
            if t is not None and not _is_zero(t):
                tangent[eqn.out] = t
    finally:
        tape.span, tape.mode, tape.origin = saved
    return [tangent.get(o, np.zeros_like(tape.values[o])) if isinstance(o, int)
            else np.zeros_like(as_array(o)) for o in outputs]


def _is_zero(t) -> bool:
    return not isinstance(t, Var) and not np.any(np.asarray(t))



# ---------------------------------------------------------------- forward mode


def forward(
    tape: Tape,
    inputs: list[np.ndarray],
    tangents: list[np.ndarray | None],
    outputs: list,
    k: int,
    watch: list | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Values and batched tangents of ``outputs`` by the primitives' JVP rules.

    Args:
        inputs: one array per tape input slot.
        tangents: per input, None or an array of shape (k,) + input.shape.
        outputs: slots (or constants) wanted.
        k: number of tangent directions carried together.
        watch: if a list, the first equation whose tangent stops being finite
            (from finite tangents) is appended to it as a NonFinite.

    Returns:
        (values, tangents), tangents of shape (k,) + value.shape.
    """
    slots = [o for o in outputs if isinstance(o, int)]
    values: dict[int, np.ndarray] = {}
    dots: dict[int, np.ndarray] = {}
    for slot, value, tangent in zip(tape.inputs, inputs, tangents):
        values[slot] = as_array(value)
        if tangent is not None:
            dots[slot] = tangent
    with np.errstate(all="ignore"):
        for index in live_equations(tape, slots):
            eqn = tape.eqns[index]
            args = [values[a] if isinstance(a, int) else a for a in eqn.args]
            out = as_array(eqn.prim.impl(*args, **eqn.params))
            values[eqn.out] = out
            arg_dots = [dots.get(a) if isinstance(a, int) else None for a in eqn.args]
            if eqn.prim.nondiff or all(t is None for t in arg_dots):
                continue
            t = eqn.prim.jvp(arg_dots, args, out, **eqn.params)
            if t is not None:
                t = dots[eqn.out] = np.asarray(t, dtype=np.float64)
                if watch is not None and not watch and not np.all(np.isfinite(t)) and all(
                    d is None or np.all(np.isfinite(d)) for d in arg_dots
                ):
                    kind = "NaN" if np.any(np.isnan(t)) else "inf"
                    watch.append(NonFinite(eqn.prim.name, eqn.span, "forward", tuple(args),
                                           kind))
    out_values, out_dots = [], []
    for o in outputs:
        if isinstance(o, int):
            v = values[o]
            out_values.append(v)
            out_dots.append(dots.get(o, np.zeros((k,) + v.shape)))
        else:
            v = as_array(o)
            out_values.append(v)
            out_dots.append(np.zeros((k,) + v.shape))
    return out_values, out_dots


