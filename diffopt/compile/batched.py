"""Evaluating a tape at many points at once: a leading batch axis through every equation.

``run_batched`` runs the live equations of chosen outputs once over a whole
batch of points (a grid of a landscape, a slice), each equation one NumPy
call on arrays of shape ``(B,) + shape``, instead of one compiled call per
point. How an equation maps the batch axis:

* elementwise primitives (the broadcasting shape rule) and ``select``:
  every batched argument gets singleton axes after the batch axis up to
  the result's rank, so it broadcasts as the unbatched values did;
  constants broadcast from the right unchanged;
* ``sum``, ``sum_to``, ``broadcast_to``, ``reshape``, ``matmul``: their
  axis or shape parameter is shifted past the batch axis (``BATCH_RULES``);
* any other primitive (indexing, sorting, ``root``/``argmin``, ...): the
  equation alone is mapped over the points, its inputs already computed
  for the whole batch.

The recorded branch decisions (guards) are evaluated for every point too:
``holds[i]`` says whether point i took the recorded path, so a caller can
re-trace the few points that did not. Batches are cut into chunks so that
no intermediate holds more than ``CHUNK_ELEMENTS`` numbers.
"""

from __future__ import annotations

import numpy as np

from diffopt.ir.tape import Tape, live_equations
from diffopt.ops.shapes import broadcast_shapes

CHUNK_ELEMENTS = 1 << 22  # numbers per intermediate array (32 MB of float64)


def _aligned(value: np.ndarray, ndim: int) -> np.ndarray:
    """A batched value (B,) + shape with singleton axes after B up to rank ndim + 1."""
    missing = ndim - (value.ndim - 1)
    if missing <= 0:
        return value
    return value.reshape(value.shape[:1] + (1,) * missing + value.shape[1:])


def _shifted_axis(axis, ndim: int):
    """An axis (None, int or tuple, maybe negative) of an unbatched value, past the batch axis."""
    if axis is None:
        return tuple(range(1, ndim + 1))
    if isinstance(axis, tuple | list):
        return tuple(a % ndim + 1 for a in axis)
    return int(axis) % ndim + 1


def _sum(x, axis=None):
    return np.add.reduce(x, axis=_shifted_axis(axis, x.ndim - 1))


def _sum_to(x, shape):
    batch, inner = x.shape[0], x.shape[1:]
    lead = len(inner) - len(shape)
    axes = tuple(range(1, lead + 1)) + tuple(
        1 + lead + i for i, n in enumerate(shape) if n == 1 and inner[lead + i] != 1)
    summed = x.sum(axis=axes, keepdims=True) if axes else x
    return summed.reshape((batch,) + tuple(shape))


def _broadcast_to(x, shape):
    return np.broadcast_to(_aligned(x, len(shape)), (x.shape[0],) + tuple(shape))


def _reshape(x, shape):
    return x.reshape((x.shape[0],) + tuple(shape))


def _matmul(a, b, a_batched: bool, b_batched: bool):
    # vectors are promoted to matrices and the promoted axis dropped again,
    # as np.matmul does for unbatched operands
    a_vec = (a.ndim - a_batched) == 1
    b_vec = (b.ndim - b_batched) == 1
    if a_vec:
        a = a[..., None, :]
    if b_vec:
        b = b[..., :, None]
    out = np.matmul(a, b)
    if b_vec:
        out = out[..., 0]
    if a_vec:
        out = out[..., 0] if b_vec else out[..., 0, :]
    return out


# name -> rule(args) for primitives whose parameters name axes or shapes; a
# rule gets the batched arguments (batch axis first) with the equation's params
BATCH_RULES = {
    "sum": _sum,
    "sum_to": _sum_to,
    "broadcast_to": _broadcast_to,
    "reshape": _reshape,
}


def _equation(eqn, args: list, batched: list, out_shape: tuple, size: int) -> np.ndarray:
    """One equation over the batch: ``(size,) + out_shape``."""
    prim = eqn.prim
    if prim.shape is broadcast_shapes or prim.name == "select":
        ndim = len(out_shape)
        values = [_aligned(a, ndim) if b else a for a, b in zip(args, batched)]
        return prim.impl(*values, **eqn.params)
    if prim.name == "matmul" and not eqn.params:
        a, b = args
        if not batched[0]:
            a = np.asarray(a)
        if not batched[1]:
            b = np.asarray(b)
        return _matmul(a, b, batched[0], batched[1])
    rule = BATCH_RULES.get(prim.name)
    if rule is not None and len(args) == 1 and batched[0]:
        return rule(args[0], **eqn.params)
    # no batching rule: this one equation is mapped over the points
    out = np.empty((size,) + out_shape)
    for i in range(size):
        out[i] = prim.impl(*[a[i] if b else a for a, b in zip(args, batched)], **eqn.params)
    return out


def run_batched(tape: Tape, outputs: list, guards: list, inputs: list) -> tuple[list, np.ndarray]:
    """The outputs (slots or constants) at every point of a batch, and where the guards hold.

    ``inputs``: one array per input slot of the tape (``tape.inputs`` order),
    each of shape ``(B,) + that slot's shape``. Returns a list of arrays of
    shape ``(B,) + output shape`` and a boolean array of shape ``(B,)``.
    """
    size = int(inputs[0].shape[0]) if inputs else 1
    slots = [o for o in outputs if isinstance(o, int)] + [g.slot for g in guards]
    order = live_equations(tape, slots)
    widest = max([tape.values[tape.eqns[i].out].size for i in order] + [1])
    chunk = max(1, CHUNK_ELEMENTS // widest)
    pieces: list[list] = [[] for _ in outputs]
    holds = []
    with np.errstate(all="ignore"):
        for start in range(0, size, chunk):
            stop = min(size, start + chunk)
            values, hold = _run_chunk(tape, order, outputs, guards,
                                      [x[start:stop] for x in inputs], stop - start)
            for piece, value in zip(pieces, values):
                piece.append(value)
            holds.append(hold)
    results = [np.concatenate(piece) for piece in pieces]
    return results, np.concatenate(holds) if holds else np.ones(0, bool)


def _run_chunk(tape: Tape, order: list, outputs: list, guards: list, inputs: list,
               size: int) -> tuple[list, np.ndarray]:
    store: dict = {slot: np.asarray(x, dtype=np.float64) for slot, x in zip(tape.inputs, inputs)}
    for index in order:
        eqn = tape.eqns[index]
        args, batched = [], []
        for a in eqn.args:
            known = isinstance(a, int) and a in store
            batched.append(known)
            # a slot no input reaches (folded when traced) keeps its traced value
            args.append(store[a] if known else tape.values[a] if isinstance(a, int) else a)
        out_shape = tuple(tape.values[eqn.out].shape)
        if not any(batched):
            continue
        value = np.asarray(_equation(eqn, args, batched, out_shape, size), dtype=np.float64)
        store[eqn.out] = np.broadcast_to(value, (size,) + out_shape)
    results = []
    for o in outputs:
        if isinstance(o, int) and o in store:
            results.append(np.array(store[o]))
        else:
            value = tape.values[o] if isinstance(o, int) else np.asarray(o, dtype=np.float64)
            results.append(np.broadcast_to(value, (size,) + np.shape(value)).copy())
    hold = np.ones(size, dtype=bool)
    for g in guards:
        if g.slot in store:
            condition = store[g.slot].reshape(size, -1)
            hold &= np.all(condition != 0, axis=1) == g.taken  # as the compiled check reads
    return results, hold
