"""Hard extrema: the ``max`` and ``min`` reductions and their built-ins.

``max(v)`` / ``min(v)`` reduce over all elements, or with ``axis=`` over one
axis (the axis helpers and shape rules are those of diffopt.ops.reduce).
``max(a, b, ...)`` with two or more arguments is the elementwise ``maximum``
of them (``min`` likewise). Of nothing they are shape errors.

Decision at ties (mirrored in man/dop.5): the derivative is split evenly
among the tied elements (a subgradient; each of m tied elements gets 1/m),
in forward and reverse mode alike.

Must not import the front end, the CLI or Rich.
"""

from __future__ import annotations

import numpy as np

from diffopt.errors import DopTypeError
from diffopt.ops.core import eq
from diffopt.ops.elementwise import maximum, minimum
from diffopt.ops.reduce import (
    _AXIS,
    _keep,
    _keep_numeric,
    _shape_rule,
    _tangent_axes,
    keyword_axis,
    sum,
)
from diffopt.ops.registry import builtin, prim, shape_of

# ------------------------------------------------------------------ max, min


def _tie_weights_numeric(x, out, axis):
    hits = (x == _keep_numeric(out, axis)).astype(np.float64)
    return hits / hits.sum(axis=axis, keepdims=axis is not None)


def _tie_weights(x, out, axis):
    """Staged: [x = out] / #ties, broadcast against x (piecewise constant)."""
    shape = shape_of(x)
    hits = eq(x, _keep(out, shape, axis))
    return hits / _keep(sum(hits, axis=axis), shape, axis)


def _extremum_jvp(tangents, inputs, out, axis=None):
    (t,) = tangents
    (x,) = inputs
    return (t * _tie_weights_numeric(x, out, axis)).sum(axis=_tangent_axes(t, axis))


def _extremum_fjvp(tangents, inputs, out, axis=None):
    # ext(a + h) ≈ ext(a) + Σ_i h_i [a_i = ext(a)] / #ties
    return sum(tangents[0] * _tie_weights(inputs[0], out, axis), axis=axis)


def _extremum_vjp(g, inputs, out, axis=None):
    # x̄ = ḡ · [x = out] / #ties: piecewise constant weights, split at ties.
    (x,) = inputs
    return [_keep(g, shape_of(x), axis) * _tie_weights(x, out, axis)]


# max(a + h) ≈ max(a) + mean of h over the elements where a attains the max
max = prim(
    "max",
    lambda x, axis=None: np.max(x, axis=axis),
    shape=_shape_rule("max", empty_ok=False),
    jvp=_extremum_jvp,
    fjvp=_extremum_fjvp,
    vjp=_extremum_vjp,
    domain="distinct",
    doc="largest element; ties share the derivative evenly",
)

# min(a + h) ≈ min(a) + mean of h over the elements where a attains the min
min = prim(
    "min",
    lambda x, axis=None: np.min(x, axis=axis),
    shape=_shape_rule("min", empty_ok=False),
    jvp=_extremum_jvp,
    fjvp=_extremum_fjvp,
    vjp=_extremum_vjp,
    domain="distinct",
    doc="smallest element; ties share the derivative evenly",
)

# ------------------------------------------------------------------ built-ins


def _extremum(reduction, pairwise, name):
    def fn(*args, axis=None):
        if len(args) == 1:
            return reduction(args[0], axis=keyword_axis(axis, args[0], name))
        if axis is not None:
            raise DopTypeError(f"{name}: axis= applies only to {name} of one argument")
        result = args[0]
        for a in args[1:]:
            result = pairwise(result, a)
        return result

    return fn


builtin("max", _extremum(max, maximum, "max"), variadic=True, keywords=_AXIS, generator=True,
        doc="largest element; max(a, b, ...) is the elementwise maximum")
builtin("min", _extremum(min, minimum, "min"), variadic=True, keywords=_AXIS, generator=True,
        doc="smallest element; min(a, b, ...) is the elementwise minimum")
