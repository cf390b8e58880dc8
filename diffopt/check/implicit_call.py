"""``root(x: g, init=x0)`` and ``argmin(x: f, init=x0)``: tracing the body once.

The body is traced into a closed sub-tape whose inputs are the unknown x and
the outer traced values θ it reads (also through ``def`` bodies); ∂g/∂x is
staged on it, and the ``implicit`` primitive (``ops.implicit``) holds the
result. If the body's branches at the solution differ from those at the
start, the body is traced again there (this is tracing, the interpreter's
job); the final sub-tape's branch decisions become guards of the outer tape,
so a re-trace happens when they change.
"""

from __future__ import annotations

import numpy as np

from diffopt.ad.forward import stage_jvp
from diffopt.ad.reverse import stage_vjp
from diffopt.check.values import Definition
from diffopt.errors import DopTypeError, ShapeError
from diffopt.ir.subprogram import SubProgram, inline
from diffopt.ir.tape import Tape
from diffopt.notices import Notice
from diffopt.ops.implicit import assess, evaluate_g, implicit, newton
from diffopt.ops.registry import Abstract, Var, as_array, format_shape, shape_of
from diffopt.syntax import ast

DEFAULT_TOL = 1e-12
DEFAULT_MAX_ITER = 100
_RETRACES = 5  # times the body may be traced again at a new solution's branches


def implicit_call(machine, node: ast.Call, scope):
    """Evaluate ``root(...)``/``argmin(...)`` (see the module docstring)."""
    kind = node.func.id
    if len(node.args) != 1 or not isinstance(node.args[0], ast.Lambda):
        raise DopTypeError(f"{kind} takes one 'x: expression' argument and init=",
                           node.span, hint=f"{kind}(x: x^3 - p, init=1)")
    lam: ast.Lambda = node.args[0]
    options = _options(machine, node, scope, kind)
    init = np.array(options["init"], dtype=np.float64)
    if init.ndim > 1:
        raise ShapeError(f"{kind}: the unknown must be a scalar or a vector, not shape "
                         f"{format_shape(init.shape)}", node.span)
    if machine.tape.abstract:  # a speculative branch: shapes only
        value = machine.reenter(lam.body, scope.child({lam.var: Abstract(init.shape)}))
        _check_shape(kind, value, init, lam)
        return Abstract(init.shape)
    free = _free_traced(lam, scope, machine)
    outer = [scope.lookup(name) if scope.has(name) else machine.globals.lookup(name)
             for name in free]
    theta = [as_array(v.value if isinstance(v, Var) else v) for v in outer]
    x_start = init
    for _ in range(_RETRACES):
        sub = _trace_body(machine, node, lam, scope, kind, free, x_start, theta, options)
        x_star = newton(sub, theta, init)
        if evaluate_g(sub, x_star, theta, with_jacobian=False)[2]:
            break
        x_start = x_star  # the body branches differently there: trace it again
    machine.tape.span = node.span
    if not outer:  # a constant: judged here (a traced one at each reported point)
        machine.notices.extend(Notice(m, node.span) for m in assess(sub, theta, x_star))
        return x_star
    result = implicit(*outer, sub=sub)
    _promote_guards(machine, sub, result, outer)
    return result


def _options(machine, node, scope, kind) -> dict:
    options = {"init": None, "tol": DEFAULT_TOL, "max_iter": DEFAULT_MAX_ITER}
    for keyword in node.keywords:
        if keyword.name not in options:
            raise DopTypeError(f"'{kind}' has no keyword argument '{keyword.name}' "
                               "(keywords: init, tol, max_iter)", keyword.span)
        value = machine.reenter(keyword.value, scope)
        if isinstance(value, Var):
            value = value.value  # a start value: where it came from does not matter
        if isinstance(value, Abstract):
            raise DopTypeError(f"'{keyword.name}' must be a constant", keyword.value.span)
        options[keyword.name] = as_array(value)
    if options["init"] is None:
        raise DopTypeError(f"'{kind}' needs a start value: init=...", node.span)
    options["tol"], options["max_iter"] = float(options["tol"]), int(options["max_iter"])
    return options


def _check_shape(kind, value, init, lam) -> None:
    wanted = init.shape if kind == "root" else ()
    if shape_of(value) != wanted:
        what = "g must have the shape of x" if kind == "root" else "f must be a scalar"
        raise ShapeError(f"{kind}: {what}: got {format_shape(shape_of(value))}, "
                         f"expected {format_shape(wanted)}", lam.body.span)


def _trace_body(machine, node, lam, scope, kind, free, x_value, theta, options) -> SubProgram:
    """The body as a closed sub-tape over [x, *θ], with g and ∂g/∂x staged on it."""
    tape = Tape()
    x = tape.new_input(np.array(x_value, dtype=np.float64))
    subs = dict(zip(free, (tape.new_input(t) for t in theta)))
    inner = machine.spawn(tape, machine.globals.child(subs))
    value = inner.reenter(lam.body, scope.child({**subs, lam.var: x}))
    _check_shape(kind, value, x.value, lam)
    with np.errstate(all="ignore"):
        if kind == "argmin" and isinstance(value, Var):
            (value,) = stage_vjp(tape, value, np.ones(()), [x.id])
        columns = ()
        if isinstance(value, Var):
            size = x.value.size
            seeds = np.eye(size).reshape((size,) + x.value.shape) if size else []
            columns = tuple(_slot(stage_jvp(tape, {x.id: seed}, [value.id])[0])
                            for seed in seeds)
    return SubProgram(kind, tape, _slot(value), columns, np.array(options["init"]),
                      options["tol"], options["max_iter"], node.span)


def _promote_guards(machine, sub: SubProgram, x_star: Var, outer: list) -> None:
    """The body's branch decisions at x*, as conditions on the outer tape."""
    if not sub.tape.guards:
        return
    conditions = inline(sub.tape, [g.slot for g in sub.tape.guards], [x_star, *outer])
    for guard, condition in zip(sub.tape.guards, conditions):
        if isinstance(condition, Var):
            machine.tape.add_guard(condition, guard.span)


def _slot(value):
    return value.id if isinstance(value, Var) else as_array(value)


def _free_traced(lam: ast.Lambda, scope, machine) -> list[str]:
    """Names of traced values the body reads, also through def bodies."""
    found: list[str] = []
    pending = [(lam.body, scope)]
    seen_defs = set()
    while pending:
        body, where = pending.pop()
        for node in ast.postorder(body):
            if not isinstance(node, (ast.Name, ast.Call)):
                continue
            name = node.id if isinstance(node, ast.Name) else getattr(node.func, "id", None)
            if name is None or name == lam.var:
                continue
            try:
                value = where.lookup(name)
            except KeyError:
                continue
            if isinstance(value, Var) and name not in found:
                found.append(name)
            elif isinstance(value, Definition) and name not in seen_defs:
                seen_defs.add(name)
                pending.append((value.node.body, machine.globals))
    return found
