"""Running a fused region: its rows in cache-sized blocks, on every core.

A fused region (diffopt.compile.regions) is compiled to a ``block(lo, hi, T)``
function that evaluates rows ``lo:hi`` of its elementwise chain into small
scratch arrays ``T`` (BLOCK rows each, so that they stay in the core's cache)
and returns the block's partial sums. ``run_blocks`` splits the rows into one
contiguous part per core, runs the parts on a pool of threads (NumPy's
ufuncs and BLAS release the GIL while they loop) and returns each part's
sums in part order, so that the result does not depend on which thread
finished first.

Memory: each part owns ``scratch`` arrays of BLOCK float64 each (128 KiB);
nothing of the rows' length is allocated except the region's escaping
outputs, which the caller allocates.
"""

from __future__ import annotations

import os
import threading

import numpy as np

__all__ = ["BLOCK", "Scratch", "part_count", "run_blocks"]

# Rows per block: 8192 float64 = 64 KiB per scratch array; a region's few
# arrays of that size stay in a core's L2 cache between its operations.
BLOCK = 1 << 13

_executor: list = []
_executor_lock = threading.Lock()


def part_count(rows: int) -> int:
    """Parts the rows are split into: one per usable core, at least 4 blocks each."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, rows // (4 * BLOCK)))


def _pool(workers: int):
    with _executor_lock:
        # a forked child inherits the pool but not its threads: it makes its own
        if not _executor or _executor[0][0] < workers or _executor[0][2] != os.getpid():
            # imported here: only programs with a fused region need threads
            from concurrent.futures import ThreadPoolExecutor

            _executor.clear()
            _executor.append((workers, ThreadPoolExecutor(workers, "diffopt-block"),
                              os.getpid()))
        return _executor[0][1]


class Scratch:
    """Per-part scratch arrays of one compiled region, reused from call to call.

    A call that finds them in use (a region evaluated re-entrantly, or from
    two threads at once) gets fresh ones for its duration.
    """

    def __init__(self, count: int):
        self.count = count
        self.arrays: list = []
        self.lock = threading.Lock()

    def fresh(self, parts: int) -> list:
        return [[np.empty(BLOCK) for _ in range(self.count)] for _ in range(parts)]

    def take(self, parts: int) -> list | None:
        if not self.lock.acquire(blocking=False):
            return None
        if len(self.arrays) < parts:
            self.arrays.extend(self.fresh(parts - len(self.arrays)))
        return self.arrays


def _part(block, lo: int, hi: int, T: list) -> tuple:
    # errstate is per thread: the pool's threads start with NumPy's default
    # (warnings printed), and an engine never prints
    with np.errstate(all="ignore"):
        total = block(lo, min(lo + BLOCK, hi), T)
        for start in range(lo + BLOCK, hi, BLOCK):
            partial = block(start, min(start + BLOCK, hi), T)
            total = tuple(a + b for a, b in zip(total, partial))
    return total


def run_blocks(block, rows: int, scratch: Scratch) -> list:
    """``block`` over rows 0..rows in blocks; the partial sums of each part, in order."""
    parts = part_count(rows)
    arrays = scratch.take(parts)
    owned = arrays is not None
    if not owned:
        arrays = scratch.fresh(parts)
    try:
        if parts == 1:
            return [_part(block, 0, rows, arrays[0])]
        per_part = -(-rows // parts)
        per_part = -(-per_part // BLOCK) * BLOCK  # parts start on block boundaries
        bounds = [(k * per_part, min((k + 1) * per_part, rows)) for k in range(parts)]
        bounds = [(lo, hi) for lo, hi in bounds if lo < hi]
        pool = _pool(len(bounds) - 1)
        futures = [pool.submit(_part, block, lo, hi, arrays[k])
                   for k, (lo, hi) in enumerate(bounds[1:], start=1)]
        first = _part(block, bounds[0][0], bounds[0][1], arrays[0])
        return [first] + [f.result() for f in futures]
    finally:
        if owned:
            scratch.lock.release()
