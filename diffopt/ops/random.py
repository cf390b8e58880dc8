"""Seeded random values: normal, uniform, gumbel_softmax.

Random values are drawn when the program is traced and are then constants:
the derivative never flows into the noise. To keep them fixed within one run
although the engine traces again at new points, every draw comes from its
own generator keyed by (seed, n) where n counts the draws since the last
``set_seed``. The tracer calls ``set_seed(seed)`` before every trace, so the
n-th draw of a trace (one call site, in program order) repeats exactly
across re-traces, and a different ``--seed`` gives different values.

* ``normal(mean, std, shape)`` and ``uniform(lo, hi, shape)``: constant
  arguments; ``shape`` is a number n (a vector), ``[rows, cols]``, or omitted
  (a scalar).
* ``gumbel_softmax(logits, tau=1)`` = softmax((logits + g)/tau) with g
  standard Gumbel noise of the shape of ``logits`` (drawn once per call site
  per run), differentiable in ``logits``.

Under a stochastic method (sgd, adamw, adam over batches) the trainer
installs a ``fresh`` hook (``draw_fresh``) while it records the program it
runs at every step: each draw outside a ``const`` then becomes an input of
that program, and the trainer passes new samples of the same distribution
at every step (see diffopt.batching). Draws inside a ``const``
(``fixed_draws``) stay fixed for the run.

Must not import the front end, the CLI or Rich.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from diffopt.errors import DopTypeError, ShapeError
from diffopt.ops.registry import builtin, shape_of
from diffopt.ops.relax import softmax
from diffopt.ops.structure import shape_argument

_state = {"seed": 0, "draws": 0, "fresh": None, "fixed": 0}


@contextmanager
def draw_fresh(hook):
    """Within: ``hook(kind, sample, low, high)`` turns each draw into a per-step input.

    ``kind`` is "normal", "uniform" or "gumbel"; ``low``/``high`` are mean/std,
    lo/hi, or 0/1 for Gumbel noise; the hook returns what the program uses.
    """
    _state["fresh"] = hook
    try:
        yield
    finally:
        _state["fresh"] = None


@contextmanager
def fixed_draws():
    """Within: draws stay fixed for the run (a const), even under ``draw_fresh``."""
    _state["fixed"] += 1
    try:
        yield
    finally:
        _state["fixed"] -= 1


def _drawn(kind: str, sample, low: float, high: float):
    hook = _state["fresh"]
    if hook is None or _state["fixed"]:
        return sample
    return hook(kind, np.asarray(sample, dtype=np.float64), low, high)


def set_seed(seed: int) -> None:
    """Start the sequence of draws for ``seed`` again (call before every trace)."""
    _state["seed"] = int(seed)
    _state["draws"] = 0


def draws() -> int:
    """How many draws since the last ``set_seed`` (to undo speculative ones)."""
    return _state["draws"]


def set_draws(n: int) -> None:
    _state["draws"] = int(n)


def generator() -> np.random.Generator:
    """The generator of the next draw: keyed by the seed and the draw number."""
    n = _state["draws"]
    _state["draws"] = n + 1
    return np.random.default_rng([_state["seed"], n])


def _scalar(value, what: str) -> float:
    a = np.asarray(value, dtype=np.float64)
    if a.ndim != 0:
        raise ShapeError(f"{what} must be a number")
    return float(a)


def normal(mean, std, shape=None):
    """Independent normal samples of the given shape (constants)."""
    size = () if shape is None else shape_argument(shape, "normal")
    std = _scalar(std, "normal: std")
    if std < 0:
        raise DopTypeError(f"normal: std must be >= 0, got {std:g}")
    mean = _scalar(mean, "normal: mean")
    return _drawn("normal", generator().normal(mean, std, size=size), mean, std)


def uniform(lo, hi, shape=None):
    """Independent uniform samples on [lo, hi) of the given shape (constants)."""
    size = () if shape is None else shape_argument(shape, "uniform")
    lo, hi = _scalar(lo, "uniform: lo"), _scalar(hi, "uniform: hi")
    if not lo <= hi:
        raise DopTypeError(f"uniform: lo must be <= hi, got {lo:g} and {hi:g}")
    return _drawn("uniform", generator().uniform(lo, hi, size=size), lo, hi)


def gumbel_softmax(logits, tau=1.0):
    """softmax((logits + g) / tau) with Gumbel noise g fixed for the run."""
    noise = _drawn("gumbel", generator().gumbel(size=shape_of(logits)), 0.0, 1.0)
    return softmax(logits + noise, tau)


builtin("normal", normal, positional=("mean", "std", "shape"), optional=1, constant_args=True,
        doc="normal(mean, std, shape): seeded normal samples (fixed for a run; "
            "fresh at every step of sgd, adam, adamw)")
builtin("uniform", uniform, positional=("lo", "hi", "shape"), optional=1, constant_args=True,
        doc="uniform(lo, hi, shape): seeded uniform samples on [lo, hi) (fixed for a run; "
            "fresh at every step of sgd, adam, adamw)")
builtin("gumbel_softmax", gumbel_softmax, positional=("logits",), keywords={"tau": 1.0},
        doc="softmax((logits + Gumbel noise) / tau); the noise is fixed for a run, fresh at "
            "every step of sgd, adam, adamw")
