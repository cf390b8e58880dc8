"""How the export back ends (diffopt.export) write one primitive: its ``ExportRule``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ExportRule:
    """How the export back ends (diffopt.export) write one primitive.

    Attributes:
        expr: a template over the array module ``xp`` (NumPy or jax.numpy),
            with ``{0}``, ``{1}``, ... for the arguments' source (names or
            scalar literals) and ``{name}`` for a static parameter (its repr):
            ``"xp.sin({0})"``. Or a callable ``(*argument sources, **params)
            -> source`` where the text depends on the parameters (an index
            spec, an optional axis, a variadic argument list). The expression
            must equal ``impl`` (tests/test_export.py checks it on the
            domain) and must not write into its arguments (jax arrays are
            immutable; the module's ``_set_at(x, index, value)`` is the
            functional update).
        helpers: source of module-level functions the expression calls,
            emitted once per module: one string for both targets, or a dict
            target ("numpy", "jax") -> string.
    """

    expr: str | Callable[..., str]
    helpers: str | dict = ""

    def source(self, args: list[str], params: dict) -> str:
        if callable(self.expr):
            return self.expr(*args, **params)
        return self.expr.format(*args, **{k: repr(v) for k, v in params.items()})

    def helper_source(self, target: str) -> str:
        if isinstance(self.helpers, dict):
            return self.helpers.get(target, "")
        return self.helpers
