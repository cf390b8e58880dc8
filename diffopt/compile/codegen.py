"""Compiling a tape: straight-line Python/NumPy source, compiled once.

``compile_outputs`` generates source for the equations the requested outputs
need (dead code dropped) and compiles it once; evaluation never walks Python
objects per node. All-scalar stretches run as Python float arithmetic from
the primitives' ``scalar`` templates; above SOURCE_LIMIT equations a flat
instruction list runs instead of generated source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from diffopt.compile.buffers import BufferPlan, BufferPool, plan_buffers, with_buffers
from diffopt.compile.fusion import fuse_reductions
from diffopt.compile.kernel import build_region
from diffopt.compile.regions import fuse_regions
from diffopt.ir.tape import Tape, live_equations
from diffopt.ops.registry import Prim, as_array


@dataclass(frozen=True)
class Compiled:
    """A straight-line function of the input slots returning chosen slots."""

    run: object  # (list of input arrays) -> tuple of output arrays
    source: str
    n_eqns: int



def compile_outputs(tape: Tape, outputs: list, guards: list | None = None,
                    pool: BufferPool | None = None, inputs: list | None = None) -> Compiled:
    """Compile the computation of ``outputs`` (slots or constants) from the inputs.

    With ``guards`` (a list of Guard), the function returns one more value:
    True when every recorded branch decision still holds at the new point.
    ``inputs``: the slots the function takes, in order (default: the tape's
    parameters; forward mode adds tangent placeholders). ``pool`` shares
    reused buffers between the programs of one recording (they run one at a
    time); by default the program gets its own.

    Generates one Python function of straight-line NumPy calls, e.g.::

        def run(inputs, K, F, B):
            s0, s1 = inputs
            s4 = F[0](s0, K[0], out=B[0])
            s5 = F[1](s4)
            return (s5,)

    Large elementwise results are written into buffers ``B`` reused from run
    to run (see ``compile.buffers``); large temporaries are released at their
    last use.
    """
    guards = guards or []
    inputs = list(tape.inputs) if inputs is None else list(inputs)
    pool = pool if pool is not None else BufferPool()
    slots = [o for o in outputs if isinstance(o, int)] + [g.slot for g in guards]
    order = live_equations(tape, slots)
    if len(order) > SOURCE_LIMIT:
        return _instruction_program(tape, order, outputs, guards, inputs)
    program = fuse_reductions(tape, [tape.eqns[i] for i in order], set(slots))
    program = fuse_regions(tape, program, set(slots), lambda r: build_region(r, tape.values))
    plan = plan_buffers(tape, program, set(slots))
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
    if inputs:
        names = ", ".join(f"s{s}" for s in inputs)
        lines.append(f"    {names}{',' if len(inputs) == 1 else ''} = inputs")
        # a scalar parameter may come as a Python float (the scalar path's
        # form): the NumPy implementations want an array scalar
        scalars = [s for s in inputs if tape.values[s].shape == ()]
        if scalars:
            converted = ", ".join(f"_f64(s{s})" for s in scalars)
            lines.append(f"    {', '.join(f's{s}' for s in scalars)}"
                         f"{',' if len(scalars) == 1 else ''} = {converted}"
                         f"{',' if len(scalars) == 1 else ''}")
    for position, eqn in enumerate(program):
        fn = eqn.prim.impl
        if eqn.params:
            fn = _bind_params(fn, eqn.params)
        functions.append(fn)
        args = ", ".join(f"s{a}" if isinstance(a, int) else const_ref(a) for a in eqn.args)
        call = f"F[{len(functions) - 1}]({args}{plan.out_arg(eqn.out)})"
        lines.append(f"    {_targets(eqn)} = {call}")
        lines.extend(plan.release_lines(position))
    returned = [f"s{o}" if isinstance(o, int) else const_ref(as_array(o)) for o in outputs]
    if guards:
        returned.append(_guard_expression(guards))
    lines.append(f"    return ({', '.join(returned)}{',' if len(returned) == 1 else ''})")
    source = "\n".join(lines) + "\n"
    fast = _scalar_program(tape, program, outputs, functions, const_ref, guards, plan, inputs)
    frozen_constants = tuple(constants)  # const_ref may have added some
    frozen_functions = tuple(functions)
    numpy_program: list = []  # compiled on first use: the fast path rarely needs it

    def run_numpy(inputs, buffers):
        if not numpy_program:
            namespace: dict = {"_f64": np.float64}
            exec(compile(source, "<diffopt tape>", "exec"), namespace)
            numpy_program.append(namespace["run"])
        with np.errstate(all="ignore"):
            return numpy_program[0](inputs, frozen_constants, frozen_functions, buffers)

    if fast is None:
        return Compiled(with_buffers(run_numpy, plan.shapes, pool), source, len(program))
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

    return Compiled(with_buffers(run_fast, plan.shapes, pool), fast_source, len(program))



def _targets(eqn) -> str:
    """What a line assigns: ``s4``, or ``s4, s9,`` for a fused region's results."""
    outs = getattr(eqn, "outs", None)
    if outs is None:
        return f"s{eqn.out}"
    return "".join(f"s{o}, " for o in outs).rstrip()


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
                    guards, plan: BufferPlan, inputs: list):
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
    for position, slot in enumerate(inputs):
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
            lines.append(f"    {_targets(eqn)} = F[{position}]({args}{plan.out_arg(eqn.out)})")
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


def _instruction_program(tape: Tape, order: list[int], outputs: list, guards,
                         input_slots: list) -> Compiled:
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
    inputs_slots = list(input_slots)
    returned = [o if isinstance(o, int) else as_array(o) for o in outputs]

    def run(inputs):
        storage = [None] * size + constants
        for slot, value in zip(inputs_slots, inputs):
            storage[slot] = value if value.__class__ is not float else np.float64(value)
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


