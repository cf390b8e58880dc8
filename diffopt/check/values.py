"""What the interpreter's scopes hold besides arrays: tables, definitions, scopes.

Plain records shared by the expression interpreter (``machine``), the
statement runner (``runner``) and implicit calls; no behaviour beyond lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diffopt.source import Span
from diffopt.syntax import ast


@dataclass
class Table:
    """A data table: named float64 columns (``trips.distance_km``)."""

    name: str
    columns: dict


@dataclass(frozen=True)
class Definition:
    """A user function (``def leg(x, v) = ...``), bound by name in the globals."""

    node: ast.Def


@dataclass
class Scope:
    """Names visible at a point; ``parent`` is the enclosing scope."""

    names: dict
    parent: Scope | None = None

    def lookup(self, name: str):
        scope = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        raise KeyError(name)

    def has(self, name: str) -> bool:
        try:
            self.lookup(name)
        except KeyError:
            return False
        return True

    def child(self, names: dict | None = None) -> Scope:
        return Scope(dict(names or {}), self)


@dataclass(frozen=True)
class ConstraintValue:
    name: str
    kind: str  # "le" (value <= 0) or "eq" (value == 0)
    value: object  # array or Var (of any shape)
    span: Span | None


@dataclass
class RunResult:
    """What one run of the program produced (Vars on the tape, or constants)."""

    objective: object = None
    objective_span: Span | None = None
    lets: dict = field(default_factory=dict)
    vars: dict = field(default_factory=dict)
    constraints: list = field(default_factory=list)
    names: dict = field(default_factory=dict)  # the top-level scope when the run ended
    notices: tuple = ()  # warnings about the program at this point (diffopt.notices)
    const_inputs: dict = field(default_factory=dict)  # const name -> its slot's Var, if asked


def is_constant(x) -> bool:
    return isinstance(x, np.ndarray)
