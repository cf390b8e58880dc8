"""The stochastic driver: epochs of mini-batch steps by sgd, adam or adamw.

``train`` is a pure function of an ``Epochs`` oracle (diffopt.training builds
it from a problem's data rows): each epoch it asks for the batches of a new
shuffle, takes one step per batch with the batch's value and gradient, then
evaluates the held-out validation rows if there are any. Updates, with g the
batch gradient (clipped to ``clip_norm`` first) and lr(t) the schedule:

* sgd: textbook heavy ball with dampening, v <- beta v + (1 - beta) g,
  x <- x - lr v (beta = ``momentum``, default 0: plain SGD). PyTorch's SGD
  writes v <- mu v + g, x <- x - lr' v; with mu = beta and lr' = lr (1 - beta)
  the two take the same steps. ``nesterov``: x <- x - lr (beta v + (1 - beta) g).
  ``weight_decay`` adds weight_decay x to g (L2, as PyTorch).
* adam: bias-corrected moments m, v of g (beta1, beta2), x <- x - lr m^ /
  (sqrt(v^) + eps); ``weight_decay`` adds weight_decay x to g.
* adamw: adam whose decay is decoupled: x <- x - lr weight_decay x first
  (default weight_decay 0.01).

Schedules of the step t (counted from 0 over the whole run, E epochs of B
steps): constant lr; step lr decay^floor(epoch / decay_epochs); cosine
lr (1 + cos(pi t' / T')) / 2 over the steps after warm-up; inverse_time
lr / (1 + decay t / B). Warm-up multiplies by (t + 1) / warmup for t < warmup.
Points are clipped into the bounds. Never prints.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from diffopt.solve.oracle import IterationInfo


@dataclass(frozen=True)
class Epochs:
    """What the stochastic driver asks of a problem.

    Attributes:
        n: number of scalar unknowns.
        batches: steps per epoch.
        value_and_grad: (x, epoch, batch index, step) -> (f, g) on that batch.
        validation: x -> objective over the held-out rows, or None without them.
        lower, upper: bounds of shape (n,).
    """

    n: int
    batches: int
    value_and_grad: Callable[[np.ndarray, int, int, int], tuple[float, np.ndarray]]
    validation: Callable[[np.ndarray], float] | None
    lower: np.ndarray
    upper: np.ndarray


@dataclass(frozen=True)
class TrainSettings:
    method: str = "sgd"
    lr: float = 0.01
    epochs: int = 100
    momentum: float = 0.0
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup: int = 0
    decay: float = 0.1
    decay_epochs: int = 10
    clip_norm: float | None = None
    patience: int | None = None
    max_steps: int | None = None


@dataclass(frozen=True)
class TrainOutcome:
    x: np.ndarray
    status: str
    message: str
    epochs: int  # epochs run
    steps: int
    train_loss: float  # mean batch objective of the last epoch
    validation_loss: float | None  # at the returned point
    best_epoch: int | None  # epoch (1-based) of the best validation loss
    gradient_norm: float  # largest |component| of the last batch gradient
    history: list = field(default_factory=list)  # (epoch, train loss, validation loss)


def learning_rate(s: TrainSettings, step: int, batches: int) -> float:
    """lr at step ``step`` (0-based) of the run."""
    lr = s.lr
    if s.schedule == "step":
        lr *= s.decay ** (step // batches // s.decay_epochs)
    elif s.schedule == "inverse_time":
        lr /= 1.0 + s.decay * step / batches
    elif s.schedule == "cosine":
        total = max(1, s.epochs * batches - s.warmup)
        done = min(max(0, step - s.warmup), total)
        lr *= 0.5 * (1.0 + math.cos(math.pi * done / total))
    if step < s.warmup:
        lr *= (step + 1) / s.warmup
    return lr


def _clip(g: np.ndarray, limit: float | None) -> np.ndarray:
    if limit is None:
        return g
    norm = float(np.sqrt(np.dot(g, g)))
    return g * (limit / norm) if norm > limit else g


def train(oracle: Epochs, x0: np.ndarray, s: TrainSettings,
          callback: Callable[[IterationInfo], None] | None = None) -> TrainOutcome:
    """Run ``s.epochs`` epochs (fewer with early stopping or ``max_steps``) from x0."""
    started = time.perf_counter()
    x = np.clip(np.array(x0, dtype=np.float64), oracle.lower, oracle.upper)
    try:
        return _epochs(oracle, x, s, callback, started)
    except KeyboardInterrupt:  # Ctrl-C: the best point so far (see _epochs)
        point, epoch, step = _progress["x"], _progress["epoch"], _progress["step"]
        return _outcome(point, "interrupted", f"interrupted in epoch {epoch + 1}", epoch, step,
                        math.nan, _progress["best"], [], np.zeros_like(point), oracle)


_progress: dict = {}  # where the running train() is, for Ctrl-C


def _epochs(oracle, x, s, callback, started):
    first = np.zeros_like(x)  # sgd's velocity, adam's first moment
    second = np.zeros_like(x)
    step, epoch, g = 0, 0, np.zeros_like(x)
    best = (math.inf, x.copy(), None)  # (validation loss, point, epoch)
    history, status, message = [], "converged", ""
    losses: list[float] = []
    _progress.update(x=x, epoch=0, step=0, best=best)
    while epoch < s.epochs:
        losses = []
        for k in range(oracle.batches):
            if s.max_steps is not None and step >= s.max_steps:
                break
            f, g = oracle.value_and_grad(x, epoch, k, step)
            if not (math.isfinite(f) and np.all(np.isfinite(g))):
                return _outcome(x, "failed", f"the objective or its gradient is not finite on "
                                f"batch {k + 1} of epoch {epoch + 1}", epoch, step, f,
                                best, history, g, oracle)
            losses.append(f)
            x, first, second = _update(s, x, _clip(g, s.clip_norm), first, second, step,
                                       learning_rate(s, step, oracle.batches))
            x = np.clip(x, oracle.lower, oracle.upper)
            step += 1
            _progress.update(x=x, step=step)
        if not losses:
            break
        epoch += 1
        train_loss = float(np.mean(losses))
        val = oracle.validation(x) if oracle.validation is not None else None
        history.append((epoch, train_loss, val))
        if val is not None and val < best[0]:
            best = (val, x.copy(), epoch)
        _progress.update(epoch=epoch, best=best)
        if callback is not None:
            callback(IterationInfo(epoch, train_loss, float(np.max(np.abs(g), initial=0.0)),
                                   learning_rate(s, max(step - 1, 0), oracle.batches),
                                   time.perf_counter() - started, x, validation=val))
        if (s.patience is not None and best[2] is not None
                and epoch - best[2] >= s.patience):
            message = (f"stopped early: no better validation loss in {s.patience} epochs; "
                       f"best at epoch {best[2]}")
            break
    else:
        # the budget ended the run, not a test on the result: a stochastic
        # gradient has no convergence test, so this is max_iter (exit 1)
        status = "max_iter"
        message = (f"ran all {epoch} epochs ({step} steps), the budget epochs; a stochastic "
                   "method certifies no optimum (early stopping by patience does)")
    if not message:
        status = "max_iter"
        message = f"ran {epoch} epochs ({step} steps): the step limit max_iter was reached"
    return _outcome(x, status, message, epoch, step, float(np.mean(losses)) if losses
                    else math.nan, best, history, g, oracle)


def _outcome(x, status, message, epochs, steps, train_loss, best, history, g, oracle):
    val, point, best_epoch = best
    if best_epoch is not None:  # with validation rows: the best point seen
        x = point
    return TrainOutcome(x, status, message, epochs, steps, train_loss,
                        None if best_epoch is None else float(val), best_epoch,
                        float(np.max(np.abs(g), initial=0.0)), history)


def _update(s: TrainSettings, x, g, first, second, step, lr):
    """One step of s.method: the new (x, first, second)."""
    if s.method == "sgd":
        if s.weight_decay:
            g = g + s.weight_decay * x
        beta = s.momentum
        velocity = beta * first + (1.0 - beta) * g
        direction = beta * velocity + (1.0 - beta) * g if s.nesterov else velocity
        return x - lr * direction, velocity, second
    if s.method == "adamw" and s.weight_decay:
        x = x - lr * s.weight_decay * x
    elif s.weight_decay:
        g = g + s.weight_decay * x
    t = step + 1
    m = s.beta1 * first + (1.0 - s.beta1) * g
    v = s.beta2 * second + (1.0 - s.beta2) * g * g
    m_hat = m / (1.0 - s.beta1 ** t)
    v_hat = v / (1.0 - s.beta2 ** t)
    return x - lr * m_hat / (np.sqrt(v_hat) + s.eps), m, v
