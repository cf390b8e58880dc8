"""The IR: a flat, topologically ordered tape of primitive equations, with guards.

Tracing a .dop program at a point records every primitive applied to
parameter-dependent values (``Tape.record``, called by ``registry.bind``):
values that do not depend on parameters are computed once and stay
constants. Equal equations are merged as they are recorded (common
subexpressions, keyed on primitive, inputs and static parameters).

Branch decisions taken while tracing are ``guards`` (a condition's slot and
the value it had); code compiled from a tape is reused while every guard
holds. The consumers of a tape each live in their own module: reverse and
forward mode in ``diffopt.ad``, compilation in ``diffopt.compile``, NaN/inf
provenance in ``diffopt.diagnose``. Liveness is iterative: a 10^6-equation
tape works.

Must not import the front end, the AD passes or the compiler.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from diffopt import budget
from diffopt.ops.registry import Abstract, Prim, Var, as_array, shape_of
from diffopt.source import Span


@dataclass(frozen=True)
class Eqn:
    """``out = prim(*args, **params)``; an arg is a slot number or a constant."""

    prim: Prim
    args: tuple
    params: dict
    out: int
    span: Span | None
    mode: str  # "value" for the program itself, "reverse" for staged adjoints
    origin: str | None = None  # reverse mode: the primitive whose derivative this is


_FLOAT64 = np.dtype(np.float64)
_new_object = object.__new__


def _new_eqn(prim, args, params, out, span, mode, origin) -> Eqn:
    """``Eqn(...)`` without the frozen dataclass's per-field ``object.__setattr__``.

    Same object, same fields: the tape records one per traced primitive, and
    the generated ``__init__`` was a tenth of tracing.
    """
    eqn = _new_object(Eqn)
    fields = eqn.__dict__
    fields["prim"] = prim
    fields["args"] = args
    fields["params"] = params
    fields["out"] = out
    fields["span"] = span
    fields["mode"] = mode
    fields["origin"] = origin
    return eqn


@dataclass
class Guard:
    """A branch decision: slot ``slot`` held ``taken`` (truthy or not) when traced."""

    slot: int
    taken: bool
    span: Span | None


@dataclass
class Tape:
    """A recording: slots (one value each), equations, inputs and guards."""

    values: list = field(default_factory=list)
    eqns: list = field(default_factory=list)
    producer: list = field(default_factory=list)  # equation index per slot, -1 for inputs
    inputs: list = field(default_factory=list)  # slots of the parameters
    guards: list = field(default_factory=list)
    span: Span | None = None  # span given to equations recorded now
    mode: str = "value"
    origin: str | None = None  # primitive being differentiated (reverse staging)
    abstract: int = 0  # > 0 while checking a branch not taken: record nothing
    bytes_used: int = 0  # values and equations recorded so far (diffopt.budget)
    bytes_limit: int = field(default_factory=budget.limit)
    _cse: dict = field(default_factory=dict)
    _constants: list = field(default_factory=list)  # keeps constant ids unique
    _live: dict = field(default_factory=dict)  # outputs -> live equation order (cache)

    # ------------------------------------------------------------- recording

    def new_input(self, value: np.ndarray) -> Var:
        slot = len(self.values)
        self.values.append(as_array(value))
        self.producer.append(-1)
        self.inputs.append(slot)
        return Var(self, slot, self.values[slot])

    def new_slot(self, value: np.ndarray) -> Var:
        """A slot given from outside that is not a parameter (a tangent placeholder)."""
        slot = len(self.values)
        self.values.append(as_array(value))
        self.producer.append(-1)
        return Var(self, slot, self.values[slot])

    def record(self, p: Prim, args: tuple, params: dict) -> Var:
        # The hottest function of tracing (once per primitive applied to a
        # traced value): plain loops and direct construction, no helpers.
        if self.abstract:  # a speculative branch: its shapes only
            return Abstract(p.shape(*[shape_of(a) for a in args], **params))
        if self.mode != "value" and p.name == "mul":
            args = _fold_scalar_factors(self, args)
        keys = []
        plain = []
        concrete = []
        for a in args:
            if a.__class__ is Var:
                if a.tape is not self:
                    raise RuntimeError("a value from another tape reached this one")
                keys.append(a.id)
                plain.append(a.id)
                concrete.append(a.value)
            else:
                c = as_array(a)
                keys.append(_constant_key(c, self._constants))
                plain.append(c)
                concrete.append(c)
        key = (p.name, tuple(keys), _freeze(params) if params else ())
        slot = self._cse.get(key)
        values = self.values
        if slot is not None:
            return Var(self, slot, values[slot])
        size = 8
        for n in p.shape(*[c.shape for c in concrete], **params):
            size *= n
        self.bytes_used += size + budget.EQUATION_BYTES
        if self.bytes_used > self.bytes_limit:  # refused before the allocation
            budget.check_array(size // 8, f"the result of {p.name}")
            raise budget.refuse_recording(self.bytes_used)
        value = p.impl(*concrete, **params)
        if value.__class__ is not np.ndarray or value.dtype != _FLOAT64:
            value = np.asarray(value, dtype=np.float64)
        slot = len(values)
        values.append(value)
        self.producer.append(len(self.eqns))
        self.eqns.append(_new_eqn(p, tuple(plain), params, slot, self.span, self.mode,
                                  self.origin if self.mode == "reverse" else None))
        self._cse[key] = slot
        return Var(self, slot, value)

    def add_guard(self, condition: Var, span: Span | None) -> bool:
        """Record the decision a parameter-dependent condition takes here."""
        taken = bool(np.all(condition.value != 0))
        self.guards.append(Guard(condition.id, taken, span))
        return taken

    def var(self, slot: int) -> Var:
        return Var(self, slot, self.values[slot])



    @contextmanager
    def recording_as(self, span: Span | None, mode: str | None = None,
                     origin: str | None = None):
        """Equations recorded inside get this span (and mode/origin); restored after."""
        saved = self.span, self.mode, self.origin
        self.span = span
        if mode is not None:
            self.mode = mode
        self.origin = origin
        try:
            yield self
        finally:
            self.span, self.mode, self.origin = saved

def _fold_scalar_factors(tape: Tape, args: tuple) -> tuple:
    """c1 · (c2 · x) → (c1 c2) · x for scalar constants c1, c2.

    Only in staged derivatives (the user's own arithmetic is evaluated as
    written): chain-rule factors such as 1/n of a mean and the 2 of a square
    then cost one pass over x instead of two.
    """
    first, second = args
    if isinstance(first, Var) == isinstance(second, Var):
        return args
    constant, var = (second, first) if isinstance(first, Var) else (first, second)
    if np.ndim(constant) != 0:
        return args
    index = tape.producer[var.id]
    if index < 0:
        return args
    inner = tape.eqns[index]
    if inner.prim.name != "mul" or inner.params:
        return args
    a, b = inner.args
    if isinstance(a, int) == isinstance(b, int):
        return args
    inner_constant, slot = (b, a) if isinstance(a, int) else (a, b)
    if np.ndim(inner_constant) != 0:
        return args
    factor = float(constant) * float(inner_constant)
    if factor == 0.0 or not math.isfinite(factor):
        return args
    return (np.float64(factor), tape.var(slot))


def _constant_key(c: np.ndarray, keep: list):
    if c.ndim == 0:
        value = c.item()
        return ("c", value) if value == value else ("nan",)
    keep.append(c)
    return ("a", id(c))


def _freeze(params: dict):
    if not params:
        return ()
    return tuple(sorted((k, _hashable(v)) for k, v in params.items()))


def _hashable(v):
    if isinstance(v, np.ndarray):
        return ("ndarray", v.shape, v.tobytes())
    if isinstance(v, (list, tuple)):
        return tuple(_hashable(x) for x in v)
    try:
        hash(v)
    except TypeError:
        return ("id", id(v))
    return v



# ------------------------------------------------------------------ liveness


def live_equations(tape: Tape, outputs: list[int]) -> list[int]:
    """Indices of the equations needed for ``outputs``, in tape order (cached)."""
    key = (len(tape.eqns), tuple(outputs))
    cached = tape._live.get(key)
    if cached is None:
        cached = tape._live[key] = _live_equations(tape, outputs)
    return cached


def _live_equations(tape: Tape, outputs: list[int]) -> list[int]:
    needed = set()
    stack = [s for s in outputs if tape.producer[s] >= 0]
    seen = set(stack)
    while stack:
        slot = stack.pop()
        index = tape.producer[slot]
        needed.add(index)
        for a in tape.eqns[index].args:
            if isinstance(a, int) and a not in seen and tape.producer[a] >= 0:
                seen.add(a)
                stack.append(a)
    return sorted(needed)


