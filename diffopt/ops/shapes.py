"""Shape helpers shared by every shape rule: broadcasting and how shapes are shown."""

from __future__ import annotations

import math

import numpy as np

from diffopt.budget import check_array
from diffopt.errors import ShapeError

Shape = tuple[int, ...]


def broadcast_shapes(*shapes: Shape, **_params) -> Shape:
    """NumPy broadcasting, with an error that shows both shapes."""
    first = shapes[0]
    for other in shapes:  # the common case, equal shapes, without NumPy's overhead
        if other != first:
            break
    else:
        return first if first.__class__ is tuple else tuple(first)
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        shown = " and ".join(format_shape(s) for s in shapes)
        raise ShapeError(f"shapes {shown} cannot be broadcast together") from None


def format_shape(shape: Shape) -> str:
    if shape == ():
        return "() (a scalar)"
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def check_size(shape: Shape, what: str) -> Shape:
    """``shape`` if an array of it fits the memory budget, else a ShapeError saying why."""
    check_array(math.prod(shape), what)
    return shape
