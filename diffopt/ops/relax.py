"""Relaxations of discrete operations, with a temperature ``tau > 0``.

All are composites of primitives (so both AD modes and the Hessian come from
the primitives' rules); each approaches its discrete counterpart as
``tau → 0``:

* ``softmax(v, tau)`` = exp((v − logsumexp(v, tau)) / tau), over all elements
  → the one-hot argmax. ``soft_argmax`` is the same function.
* ``soft_max(v, tau)`` = tau·log Σ exp(v/tau) = ``logsumexp(v, tau=tau)`` → max(v).
* ``soft_sort(v, tau)``: the NeuralSort relaxation (Grover, Wang, Zweig and
  Ermon, "Stochastic Optimization of Sorting Networks via Continuous
  Relaxations", ICLR 2019). Row i of the relaxed permutation matrix is
  P̂_i = softmax(((2i − n − 1)·v − B) / tau), i = 1..n, with
  B_k = Σ_j |v_k − v_j|; the result is P̂ @ v, the values in ascending
  order. Each row is a probability vector, so every output lies in
  [min v, max v]; tau is in the units of v. O(n²) work.
* ``soft_rank(v, tau)`` = Σ_{j≠i} sigmoid((v_i − v_j)/tau): the 0-based rank
  (how many elements are smaller); → 0, 1, ..., n−1 for distinct values,
  and tied values share the average rank.
* ``soft_step(x, tau)`` = sigmoid(x/tau) → [x > 0] (0.5 at 0).
* ``soft_if(margin, a, b, tau)`` = s·a + (1 − s)·b with s = soft_step(margin, tau).

A tau that is not a number > 0 is a DopTypeError ("tau must be > 0").

Must not import the front end, the CLI or Rich.
"""

from __future__ import annotations

import numpy as np

from diffopt.errors import ShapeError
from diffopt.ops.core import reshape
from diffopt.ops.elementwise import abs, exp, sigmoid
from diffopt.ops.linalg import matmul
from diffopt.ops.reduce import keyword_tau, logsumexp, sum
from diffopt.ops.registry import builtin, format_shape, shape_of


def softmax(v, tau=1.0):
    """exp((v − tau·log Σ exp(v/tau)) / tau): probabilities over all elements of v."""
    tau = keyword_tau(tau)
    return exp((v - logsumexp(v, tau=tau)) / tau)


def soft_max(v, tau=1.0):
    """tau·log Σ exp(v/tau), a smooth upper bound of max(v) (within tau·log n)."""
    return logsumexp(v, tau=keyword_tau(tau))


def _vector_length(v, name: str) -> int:
    shape = shape_of(v)
    if len(shape) != 1:
        raise ShapeError(f"{name} needs a vector, got {format_shape(shape)}")
    return shape[0]


def soft_sort(v, tau=1.0):
    """NeuralSort: P̂ @ v with P̂ the relaxed ascending-sort permutation matrix."""
    tau = keyword_tau(tau)
    n = _vector_length(v, "soft_sort")
    if n <= 1:
        return v
    column, row = reshape(v, shape=(n, 1)), reshape(v, shape=(1, n))
    spread = sum(abs(column - row), axis=1)  # B_k = Σ_j |v_k − v_j|
    scale = (2.0 * np.arange(1, n + 1) - n - 1).reshape(n, 1)  # row i picks the i-th smallest
    logits = (scale * row - reshape(spread, shape=(1, n))) / tau
    weights = exp(logits - reshape(logsumexp(logits, axis=1), shape=(n, 1)))  # row softmax
    return matmul(weights, v)


def soft_rank(v, tau=1.0):
    """Σ_j sigmoid((v_i − v_j)/tau) − 1/2: the relaxed 0-based rank of each element."""
    tau = keyword_tau(tau)
    n = _vector_length(v, "soft_rank")
    if n == 0:
        return v
    column, row = reshape(v, shape=(n, 1)), reshape(v, shape=(1, n))
    return sum(sigmoid((column - row) / tau), axis=1) - 0.5  # the j = i term is 1/2


def soft_step(x, tau=1.0):
    """sigmoid(x / tau): a smooth [x > 0]."""
    return sigmoid(x / keyword_tau(tau))


def soft_if(margin, a, b, tau=1.0):
    """s·a + (1 − s)·b with s = soft_step(margin, tau): a smooth ``if margin > 0``."""
    s = soft_step(margin, tau)
    return s * a + (1.0 - s) * b


_TAU = {"tau": 1.0}

builtin("softmax", softmax, positional=("v",), keywords=_TAU,
        doc="exp(v/tau) / sum(exp(v/tau)), over all elements")
builtin("soft_argmax", softmax, positional=("v",), keywords=_TAU,
        doc="a probability vector that tends to the one-hot argmax (same as softmax)")
builtin("soft_max", soft_max, positional=("v",), keywords=_TAU,
        doc="tau * log(sum(exp(v / tau))), a smooth max")
builtin("soft_sort", soft_sort, positional=("v",), keywords=_TAU,
        doc="differentiable ascending sort (NeuralSort, Grover et al. 2019)")
builtin("soft_rank", soft_rank, positional=("v",), keywords=_TAU,
        doc="relaxed 0-based ranks: sum over j != i of sigmoid((v_i - v_j)/tau)")
builtin("soft_step", soft_step, positional=("x",), keywords=_TAU, doc="sigmoid(x / tau)")
builtin("soft_if", soft_if, positional=("margin", "a", "b"), keywords=_TAU,
        doc="soft_step(margin)*a + (1 - soft_step(margin))*b")
