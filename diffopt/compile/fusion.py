"""Reduction fusion: a full sum of an elementwise product as one dot product.

sum(x^2), sum(a*b) and the reverse sweep's sum_to(dmul(ḡ, d), ()) are a
product followed by a full reduction: as one dot product they make one pass
over their inputs and allocate no temporary. These kernels exist only in
compiled code; the tape keeps the two equations (for derivatives,
provenance and the checker).
"""

from __future__ import annotations

import math

import numpy as np

from diffopt.ir.tape import Eqn, Tape
from diffopt.ops.registry import Prim


def _sum_of_squares(x):
    flat = x.reshape(-1)
    return np.dot(flat, flat)


def _sum_of_products(a, b, scale_a, scale_b):
    return (scale_a * scale_b) * np.dot(a.reshape(-1), b.reshape(-1))


def _sum_of_safe_products(g, d, scale_g, scale_d):
    total = (scale_g * scale_d) * np.dot(g.reshape(-1), d.reshape(-1))
    if math.isfinite(total):  # every product finite: dmul is the plain product
        return total
    # an inf/NaN somewhere: 0 · inf must stay 0 where the cotangent is 0
    from diffopt.ops.registry import REGISTRY

    return np.add.reduce(REGISTRY["dmul"].impl(g * scale_g, d * scale_d), axis=None)


def _fused(name: str, impl) -> Prim:
    # a compiler kernel, not a language primitive: only its value is used
    return Prim(name, impl, shape=lambda *shapes: (), nargs=-1, fresh=True)


_FUSED = {
    "square": _fused("sum_of_squares", _sum_of_squares),
    "mul": _fused("sum_of_products", _sum_of_products),
    "dmul": _fused("sum_of_safe_products", _sum_of_safe_products),
}


def fuse_reductions(tape: Tape, program: list, kept: set) -> list:
    """Replace a full sum of an elementwise product by one dot product.

    sum(x^2) → x·x; sum(a*b) and sum_to(dmul(a, b), ()) → a·b, with scalar
    factors of a and b (c·a) pulled out of the sum. Every equation folded
    into the dot must be used only there.
    """
    values = tape.values
    uses: dict[int, int] = {}
    for eqn in program:
        for a in eqn.args:
            if isinstance(a, int):
                uses[a] = uses.get(a, 0) + 1
    producer_of = {eqn.out: eqn for eqn in program}

    def private(slot):
        """The equation producing ``slot`` if only one equation reads it."""
        if not isinstance(slot, int) or uses.get(slot) != 1 or slot in kept:
            return None
        eqn = producer_of.get(slot)
        return eqn if eqn is not None and not eqn.params else None

    def scalar_factor(slot, shape):
        """(x, c, eqn) when ``slot`` is c · x with a scalar c and x of ``shape``."""
        eqn = private(slot)
        if eqn is None or eqn.prim.name != "mul":
            return None
        for x, c in (eqn.args, eqn.args[::-1]):
            x_shape = values[x].shape if isinstance(x, int) else np.shape(x)
            c_ndim = values[c].ndim if isinstance(c, int) else np.ndim(c)
            if c_ndim == 0 and x_shape == shape:
                return x, c, eqn
        return None

    fused_away: set[int] = set()
    replaced: dict[int, Eqn] = {}
    for eqn in program:
        name = eqn.prim.name
        if not ((name == "sum" and eqn.params.get("axis") is None)
                or (name == "sum_to" and tuple(eqn.params.get("shape", (0,))) == ())):
            continue
        (slot,) = eqn.args
        inner = private(slot)
        if inner is None or values[slot].ndim == 0 or values[slot].dtype != np.float64:
            continue
        shape = values[slot].shape
        if len(inner.args) != 2:
            continue
        a, b = inner.args
        shapes = [values[x].shape if isinstance(x, int) else np.shape(x) for x in (a, b)]
        if inner.prim.name == "pow" and not isinstance(b, int) and np.ndim(b) == 0 and b == 2.0:
            kernel, args = _FUSED["square"], (a,)
        elif inner.prim.name in ("mul", "dmul") and shapes[0] == shapes[1] == shape:
            operands, scales = [], []
            for operand in (a, b):
                factored = scalar_factor(operand, shape)
                if factored is None:
                    operands.append(operand)
                    scales.append(1.0)
                else:
                    operands.append(factored[0])
                    scales.append(factored[1])
                    fused_away.add(factored[2].out)
            kernel, args = _FUSED[inner.prim.name], (*operands, *scales)
        else:
            continue
        fused_away.add(inner.out)
        replaced[eqn.out] = Eqn(kernel, args, {}, eqn.out, eqn.span, eqn.mode, eqn.origin)
    if not replaced:
        return program
    return [replaced.get(eqn.out, eqn) for eqn in program if eqn.out not in fused_away]


# Elementwise results with at least this many float64 elements (64 KiB) are
