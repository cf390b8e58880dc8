"""NaN/inf provenance over the IR: which equation first stopped being finite."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from diffopt.ir.tape import Eqn, Tape, live_equations
from diffopt.ops.registry import as_array
from diffopt.source import Span


@dataclass(frozen=True)
class NonFinite:
    """Where a value (or tangent) first stopped being finite."""

    prim: str
    span: Span | None
    mode: str  # "value", "forward" or "reverse"
    operands: tuple
    kind: str  # "NaN" or "inf"
    origin: str | None = None  # reverse mode: the primitive being differentiated
    origin_operands: tuple = ()

    def describe(self) -> str:
        where = self.span.location if self.span is not None else "an unknown place"
        sweep = {"value": "evaluation", "forward": "forward sweep", "reverse": "reverse sweep"}
        if self.origin is not None and self.origin_operands:
            # the derivative of origin(operands) is not finite (e.g. sqrt'(0))
            shown = ", ".join(_short(x) for x in self.origin_operands)
            return (f"first {self.kind}: {sweep[self.mode]} through {self.origin} at {where}, "
                    f"{self.origin}({shown})")
        shown = ", ".join(_short(x) for x in self.operands)
        return f"first {self.kind}: {sweep[self.mode]} through {self.prim} at {where}, " \
               f"{self.prim}({shown})"


def _short(x) -> str:
    a = np.asarray(x)
    if a.ndim == 0:
        return f"{float(a):.6g}"
    flat = ", ".join(f"{v:.6g}" for v in itertools.islice(a.ravel(), 4))
    return f"[{flat}{', ...' if a.size > 4 else ''}]"


def _origin_operands(tape: Tape, eqn: Eqn, values: dict) -> tuple:
    """The operands of the primal equation a reverse-mode equation differentiates."""
    if eqn.origin is None:
        return ()
    for primal in tape.eqns:
        if primal.mode == "value" and primal.span == eqn.span and primal.prim.name == eqn.origin:
            return tuple(values.get(a, tape.values[a]) if isinstance(a, int) else a
                         for a in primal.args)
    return ()


def first_nonfinite(tape: Tape, inputs: list[np.ndarray], outputs: list[int],
                    sweep: str | None = None) -> NonFinite | None:
    """Replay the equations ``outputs`` need and find the first non-finite one.

    An equation is blamed when its output has a NaN/inf that its inputs did
    not (so the origin, not every place it spread to, is named). ``sweep``
    ("forward"): the outputs are staged tangents; a derivative equation is
    then blamed on the primitive it differentiates (common subexpressions
    may have merged it with the reverse sweep's equal one).
    """
    values: dict[int, np.ndarray] = dict(zip(tape.inputs, (as_array(x) for x in inputs)))
    with np.errstate(all="ignore"):
        for index in live_equations(tape, outputs):
            eqn = tape.eqns[index]
            args = [values[a] if isinstance(a, int) else a for a in eqn.args]
            out = as_array(eqn.prim.impl(*args, **eqn.params))
            values[eqn.out] = out
            if np.all(np.isfinite(out)) or eqn.prim.nondiff and eqn.prim.boolean:
                continue
            if all(np.all(np.isfinite(a)) for a in args):
                kind = "NaN" if np.any(np.isnan(out)) else "inf"
                if sweep is not None and eqn.mode != "value":
                    primal = _origin_operands(tape, eqn, values)
                    if eqn.origin is not None and primal:
                        return NonFinite(eqn.origin, eqn.span, sweep, primal, kind)
                    return NonFinite(eqn.prim.name, eqn.span, sweep, tuple(args), kind)
                return NonFinite(eqn.prim.name, eqn.span, eqn.mode, tuple(args), kind,
                                 eqn.origin, _origin_operands(tape, eqn, values))
    return None
