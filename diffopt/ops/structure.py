"""Structural primitives: indexing, its adjoint, functional update, joining arrays.

The evaluator lowers ``v[i]``, ``A[:, j]`` to ``index``; ``v[i] = e`` on a
``var`` vector to ``set_index``; ``[a, b, c]`` with traced entries to
``stack``; ``concat(...)`` to ``concat``. ``scatter`` is the adjoint of
``index`` (its staged VJP). Also the constant-only built-ins ``zeros``,
``ones``, ``arange``, ``len``.

Index specs are static and hashable: a tuple with one item per leading axis,
each a Python int (negative counts from the end) or ``("slice", start, stop,
step)`` with ints or None, as in ``v[1::2]`` → ``(("slice", 1, None, 2),)``.
Axes not mentioned are taken whole. Out of range is a ShapeError naming the
index and the axis length.

Must not import the front end, the CLI or Rich.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from diffopt.errors import ShapeError
from diffopt.ops.core import reshape
from diffopt.ops.registry import (
    Abstract,
    Var,
    builtin,
    format_shape,
    prim,
    shape_of,
    sum_to,
)
from diffopt.ops.shapes import check_size

ALL = ("slice", None, None, None)  # the spec item of a whole axis (``:``)

# ------------------------------------------------------------------ index specs


@functools.lru_cache(maxsize=4096)  # specs are hashable and repeat (v[i] in loops)
def np_index(spec) -> tuple:
    """The NumPy basic index of a spec (integer-valued floats are accepted)."""
    return tuple(
        slice(*(None if v is None else int(v) for v in item[1:]))
        if isinstance(item, tuple)
        else int(item)
        for item in spec
    )


def index_text(spec) -> str:
    """The Python subscript of a spec, as written in source: ``1::2``, ``:, -1``."""
    items = []
    for item in spec:
        if isinstance(item, tuple):
            start, stop, step = (("" if v is None else str(int(v))) for v in item[1:])
            items.append(f"{start}:{stop}" + (f":{step}" if step else ""))
        else:
            items.append(str(int(item)))
    return ", ".join(items) if items else "()"  # x[s] is x[(s,)]; x[()] is all of a 0-d x


@functools.lru_cache(maxsize=4096)
def indexed_shape(shape, spec) -> tuple:
    """Shape of ``x[spec]`` for ``x`` of ``shape``; ShapeError when out of range."""
    shape = tuple(shape)
    if len(spec) > len(shape):
        raise ShapeError(
            f"too many indices: {len(spec)} for a value of shape {format_shape(shape)}"
        )
    for item in spec:
        for v in item[1:] if isinstance(item, tuple) else (item,):
            if v is not None and v != int(v):
                raise ShapeError(f"index {v:g} is not an integer")
    out = []
    for axis, (item, n) in enumerate(zip(np_index(spec), shape[: len(spec)], strict=True)):
        if isinstance(item, slice):
            if item.step == 0:
                raise ShapeError("slice step cannot be zero")
            out.append(len(range(*item.indices(n))))
        elif not -n <= item < n:
            raise ShapeError(f"index {item} is out of range for axis {axis} of length {n}")
    return tuple(out) + shape[len(spec):]


def axis_slice(axis: int, start: int, stop: int) -> tuple:
    """The spec of ``start:stop`` along ``axis`` (other axes whole)."""
    return (ALL,) * axis + (("slice", start, stop, None),)


# ------------------------------------------------------------------ index / scatter


# (x + h)[s] = x[s] + h[s] ; linear, its adjoint is scatter
index = prim(
    "index",
    # a view where NumPy gives one (no kernel writes into its inputs)
    lambda x, spec: x[np_index(spec)],
    linear=True,  # linear in its inputs: its forward rule is itself
    shape=lambda x, spec: indexed_shape(x, spec),
    vjp=lambda g, inputs, out, spec: [scatter(g, shape=shape_of(inputs[0]), spec=spec)],
    doc="x[spec] with a static index spec (internal: v[i], A[:, j], v[1:])",
    export=lambda x, spec: f"{x}[{index_text(spec)}]",
)


def _scatter_impl(g, shape, spec):
    z = np.zeros(shape)
    z[np_index(spec)] = g
    return z


def _scatter_shape(g, shape, spec):
    target = indexed_shape(shape, spec)
    if tuple(g) != target:
        raise ShapeError(
            f"cannot place {format_shape(g)} at elements of shape {format_shape(target)}"
        )
    return tuple(shape)


# scatter(g + h) = scatter(g) + scatter(h): zeros of ``shape`` with g at spec
scatter = prim(
    "scatter",
    _scatter_impl,
    linear=True,  # linear in its inputs: its forward rule is itself
    shape=_scatter_shape,
    vjp=lambda g, inputs, out, shape, spec: [index(g, spec=spec)],
    doc="zeros of a shape with g placed at an index spec (internal: the adjoint of index)",
    export=lambda g, shape, spec: f"_set_at(xp.zeros({shape!r}), np.s_[{index_text(spec)}], {g})",
)

# ------------------------------------------------------------------ functional update


def _set_index_impl(x, value, spec):
    out = x.copy()
    out[np_index(spec)] = value
    return out


def _set_index_shape(x, value, spec):
    target = indexed_shape(x, spec)
    if not _broadcasts_to(value, target):
        raise ShapeError(
            f"cannot assign a value of shape {format_shape(value)} "
            f"to elements of shape {format_shape(target)}"
        )
    return tuple(x)


def _broadcasts_to(shape, target) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


def _set_index_vjp(g, inputs, out, spec):
    x, value = inputs
    gx = set_index(g, 0.0, spec=spec) if isinstance(x, (Var, Abstract)) else None
    gv = None
    if isinstance(value, (Var, Abstract)):
        gv = sum_to(index(g, spec=spec), shape_of(value))
    return [gx, gv]


# set(x + h, s, v + k) = set(x, s, v) + set(h, s, k): x with x[s] replaced by v
set_index = prim(
    "set_index",
    _set_index_impl,
    linear=True,  # linear in its inputs: its forward rule is itself
    nargs=2,
    shape=_set_index_shape,
    vjp=_set_index_vjp,
    doc="x with x[spec] replaced by value (internal: v[i] = e on a var vector)",
    export=lambda x, value, spec: f"_set_at({x}, np.s_[{index_text(spec)}], {value})",
)

# ------------------------------------------------------------------ joining


def _concat_shape(*shapes, axis=0):
    first = shapes[0]
    for s in shapes:
        if len(s) != len(first) or len(s) <= axis:
            shown = ", ".join(format_shape(x) for x in shapes)
            raise ShapeError(f"concat needs vectors (or matrices with equal columns), got {shown}")
        if s[:axis] + s[axis + 1:] != first[:axis] + first[axis + 1:]:
            raise ShapeError(
                f"cannot concatenate {format_shape(first)} and {format_shape(s)} along axis {axis}"
            )
    return first[:axis] + (sum(s[axis] for s in shapes),) + first[axis + 1:]


def _concat_vjp(g, inputs, out, axis=0):
    grads, start = [], 0
    for x in inputs:
        n = shape_of(x)[axis]
        if isinstance(x, (Var, Abstract)):
            grads.append(index(g, spec=axis_slice(axis, start, start + n)))
        else:
            grads.append(None)
        start += n
    return grads


# concat(a + h, b + k) = concat(a, b) + concat(h, k)
concat = prim(
    "concat",
    lambda *xs, axis=0: np.concatenate(xs, axis=axis),
    linear=True,  # linear in its inputs: its forward rule is itself
    nargs=-1,
    shape=_concat_shape,
    vjp=_concat_vjp,
    doc="join arrays along an axis (default 0)",
    export=lambda *xs, axis=0: f"xp.concatenate([{', '.join(xs)}], axis={axis})",
)


def _stack_shape(*shapes):
    for s in shapes:
        if s != shapes[0]:
            raise ShapeError(
                f"stack needs values of the same shape, got {format_shape(shapes[0])} "
                f"and {format_shape(s)}"
            )
    return (len(shapes),) + tuple(shapes[0])


def _stack_vjp(g, inputs, out):
    return [
        index(g, spec=(i,)) if isinstance(x, (Var, Abstract)) else None
        for i, x in enumerate(inputs)
    ]


# stack(a + h, b + k) = stack(a, b) + stack(h, k)
stack = prim(
    "stack",
    lambda *xs: np.stack(xs),
    linear=True,  # linear in its inputs: its forward rule is itself
    nargs=-1,
    shape=_stack_shape,
    vjp=_stack_vjp,
    doc="rows of a new leading axis: scalars make a vector, vectors a matrix",
    export=lambda *xs: f"xp.stack([{', '.join(xs)}])",
)

# ------------------------------------------------------------------ built-ins


def _as_vector(x):
    # concat treats a scalar as a vector of length 1
    return reshape(x, shape=(1,)) if shape_of(x) == () else x


def _concat(*xs):
    return concat(*(_as_vector(x) for x in xs))


def constant_int(value, what: str) -> int:
    """A non-negative integer from a constant argument, or a ShapeError naming it."""
    a = np.asarray(value, dtype=np.float64)
    if a.ndim != 0 or not np.isfinite(a) or a != np.floor(a) or a < 0:
        raise ShapeError(f"{what} must be a non-negative integer, got {_show(a)}")
    return int(a)


def shape_argument(value, name: str) -> tuple[int, ...]:
    """A shape given as a number ``n`` (a vector) or ``[rows, cols]``."""
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        return check_size((constant_int(a, f"{name}: the size"),), f"{name}'s result")
    if a.ndim == 1 and 1 <= a.size <= 2:
        return check_size(tuple(constant_int(n, f"{name}: each dimension") for n in a),
                          f"{name}'s result")
    raise ShapeError(f"{name}: the shape must be a number or [rows, cols], got {_show(a)}")


def _show(a: np.ndarray) -> str:
    return np.array2string(a, separator=", ") if a.ndim else f"{float(a):g}"


def _zeros(shape):
    return np.zeros(shape_argument(shape, "zeros"))


def _ones(shape):
    return np.ones(shape_argument(shape, "ones"))


def _arange(a, b=None):
    # arange(n) = [0, 1, ..., n-1]; arange(a, b) = [a, a+1, ..., b-1] (floats allowed)
    start, stop = (0.0, a) if b is None else (a, b)
    start, stop = (np.asarray(v, dtype=np.float64) for v in (start, stop))
    if start.ndim or stop.ndim:
        raise ShapeError("arange takes numbers, not arrays")
    start, stop = float(start), float(stop)
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise ShapeError(f"arange takes finite bounds, not {start:g} and {stop:g}")
    length = stop - start  # may overflow to inf (arange(-1e308, 1e308)): still refused
    if not length > 0:
        return np.empty(0)  # NumPy refuses some empty ranges (arange(0, -1e308))
    check_size((math.ceil(length) if math.isfinite(length) else 10**309,), "arange's result")
    return np.arange(start, stop, dtype=np.float64)


def _len(v):
    # Only the shape is read: len of a parameter is a constant too.
    shape = shape_of(v)
    if shape == ():
        raise ShapeError("len of a scalar: len needs a vector or a matrix")
    return np.asarray(float(shape[0]))


builtin("concat", _concat, positional=("a",), variadic=True,
        doc="join vectors (a scalar counts as a vector of length 1)")
builtin("stack", stack, positional=("a",), variadic=True,
        doc="rows of a matrix (scalars make a vector)")
builtin("zeros", _zeros, positional=("shape",), constant_args=True,
        doc="zeros(n) or zeros([rows, cols])")
builtin("ones", _ones, positional=("shape",), constant_args=True,
        doc="ones(n) or ones([rows, cols])")
builtin("arange", _arange, positional=("a", "b"), optional=1, constant_args=True,
        doc="arange(n) = [0, ..., n-1]; arange(a, b) = [a, a+1, ..., < b]")
builtin("len", _len, positional=("v",),
        doc="the length of a vector (rows of a matrix); always a constant")
