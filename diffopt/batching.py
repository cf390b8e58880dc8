"""Mini-batches of data rows: which tables are sliced, and one compiled program per batch size.

``option batch = m`` evaluates the objective on m of the N data rows at a
time. The sliced tables are every data declaration (a CSV table: each of
its columns; an inline array: along its first axis) whose row count is N,
the largest row count of the file's data; smaller tables stay whole.

A ``BatchProgram`` records the program once for a row count m on a
``RowTape`` with the sliced columns as inputs (``diffopt.check.passes.trace``
with substituted tables), checks that the objective is a sum or mean over
rows (``rowtape.row_objective_error``) and compiles its value and gradient
once. A step passes the batch's rows (views of an epoch's shuffled copy:
nothing is copied per step) and fresh random draws, and re-records only if
a recorded branch decision no longer holds. Never prints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffopt import recording as rec
from diffopt.check.passes import trace
from diffopt.check.values import Table
from diffopt.errors import DopError, ShapeError
from diffopt.gcpause import gc_paused
from diffopt.ops import random as dop_random
from diffopt.rowtape import RowTape, row_objective_error

ROW_STREAM = 7  # generator stream of shuffles and the validation split
DRAW_STREAM = 8  # generator stream of the per-step random draws
# Shuffles and draws each come from one generator per run, used in step order: the same
# seed gives the same run, bit for bit.


@dataclass(frozen=True)
class RowData:
    """The data that batches slice: ``columns[i]`` has ``count`` rows (axis 0)."""

    count: int
    names: tuple  # the data declarations sliced
    keys: tuple  # per column: (declaration, column name or None for an inline array)
    columns: tuple  # float64 arrays, rows along axis 0


def row_data(tables) -> RowData | None:
    """The sliced tables of a problem (None when it has no data rows)."""
    counts = {}
    for name, value in tables.items():
        if isinstance(value, Table):
            lengths = {len(c) for c in value.columns.values()}
            if lengths:
                counts[name] = max(lengths)
        elif np.ndim(value) >= 1:
            counts[name] = np.shape(value)[0]
    if not counts:
        return None
    count = max(counts.values())
    names = tuple(name for name, n in counts.items() if n == count)
    keys, columns = [], []
    for name in names:
        value = tables[name]
        if isinstance(value, Table):
            for column, array in value.columns.items():
                keys.append((name, column))
                columns.append(np.asarray(array, dtype=np.float64))
        else:
            keys.append((name, None))
            columns.append(np.asarray(value, dtype=np.float64))
    return RowData(count, names, tuple(keys), tuple(columns))


def split_rows(count: int, fraction: float | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows): a seeded ``fraction`` of the rows held out
    (rounded, at least one row, at least one row left to train on)."""
    order = np.random.default_rng([seed, ROW_STREAM]).permutation(count)
    if not fraction:
        return np.arange(count), np.arange(0)
    held = min(max(1, round(fraction * count)), count - 1)
    return np.sort(order[held:]), np.sort(order[:held])


def shuffler(seed: int) -> np.random.Generator:
    """The generator of a run's epoch shuffles (one permutation per epoch, in order)."""
    return np.random.default_rng([seed, ROW_STREAM, 1])


def drawer(seed: int) -> np.random.Generator:
    """The generator of a run's per-step random draws (taken in step order)."""
    return np.random.default_rng([seed, DRAW_STREAM])


def fresh_draws(draws: list, rng: np.random.Generator) -> list:
    """New samples for the random draws of a program (shape, kind, low, high each)."""
    out = []
    for shape, kind, low, high in draws:
        if kind == "normal":
            out.append(rng.normal(low, high, size=shape))
        elif kind == "uniform":
            out.append(rng.uniform(low, high, size=shape))
        else:
            out.append(rng.gumbel(size=shape))
    return out


class BatchProgram:
    """The objective (and its gradient) over a batch of ``rows`` data rows, compiled once."""

    def __init__(self, problem, data: RowData | None, rows: int, gradient: bool):
        self.problem = problem
        self.data = data
        self.rows = rows
        self.gradient = gradient
        self._layout = [(p.offset, p.size, p.shape) for p in problem.params]
        self.recording = None
        self.tape = None

    def record(self, x: np.ndarray, columns: list) -> None:
        """Record the program at x over these rows (one array per sliced column)."""
        problem, data = self.problem, self.data
        tape = RowTape(self.rows, data.count if data is not None else self.rows)
        tables = dict(problem.tables)
        inputs = iter([tape.row_input(c) for c in columns])
        for name in data.names if data is not None else ():
            tape.whole_tables[name] = tables[name]
            value = tables[name]
            if isinstance(value, Table):
                tables[name] = Table(value.name, {c: next(inputs) for c in value.columns})
            else:
                tables[name] = next(inputs)
        values = [np.asarray(v, dtype=np.float64) for v in problem.unflatten(x).values()]
        try:
            with np.errstate(all="ignore"), gc_paused(), dop_random.draw_fresh(tape.draw_input):
                traced = trace(problem, values, tape=tape, tables=tables)
        except ShapeError as exc:
            if data is not None and exc.hint is None:
                exc.hint = (f"each step sees {self.rows} of the {data.count} rows of data "
                            f"{', '.join(data.names)}: a value with one entry per row must be "
                            "computed from them (a let), not given whole (a const)")
            raise
        if data is not None and self.rows != data.count:  # a sample of the rows
            error = row_objective_error(tape, traced.result.objective,
                                        problem.options.spans.get("batch"))
            if error is not None:
                raise error
        self.tape = tape
        self.recording = rec.record(traced, problem.sense, problem.objective_span)
        self.draws = [(tape.values[slot].shape, kind, low, high)
                      for slot, kind, low, high in tape.draws]
        extra = tuple(tape.row_inputs) + tuple(slot for slot, *_ in tape.draws)
        outputs = [self.recording.objective] + (self.recording.gradient if self.gradient
                                                else [])
        self.program = self.recording.compiled("batch", outputs, extra)
        self.outputs = len(outputs)

    def run(self, x: np.ndarray, columns: list, draws: list | None = None):
        """(f, g) over these rows at x (g None for a value-only program).

        ``draws``: samples for the program's random draws (``fresh_draws`` of
        ``self.draws``); None keeps the ones drawn when it was recorded.
        """
        inputs = [float(x[offset]) if shape == () else x[offset: offset + size].reshape(shape)
                  for offset, size, shape in self._layout]
        if self.recording is None:
            self.record(x, columns)
        if draws is None:
            draws = [self.tape.values[slot] for slot, *_ in self.tape.draws]
        result = self.program.run(inputs + list(columns) + list(draws))
        if self.recording.tape.guards and not result[self.outputs]:
            self.record(x, columns)  # a branch went the other way: record it again
            result = self.program.run(inputs + list(columns) + list(draws))
        f = float(result[0])
        if not self.gradient:
            return f, None
        pieces = result[1: self.outputs]
        g = (np.concatenate(pieces, axis=None, dtype=np.float64) if pieces
             else np.zeros(0))
        return f, g

    def step(self, x: np.ndarray, columns: list, rng: np.random.Generator):
        """(f, g) over these rows at x with fresh random draws from ``rng``."""
        if self.recording is None:
            self.record(x, columns)
        return self.run(x, columns, fresh_draws(self.draws, rng) if self.draws else None)


def check_rows(problem) -> RowData:
    """The sliced data of a problem trained over batches; a located error if it has none."""
    data = row_data(problem.tables)
    if data is None or data.count < 2:
        span = problem.options.spans.get("batch") or problem.options.spans.get("method")
        raise DopError("mini-batches need data rows: this problem has no data table with "
                       "two or more rows", span,
                       hint="declare the rows with data (csv(...) or an array literal)")
    return data
