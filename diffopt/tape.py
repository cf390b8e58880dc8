"""The tape: a flat, topologically ordered program of primitive equations.

Tracing a .dop program at a point records every primitive applied to
parameter-dependent values (``Tape.record``, called by ``registry.bind``):
values that do not depend on parameters are computed once and stay
constants. Equal equations are merged as they are recorded (common
subexpressions, keyed on primitive, inputs and static parameters).

Over a tape this module provides every interpretation the engine needs:

* ``stage_gradient``: reverse mode. Walks the equations backwards and applies
  each primitive's staged VJP rule, which records the adjoint computation on
  the same tape. The gradient is then just more equations.
* ``compile_outputs``: generates straight-line Python/NumPy source for the
  equations the requested outputs need (dead code dropped) and compiles it
  once; evaluation never walks Python objects per node. A full sum of an
  elementwise product becomes one dot product (``_fuse_reductions``), and
  large elementwise results go into buffers reused from run to run
  (``_plan_buffers``): array programs touch each element as few times as
  they can and allocate nothing per run.
* ``forward``: forward mode (dual numbers with a batch of k tangent
  directions) by the primitives' JVP rules. Over a tape that includes the
  staged gradient it gives Hessian-vector products and dense Hessians.
* ``first_nonfinite``: NaN/inf provenance, replaying equation by equation to
  name the first primitive (and its span) whose output stopped being finite.

Branch decisions taken while tracing are ``guards`` (a condition's slot and
the value it had); a compiled tape is reused while every guard holds.
Loops, sweeps and liveness are iterative: a 10^6-equation tape works.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from diffopt.ops.registry import Prim, Var, as_array
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
    _cse: dict = field(default_factory=dict)
    _constants: list = field(default_factory=list)  # keeps constant ids unique
    _live: dict = field(default_factory=dict)  # outputs -> live equation order (cache)
    buffers: BufferPool = field(default_factory=lambda: BufferPool())  # for compiled runs

    # ------------------------------------------------------------- recording

    def new_input(self, value: np.ndarray) -> Var:
        slot = len(self.values)
        self.values.append(as_array(value))
        self.producer.append(-1)
        self.inputs.append(slot)
        return Var(self, slot, self.values[slot])

    def record(self, p: Prim, args: tuple, params: dict) -> Var:
        # The hottest function of tracing (once per primitive applied to a
        # traced value): plain loops and direct construction, no helpers.
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
        p.shape(*[c.shape for c in concrete], **params)
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


# --------------------------------------------------------------- reverse mode


def stage_gradient(tape: Tape, output: Var | np.ndarray, wrt: list[int]) -> list:
    """Record d output / d wrt on ``tape``; returns one adjoint per slot in ``wrt``.

    Each adjoint is a Var (computed by recorded equations) or a constant array
    (when the derivative does not depend on the parameters, e.g. zero).
    """
    if not isinstance(output, Var):
        return [np.zeros_like(tape.values[s]) for s in wrt]
    return stage_vjp(tape, output, np.ones_like(output.value), wrt)


def stage_vjp(tape: Tape, output: Var, seed, wrt: list[int], stop=()) -> list:
    """Record seedᵀ · d output / d wrt on the tape; one adjoint per ``wrt`` slot.

    ``seed`` may be a Var (a cotangent that is itself traced) or an array.
    Only equations recorded after the earliest ``wrt`` slot can depend on it,
    so the sweep starts there. Slots in ``stop`` are leaves: the sweep does
    not differentiate through the equations that produced them (implicit
    functions hold x* fixed to take ∂g/∂θ).

    A slot's adjoint contributions are collected and added when the sweep
    reaches the slot (``_total_adjoint``), so n equal contributions cost one
    product: a loop that adds the same increment every step (``px += vx·dt``)
    gets ``n·ḡ`` instead of a chain of n additions.
    """
    adjoint: dict[int, list] = {output.id: [seed]}
    end = len(tape.eqns)
    start = min((tape.producer[s] + 1 for s in wrt), default=0) if wrt else end
    stop = set(stop)
    saved_span, saved_mode, saved_origin = tape.span, tape.mode, tape.origin
    tape.mode = "reverse"
    eqns, values = tape.eqns, tape.values
    try:
        for index in range(end - 1, start - 1, -1):
            eqn = eqns[index]
            out = eqn.out
            if out in stop:
                continue
            parts = adjoint.pop(out, None)
            if parts is None:
                continue
            p = eqn.prim
            if p.nondiff:
                continue
            # the adjoint's additions belong to this equation's sweep step
            tape.span, tape.origin = eqn.span, eqn.origin or p.name
            g = parts[0] if len(parts) == 1 else _total_adjoint(parts)
            args = eqn.args
            inputs = [Var(tape, a, values[a]) if a.__class__ is int else a for a in args]
            grads = p.vjp(g, inputs, Var(tape, out, values[out]), **eqn.params)
            for a, ga in zip(args, grads):
                if ga is None or a.__class__ is not int:
                    continue
                parts = adjoint.get(a)
                if parts is None:
                    adjoint[a] = [ga]
                else:
                    parts.append(ga)
        # the wrt slots' adjoints are totalled in the span of the last
        # equation swept (the earliest one that uses them)
        return [_total_adjoint(adjoint[s]) if s in adjoint else np.zeros_like(values[s])
                for s in wrt]
    finally:
        tape.span, tape.mode, tape.origin = saved_span, saved_mode, saved_origin


def _total_adjoint(parts: list):
    """The sum of a slot's adjoint contributions, in the order they came.

    Equal contributions (the same traced slot, or the same constant object)
    are counted and scaled once: Σ of n copies of ḡ is n·ḡ. Without repeats
    this is the left-to-right sum the sweep always made.
    """
    if len(parts) == 1:
        return parts[0]
    groups: dict = {}
    for part in parts:
        key = part.id if part.__class__ is Var else ("constant", id(part))
        group = groups.get(key)
        if group is None:
            groups[key] = [part, 1]
        else:
            group[1] += 1
    total = None
    for part, count in groups.values():
        term = part if count == 1 else float(count) * part
        total = term if total is None else total + term
    return total


# --------------------------------------------------------- staged forward mode


def stage_jvp(tape: Tape, seeds: dict, outputs: list, stop=()) -> list:
    """Record the tangents of ``outputs`` given tangents of some slots.

    Forward mode staged on the tape, one direction at a time (tangents have
    their primal's shape, so scalar programs stay on the compiled scalar
    path): elementwise primitives combine their ``d`` partials, linear ones
    apply themselves to the tangents, ``fjvp`` primitives use their staged
    rule and the rest call their numeric ``jvp`` at run time. A tangent that
    is a constant zero is pruned, so constant one-hot seeds fold away.
    Slots in ``stop`` are leaves (implicit functions hold x* fixed).

    Returns one tangent per output (a Var, or a constant array).
    """
    from diffopt.ops.registry import REGISTRY, broadcast_to, scale_cotangent, shape_of

    tangent = {s: t for s, t in seeds.items() if not _is_zero(t)}
    order = live_equations(tape, [o for o in outputs if isinstance(o, int)])
    saved = tape.span, tape.mode, tape.origin
    tape.mode = "forward"
    try:
        for index in order:
            eqn = tape.eqns[index]
            if eqn.out in stop:
                continue
            ts = [tangent.get(a) if isinstance(a, int) else None for a in eqn.args]
            if eqn.prim.nondiff or all(t is None for t in ts):
                continue
            p = eqn.prim
            inputs = [tape.var(a) if isinstance(a, int) else a for a in eqn.args]
            out = tape.var(eqn.out)
            tape.span, tape.origin = eqn.span, p.name
            if p.d is not None:
                t = None
                for d_i, t_i in zip(p.d, ts):
                    if d_i is None or t_i is None:
                        continue
                    term = scale_cotangent(t_i, d_i(*inputs, out, **eqn.params))
                    if term is not None:
                        t = term if t is None else t + term
                if t is not None:
                    t = broadcast_to(t, out.shape)
            elif p.linear:
                t = p(*(np.zeros(shape_of(x)) if t_i is None else t_i
                        for t_i, x in zip(ts, inputs)), **eqn.params)
            elif p.fjvp is not None:
                t = p.fjvp(ts, inputs, out, **eqn.params)
            else:
                mask = tuple(t_i is not None for t_i in ts)
                t = REGISTRY["jvp_call"](*inputs, out, *(t_i for t_i in ts if t_i is not None),
                                         prim=p, params=eqn.params, mask=mask)
            if t is not None and not _is_zero(t):
                tangent[eqn.out] = t
    finally:
        tape.span, tape.mode, tape.origin = saved
    return [tangent.get(o, np.zeros_like(tape.values[o])) if isinstance(o, int)
            else np.zeros_like(as_array(o)) for o in outputs]


def _is_zero(t) -> bool:
    return not isinstance(t, Var) and not np.any(np.asarray(t))


# ------------------------------------------------------------------ compiling


@dataclass(frozen=True)
class Compiled:
    """A straight-line function of the input slots returning chosen slots."""

    run: object  # (list of input arrays) -> tuple of output arrays
    source: str
    n_eqns: int


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


def compile_outputs(tape: Tape, outputs: list, guards: list | None = None) -> Compiled:
    """Compile the computation of ``outputs`` (slots or constants) from the inputs.

    With ``guards`` (a list of Guard), the function returns one more value:
    True when every recorded branch decision still holds at the new point.

    Generates one Python function of straight-line NumPy calls, e.g.::

        def run(inputs, K, F, B):
            s0, s1 = inputs
            s4 = F[0](s0, K[0], out=B[0])
            s5 = F[1](s4)
            return (s5,)

    Large elementwise results are written into buffers ``B`` reused from run
    to run (see ``_plan_buffers``); large temporaries are released at their
    last use.
    """
    guards = guards or []
    slots = [o for o in outputs if isinstance(o, int)] + [g.slot for g in guards]
    order = live_equations(tape, slots)
    if len(order) > SOURCE_LIMIT:
        return _instruction_program(tape, order, outputs, guards)
    program = _fuse_reductions(tape, [tape.eqns[i] for i in order], set(slots))
    plan = _plan_buffers(tape, program, set(slots))
    functions: list = []
    constants: list = []
    const_index: dict[int, int] = {}

    def const_ref(c):
        k = const_index.get(id(c))
        if k is None:
            k = len(constants)
            constants.append(c)
            const_index[id(c)] = k
        return f"K[{k}]"

    lines = ["def run(inputs, K, F, B):"]
    if tape.inputs:
        names = ", ".join(f"s{s}" for s in tape.inputs)
        lines.append(f"    {names}{',' if len(tape.inputs) == 1 else ''} = inputs")
    for position, eqn in enumerate(program):
        fn = eqn.prim.impl
        if eqn.params:
            fn = _bind_params(fn, eqn.params)
        functions.append(fn)
        args = ", ".join(f"s{a}" if isinstance(a, int) else const_ref(a) for a in eqn.args)
        lines.append(f"    s{eqn.out} = F[{len(functions) - 1}]({args}{plan.out_arg(eqn.out)})")
        lines.extend(plan.release_lines(position))
    returned = [f"s{o}" if isinstance(o, int) else const_ref(as_array(o)) for o in outputs]
    if guards:
        returned.append(_guard_expression(guards))
    lines.append(f"    return ({', '.join(returned)}{',' if len(returned) == 1 else ''})")
    source = "\n".join(lines) + "\n"
    fast = _scalar_program(tape, program, outputs, functions, const_ref, guards, plan)
    frozen_constants = tuple(constants)  # const_ref may have added some
    frozen_functions = tuple(functions)
    numpy_program: list = []  # compiled on first use: the fast path rarely needs it

    def run_numpy(inputs, buffers):
        if not numpy_program:
            namespace: dict = {}
            exec(compile(source, "<diffopt tape>", "exec"), namespace)
            numpy_program.append(namespace["run"])
        with np.errstate(all="ignore"):
            return numpy_program[0](inputs, frozen_constants, frozen_functions, buffers)

    if fast is None:
        return Compiled(_with_buffers(run_numpy, plan.shapes, tape), source, len(program))
    fast_fn, fast_source = fast
    calls_numpy = "F[" in fast_source

    def run_fast(inputs, buffers):
        try:
            if calls_numpy:
                with np.errstate(all="ignore"):
                    return fast_fn(inputs, frozen_constants, frozen_functions, buffers)
            return fast_fn(inputs, frozen_constants, frozen_functions, buffers)
        except (ArithmeticError, ValueError):
            # a float operation hit a pole or left its domain: NumPy's
            # inf/NaN semantics are the language's, so run that version
            return run_numpy(inputs, buffers)

    return Compiled(_with_buffers(run_fast, plan.shapes, tape), fast_source, len(program))


# ------------------------------------------------------- reduction fusion
#
# sum(x^2), sum(a*b) and the reverse sweep's sum_to(dmul(ḡ, d), ()) are a
# product followed by a full reduction: as one dot product they make one pass
# over their inputs and allocate no temporary. These kernels exist only in
# compiled code; the tape keeps the two equations (for derivatives,
# provenance and the checker).


def _sum_of_squares(x):
    flat = x.reshape(-1)
    return np.dot(flat, flat)


def _sum_of_products(a, b, scale_a, scale_b):
    return (scale_a * scale_b) * np.dot(a.reshape(-1), b.reshape(-1))


def _sum_of_safe_products(g, d, scale_g, scale_d):
    total = (scale_g * scale_d) * np.dot(g.reshape(-1), d.reshape(-1))
    if math.isfinite(total):  # every product finite: dmul is the plain product
        return total
    # an inf/NaN somewhere: 0 · inf must stay 0 where the cotangent is 0
    from diffopt.ops.registry import REGISTRY

    return np.add.reduce(REGISTRY["dmul"].impl(g * scale_g, d * scale_d), axis=None)


def _fused(name: str, impl) -> Prim:
    # a compiler kernel, not a language primitive: only its value is used
    return Prim(name, impl, shape=lambda *shapes: (), nargs=-1, fresh=True)


_FUSED = {
    "square": _fused("sum_of_squares", _sum_of_squares),
    "mul": _fused("sum_of_products", _sum_of_products),
    "dmul": _fused("sum_of_safe_products", _sum_of_safe_products),
}


def _fuse_reductions(tape: Tape, program: list, kept: set) -> list:
    """Replace a full sum of an elementwise product by one dot product.

    sum(x^2) → x·x; sum(a*b) and sum_to(dmul(a, b), ()) → a·b, with scalar
    factors of a and b (c·a) pulled out of the sum. Every equation folded
    into the dot must be used only there.
    """
    values = tape.values
    uses: dict[int, int] = {}
    for eqn in program:
        for a in eqn.args:
            if isinstance(a, int):
                uses[a] = uses.get(a, 0) + 1
    producer_of = {eqn.out: eqn for eqn in program}

    def private(slot):
        """The equation producing ``slot`` if only one equation reads it."""
        if not isinstance(slot, int) or uses.get(slot) != 1 or slot in kept:
            return None
        eqn = producer_of.get(slot)
        return eqn if eqn is not None and not eqn.params else None

    def scalar_factor(slot, shape):
        """(x, c, eqn) when ``slot`` is c · x with a scalar c and x of ``shape``."""
        eqn = private(slot)
        if eqn is None or eqn.prim.name != "mul":
            return None
        for x, c in (eqn.args, eqn.args[::-1]):
            x_shape = values[x].shape if isinstance(x, int) else np.shape(x)
            c_ndim = values[c].ndim if isinstance(c, int) else np.ndim(c)
            if c_ndim == 0 and x_shape == shape:
                return x, c, eqn
        return None

    fused_away: set[int] = set()
    replaced: dict[int, Eqn] = {}
    for eqn in program:
        name = eqn.prim.name
        if not ((name == "sum" and eqn.params.get("axis") is None)
                or (name == "sum_to" and tuple(eqn.params.get("shape", (0,))) == ())):
            continue
        (slot,) = eqn.args
        inner = private(slot)
        if inner is None or values[slot].ndim == 0 or values[slot].dtype != np.float64:
            continue
        shape = values[slot].shape
        if len(inner.args) != 2:
            continue
        a, b = inner.args
        shapes = [values[x].shape if isinstance(x, int) else np.shape(x) for x in (a, b)]
        if inner.prim.name == "pow" and not isinstance(b, int) and np.ndim(b) == 0 and b == 2.0:
            kernel, args = _FUSED["square"], (a,)
        elif inner.prim.name in ("mul", "dmul") and shapes[0] == shapes[1] == shape:
            operands, scales = [], []
            for operand in (a, b):
                factored = scalar_factor(operand, shape)
                if factored is None:
                    operands.append(operand)
                    scales.append(1.0)
                else:
                    operands.append(factored[0])
                    scales.append(factored[1])
                    fused_away.add(factored[2].out)
            kernel, args = _FUSED[inner.prim.name], (*operands, *scales)
        else:
            continue
        fused_away.add(inner.out)
        replaced[eqn.out] = Eqn(kernel, args, {}, eqn.out, eqn.span, eqn.mode, eqn.origin)
    if not replaced:
        return program
    return [replaced.get(eqn.out, eqn) for eqn in program if eqn.out not in fused_away]


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


def _plan_buffers(tape: Tape, program: list, kept: set) -> BufferPlan:
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


def _with_buffers(core, shapes: tuple, tape: Tape):
    """``core(inputs, buffers)`` as ``run(inputs)``, with the tape's pooled buffers."""
    if not shapes:
        return lambda inputs: core(inputs, ())
    pool = tape.buffers
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


def _scalar_literal(c) -> str:
    value = float(c)
    if value != value:
        return "_nan"
    if value in (float("inf"), float("-inf")):
        return "_inf" if value > 0 else "(-_inf)"
    return repr(value)


def _guard_expression(guards, floats: bool = False, bools=frozenset()) -> str:
    """One boolean: every recorded branch decision holds (conditions are 0/1).

    ``floats``: every guard slot holds a Python float or bool, whose
    comparison is already a bool; otherwise NumPy's is converted. Slots in
    ``bools`` hold the condition itself as a Python bool.
    """
    wrap = "({})" if floats else "bool({})"
    terms = []
    for g in guards:
        if g.slot in bools:
            terms.append(f"s{g.slot}" if g.taken else f"(not s{g.slot})")
        else:
            terms.append(wrap.format(f"s{g.slot} != 0.0" if g.taken else f"s{g.slot} == 0.0"))
    return "(" + " and ".join(terms) + ")"


def _condition_template(p: Prim) -> str | None:
    """The bare condition of a comparison's scalar template, ``(1.0 if C else 0.0)`` → C."""
    template = p.scalar
    if p.boolean and template.startswith("(1.0 if ") and template.endswith(" else 0.0)"):
        return template[len("(1.0 if "):-len(" else 0.0)")]
    return None


def _scalar_program(tape: Tape, program: list, outputs: list, functions: list, const_ref,
                    guards, plan: BufferPlan):
    """Python-float code for the all-scalar equations; None if there are none.

    Scalar equations whose primitive has a ``scalar`` template become inline
    float arithmetic (tens of nanoseconds instead of a NumPy call on a 0-d
    array); everything else calls the same functions as the NumPy version,
    with scalars handed over as np.float64.
    """
    values = tape.values
    templated = [
        position for position, eqn in enumerate(program)
        if eqn.prim.scalar and not eqn.params
        and values[eqn.out].shape == ()
        and all(values[a].shape == () if isinstance(a, int) else np.ndim(a) == 0
                for a in eqn.args)
    ]
    if len(templated) < max(1, len(program) // 4):
        return None
    templated_set = set(templated)
    floats: set[int] = set()
    # A condition read only by guards (an `if` on a traced value) is kept as
    # the comparison's bool: no 1.0/0.0 float made just to be compared again.
    read = {a for eqn in program for a in eqn.args if isinstance(a, int)}
    read.update(o for o in outputs if isinstance(o, int))
    bools: set[int] = set()
    lines = ["def run(inputs, K, F, B):"]
    for position, slot in enumerate(tape.inputs):
        if values[slot].shape == ():
            lines.append(f"    s{slot} = _float(inputs[{position}])")
            floats.add(slot)
        else:
            lines.append(f"    s{slot} = inputs[{position}]")
    for position, eqn in enumerate(program):
        if position in templated_set:
            args = [f"s{a}" if isinstance(a, int) else _scalar_literal(a) for a in eqn.args]
            condition = _condition_template(eqn.prim) if eqn.out not in read else None
            if condition is not None:
                lines.append(f"    s{eqn.out} = ({condition.format(*args)})")
                bools.add(eqn.out)
            else:
                lines.append(f"    s{eqn.out} = {eqn.prim.scalar.format(*args)}")
                floats.add(eqn.out)
        else:
            args = ", ".join(
                (f"_f64(s{a})" if a in floats else f"s{a}") if isinstance(a, int)
                else const_ref(a) for a in eqn.args
            )
            lines.append(f"    s{eqn.out} = F[{position}]({args}{plan.out_arg(eqn.out)})")
        lines.extend(plan.release_lines(position))
    returned = [f"s{o}" if isinstance(o, int) else const_ref(as_array(o)) for o in outputs]
    if guards:
        returned.append(_guard_expression(guards, all(g.slot in floats or g.slot in bools
                                                      for g in guards), bools))
    lines.append(f"    return ({', '.join(returned)}{',' if len(returned) == 1 else ''})")
    source = "\n".join(lines) + "\n"
    namespace = {"_m": math, "_float": float, "_f64": np.float64, "_inf": math.inf,
                 "_nan": math.nan}
    exec(compile(source, "<diffopt scalar tape>", "exec"), namespace)
    return namespace["run"], source


# Above this many equations, generating and compiling Python source costs more
# (tens of µs a line) than it saves; a flat instruction list runs instead.
SOURCE_LIMIT = 20_000


def _instruction_program(tape: Tape, order: list[int], outputs: list, guards) -> Compiled:
    """The same computation as a flat list of (function, out, args) over slot storage."""
    size = len(tape.values)
    constants: list = []
    instructions = []
    for index in order:
        eqn = tape.eqns[index]
        fn = _bind_params(eqn.prim.impl, eqn.params) if eqn.params else eqn.prim.impl
        args = []
        for a in eqn.args:
            if isinstance(a, int):
                args.append(a)
            else:
                constants.append(a)
                args.append(size + len(constants) - 1)
        instructions.append((fn, eqn.out, tuple(args)))
    inputs_slots = list(tape.inputs)
    returned = [o if isinstance(o, int) else as_array(o) for o in outputs]

    def run(inputs):
        storage = [None] * size + constants
        for slot, value in zip(inputs_slots, inputs):
            storage[slot] = value
        with np.errstate(all="ignore"):
            for fn, out, args in instructions:
                storage[out] = fn(*[storage[a] for a in args])
        result = tuple(storage[o] if isinstance(o, int) else o for o in returned)
        if guards:
            holds = all(bool(np.all(storage[g.slot] != 0)) == g.taken for g in guards)
            result = result + (holds,)
        return result

    return Compiled(run, f"<{len(instructions)} instructions>", len(instructions))


def _bind_params(fn, params):
    def bound(*args):
        return fn(*args, **params)

    return bound


# ---------------------------------------------------------------- forward mode


def forward(
    tape: Tape,
    inputs: list[np.ndarray],
    tangents: list[np.ndarray | None],
    outputs: list,
    k: int,
    watch: list | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Values and batched tangents of ``outputs`` by the primitives' JVP rules.

    Args:
        inputs: one array per tape input slot.
        tangents: per input, None or an array of shape (k,) + input.shape.
        outputs: slots (or constants) wanted.
        k: number of tangent directions carried together.
        watch: if a list, the first equation whose tangent stops being finite
            (from finite tangents) is appended to it as a NonFinite.

    Returns:
        (values, tangents), tangents of shape (k,) + value.shape.
    """
    slots = [o for o in outputs if isinstance(o, int)]
    values: dict[int, np.ndarray] = {}
    dots: dict[int, np.ndarray] = {}
    for slot, value, tangent in zip(tape.inputs, inputs, tangents):
        values[slot] = as_array(value)
        if tangent is not None:
            dots[slot] = tangent
    with np.errstate(all="ignore"):
        for index in live_equations(tape, slots):
            eqn = tape.eqns[index]
            args = [values[a] if isinstance(a, int) else a for a in eqn.args]
            out = as_array(eqn.prim.impl(*args, **eqn.params))
            values[eqn.out] = out
            arg_dots = [dots.get(a) if isinstance(a, int) else None for a in eqn.args]
            if eqn.prim.nondiff or all(t is None for t in arg_dots):
                continue
            t = eqn.prim.jvp(arg_dots, args, out, **eqn.params)
            if t is not None:
                t = dots[eqn.out] = np.asarray(t, dtype=np.float64)
                if watch is not None and not watch and not np.all(np.isfinite(t)) and all(
                    d is None or np.all(np.isfinite(d)) for d in arg_dots
                ):
                    kind = "NaN" if np.any(np.isnan(t)) else "inf"
                    watch.append(NonFinite(eqn.prim.name, eqn.span, "forward", tuple(args),
                                           kind))
    out_values, out_dots = [], []
    for o in outputs:
        if isinstance(o, int):
            v = values[o]
            out_values.append(v)
            out_dots.append(dots.get(o, np.zeros((k,) + v.shape)))
        else:
            v = as_array(o)
            out_values.append(v)
            out_dots.append(np.zeros((k,) + v.shape))
    return out_values, out_dots


# --------------------------------------------------------------- provenance


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


def first_nonfinite(tape: Tape, inputs: list[np.ndarray], outputs: list[int]) -> NonFinite | None:
    """Replay the equations ``outputs`` need and find the first non-finite one.

    An equation is blamed when its output has a NaN/inf that its inputs did
    not (so the origin, not every place it spread to, is named).
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
                return NonFinite(eqn.prim.name, eqn.span, eqn.mode, tuple(args), kind,
                                 eqn.origin, _origin_operands(tape, eqn, values))
    return None
