"""Loop exits: ``break when`` (event location) and the warnings about moving exits.

``break when a < b`` ends a loop at the first pass where the comparison
holds, and puts every ``var`` at the interpolated crossing: with
g = a - b at the previous pass (g₀, or at the loop's start for the first
step) and at this one (g₁), the fraction s = g₀ / (g₀ - g₁) is where the
straight line between the two states crosses zero, and each var becomes
v₀ + s (v₁ - v₀). Those are ordinary recorded equations, so both AD modes
differentiate s (the implicit function theorem applied to the interpolated
crossing: the exit moves with the parameters) and the compiled program
computes it; the comparison at each pass is a guard, so the compiled program
re-traces when the exit happens at another step.

A plain ``break`` under a condition on the parameters moves in whole steps:
the objective is piecewise there and its derivative ignores the jumps. Such
loops, and loops that ran to their bound without their exit firing, are
reported as ``Notice``s naming the loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from diffopt.errors import DopNameError
from diffopt.notices import Notice
from diffopt.ops.registry import Abstract, Var
from diffopt.syntax import ast


@dataclass
class Crossing:
    """A loop's ``break when`` between passes: the state at the previous pass."""

    node: ast.Break
    before: dict  # var name -> value at the previous pass (or where the loop started)
    g: object  # a - b there
    entry: object | None  # the comparison at the loop's start (first pass only)


def break_when_of(body: tuple) -> ast.Break | None:
    """The ``break when`` standing directly in a loop body (sema allows it only there)."""
    for stmt in body:
        if isinstance(stmt, ast.Break) and stmt.when is not None:
            return stmt
    return None


def break_inside(statements, cache: dict) -> ast.Break | None:
    """A ``break`` of the enclosing loop in ``statements`` (not in a nested loop).

    ``cache`` maps id(statements) to the answer: the caller keeps the AST alive.
    """
    key = id(statements)
    if key in cache:
        return cache[key]
    found, pending = None, list(statements or ())
    while pending and found is None:
        stmt = pending.pop(0)
        if isinstance(stmt, ast.Break):
            found = stmt
        elif isinstance(stmt, ast.If):
            pending.extend(stmt.body)
            pending.extend(stmt.orelse or ())
    cache[key] = found
    return found


def _difference(machine, node: ast.Break, scope):
    """(a - b, the comparison a OP b) of ``break when a OP b`` in ``scope``."""
    test: ast.Compare = node.when
    left = machine._numeric(machine.eval(test.operands[0], scope), test.operands[0])
    right = machine._numeric(machine.eval(test.operands[1], scope), test.operands[1])
    machine.span = test.span
    return machine._apply("sub", left, right), machine._compare(test, [left, right])


def start(machine, node: ast.Break, scope, variables: dict) -> Crossing:
    """The crossing's state where the loop starts (first index bound, no step run)."""
    try:
        g, holds = _difference(machine, node, scope)
    except DopNameError as exc:
        name = exc.span.text if exc.span is not None else "a name"
        raise DopNameError(
            f"'break when' cannot use '{name}', which the loop's body defines: its "
            "condition is also evaluated where the loop starts, before the body ran",
            exc.span, hint="write the condition with vars and names from outside the loop",
        ) from None
    return Crossing(node, dict(variables), g, holds)


def passed(machine, crossing: Crossing, scope, variables: dict,
           speculative: bool) -> dict | None:
    """One pass through ``break when``: the interpolated vars if the loop ends here.

    Returns None (and moves the crossing on) while the condition does not
    hold, and always in a branch explored only for checking (``speculative``).
    """
    node = crossing.node
    g, holds = _difference(machine, node, scope)
    decided = machine.truth(holds, node.when.span)
    if speculative:
        return None
    if not decided:
        crossing.before, crossing.g, crossing.entry = dict(variables), g, None
        return None
    if crossing.entry is not None and machine.truth(crossing.entry, node.when.span):
        machine.notices.append(Notice(
            "the condition of 'break when' already holds where the loop starts: there is "
            "no crossing to interpolate, the loop ends after its first step", node.span))
        return dict(variables)
    machine.span = node.span
    apply = machine._apply
    fraction = apply("div", crossing.g, apply("sub", crossing.g, g))
    ended = {}
    for name, after in variables.items():
        before = crossing.before[name]
        if after is before or isinstance(after, Abstract):
            ended[name] = after
        else:
            ended[name] = apply("add", before, apply("mul", fraction, apply("sub", after,
                                                                              before)))
    return ended


def exit_decided(stmt: ast.If, frames: list, cache: dict, warned: set,
                 notices: list) -> None:
    """An ``if`` on the parameters around a ``break``: the loop's exit step moves.

    Marks the innermost loop frame (``frames``: the runner's, each with
    ``loop`` and ``exit_branch``) and warns once per loop and break
    (``warned``), not once per step.
    """
    branch = break_inside(stmt.body, cache) or break_inside(stmt.orelse, cache)
    loop = next((f for f in reversed(frames) if f.loop is not None), None)
    if branch is None or loop is None:
        return
    loop.exit_branch = branch
    if (id(loop.loop), id(branch)) not in warned:
        warned.add((id(loop.loop), id(branch)))
        notices.append(exit_moves(loop.loop, branch))


def exit_moves(loop: ast.For, branch: ast.Break) -> Notice:
    """A plain ``break`` decided by the parameters: the exit step moves in jumps."""
    return Notice(
        f"the exit step of this loop depends on the parameters (its 'break' at "
        f"{branch.span.line}:{branch.span.col} is under a condition on them): the objective "
        "is piecewise in that step and the derivative ignores the jumps; 'break when "
        "<comparison>' interpolates the crossing instead", loop.span)


def ran_out(loop: ast.For, branch: ast.Break, steps: int) -> Notice:
    """The loop's bound ended it: its exit condition never held."""
    what = "'break when'" if branch.when is not None else "'break'"
    return Notice(
        f"this loop ran all its {steps} steps without its {what} at "
        f"{branch.span.line}:{branch.span.col} firing: its vars are where the steps ran "
        "out, not where the exit condition was met", loop.span)


def depends_on_parameters(value) -> bool:
    return isinstance(value, Var)
