"""The language's vocabulary beyond primitives: built-in signatures, special forms, constants.

``Builtin`` records (filled by ``registry.builtin``), the special forms the
interpreter evaluates itself, and the built-in constants. Nothing here
computes; the registry and the interpreter read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Builtin:
    """A function of the language: its signature and how it is computed.

    ``fn`` receives evaluated positional arguments (arrays, Vars or
    Abstracts) and keyword values (constants: Python floats or arrays), and
    returns a value through primitives. ``positional`` names the parameters,
    ``optional`` how many trailing ones may be omitted; ``keywords`` maps
    keyword names to defaults. ``variadic`` built-ins take one or more
    positional arguments. ``generator`` built-ins accept a comprehension as
    their only positional argument (it becomes a vector).
    """

    name: str
    fn: Callable
    positional: tuple[str, ...]
    keywords: dict[str, Any] = field(default_factory=dict)
    optional: int = 0
    variadic: bool = False
    generator: bool = False
    constant_args: bool = False
    doc: str = ""

    @property
    def arity(self) -> str:
        if self.variadic:
            return "1 or more"
        hi = len(self.positional)
        lo = hi - self.optional
        return str(hi) if lo == hi else f"{lo} to {hi}"


@dataclass(frozen=True)
class SpecialForm:
    """A call whose arguments are not ordinary values (a lambda, a file name),
    evaluated by the interpreter itself (diffopt.check) by the handler of its
    ``kind``: "implicit" (a closed sub-program) or "table" (a data file)."""

    kind: str
    doc: str


SPECIAL_FORMS = {
    "root": SpecialForm("implicit", "root(x: g, init=x0): the x with g(x) = 0, by the "
                                    "implicit function theorem"),
    "argmin": SpecialForm("implicit", "argmin(x: f, init=x0): a minimizer of f, "
                                      "differentiated implicitly"),
    "csv": SpecialForm("table", 'csv("file.csv"): a data table, only as the whole value of '
                                "a data declaration"),
}

# Built-in constants of the language (not redefinable).
CONSTANTS = {"pi": np.pi, "e": np.e, "inf": np.inf}
