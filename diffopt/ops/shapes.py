"""Shape helpers shared by every shape rule: broadcasting and how shapes are shown."""

from __future__ import annotations

import math
import os

import numpy as np

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


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: assume 8 GiB
        return 8 << 30


# No single array may hold more float64 elements than a quarter of this
# machine's memory: a program asking for more is refused before any work,
# with the size it asked for (not a MemoryError half-way through).
MAX_ELEMENTS = _physical_memory() // 4 // 8


def check_size(shape: Shape, what: str) -> Shape:
    """``shape`` if an array of it fits in memory, else a ShapeError saying why."""
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        gib = count * 8 / 2**30
        raise ShapeError(f"{what} would have {count:.3g} elements ({gib:.3g} GiB); "
                         f"the limit here is {MAX_ELEMENTS:.3g} (a quarter of this machine's "
                         "memory)")
    return shape
