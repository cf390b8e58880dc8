"""Gradient estimators: stop_grad and straight-through estimators (STE).

An STE is a primitive whose value is a hard (discrete) function and whose
derivative is that of a smooth surrogate; no engine feature is involved,
only the partials declared here.

* ``stop_grad(x)``: value x, derivative 0.
* ``straight_through(hard, soft)``: value ``hard``, derivative that of
  ``soft`` (partials: none for ``hard``, identity for ``soft``); the two
  must have broadcast-compatible shapes.
* ``ste_round(x)``: value round(x) (halves to even), derivative 1.
* ``ste_step(x)``: value 1 where x > 0, else 0 (so 0 at x = 0), derivative 1.
* ``ste_argmax(v)``: value the one-hot vector of the first largest element,
  derivative that of softmax(v) (tau = 1).

Must not import the front end, the CLI or Rich.
"""

from __future__ import annotations

import numpy as np

from diffopt.errors import ShapeError
from diffopt.ops.registry import builtin, format_shape, prim
from diffopt.ops.relax import softmax

# stop_grad(a + h) = stop_grad(a) + 0
stop_grad = prim("stop_grad", lambda x: np.array(x, dtype=np.float64), nondiff=True,
                 surrogate=True, doc="the value of x with zero derivative", export="{0}")

# st(a + h, b + k) ≈ a + k: the value of hard, the derivative of soft
straight_through = prim(
    "straight_through",
    lambda hard, soft: np.broadcast_to(hard, np.broadcast_shapes(hard.shape, soft.shape)).copy(),
    nargs=2,
    d=(None, lambda hard, soft, out: 1.0),
    surrogate=True,
    doc="the value of hard with the derivative of soft",
    export="xp.broadcast_to({0}, xp.broadcast_shapes(xp.shape({0}), xp.shape({1})))",
)

# ste_round(a + h) ≈ round(a) + h
ste_round = prim("ste_round", np.round, d=lambda x, out: 1.0, surrogate=True,
                 doc="round(x) with derivative 1 (straight-through)", export="xp.round({0})")

# ste_step(a + h) ≈ [a > 0] + h
ste_step = prim("ste_step", lambda x: (x > 0).astype(np.float64), d=lambda x, out: 1.0,
                surrogate=True, doc="1 where x > 0 else 0, with derivative 1 (straight-through)",
                export="xp.where({0} > 0, 1.0, 0.0)")


def _one_hot_argmax(v):
    out = np.zeros(v.shape)
    out.flat[np.argmax(v)] = 1.0
    return out


def _one_hot_shape(v):
    if 0 in v or v == ():
        raise ShapeError(f"ste_argmax needs a non-empty vector, got {format_shape(v)}")
    return tuple(v)


# one_hot_argmax(a + h) = one_hot_argmax(a): piecewise constant
one_hot_argmax = prim("one_hot_argmax", _one_hot_argmax, shape=_one_hot_shape, nondiff=True,
                      domain="distinct",
                      doc="one-hot vector of the first largest element (internal, no derivative)",
                      export="xp.where(xp.arange({0}.size).reshape({0}.shape) == xp.argmax({0}),"
                             " 1.0, 0.0)")


def ste_argmax(v):
    """One-hot argmax in value, softmax(v) in derivative."""
    return straight_through(one_hot_argmax(v), softmax(v))


builtin("stop_grad")
builtin("straight_through", positional=("hard", "soft"))
builtin("ste_round")
builtin("ste_step")
builtin("ste_argmax", ste_argmax, positional=("v",),
        doc="one-hot argmax in value, softmax in derivative")
