"""Core primitives the engine itself relies on: arithmetic, broadcasting, choice.

Arithmetic operators of the language (``+ - * / ^ %  //``), the unbroadcast
pair ``sum_to``/``broadcast_to`` used by every reverse rule, ``dmul`` (the
zero-safe product of reverse mode), comparisons and logic (conditions are
float arrays of 0.0/1.0), and ``select`` (``where`` and branch merging).

Each stanza: value, partials or rules, and a first-order expansion comment.
"""

from __future__ import annotations

import numpy as np

from diffopt.errors import ShapeError
from diffopt.ops.registry import (
    Abstract,
    ExportRule,
    Var,
    broadcast_shapes,
    broadcast_to,
    format_shape,
    prim,
    sum_to,
)


def _quiet(fn):
    """Mark a NumPy kernel whose NaN/inf results are expected and tracked.

    Floating-point warnings are switched off once around each trace, compiled
    run and sweep (``np.errstate`` costs microseconds, too much per op);
    NaN/inf are then reported with their source by diffopt.tape, not printed.
    """
    return fn


# ------------------------------------------------------------------ arithmetic

# (a + h) + (b + k) = (a + b) + h + k
add = prim("add", _quiet(np.add), nargs=2, d=(lambda x, y, out: 1.0, lambda x, y, out: 1.0),
           doc="x + y", scalar="({0} + {1})", export="({0} + {1})")
# (a + h) - (b + k) = (a - b) + h - k
sub = prim("sub", _quiet(np.subtract), nargs=2,
           d=(lambda x, y, out: 1.0, lambda x, y, out: -1.0), doc="x - y",
           scalar="({0} - {1})", export="({0} - {1})")
# (a + h)(b + k) ≈ ab + bh + ak
mul = prim("mul", _quiet(np.multiply), nargs=2, d=(lambda x, y, out: y, lambda x, y, out: x),
           doc="x * y", scalar="({0} * {1})", export="({0} * {1})")
# (a + h)/(b + k) ≈ a/b + h/b - a k/b²
div = prim("div", _quiet(np.divide), nargs=2,
           # ∂/∂y = -out/y, staged as out · (-1/y): for a scalar y (a speed, a
           # scale) that is one pass over the array instead of two
           d=(lambda x, y, out: 1.0 / y, lambda x, y, out: out * (-1.0 / y)),
           domain=("real", "nonzero"), doc="x / y", scalar="({0} / {1})",
           export="({0} / {1})")
# -(a + h) = -a - h
neg = prim("neg", np.negative, d=lambda x, out: -1.0, doc="-x", scalar="(-{0})",
           export="(-{0})")


def _pow_dx(x, y, out):
    # d/dx x^y = y x^(y-1): the power rule alone, no log of the base, so a
    # negative base with an integer exponent is fine. x^0 has derivative 0.
    if not isinstance(y, (Var, Abstract)) and np.ndim(y) == 0:
        c = float(y)
        if c == 0.0:
            return 0.0
        if c == 1.0:
            return 1.0
        if c == 2.0:  # the most common exponent: 2x, not 2·x^1
            return 2.0 * x
    return y * pow(x, y - 1.0)


def _pow_impl(x, y, out=None):
    # x^2 is by far the most common power (squares of residuals): square it
    # directly instead of calling the general power function.
    if np.ndim(y) == 0 and y == 2.0:
        return np.square(x, out=out)
    return np.power(x, y, out=out)


def _pow_dy(x, y, out):
    # d/dy x^y = x^y log x; defined as 0 where x <= 0 (a constant exponent
    # never reaches this rule: only traced exponents are differentiated).
    return select(gt(x, 0.0), out * log_pos(x), 0.0)


# (a + h)^b ≈ a^b + b a^(b-1) h ;  a^(b + k) ≈ a^b + a^b log(a) k
pow = prim("pow", _pow_impl, nargs=2, d=(_pow_dx, _pow_dy), writes_out=True,
           domain=("positive", "real"), doc="x ^ y (also x ** y)",
           # NumPy takes x^0.5 as sqrt(x) (sqrt(-0) = -0, sqrt(-inf) = NaN), C's pow does not
           scalar="(_m.sqrt({0}) if {1} == 0.5 else _m.pow({0}, {1}))",
           export=lambda x, y: f"xp.square({x})" if y == "2.0" else f"xp.power({x}, {y})")

# log restricted to x > 0 with 0 elsewhere: only used by pow's exponent rule,
# where the other branch is selected away.
log_pos = prim("log_pos", _quiet(lambda x: np.log(np.where(x > 0, x, 1.0))),
               d=lambda x, out: select(gt(x, 0.0), 1.0 / x, 0.0), domain="positive",
               doc="log(x) for x > 0, else 0 (internal)",
               export="xp.log(xp.where({0} > 0, {0}, 1.0))")

# floor division and remainder: piecewise constant / identity with jumps.
floordiv = prim("floordiv", _quiet(np.floor_divide), nargs=2, nondiff=True,
                domain=("real", "nonzero"), doc="x // y (zero derivative)",
                export="xp.floor_divide({0}, {1})")
# x % y = x - y floor(x/y): d/dx = 1, d/dy = -floor(x/y) away from the jumps
mod = prim("mod", _quiet(np.mod), nargs=2,
           d=(lambda x, y, out: 1.0, lambda x, y, out: -floordiv(x, y)),
           domain=("real", "nonzero"), doc="x % y", export="xp.mod({0}, {1})")


# dmul(g, d) = g·d with 0·(inf or NaN) = 0: the product reverse mode uses,
# so that a zero cotangent (an untaken branch) stays exactly zero.
def _dmul_impl(g, d, out=None):
    product = np.multiply(g, d, out=out)
    # One reduction tells whether any element is inf/NaN (a finite sum means
    # all are finite; an overflowing sum only costs the exact check below).
    if np.isfinite(np.add.reduce(product, axis=None)):
        return product
    # 0 · inf = 0 whichever factor is the zero: a zero cotangent, or a zero
    # partial (abs'(0), a step's 0) meeting an infinite one (sqrt'(0))
    if product.ndim == 0:
        return np.float64(0.0) if g == 0.0 or d == 0.0 else product
    np.copyto(product, 0.0, where=(g == 0.0) | (d == 0.0))
    return product


# the scalar template is 0 only where impl's is (a zero factor and a non-finite
# product): else g·d, signed zeros too
dmul = prim("dmul", _dmul_impl, nargs=2,
            scalar="({0} * {1} if ({0} != 0.0 and {1} != 0.0) "
                   "or (-_inf < {0} < _inf and -_inf < {1} < _inf) else 0.0)",
            writes_out=True,
            d=(lambda g, d, out: d, lambda g, d, out: g),
            doc="g · d with 0 · inf = 0 (internal, reverse mode)",
            export="xp.where(({0} == 0.0) | ({1} == 0.0), 0.0, {0} * {1})")


# ------------------------------------------------------------- broadcasting


def _sum_to_impl(x, shape):
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1
    )
    out = x.sum(axis=axes, keepdims=True) if axes else x
    return out.reshape(shape)


def _sum_to_shape(x, shape):
    if broadcast_shapes(shape, x) != tuple(x):
        raise ShapeError(f"cannot sum {format_shape(x)} to {format_shape(shape)}")
    return tuple(shape)


# _sum_to_impl for the export back ends (diffopt.export): the same sums, over xp
_SUM_TO_SOURCE = """\
def _sum_to(x, shape):
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    return (x.sum(axis=axes, keepdims=True) if axes else x).reshape(shape)
"""

# Σ over broadcast axes is linear: its adjoint is broadcast_to.
sum_to_p = prim(
    "sum_to",
    _sum_to_impl,
    linear=True,
    shape=_sum_to_shape,
    vjp=lambda g, inputs, out, shape: [broadcast_to(g, inputs[0].shape)],
    doc="sum x down to a broadcast-compatible shape (internal)",
    export=ExportRule("_sum_to({0}, {shape})", helpers=_SUM_TO_SOURCE),
)


broadcast_to_p = prim(
    "broadcast_to",
    # a read-only view, not a copy: no kernel writes into its inputs, and a
    # broadcast cotangent (sum's adjoint) then costs no memory
    lambda x, shape: np.broadcast_to(x, shape),
    linear=True,
    shape=lambda x, shape: broadcast_shapes(x, shape) and tuple(shape),
    vjp=lambda g, inputs, out, shape: [sum_to(g, inputs[0].shape)],
    doc="broadcast x to a shape (internal)",
    export="xp.broadcast_to({0}, {shape})",
)


def _reshape_shape(x, shape):
    if int(np.prod(x, dtype=np.int64)) != int(np.prod(shape, dtype=np.int64)):
        raise ShapeError(f"cannot reshape {format_shape(x)} to {format_shape(shape)}")
    return tuple(shape)


reshape = prim(
    "reshape",
    lambda x, shape: np.reshape(x, shape),
    linear=True,
    shape=_reshape_shape,
    vjp=lambda g, inputs, out, shape: [reshape(g, shape=inputs[0].shape)],
    doc="reshape x (internal)",
    export="xp.reshape({0}, {shape})",
)


# ------------------------------------------------ conditions (0.0 / 1.0 arrays)


def _condition(name, fn, doc, scalar, nargs=2, export=None):
    # export: the condition over arrays; the primitive's value is it as 0.0/1.0
    return prim(name, lambda *a: fn(*a).astype(np.float64), nargs=nargs, nondiff=True,
                boolean=True, doc=doc, scalar=f"(1.0 if {scalar} else 0.0)",
                export=f"xp.where({export or scalar}, 1.0, 0.0)")


lt = _condition("lt", np.less, "x < y", "{0} < {1}")
le = _condition("le", np.less_equal, "x <= y", "{0} <= {1}")
gt = _condition("gt", np.greater, "x > y", "{0} > {1}")
ge = _condition("ge", np.greater_equal, "x >= y", "{0} >= {1}")
eq = _condition("eq", np.equal, "x == y", "{0} == {1}")
ne = _condition("ne", np.not_equal, "x != y", "{0} != {1}")
logical_and = _condition("logical_and", lambda a, b: (a != 0) & (b != 0), "a and b",
                         "({0} != 0.0 and {1} != 0.0)", export="({0} != 0.0) & ({1} != 0.0)")
logical_or = _condition("logical_or", lambda a, b: (a != 0) | (b != 0), "a or b",
                        "({0} != 0.0 or {1} != 0.0)", export="({0} != 0.0) | ({1} != 0.0)")
logical_not = _condition("logical_not", lambda a: a == 0, "not a", "{0} == 0.0", nargs=1)


# ------------------------------------------------------------------ choice


def _select_shape(c, a, b):
    return broadcast_shapes(c, a, b)


def _select_vjp(g, inputs, out, **_):
    c, a, b = inputs
    ga = sum_to(select(c, g, 0.0), _shape(a)) if isinstance(a, (Var, Abstract)) else None
    gb = sum_to(select(c, 0.0, g), _shape(b)) if isinstance(b, (Var, Abstract)) else None
    return [None, ga, gb]


def _shape(x):
    return x.shape if hasattr(x, "shape") else np.shape(x)


# where(c, a + h, b + k) = where(c, a, b) + where(c, h, k)
select = prim(
    "select",
    lambda c, a, b: np.where(c != 0, a, b),
    nargs=3,
    shape=_select_shape,
    vjp=_select_vjp,
    # forward: the same choice between the tangents (0 where a side has none)
    jvp=lambda ts, inputs, out: select(inputs[0], 0.0 if ts[1] is None else ts[1],
                                        0.0 if ts[2] is None else ts[2]),
    domain=("condition", "real", "real"),
    doc="where(c, a, b): a where c holds, else b, elementwise",
    scalar="({1} if {0} != 0.0 else {2})",
    export="xp.where({0} != 0.0, {1}, {2})",
)
