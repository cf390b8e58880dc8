"""Straight-line source of a traced program: one line per equation.

``evaluate_source`` writes the body of the exported module's
``_evaluate(flat, with_gradient)``: the parameters unpacked from the flat
vector, the program's equations (the value part first, then, only when the
gradient is wanted, the staged reverse sweep), each as ``name = expression
# file.dop:LINE``, and every recorded branch decision as an explicit check
right after its condition is computed. Each primitive's expression comes
from its registry stanza (``Prim.export``, an ``ExportRule``); nothing here
knows about individual primitives, except those in ``SPECIAL``.

``SPECIAL`` holds the one primitive written here: ``implicit`` (``root``,
``argmin``). Its closed sub-program becomes a module-level function
``_root_17(x, *θ, with_jacobian=True) -> (flat g, ∂g/∂x)`` (named after
the call's kind and line) whose body is written by these same equation
writers, one level deeper, without branch checks (diffopt's Newton
iterations ignore the body's branches; the call promoted them to checks of
the outer program). The equation itself becomes ``x = _newton(_root_17,
init, (θ...), tol, max_iter, "f.dop:17:9: root")``, the damped Newton of
diffopt.export.newton. The derivative equations the reverse sweep recorded
around the call (the sub-program inlined, ``linsolve`` for a vector x) are
ordinary lines of ``_evaluate``.

Names: parameters keep theirs, slots that are the value of a ``let`` (or a
``var``'s final value) take the let's name, the objective its label, the
gradient pieces ``grad_<param>``; every other slot is ``t<slot>``. Names
that would clash with the module's own (``np``, ``xp``, ``flat``, ``t12``,
helpers starting with ``_``, Python keywords) get a trailing underscore.
In a body's function, ``t<slot>`` numbers the sub-program's own slots (they
are locals); the unknown is ``x`` (or ``x_``, ... clear of every module-level
name), and each θ keeps its outer name, or is ``theta<i>`` if it has none.

Must not import the CLI or Rich.
"""

from __future__ import annotations

import builtins
import keyword
import math
import re
import unicodedata
from pathlib import Path

import numpy as np

from diffopt.errors import UsageError
from diffopt.export.traced import TracedProgram, live_lines

# Names the generated module defines or imports: user names never take them.
RESERVED = {
    "np", "xp", "jax", "math", "flat", "with_gradient", "PARAMS", "START", "TRACED_AT",
    "SOURCE", "TARGET", "N", "PathError", "value", "gradient", "value_and_grad", "unflatten",
    "load_data", "with_jacobian",
}
_GENERATED = re.compile(r"(t|K)\d+$")
COMMENT_COLUMN = 60  # equations' source comments line up here (when the code is shorter)


# ------------------------------------------------------------------ names


class Names:
    """Python identifiers for user names: valid, distinct, and clear of ours."""

    def __init__(self):
        self.taken: set[str] = set()

    def claim(self, wanted: str) -> str:
        """A module-wide name for ``wanted``, distinct from every other claimed one."""
        name = self.fresh(wanted)
        self.taken.add(unicodedata.normalize("NFKC", name))
        return name

    def fresh(self, wanted: str, avoid=()) -> str:
        """A name clear of every claimed one and of ``avoid``, not claimed: for a local."""
        name = wanted if wanted.isidentifier() else re.sub(r"\W", "_", wanted)
        if not name or name[0].isdigit():
            name = "v_" + name
        while (keyword.iskeyword(name) or name in RESERVED or name.startswith("_")
               or _GENERATED.match(name) or hasattr(builtins, name)
               or unicodedata.normalize("NFKC", name) in self.taken or name in avoid):
            name = name + "_" if not name.startswith("_") else "v" + name
        return name


def slot_names(program: TracedProgram, params: list, objective_name: str | None,
               names: Names) -> dict[int, str]:
    """The name of every slot that has one (parameters, lets, objective, gradient)."""
    named: dict[int, str] = {}
    for spec, slot in zip(params, program.inputs, strict=True):
        named[slot] = names.claim(spec.name)
    for name, slot in program.lets.items():
        if isinstance(slot, int) and slot not in named:
            named[slot] = names.claim(name)
    if isinstance(program.objective, int) and program.objective not in named:
        named[program.objective] = names.claim(objective_name or "objective")
    for spec, slot in zip(params, program.gradient, strict=True):
        if isinstance(slot, int) and slot not in named:
            named[slot] = names.claim(f"grad_{spec.name}")
    return named


# ------------------------------------------------------------------ literals


def scalar_literal(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return "xp.nan"
    if math.isinf(value):
        return "xp.inf" if value > 0 else "(-xp.inf)"
    return repr(value)


class ConstantPool:
    """Module-level names of the non-scalar constants the equations read.

    ``known`` maps ``id(array)`` to a preferred name (a data column, a let);
    the others are ``K0``, ``K1``, ... in order of first use.
    """

    def __init__(self, known: dict[int, str]):
        self.known = known
        self.used: dict[int, tuple[str, np.ndarray, str]] = {}  # id -> (name, array, first use)

    def ref(self, c, where: str = "") -> str:
        a = np.asarray(c, dtype=np.float64)
        if a.ndim == 0:
            return scalar_literal(a)
        entry = self.used.get(id(c))
        if entry is None:
            name = self.known.get(id(c), f"K{len(self.used)}")
            entry = self.used[id(c)] = (name, c, where)
        return entry[0]


# ------------------------------------------------------------------ the function


class Output:
    """What writing equations collects besides their lines.

    Attributes:
        constants: the module's ``ConstantPool``; names: its ``Names``.
        used: primitives in order of first use (their rules' helpers go into
            the module once).
        functions: the source lines of each root/argmin body's nested
            function (``_root_17``), an inner call's before the outer's.
    """

    def __init__(self, constants: ConstantPool, names: Names):
        self.constants = constants
        self.names = names
        self.used: list = []
        self.functions: list[list[str]] = []
        self._function_names: set[str] = set()

    def function_name(self, call) -> str:
        base = f"_{call.kind}_{call.span.line}" if call.span is not None else f"_{call.kind}"
        name, n = base, 1
        while name in self._function_names:
            n += 1
            name = f"{base}_{n}"
        self._function_names.add(name)
        return name


def evaluate_source(program: TracedProgram, params: list, named: dict[int, str],
                    out: Output) -> list[str]:
    """The lines of ``_evaluate(flat, with_gradient)``; ``out`` collects the rest."""
    gradient = [g for g in program.gradient if isinstance(g, int)]
    guard_slots = [b.slot for b in program.branches]
    value_part = live_lines(program.tape, [program.objective] + guard_slots)
    done = set(value_part)
    gradient_part = [i for i in live_lines(program.tape, gradient) if i not in done]
    checks: dict[int, list] = {}
    for branch in program.branches:
        checks.setdefault(branch.slot, []).append(branch)

    def name(slot: int) -> str:
        return named.get(slot) or f"t{slot}"

    def arg(a, where: str = "") -> str:
        return name(a) if isinstance(a, int) else out.constants.ref(a, where)

    body = ["def _evaluate(flat, with_gradient):",
            '    """The objective (and its gradient pieces) at a flat point of this path."""']
    for spec, slot in zip(params, program.inputs, strict=True):
        piece = f"flat[{spec.offset}]" if spec.shape == () else (
            f"flat[{spec.offset}:{spec.offset + spec.size}].reshape({spec.shape!r})")
        body.append(f"    {name(slot)} = {piece}")
        body.extend(_check_lines(name(slot), checks.get(slot, ())))
    for index in value_part:
        body.extend(_equation_lines(program.lines[index], name, arg, out, checks))
    objective = arg(program.objective)
    body.append("    if not with_gradient:")
    body.append(f"        return {objective}, None")
    for index in gradient_part:
        body.extend(_equation_lines(program.lines[index], name, arg, out, checks))
    sign = "-" if program.gradient_sign < 0 else ""
    pieces = [sign + (name(g) if isinstance(g, int) else out.constants.ref(_dense(g)))
              for g in program.gradient]
    body.append(f"    return {objective}, [{', '.join(pieces)}]")
    return body


def _dense(c) -> np.ndarray:
    # a constant gradient piece keeps its parameter's shape (a scalar stays one)
    return np.array(c, dtype=np.float64)


def _equation_lines(line, name, arg, out: Output, checks: dict) -> list[str]:
    special = SPECIAL.get(line.prim.name)
    if special is not None:
        return special(line, name, arg, out)
    rule = line.prim.export
    if rule is None:
        raise UsageError(f"export: primitive '{line.prim.name}' has no export rule", line.span)
    if line.prim not in out.used:
        out.used.append(line.prim)
    where = _where(line)
    code = f"    {name(line.out)} = {rule.source([arg(a, where) for a in line.args], line.params)}"
    lines = [_with_comment(code, where)]
    lines.extend(_check_lines(name(line.out), checks.get(line.out, ())))
    return lines


# ------------------------------------------------------------------ root / argmin


def _implicit_lines(line, name, arg, out: Output) -> list[str]:
    """``x = _newton(_root_17, init, (θ...), tol, max_iter, "f.dop:17:9: root")``.

    The equation's closed sub-program (``ir.subprogram.SubProgram``) becomes a nested
    function ``_root_17(x, *θ, with_jacobian=True) -> (g, ∂g/∂x)`` written
    with these same equation writers, one level deeper (an implicit call in
    its body gets its own function). ``_newton`` (diffopt.export.newton, in
    the module once) is the damped Newton of ``ops.implicit.newton``, from
    the call's ``init``, so the value is diffopt's; the derivative
    equations the reverse sweep recorded around the call are ordinary ones.
    """
    call = line.params["sub"]
    where = _where(line)
    init = arg(call.init, where)
    if not isinstance(call.g, int):  # g does not depend on x: x stays init, as in diffopt
        return [_with_comment(f"    {name(line.out)} = xp.asarray({init}, dtype=xp.float64)",
                              where)]
    function = out.function_name(call)
    theta = [arg(a, where) for a in line.args]
    out.functions.append(_nested_function(call, function, line.args, theta, out))
    label = f"{_place(call.span, column=True)}: {call.kind}"  # as diffopt's errors begin
    values = f"({theta[0]},)" if len(theta) == 1 else f"({', '.join(theta)})"
    code = (f"    {name(line.out)} = _newton({function}, {init}, {values}, {call.tol!r}, "
            f"{call.max_iter}, {label!r})")
    return [_with_comment(code, where)]


def _nested_function(call, function: str, outer_args, theta: list[str], out: Output) -> list[str]:
    """``def _root_17(x, *θ, with_jacobian=True)``: the flat g and (if asked) ∂g/∂x."""
    params = [out.names.fresh("x")]
    for i, (a, text) in enumerate(zip(outer_args, theta, strict=True)):
        named = isinstance(a, int) and not _GENERATED.match(text) and text not in params
        params.append(text if named else out.names.fresh(f"theta{i}", avoid=params))
    local = dict(zip(call.tape.inputs, params, strict=True))

    def name(slot: int) -> str:
        return local.get(slot) or f"t{slot}"

    def arg(a, where: str = "") -> str:
        return name(a) if isinstance(a, int) else out.constants.ref(a, where)

    g_part = live_lines(call.tape, [call.g])
    done = set(g_part)
    jacobian_part = [i for i in live_lines(call.tape, list(call.jacobian)) if i not in done]
    what = "g(x, θ) = 0" if call.kind == "root" else "g = ∇ₓf(x, θ) = 0"
    lines = [f"def {function}({', '.join(params)}, with_jacobian=True):",
             f'    """{what} of the {call.kind} at {_place(call.span, column=True)}: '
             "(flat g, ∂g/∂x or None).",
             "",
             f"    Column i of ∂g/∂x is ∂g/∂x_i; {params[0]} is the unknown, the others are "
             "the values",
             "    the body reads.",
             '    """']
    for index in g_part:
        lines.extend(_equation_lines(call.tape.eqns[index], name, arg, out, {}))
    g = f"xp.ravel({arg(call.g)})"
    lines += ["    if not with_jacobian:", f"        return {g}, None"]
    for index in jacobian_part:
        lines.extend(_equation_lines(call.tape.eqns[index], name, arg, out, {}))
    columns = ", ".join(f"xp.ravel({arg(c)})" for c in call.jacobian)
    lines.append(f"    return {g}, xp.stack([{columns}], axis=1)")
    return lines


SPECIAL = {"implicit": _implicit_lines}  # primitives written here, not by an ExportRule


# ------------------------------------------------------------------ comments


def _place(span, column: bool = False) -> str:
    if span is None:
        return "?"
    place = f"{Path(span.source.name).name}:{span.line}"
    return f"{place}:{span.col}" if column else place


def _where(line) -> str:
    if line.span is None:
        return ""
    place = _place(line.span)
    if line.mode == "forward":  # only in a root/argmin body: the columns of ∂g/∂x
        return f"{place}, ∂g/∂x"
    return place if line.mode == "value" else f"{place}, adjoint of {line.origin or line.prim.name}"


def _with_comment(code: str, comment: str) -> str:
    if not comment:
        return code
    return f"{code.ljust(COMMENT_COLUMN - 1)} # {comment}"


def _check_lines(variable: str, branches) -> list[str]:
    """The guard of each branch decided by ``variable``: raise if this point goes elsewhere."""
    lines = []
    for branch in branches:
        span = branch.span
        where = _place(span, column=True)
        test = f"not xp.all({variable} != 0.0)" if branch.taken else f"xp.all({variable} != 0.0)"
        lines.append(f"    if {test}:")
        lines.append(f"        _path_differs({where!r}, {branch.taken})")
    return lines
