"""The .dop expression interpreter: one pass that checks and records.

Values decide the interpretation (``registry.bind``): constants are folded,
``Var``s on a tape are recorded as equations. The first run of a program (the
check) is also its first trace, at the start point: every primitive applies
its shape rule as it is recorded, so shape and arity errors are found with
the same walk that builds the IR. A condition that depends on parameters is
decided by its value here and recorded as a guard; while checking, the branch
not taken is explored *speculatively*: the tape is put in abstract mode, so
that branch is shape-checked with ``Abstract`` values and records nothing.

Expressions are evaluated by an explicit task stack: no recursion over the
program, whatever its depth. Errors raised below the AST level get the span
of the node being evaluated.
"""

from __future__ import annotations

import numpy as np

from diffopt.check.calls import check_builtin_arity, check_def_arity
from diffopt.check.implicit_call import implicit_call
from diffopt.check.operations import Operations
from diffopt.check.values import Definition, Table, is_constant
from diffopt.errors import DopError, DopNameError, DopTypeError, ShapeError
from diffopt.ops import library  # noqa: F401  (fills REGISTRY and BUILTINS)
from diffopt.ops import random as dop_random
from diffopt.ops.registry import (
    BUILTINS,
    CONSTANTS,
    REGISTRY,
    SPECIAL_FORMS,
    Abstract,
    Var,
    as_array,
    format_shape,
    shape_of,
)
from diffopt.source import Span
from diffopt.syntax import ast

# Refuse absurd nesting of constructs that re-enter the machine (comprehension
# filters and ranges, constant keyword arguments) before Python's own limit.
_MAX_REENTRY = 150


_NUMBER, _NAME, _BINARY, _CALL = ast.Number, ast.Name, ast.Binary, ast.Call


class Machine(Operations):
    """Evaluates one program. See the module docstring.

    Args:
        tape: the tape parameters' Vars live on.
        checking: the first run (the check): explore untaken branches.
        globals: the program's global scope (``def`` bodies run in it).

    ``loader`` (callable(call node) -> Table for ``csv(...)``) is set only
    while a data declaration's value is evaluated (None elsewhere).
    """

    def __init__(self, tape, checking: bool, globals=None):
        self.tape = tape
        self.checking = checking
        self.globals = globals
        self.loader = None
        self.reentry = 0
        self.notices: list = []  # warnings found while running (diffopt.notices.Notice)
        self.span: Span | None = None
        self._draws: list[int] = []  # random draws made before each speculation
        self._numbers: dict[float, np.ndarray] = {}  # literal -> its constant array

    def spawn(self, tape, globals) -> Machine:
        """A machine for a sub-program (an implicit function's body) on ``tape``."""
        inner = Machine(tape, self.checking, globals)
        inner.reentry = self.reentry
        inner.notices = self.notices
        return inner

    def speculate(self, delta: int) -> None:
        """Enter (+1) or leave (-1) a branch explored only to be checked.

        Inside, the tape records nothing (it returns shapes) and random draws
        do not count: a re-trace, which explores nothing, must see the same
        n-th draw as the first trace.
        """
        if delta > 0:
            self._draws.append(dop_random.draws())
        else:
            dop_random.set_draws(self._draws.pop())
        self.tape.abstract += delta

    # ---------------------------------------------------------------- helpers

    def _apply(self, prim_name: str, *args, **params):
        prim = REGISTRY[prim_name]
        self.tape.span = self.span
        return prim(*args, **params)

    def truth(self, value, span) -> bool | None:
        """Decide a scalar condition: True/False, or None if unknown (speculating)."""
        if shape_of(value) != ():
            raise ShapeError(
                f"a condition here must be a scalar, not shape {format_shape(shape_of(value))}",
                span,
                hint="use where(c, a, b) for an elementwise choice",
            )
        if isinstance(value, Abstract):
            return None
        if isinstance(value, Var):
            if self.tape.abstract:
                return None
            return value.tape.add_guard(value, span)
        return bool(value != 0)

    # ------------------------------------------------------------ expressions

    def eval(self, node, scope):
        """Evaluate an expression iteratively (explicit task stack)."""
        stack = [(0, node, scope)]  # (0: evaluate | 1: apply, node, scope[, extra])
        values: list = []
        while stack:
            task = stack.pop()
            node = task[1]
            if task[0] == 0:
                self._expand(node, task[2], stack, values)
            elif task[0] == 2:  # enter/leave a speculative branch
                self.speculate(task[2])
            else:
                self.span = node.span
                try:
                    self._finish(task, stack, values)
                except DopError as exc:
                    raise exc.located(node.span) from None
        assert len(values) == 1, values
        return values[0]

    def _expand(self, node, scope, stack, values):
        # The common kinds first, by identity (this runs once per AST node).
        kind = node.__class__
        if kind is _NUMBER:
            value = self._numbers.get(node.value)
            if value is None:  # one array per distinct literal: constants are never written
                value = self._numbers[node.value] = np.array(node.value)
            values.append(value)
        elif kind is _NAME:
            values.append(self._lookup(node, scope))
        elif kind is _BINARY:
            stack.append((1, node, scope))
            stack.append((0, node.right, scope))
            stack.append((0, node.left, scope))
        elif kind is _CALL:
            self._expand_call(node, scope, stack)
        else:
            self._expand_other(kind, node, scope, stack, values)

    def _expand_other(self, kind, node, scope, stack, values):
        if kind is ast.String:
            values.append(node.value)
        elif kind is ast.BoolOp:
            stack.append((1, node, scope))
            stack.append((0, node.right, scope))
            stack.append((0, node.left, scope))
        elif kind in (ast.Unary, ast.Not):
            stack.append((1, node, scope))
            stack.append((0, node.operand, scope))
        elif kind is ast.Compare:
            stack.append((1, node, scope))
            for operand in reversed(node.operands):
                stack.append((0, operand, scope))
        elif kind is ast.Cond:
            stack.append((1, node, scope))
            stack.append((0, node.test, scope))
        elif kind is ast.Field or kind is ast.Index:
            stack.append((1, node, scope))
            stack.append((0, node.value, scope))
        elif kind is ast.Array:
            stack.append((1, node, scope))
            for item in reversed(node.items):
                stack.append((0, item, scope))
        elif kind is ast.ArrayComp:
            self._expand_comprehension(node.comprehension, scope, stack, node)
        elif kind is ast.Lambda:
            raise DopTypeError("'x: expression' is only allowed in root(...) and argmin(...)",
                               node.span)
        elif kind is ast.Comprehension:
            raise DopTypeError(
                "a comprehension must be inside [ ] or the only argument of sum, mean, ...",
                node.span,
            )
        else:  # pragma: no cover - every expression node is handled above
            raise AssertionError(f"unexpected node {kind.__name__}")

    def _lookup(self, node: ast.Name, scope):
        try:
            return scope.lookup(node.id)
        except KeyError:
            pass
        if node.id in CONSTANTS:
            return np.array(CONSTANTS[node.id])
        if node.id in BUILTINS:
            raise DopTypeError(f"'{node.id}' is a function; call it with ( )", node.span)
        raise DopNameError(f"unknown name '{node.id}'", node.span)

    def _expand_comprehension(self, comp: ast.Comprehension, scope, stack, owner):
        bindings = self._comprehension_bindings(comp, scope)
        stack.append((1, owner, scope, len(bindings)))
        for names in reversed(bindings):
            stack.append((0, comp.element, scope.child(names)))

    def _comprehension_bindings(self, comp: ast.Comprehension, scope) -> list[dict]:
        """Every index binding of the comprehension's clauses, in order."""
        partial = [{}]
        for clause in comp.clauses:
            grown = []
            for names in partial:
                inner = scope.child(names)
                if isinstance(clause, ast.CompFor):
                    lo, hi = self.range_bounds(clause.range, inner)
                    for i in range(lo, hi):
                        grown.append({**names, clause.var: np.array(float(i))})
                else:
                    test = self.reenter(clause.test, inner)
                    decided = self.truth(self.constant(test, clause.test.span,
                                                       "a comprehension filter"), clause.span)
                    if decided:
                        grown.append(names)
            partial = grown
        return partial

    def range_bounds(self, rng: ast.Range, scope) -> tuple[int, int]:
        lo = self.integer(self.reenter(rng.start, scope), rng.start.span, "a range bound")
        hi = self.integer(self.reenter(rng.stop, scope), rng.stop.span, "a range bound")
        return lo, hi

    def reenter(self, node, scope):
        """Evaluate a small sub-expression (bounded nesting, see _MAX_REENTRY)."""
        self.reentry += 1
        try:
            if self.reentry > _MAX_REENTRY:
                raise DopTypeError("expressions nested too deeply here", node.span)
            return self.eval(node, scope)
        finally:
            self.reentry -= 1

    def _expand_call(self, node: ast.Call, scope, stack):
        if not isinstance(node.func, ast.Name):
            raise DopTypeError("only named functions can be called", node.func.span)
        name = node.func.id
        for arg in node.args:
            if isinstance(arg, ast.Keyword):
                raise DopTypeError("positional argument after a keyword argument", arg.span)
        if name in SPECIAL_FORMS:
            stack.append((1, node, scope, name))
            return
        try:
            target = scope.lookup(name)
        except KeyError:
            target = BUILTINS.get(name)
        if target is None:
            raise DopNameError(f"unknown function '{name}'", node.func.span)
        if isinstance(target, Definition):
            check_def_arity(target.node, node)
            stack.append((1, node, scope, target))
            for arg in reversed(node.args):
                stack.append((0, arg, scope))
            return
        if not hasattr(target, "fn"):
            raise DopTypeError(f"'{name}' is not a function", node.func.span)
        check_builtin_arity(target, node)
        stack.append((1, node, scope, target))
        for arg in reversed(node.args):
            if isinstance(arg, ast.Comprehension):
                self._expand_comprehension(arg, scope, stack, arg)
            else:
                stack.append((0, arg, scope))

    # The "apply" half of each node: children's values are on ``values``.
    def _finish(self, task, stack, values):
        node = task[1]
        kind = type(node)
        if kind is ast.Binary:
            right = values.pop()
            left = values.pop()
            values.append(self._binary(node, left, right))
        elif kind is ast.Unary:
            operand = self._numeric(values.pop(), node.operand)
            values.append(operand if node.op == "+" else self._apply("neg", operand))
        elif kind is ast.Not:
            values.append(self._apply("logical_not", self._numeric(values.pop(), node.operand)))
        elif kind is ast.BoolOp:
            right = values.pop()
            left = values.pop()
            prim = "logical_and" if node.op == "and" else "logical_or"
            values.append(self._apply(prim, left, right))
        elif kind is ast.Compare:
            operands = values[-len(node.operands):]
            del values[-len(node.operands):]
            values.append(self._compare(node, operands))
        elif kind is ast.Cond:
            if len(task) == 3:
                test = values.pop()
                decided = self.truth(test, node.test.span)
                if decided is None:  # speculating: both branches must have one shape
                    stack.append((1, node, task[2], "merge"))
                    stack.append((0, node.orelse, task[2]))
                    stack.append((0, node.body, task[2]))
                elif self.checking and test.__class__ is Var:
                    # the branch not taken here is checked too (shapes only)
                    taken, other = (node.body, node.orelse) if decided else (node.orelse,
                                                                             node.body)
                    stack.append((1, node, task[2], "pick"))
                    stack.append((2, None, -1))
                    stack.append((0, other, task[2]))
                    stack.append((2, None, 1))
                    stack.append((0, taken, task[2]))
                else:
                    stack.append((0, node.body if decided else node.orelse, task[2]))
            else:
                other = values.pop()
                taken = values.pop()
                merged = self._merge_shapes(taken, other, node)
                values.append(merged if task[3] == "merge" else taken)
        elif kind is ast.Field:
            values.append(self._field(node, values.pop()))
        elif kind is ast.Index:
            if len(task) == 3:
                base = values.pop()
                if isinstance(base, Table):
                    values.append(self._column(node, base))
                    return
                values.append(base)
                stack.append((1, node, task[2], "items"))
            else:
                values.append(self._index(node, values.pop(), task[2]))
        elif kind is ast.Array:
            items = values[len(values) - len(node.items):] if node.items else []
            del values[len(values) - len(node.items):]
            values.append(self._array(node, items))
        elif kind in (ast.ArrayComp, ast.Comprehension):
            count = task[3]
            items = values[len(values) - count:] if count else []
            del values[len(values) - count:]
            values.append(self._array(node, items))
        elif kind is ast.Call:
            self._finish_call(task, stack, values)
        else:  # pragma: no cover
            raise AssertionError(kind)

    def _finish_call(self, task, stack, values):
        node: ast.Call = task[1]
        target = task[3]
        if target.__class__ is str:  # a special form
            handler = _SPECIAL_HANDLERS[SPECIAL_FORMS[target].kind]
            values.append(handler(self, node, task[2]))
            return
        if isinstance(target, Definition):
            definition = target.node
            count = len(definition.params)
            args = values[len(values) - count:] if count else []
            del values[len(values) - count:]
            stack.append((0, definition.body, self.globals.child(dict(zip(definition.params,
                                                                           args)))))
            return
        entry = target
        count = len(node.args)
        args = values[len(values) - count:] if count else []
        del values[len(values) - count:]
        for arg, child in zip(args, node.args):
            if isinstance(arg, Table) or isinstance(arg, str):
                raise DopTypeError(f"'{entry.name}' expects numbers here", child.span)
            if entry.constant_args and not is_constant(arg):
                raise DopTypeError(
                    f"the arguments of '{entry.name}' must be constants", child.span
                )
        keywords = {}
        for keyword in node.keywords:
            value = self.reenter(keyword.value, task[2])
            value = self.constant(value, keyword.value.span, f"'{keyword.name}'")
            keywords[keyword.name] = float(value) if value.shape == () else value
        self.tape.span = node.span
        try:
            result = entry.fn(*args, **keywords)
        except DopError as exc:
            raise exc.located(node.span) from None
        if not isinstance(result, (np.ndarray, Var, Abstract)):
            result = as_array(result)  # a composite folded to a NumPy scalar
        values.append(result)


__all__ = ["Machine"]


# How the interpreter evaluates each kind of special form (ops.language).
_SPECIAL_HANDLERS = {"implicit": implicit_call, "table": Machine._csv}
