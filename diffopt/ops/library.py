"""The whole primitive library: importing this module fills REGISTRY and BUILTINS.

Each ops module registers its primitives and built-ins when imported; this
module imports them all (core first) and adds the built-ins that expose core
primitives under a language name (``where``). Arithmetic operators are
syntax, not built-ins: the evaluator binds ``add``, ``sub``, ``mul``, ``div``,
``neg``, ``pow``, ``mod``, ``floordiv``, ``matmul`` and the comparisons
directly from REGISTRY.

Must not import the front end, the CLI or Rich.
"""

from __future__ import annotations

from diffopt.ops import (  # noqa: F401  (imported for their registrations)
    core,
    elementwise,
    estimators,
    extrema,
    implicit,
    linalg,
    random,
    reduce,
    relax,
    structure,
)
from diffopt.ops.random import set_seed
from diffopt.ops.registry import BUILTINS, CONSTANTS, REGISTRY, builtin

builtin("where", core.select, positional=("c", "a", "b"),
        doc="where(c, a, b): a where c holds, else b, elementwise; no leak from the other side")

__all__ = ["BUILTINS", "CONSTANTS", "REGISTRY", "set_seed"]
