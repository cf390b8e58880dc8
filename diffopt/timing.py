"""Timing for ``--repeat``: the median wall time of repeated calls.

One function, for ``grad --repeat`` of the objective (diffopt.api) and of
any let's Jacobian (diffopt.jacobian).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def median_time(fn: Callable, repeat: int, warm_up: bool = False) -> float:
    """Median seconds of ``repeat`` calls of ``fn``; with ``warm_up``, after one
    untimed call (the first call records and compiles: not the cost per evaluation)."""
    if warm_up:
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))
