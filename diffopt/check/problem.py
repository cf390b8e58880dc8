"""The checked problem: what one pass over a program established, frozen.

A ``CheckedProblem`` is the parameter layout (names, shapes, bounds, start),
the objective's name, sense and span, the file's options, the loaded data
tables and the settings of the run (seed, ``--set``/``--data``). Every
command works from it; the engine pairs it with the recorded program.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from diffopt.source import Source, Span
from diffopt.syntax import ast


@dataclass(frozen=True)
class ParamSpec:
    name: str
    shape: tuple
    start: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    offset: int  # position of its first entry in the flat parameter vector
    span: Span
    # a `~ normal(a, b)` / `~ uniform(a, b)` start: (kind, a, b, stream index), else None
    draw: tuple | None = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Options:
    """The ``option`` lines of a file: name -> value, and where each was set."""

    given: Mapping = field(default_factory=dict)
    spans: Mapping = field(default_factory=dict)

    def get(self, name: str, default=None):
        return self.given.get(name, default)


@dataclass(frozen=True)
class RunSettings:
    """How a problem is run: seed and command-line overrides (``--set``, ``--data``)."""

    seed: int = 0
    sets: Mapping = field(default_factory=dict)  # name -> float64 array
    data_paths: Mapping = field(default_factory=dict)  # data name -> CSV path or "-"
    stdin_text: str | None = None  # standard input, when a table is read from it
    # the api's phase callback: reading a data file reports its phase, the
    # file's size and, on the careful CSV reader's path, rows done of the total
    progress: Callable[..., None] | None = field(default=None, compare=False)


@dataclass(frozen=True, eq=False)
class CheckedProblem:
    """A checked program, ready to evaluate, differentiate and solve."""

    source: Source
    program: ast.Program
    params: tuple
    objective_name: str | None
    sense: str
    objective_span: Span | None
    options: Options
    settings: RunSettings
    tables: Mapping  # data name -> Table or array, loaded once

    @property
    def n(self) -> int:
        return sum(p.size for p in self.params)

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def seed(self) -> int:
        return self.settings.seed

    def flatten(self, values: dict) -> np.ndarray:
        flat = np.empty(self.n)
        for p in self.params:
            flat[p.offset: p.offset + p.size] = np.broadcast_to(values[p.name], p.shape).ravel()
        return flat

    def unflatten(self, x: np.ndarray) -> dict:
        return {
            p.name: np.array(x[p.offset: p.offset + p.size]).reshape(p.shape) for p in self.params
        }

    def start_point(self) -> np.ndarray:
        return self.flatten({p.name: p.start for p in self.params})

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            self.flatten({p.name: p.lower for p in self.params}),
            self.flatten({p.name: p.upper for p in self.params}),
        )

    def param_labels(self) -> list[str]:
        """One label per flat entry: ``w`` for a scalar, ``w[0, 1]`` for an element."""
        return [label for p in self.params for label in entry_labels(p.name, p.shape)]


def entry_labels(name: str, shape: tuple) -> list[str]:
    """One label per entry of a value, row-major: ``w`` for a scalar, ``w[0, 1]``."""
    if shape == ():
        return [name]
    return [f"{name}[{', '.join(map(str, i))}]" for i in np.ndindex(*shape)]
