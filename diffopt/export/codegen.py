"""Straight-line source of a traced program: one line per equation.

``evaluate_source`` writes the body of the exported module's
``_evaluate(flat, with_gradient)``: the parameters unpacked from the flat
vector, the program's equations (the value part first, then, only when the
gradient is wanted, the staged reverse sweep), each as ``name = expression
# file.dop:LINE``, and every recorded branch decision as an explicit check
right after its condition is computed. Each primitive's expression comes
from its registry stanza (``Prim.export``, an ``ExportRule``); nothing here
knows about individual primitives.

Names: parameters keep theirs, slots that are the value of a ``let`` (or a
``var``'s final value) take the let's name, the objective its label, the
gradient pieces ``grad_<param>``; every other slot is ``t<slot>``. Names
that would clash with the module's own (``np``, ``xp``, ``flat``, ``t12``,
helpers starting with ``_``, Python keywords) get a trailing underscore.

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
    "load_data",
}
_GENERATED = re.compile(r"(t|K)\d+$")
COMMENT_COLUMN = 60  # equations' source comments line up here (when the code is shorter)


# ------------------------------------------------------------------ names


class Names:
    """Python identifiers for user names: valid, distinct, and clear of ours."""

    def __init__(self):
        self.taken: set[str] = set()

    def claim(self, wanted: str) -> str:
        name = wanted if wanted.isidentifier() else re.sub(r"\W", "_", wanted)
        if not name or name[0].isdigit():
            name = "v_" + name
        while (keyword.iskeyword(name) or name in RESERVED or name.startswith("_")
               or _GENERATED.match(name) or hasattr(builtins, name)
               or unicodedata.normalize("NFKC", name) in self.taken):
            name = name + "_" if not name.startswith("_") else "v" + name
        self.taken.add(unicodedata.normalize("NFKC", name))
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


def evaluate_source(program: TracedProgram, params: list, named: dict[int, str],
                    constants: ConstantPool, target: str) -> tuple[list[str], list]:
    """The lines of ``_evaluate(flat, with_gradient)`` and the primitives it uses.

    Returns:
        (source lines, primitives used in order of first use: their export
        rules' helpers go into the module once).
    """
    gradient = [g for g in program.gradient if isinstance(g, int)]
    guard_slots = [b.slot for b in program.branches]
    value_part = live_lines(program, [program.objective] + guard_slots)
    done = set(value_part)
    gradient_part = [i for i in live_lines(program, gradient) if i not in done]
    checks: dict[int, list] = {}
    for branch in program.branches:
        checks.setdefault(branch.slot, []).append(branch)

    def name(slot: int) -> str:
        return named.get(slot) or f"t{slot}"

    def arg(a, where: str = "") -> str:
        return name(a) if isinstance(a, int) else constants.ref(a, where)

    used: list = []
    body = ["def _evaluate(flat, with_gradient):",
            '    """The objective (and its gradient pieces) at a flat point of this path."""']
    for spec, slot in zip(params, program.inputs, strict=True):
        piece = f"flat[{spec.offset}]" if spec.shape == () else (
            f"flat[{spec.offset}:{spec.offset + spec.size}].reshape({spec.shape!r})")
        body.append(f"    {name(slot)} = {piece}")
        body.extend(_check_lines(name(slot), checks.get(slot, ())))
    for index in value_part:
        body.extend(_equation_lines(program.lines[index], name, arg, used, checks))
    objective = arg(program.objective)
    body.append("    if not with_gradient:")
    body.append(f"        return {objective}, None")
    for index in gradient_part:
        body.extend(_equation_lines(program.lines[index], name, arg, used, checks))
    sign = "-" if program.gradient_sign < 0 else ""
    pieces = [sign + (name(g) if isinstance(g, int) else constants.ref(_dense(g)))
              for g in program.gradient]
    body.append(f"    return {objective}, [{', '.join(pieces)}]")
    return body, used


def _dense(c) -> np.ndarray:
    # a constant gradient piece keeps its parameter's shape (a scalar stays one)
    return np.array(c, dtype=np.float64)


def _equation_lines(line, name, arg, used: list, checks: dict) -> list[str]:
    rule = line.prim.export
    if line.prim.name == "implicit":
        return _implicit_lines(line, name, arg)
    if rule is None:
        raise UsageError(f"export: primitive '{line.prim.name}' has no export rule", line.span)
    if line.prim not in used:
        used.append(line.prim)
    where = _where(line)
    code = f"    {name(line.out)} = {rule.source([arg(a, where) for a in line.args], line.params)}"
    lines = [_with_comment(code, where)]
    lines.extend(_check_lines(name(line.out), checks.get(line.out, ())))
    return lines


def _implicit_lines(line, name, arg) -> list[str]:
    """``root``/``argmin``: not yet exportable.

    The ``implicit`` equation is to carry a closed sub-program (its params'
    ``sub``: a tape with inputs ``[x, *theta]``, the slot of g(x, θ) and the
    slots of ∂g/∂x, plus kind, init, tol and max_iter). Once it does, the
    adapter (diffopt.export.traced) turns that tape into a nested
    ``TracedProgram``, and this function writes it as a nested function
    ``_g_<n>(x, *theta) -> (g, dg/dx)`` (the same ``_equation_lines``, one
    level deeper) followed by ``x_star = _newton(_g_<n>, init, (theta...),
    tol, max_iter)``, a damped Newton helper mirroring ``ImplicitSolver.solve``;
    the derivative equations the reverse sweep records around it are ordinary
    ones.
    """
    raise UsageError("export does not support root/argmin yet", line.span)


def _where(line) -> str:
    if line.span is None:
        return ""
    place = f"{Path(line.span.source.name).name}:{line.span.line}"
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
        where = f"{Path(span.source.name).name}:{span.line}:{span.col}" if span else "?"
        test = f"not xp.all({variable} != 0.0)" if branch.taken else f"xp.all({variable} != 0.0)"
        lines.append(f"    if {test}:")
        lines.append(f"        _path_differs({where!r}, {branch.taken})")
    return lines
