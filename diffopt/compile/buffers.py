"""Buffers for compiled programs: large elementwise results written into
arrays reused from run to run, planned by liveness."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffopt.ir.tape import Tape

# Elementwise results with at least this many float64 elements (64 KiB) are
# written into buffers reused from run to run: a fresh array of that size
# comes from mmap, and touching its pages costs more than the arithmetic.
POOL_MIN = 8192


@dataclass(frozen=True)
class BufferPlan:
    """Which slots the compiled code writes into reused buffers, and when to free.

    ``buffer_of`` maps a slot to its buffer index; ``shapes`` gives each
    buffer's shape; ``release`` maps a position in the program to the large
    freshly allocated temporaries whose last use it is (``del``-ed there, so
    that peak memory stays that of the live values).
    """

    buffer_of: dict
    shapes: tuple
    release: dict

    def out_arg(self, slot: int) -> str:
        k = self.buffer_of.get(slot)
        return "" if k is None else f", out=B[{k}]"

    def release_lines(self, position: int) -> list[str]:
        dead = self.release.get(position)
        return [f"    del {', '.join(f's{s}' for s in dead)}"] if dead else []


def plan_buffers(tape: Tape, program: list, kept: set) -> BufferPlan:
    """Assign reused buffers to large elementwise results by liveness.

    A candidate is an equation whose primitive ``writes_out`` (no static
    parameters) and whose float64 result has at least POOL_MIN elements. Its
    buffer stays busy until the last use of every slot that may alias it: a
    primitive not marked ``fresh`` may return a view of (or the same array
    as) an argument, so its result is assumed to. A candidate that may reach
    a returned value keeps a fresh array (the caller owns what it gets).
    A buffer is reused only after the equation that last reads it, never as
    that equation's own output (``dmul`` reads its argument after writing).
    """
    values = tape.values
    end = len(program)
    last: dict[int, int] = {}
    for position, eqn in enumerate(program):
        for a in eqn.args:
            if isinstance(a, int):
                last[a] = position
    for slot in kept:
        last[slot] = end
    candidates: set[int] = set()
    aliases: dict[int, frozenset] = {}
    large_fresh: list[int] = []
    for eqn in program:
        out = eqn.out
        value = values[out]
        if (eqn.prim.writes_out and not eqn.params and value.dtype == np.float64
                and value.size >= POOL_MIN):
            candidates.add(out)
            aliases[out] = frozenset((out,))
        elif not eqn.prim.fresh:
            merged = [aliases[a] for a in eqn.args if isinstance(a, int) and a in aliases]
            if merged:
                aliases[out] = frozenset().union(*merged)
        elif value.size >= POOL_MIN and out not in kept:
            large_fresh.append(out)
    for slot in kept:
        candidates.difference_update(aliases.get(slot, ()))
    busy_until: dict[int, int] = {}
    for slot, reached in aliases.items():
        for c in reached:
            if c in candidates:
                busy_until[c] = max(busy_until.get(c, -1), last.get(slot, -1))
    freed_at: dict[int, list] = {}
    for c, position in busy_until.items():
        freed_at.setdefault(position, []).append(c)
    release: dict[int, list] = {}
    for slot in large_fresh:
        if slot in last:
            release.setdefault(last[slot], []).append(slot)
    buffer_of: dict[int, int] = {}
    shapes: list = []
    free: dict[tuple, list] = {}
    for position, eqn in enumerate(program):
        out = eqn.out
        if out in candidates:
            shape = values[out].shape
            pool = free.get(shape)
            if pool:
                buffer_of[out] = pool.pop()
            else:
                buffer_of[out] = len(shapes)
                shapes.append(shape)
        for c in freed_at.get(position, ()):
            free.setdefault(values[c].shape, []).append(buffer_of[c])
    return BufferPlan(buffer_of, tuple(shapes), release)


class BufferPool:
    """Scratch arrays shared by the compiled programs of one tape.

    The programs of a tape run one at a time, so they can share buffers of
    equal shape. ``busy`` marks a run in progress: a program re-entered
    meanwhile (a primitive that evaluates another program of the same tape)
    gets private arrays instead.
    """

    def __init__(self):
        self.arrays: dict[tuple, list] = {}
        self.busy = False

    def take(self, shapes: tuple) -> list:
        taken: dict[tuple, int] = {}
        result = []
        for shape in shapes:
            i = taken.get(shape, 0)
            taken[shape] = i + 1
            have = self.arrays.setdefault(shape, [])
            if i == len(have):
                have.append(np.empty(shape))
            result.append(have[i])
        return result


def with_buffers(core, shapes: tuple, pool: BufferPool):
    """``core(inputs, buffers)`` as ``run(inputs)``, with buffers from ``pool``."""
    if not shapes:
        return lambda inputs: core(inputs, ())
    mine: list = []

    def run(inputs):
        if pool.busy:
            return core(inputs, [np.empty(shape) for shape in shapes])
        if not mine:
            mine.extend(pool.take(shapes))
        pool.busy = True
        try:
            return core(inputs, mine)
        finally:
            pool.busy = False

    return run


