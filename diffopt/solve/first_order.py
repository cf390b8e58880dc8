"""First-order methods with a fixed step: gd, momentum and adam.

Each is an (init, update) pair over frozen state (see diffopt.solve.state).
Bounds are handled by clipping the new point into the box. A step that
lands on a NaN/inf objective or gradient is halved until the point is
finite (at most ``BACKOFFS`` times); the step itself stays fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from diffopt.solve.linesearch import is_finite
from diffopt.solve.oracle import Oracle
from diffopt.solve.state import Settings, State, evaluate, project

BACKOFFS = 40  # halvings a first-order step may take to get out of NaN/inf territory


def _first_order_step(
    oracle: Oracle, x: np.ndarray, delta: np.ndarray, s: Settings
) -> tuple[np.ndarray, float, np.ndarray] | None:
    """Evaluate clip(x + t delta) for t = 1, 1/2, 1/4, ... until the point is finite.

    Returns (x_new, f, g), or None when every trial was non-finite. A fixed-step
    method keeps its step; the halving only keeps it out of NaN/inf territory.
    """
    t = 1.0
    for _ in range(BACKOFFS):
        xt = project(x + t * delta, s)
        f, g = evaluate(oracle, xt)
        if is_finite(f, g):
            return xt, f, g
        t *= 0.5
    return None


NO_FINITE_STEP = "every trial step led to a non-finite objective or gradient"


# ---------------------------------------------------------------- gd


def gd_init(oracle: Oracle, x0: np.ndarray, s: Settings) -> State:
    f, g = evaluate(oracle, x0)
    return State(x=x0, f=f, g=g)


def gd_update(oracle: Oracle, st: State, s: Settings) -> State:
    """x <- clip(x - lr g): plain gradient descent with a fixed step."""
    trial = _first_order_step(oracle, st.x, -s.lr * st.g, s)
    if trial is None:
        return replace(st, moved=False, stall=NO_FINITE_STEP)
    x, f, g = trial
    return State(x=x, f=f, g=g, moved=True)


# ---------------------------------------------------------------- momentum


@dataclass(frozen=True, eq=False, kw_only=True)
class MomentumState(State):
    velocity: np.ndarray


def momentum_init(oracle: Oracle, x0: np.ndarray, s: Settings) -> MomentumState:
    f, g = evaluate(oracle, x0)
    return MomentumState(x=x0, f=f, g=g, velocity=np.zeros_like(x0))


def momentum_update(oracle: Oracle, st: MomentumState, s: Settings) -> MomentumState:
    """Heavy ball: v <- momentum v - lr g; x <- clip(x + v)."""
    v = s.momentum * st.velocity - s.lr * st.g
    trial = _first_order_step(oracle, st.x, v, s)
    if trial is None:
        return replace(st, moved=False, velocity=np.zeros_like(v), stall=NO_FINITE_STEP)
    x, f, g = trial
    # Keep the velocity actually travelled, so halving and bounds do not build up speed.
    return MomentumState(x=x, f=f, g=g, velocity=x - st.x, moved=True)


# ---------------------------------------------------------------- adam


@dataclass(frozen=True, eq=False, kw_only=True)
class AdamState(State):
    m: np.ndarray
    v: np.ndarray
    t: int = 0


def adam_init(oracle: Oracle, x0: np.ndarray, s: Settings) -> AdamState:
    f, g = evaluate(oracle, x0)
    return AdamState(x=x0, f=f, g=g, m=np.zeros_like(x0), v=np.zeros_like(x0))


def adam_update(oracle: Oracle, st: AdamState, s: Settings) -> AdamState:
    """Adam (Kingma & Ba): bias-corrected moment estimates scale each coordinate's step."""
    t = st.t + 1
    m = s.beta1 * st.m + (1.0 - s.beta1) * st.g
    v = s.beta2 * st.v + (1.0 - s.beta2) * st.g**2
    m_hat = m / (1.0 - s.beta1**t)
    v_hat = v / (1.0 - s.beta2**t)
    trial = _first_order_step(oracle, st.x, -s.lr * m_hat / (np.sqrt(v_hat) + s.eps), s)
    if trial is None:
        return replace(st, moved=False, m=m, v=v, t=t, stall=NO_FINITE_STEP)
    x, f, g = trial
    return AdamState(x=x, f=f, g=g, m=m, v=v, t=t, moved=True)
