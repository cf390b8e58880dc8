"""Reductions: sum, mean, prod, norm, dot, sumsq, cumsum, logsumexp.

A reduction runs over all elements and gives a scalar, or, with the keyword
``axis=0``/``axis=1`` (negative counts from the end), over one axis of a
matrix: ``sum(A, axis=0)`` are the column sums. ``sum``/``prod`` of nothing
are 0/1; ``mean`` and ``logsumexp`` of nothing are shape errors. The hard
extrema ``max``/``min`` live in diffopt.ops.extrema and share the axis
helpers and shape rules defined here.

Decisions at singular points (mirrored in man/dop.5):

* ``max``/``min`` ties: see diffopt.ops.extrema (split evenly).
* ``norm(v)`` at ``v = 0``: gradient 0 (the minimum-norm subgradient).
* ``prod``: derivatives are exact at zeros (products of the other elements,
  never a division by the element).

Must not import the front end, the CLI or Rich.
"""

from __future__ import annotations

import numpy as np

from diffopt.errors import DopTypeError, ShapeError
from diffopt.ops.core import _quiet, gt, reshape, select
from diffopt.ops.elementwise import exp
from diffopt.ops.linalg import matmul
from diffopt.ops.registry import (
    ExportRule,
    broadcast_to,
    builtin,
    format_shape,
    prim,
    shape_of,
)
from diffopt.ops.structure import axis_slice, concat, index

# ------------------------------------------------------------------ axis helpers


def _check_axis(shape, axis, name):
    if axis is not None and not 0 <= axis < len(shape):
        raise ShapeError(f"{name}: axis {axis} is out of range for shape {format_shape(shape)}")


def _reduced(shape, axis):
    return () if axis is None else tuple(shape[:axis]) + tuple(shape[axis + 1:])


def _kept(shape, axis):
    # The reduced shape with the axis kept as length 1 (broadcasts against the input).
    return () if axis is None else tuple(shape[:axis]) + (1,) + tuple(shape[axis + 1:])


def _keep(y, shape, axis):
    """Staged: a reduced value reshaped so that it broadcasts against ``shape``."""
    return y if axis is None else reshape(y, shape=_kept(shape, axis))


def _axis_arg(axis) -> str:
    # the export back ends' keyword text: nothing for a reduction over all elements
    return "" if axis is None else f", axis={axis}"


def _shape_rule(name, *, empty_ok=True):
    def rule(x, axis=None, **_):
        _check_axis(x, axis, name)
        n = int(np.prod(x, dtype=np.int64)) if axis is None else x[axis]
        if n == 0 and not empty_ok:
            what = "an empty vector" if len(x) <= 1 else f"an empty array {format_shape(x)}"
            raise ShapeError(f"{name} of {what}")
        return _reduced(x, axis)

    return rule


# ------------------------------------------------------------------ sum


# Σ(a + h) = Σa + Σh ; its adjoint broadcasts ḡ back over the summed axes
sum = prim(
    "sum",
    # the ufunc's reduce directly: np.sum's Python wrapper costs more than
    # the sum itself on the small vectors typical of a model
    lambda x, axis=None: np.add.reduce(x, axis=axis),
    linear=True,  # linear in its inputs: its forward rule is itself
    fresh=True,  # ufunc.reduce allocates its result, even for axis=()
    shape=_shape_rule("sum"),
    vjp=lambda g, inputs, out, axis=None: [
        broadcast_to(_keep(g, shape_of(inputs[0]), axis), shape_of(inputs[0]))
    ],
    doc="sum of the elements (0 for none)",
    export=lambda x, axis=None: f"xp.sum({x}{_axis_arg(axis)})",
)

# ------------------------------------------------------------------ prod


def _exclusive_products(x, axis):
    """Numeric: Π_{j≠i} x_j along ``axis`` (all elements if None), without division."""
    flat = x.reshape(-1) if axis is None else np.moveaxis(x, axis, -1)
    if flat.shape[-1] == 0:
        return np.ones(x.shape)  # nothing to multiply (and nothing to return)
    ones = np.ones(flat.shape[:-1] + (1,))
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = left * right
    return others.reshape(x.shape) if axis is None else np.moveaxis(others, -1, axis)


def _others_product(x, axis):
    """Staged: Π_{j≠i} x_j along ``axis`` by halving (exact at zeros, to any order)."""
    n = shape_of(x)[axis]
    if n == 1:
        return np.ones(shape_of(x))
    h = n // 2
    left = index(x, spec=axis_slice(axis, 0, h))
    right = index(x, spec=axis_slice(axis, h, n))
    p_left = _keep(prod(left, axis=axis), shape_of(left), axis)
    p_right = _keep(prod(right, axis=axis), shape_of(right), axis)
    return concat(_others_product(left, axis) * p_right, _others_product(right, axis) * p_left,
                  axis=axis)


def _others(x, axis):
    """Staged: Π_{j≠i} x_j over the reduced elements; None when x is empty."""
    shape = shape_of(x)
    size = int(np.prod(shape, dtype=np.int64))
    if size == 0:
        return None
    if axis is None:
        return reshape(_others_product(reshape(x, shape=(size,)), 0), shape=shape)
    return _others_product(x, axis)


def _prod_jvp(tangents, inputs, out, axis=None):
    # Π(a + h) ≈ Πa + Σ_i (Π_{j≠i} a_j) h_i ; of nothing: 1, with tangent 0
    others = _others(inputs[0], axis)
    return None if others is None else sum(tangents[0] * others, axis=axis)


def _prod_vjp(g, inputs, out, axis=None):
    (x,) = inputs
    others = _others(x, axis)
    return [None if others is None else _keep(g, shape_of(x), axis) * others]


# Π(a + h) ≈ Πa + Σ_i (Π_{j≠i} a_j) h_i
prod = prim(
    "prod",
    lambda x, axis=None: np.prod(x, axis=axis),
    shape=_shape_rule("prod"),
    jvp=_prod_jvp,
    vjp=_prod_vjp,
    doc="product of the elements (1 for none); exact derivatives at zeros",
    export=lambda x, axis=None: f"xp.prod({x}{_axis_arg(axis)})",
)

# ------------------------------------------------------------------ norm


def _unit(x, out, axis):
    """Staged: x / ‖x‖, and 0 where ‖x‖ = 0 (the untaken branch does not leak)."""
    o = _keep(out, shape_of(x), axis)
    return select(gt(o, 0.0), x / o, 0.0)


def _norm_jvp(tangents, inputs, out, axis=None):
    # ‖a + h‖ ≈ ‖a‖ + ⟨a / ‖a‖, h⟩ ; at a = 0 the tangent is 0, as in the numeric rule
    return sum(tangents[0] * _unit(inputs[0], out, axis), axis=axis)


def _norm_vjp(g, inputs, out, axis=None):
    # x̄ = ḡ x / ‖x‖, and 0 where ‖x‖ = 0.
    (x,) = inputs
    return [_keep(g, shape_of(x), axis) * _unit(x, out, axis)]


# ‖a + h‖ ≈ ‖a‖ + ⟨a, h⟩ / ‖a‖ ; at a = 0 the gradient is taken as 0
norm = prim(
    "norm",
    _quiet(lambda x, axis=None: np.sqrt(np.sum(x * x, axis=axis))),
    shape=_shape_rule("norm"),
    jvp=_norm_jvp,
    vjp=_norm_vjp,
    doc="Euclidean norm sqrt(sum(v^2)) (Frobenius for a matrix); gradient 0 at v = 0",
    export=lambda x, axis=None: f"xp.sqrt(xp.sum({x} * {x}{_axis_arg(axis)}))",
)

# ------------------------------------------------------------------ cumulative sums


def _cumsum_shape(x):
    if len(x) != 1:
        raise ShapeError(f"cumsum needs a vector, got {format_shape(x)}")
    return tuple(x)


def _rcumsum_impl(x):
    return np.cumsum(x[::-1])[::-1].copy()


# cumsum(a + h) = cumsum(a) + cumsum(h) ; adjoint: reverse cumulative sum
cumsum = prim(
    "cumsum",
    np.cumsum,
    linear=True,  # linear in its inputs: its forward rule is itself
    shape=_cumsum_shape,
    vjp=lambda g, inputs, out: [rcumsum(g)],
    doc="running sums [v0, v0+v1, ...] of a vector",
    export="xp.cumsum({0})",
)

# rcumsum(a + h) = rcumsum(a) + rcumsum(h): out_i = Σ_{j>=i} a_j ; adjoint: cumsum
rcumsum = prim(
    "rcumsum",
    _rcumsum_impl,
    linear=True,  # linear in its inputs: its forward rule is itself
    shape=_cumsum_shape,
    vjp=lambda g, inputs, out: [cumsum(g)],
    doc="reverse running sums (internal: the adjoint of cumsum)",
    export="xp.cumsum({0}[::-1])[::-1]",
)

# ------------------------------------------------------------------ logsumexp


def _logsumexp_impl(x, tau=1.0, axis=None):
    # m + tau log Σ exp((x - m)/tau) with m = max: no overflow; all -inf gives -inf.
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    s = np.sum(np.exp((x - m) / tau), axis=axis, keepdims=True)
    out = m + tau * np.log(s)
    return out.reshape(_reduced(x.shape, axis))


def _softmax(x, out, tau, axis):
    """Staged: softmax(x / tau) = exp((x - out)/tau), written with exp (differentiable again)."""
    return exp((x - _keep(out, shape_of(x), axis)) / tau)


# _logsumexp_impl for the export back ends (diffopt.export), over xp
_LOGSUMEXP_SOURCE = """\
def _logsumexp(x, tau, axis):
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0.0)
    s = xp.sum(xp.exp((x - m) / tau), axis=axis, keepdims=True)
    out = m + tau * xp.log(s)
    return out.reshape(()) if axis is None else xp.squeeze(out, axis=axis)
"""


def _logsumexp_jvp(tangents, inputs, out, tau=1.0, axis=None):
    # lse(a + h) ≈ lse(a) + Σ_i softmax(a/tau)_i h_i
    return sum(tangents[0] * _softmax(inputs[0], out, tau, axis), axis=axis)


def _logsumexp_vjp(g, inputs, out, tau=1.0, axis=None):
    # x̄ = ḡ softmax(x/tau)
    (x,) = inputs
    return [_keep(g, shape_of(x), axis) * _softmax(x, out, tau, axis)]


# lse(a + h) ≈ lse(a) + ⟨softmax(a/tau), h⟩
logsumexp = prim(
    "logsumexp",
    _logsumexp_impl,
    shape=_shape_rule("logsumexp", empty_ok=False),
    jvp=_logsumexp_jvp,
    vjp=_logsumexp_vjp,
    doc="tau * log(sum(exp(v / tau))), computed stably (a smooth max)",
    export=ExportRule(lambda x, tau=1.0, axis=None: f"_logsumexp({x}, {tau!r}, {axis!r})",
                      helpers=_LOGSUMEXP_SOURCE),
)

# ------------------------------------------------------------------ keyword helpers


def keyword_tau(tau) -> float:
    """The temperature keyword as a float; DopTypeError unless it is a number > 0."""
    a = np.asarray(tau, dtype=np.float64)
    if a.ndim != 0:
        raise DopTypeError(f"tau must be a number, got an array of shape {format_shape(a.shape)}")
    if not a > 0:
        raise DopTypeError(f"tau must be > 0, got {float(a):g}")
    return float(a)


def keyword_axis(axis, x, name: str) -> int | None:
    """The ``axis`` keyword as a non-negative int (None: all elements)."""
    if axis is None:
        return None
    a = np.asarray(axis, dtype=np.float64)
    if a.ndim != 0 or a != np.floor(a):
        raise DopTypeError(f"{name}: axis must be an integer, got {axis!r}")
    ndim = len(shape_of(x))
    k = int(a)
    if not -ndim <= k < ndim:
        raise ShapeError(f"{name}: axis {k} is out of range for shape {format_shape(shape_of(x))}")
    return k % ndim


# ------------------------------------------------------------------ built-ins


def _sum(v, axis=None):
    return sum(v, axis=keyword_axis(axis, v, "sum"))


def _mean(v, axis=None):
    axis = keyword_axis(axis, v, "mean")
    shape = shape_of(v)
    n = int(np.prod(shape, dtype=np.int64)) if axis is None else shape[axis]
    if n == 0:
        raise ShapeError("mean of an empty vector")
    total = sum(v, axis=axis)
    # Over a batch of data rows the sum was rescaled to estimate all rows: so is the count
    # (diffopt.rowtape.RowTape.mean_count).
    count = getattr(getattr(v, "tape", None), "mean_count", None)
    return total / float(n if count is None else count(v, axis, n))


def _prod(v, axis=None):
    return prod(v, axis=keyword_axis(axis, v, "prod"))


def _norm(v, axis=None):
    return norm(v, axis=keyword_axis(axis, v, "norm"))


def _sumsq(v, axis=None):
    return sum(v * v, axis=keyword_axis(axis, v, "sumsq"))


def _dot(a, b):
    sa, sb = shape_of(a), shape_of(b)
    if len(sa) != 1 or sa != sb:
        raise ShapeError(
            "dot needs two vectors of the same length, "
            f"got {format_shape(sa)} and {format_shape(sb)}"
        )
    return matmul(a, b)


def _logsumexp(v, tau=1.0, axis=None):
    return logsumexp(v, tau=keyword_tau(tau), axis=keyword_axis(axis, v, "logsumexp"))


_AXIS = {"axis": None}

builtin("sum", _sum, keywords=_AXIS, generator=True, doc="sum of the elements (0 for none)")
builtin("mean", _mean, keywords=_AXIS, generator=True, doc="mean of the elements")
builtin("prod", _prod, keywords=_AXIS, generator=True, doc="product of the elements (1 for none)")
builtin("norm", _norm, keywords=_AXIS, generator=True, doc="Euclidean norm; gradient 0 at 0")
builtin("sumsq", _sumsq, keywords=_AXIS, generator=True, doc="sum of squares sum(v^2)")
builtin("dot", _dot, positional=("a", "b"), doc="inner product of two vectors")
builtin("cumsum", positional=("v",))
builtin("logsumexp", _logsumexp, keywords={"tau": 1.0, "axis": None}, generator=True,
        doc="tau * log(sum(exp(v / tau))), stable")
