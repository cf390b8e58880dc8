"""The .dop interpreter: runs a program over constants, shapes or traced values.

One machine serves two purposes (Autodidax's "interpreters over one IR", with
values deciding the interpretation through ``registry.bind``):

* checking (``mode="check"``): parameters are ``Abstract`` shapes. Every
  primitive applies its shape rule, so shape and arity errors are found
  before any number is computed; conditions that depend on parameters
  explore both branches; loops run every iteration (indices are constants).
* tracing (``mode="trace"``): parameters are ``Var``s on a ``Tape``. Values
  are computed and primitive applications recorded; a condition that depends
  on parameters is decided by its value at this point and recorded as a
  guard, so the tape is the path actually taken here.

Expressions are evaluated by an explicit task stack and statements by an
explicit frame stack: no recursion over the program, whatever its depth.
Errors raised below the AST level get the span of the node being evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diffopt.errors import DopError, DopNameError, DopTypeError, ShapeError
from diffopt.ops import library  # noqa: F401  (fills REGISTRY and BUILTINS)
from diffopt.ops.registry import (
    BUILTINS,
    CONSTANTS,
    REGISTRY,
    Abstract,
    Var,
    as_array,
    format_shape,
    shape_of,
)
from diffopt.source import Span
from diffopt.syntax import ast

_BINARY_PRIMS = {"+": "add", "-": "sub", "*": "mul", "/": "div", "^": "pow", "%": "mod",
                 "//": "floordiv", "@": "matmul"}
_COMPARE_PRIMS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}

# Refuse absurd nesting of constructs that re-enter the machine (comprehension
# filters and ranges, constant keyword arguments) before Python's own limit.
_MAX_REENTRY = 150


@dataclass
class Table:
    """A data table: named float64 columns (``trips.distance_km``)."""

    name: str
    columns: dict


@dataclass
class Scope:
    """Names visible at a point; ``parent`` is the enclosing scope."""

    names: dict
    parent: Scope | None = None

    def lookup(self, name: str):
        scope = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        raise KeyError(name)

    def child(self, names: dict | None = None) -> Scope:
        return Scope(dict(names or {}), self)


@dataclass
class ConstraintValue:
    name: str
    kind: str  # "le" (value <= 0) or "eq" (value == 0)
    value: object  # array, Var or Abstract (of any shape)
    span: Span | None


@dataclass
class RunResult:
    """What one run of the program produced (concrete, abstract or traced)."""

    objective: object = None
    objective_span: Span | None = None
    lets: dict = field(default_factory=dict)
    vars: dict = field(default_factory=dict)
    constraints: list = field(default_factory=list)


@dataclass(frozen=True)
class _Def:
    node: ast.Def


class _Break(Exception):
    pass


def is_constant(x) -> bool:
    return isinstance(x, np.ndarray)


class Machine:
    """Evaluates one program. See the module docstring.

    Args:
        mode: "check" or "trace".
        tape: the tape Vars live on (trace mode).
        loader: callable(call node) -> Table for ``csv(...)``; set only while a
            data declaration's value is evaluated (None elsewhere).

    Parameter-dependent branch decisions in trace mode are recorded as guards
    on the Var's tape (see ``truth``).
    """

    def __init__(self, mode: str, tape=None, loader=None):
        self.mode = mode
        self.tape = tape
        self.loader = loader
        self.reentry = 0
        self.span: Span | None = None

    # ---------------------------------------------------------------- helpers

    def _apply(self, prim_name: str, *args, **params):
        prim = REGISTRY[prim_name]
        if self.tape is not None:
            self.tape.span = self.span
        return prim(*args, **params)

    def truth(self, value, span) -> bool | None:
        """Decide a scalar condition: True/False, or None if unknown (checking)."""
        if shape_of(value) != ():
            raise ShapeError(
                f"a condition here must be a scalar, not shape {format_shape(shape_of(value))}",
                span,
                hint="use where(c, a, b) for an elementwise choice",
            )
        if isinstance(value, Abstract):
            return None
        if isinstance(value, Var):
            return value.tape.add_guard(value, span)
        return bool(value != 0)

    def constant(self, value, span, what: str) -> np.ndarray:
        if not is_constant(value):
            raise DopTypeError(f"{what} must be a constant (it depends on a parameter)", span)
        return value

    def integer(self, value, span, what: str) -> int:
        value = self.constant(value, span, what)
        if value.shape != () or not np.isfinite(value) or float(value) != int(value):
            raise DopTypeError(f"{what} must be an integer, not {_show(value)}", span)
        return int(value)

    # ------------------------------------------------------------ expressions

    def eval(self, node, scope: Scope):
        """Evaluate an expression iteratively (explicit task stack)."""
        stack = [(0, node, scope)]  # (0: evaluate | 1: apply, node, scope[, extra])
        values: list = []
        while stack:
            task = stack.pop()
            node = task[1]
            if task[0] == 0:
                self._expand(node, task[2], stack, values)
            else:
                self.span = node.span
                try:
                    self._finish(task, stack, values)
                except DopError as exc:
                    raise exc.located(node.span) from None
        assert len(values) == 1, values
        return values[0]

    def _expand(self, node, scope, stack, values):
        kind = type(node)
        if kind is ast.Number:
            values.append(np.array(node.value))
        elif kind is ast.Name:
            values.append(self._lookup(node, scope))
        elif kind is ast.String:
            values.append(node.value)
        elif kind is ast.Binary or kind is ast.BoolOp:
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
        elif kind is ast.Call:
            self._expand_call(node, scope, stack)
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

    def _lookup(self, node: ast.Name, scope: Scope):
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
        if name in ("root", "argmin"):
            stack.append((1, node, scope, "implicit"))
            return
        if name == "csv":
            stack.append((1, node, scope, "csv"))
            return
        try:
            target = scope.lookup(name)
        except KeyError:
            target = BUILTINS.get(name)
        if target is None:
            raise DopNameError(f"unknown function '{name}'", node.func.span)
        if isinstance(target, _Def):
            self._check_def_arity(target.node, node)
            stack.append((1, node, scope, target))
            for arg in reversed(node.args):
                stack.append((0, arg, scope))
            return
        if not hasattr(target, "fn"):
            raise DopTypeError(f"'{name}' is not a function", node.func.span)
        self._check_builtin_arity(target, node)
        stack.append((1, node, scope, target))
        for arg in reversed(node.args):
            if isinstance(arg, ast.Comprehension):
                self._expand_comprehension(arg, scope, stack, arg)
            else:
                stack.append((0, arg, scope))

    def _check_def_arity(self, definition: ast.Def, call: ast.Call):
        if call.keywords:
            raise DopTypeError(
                f"'{definition.name}' takes no keyword arguments", call.keywords[0].span
            )
        expected, given = len(definition.params), len(call.args)
        if expected != given:
            raise DopTypeError(
                f"'{definition.name}' takes {expected} argument{'s' * (expected != 1)} "
                f"but {given} {'was' if given == 1 else 'were'} given",
                call.span,
                notes=[f"'{definition.name}' is defined at {definition.span.location}"],
            )

    def _check_builtin_arity(self, entry, call: ast.Call):
        given = len(call.args)
        has_generator = any(isinstance(a, ast.Comprehension) for a in call.args)
        if has_generator and not entry.generator:
            raise DopTypeError(f"'{entry.name}' does not take a comprehension", call.span)
        hi = len(entry.positional)
        lo = hi - entry.optional
        if entry.variadic:
            ok = given >= 1
        else:
            ok = lo <= given <= hi
        if not ok:
            raise DopTypeError(
                f"'{entry.name}' takes {entry.arity} argument{'s' * (entry.arity != '1')} "
                f"but {given} {'was' if given == 1 else 'were'} given",
                call.span,
                hint=f"{entry.name}({', '.join(entry.positional)}"
                + "".join(f", {k}={v}" for k, v in entry.keywords.items())
                + ")",
            )
        for keyword in call.keywords:
            if keyword.name not in entry.keywords:
                allowed = ", ".join(entry.keywords) or "none"
                raise DopTypeError(
                    f"'{entry.name}' has no keyword argument '{keyword.name}' "
                    f"(keywords: {allowed})",
                    keyword.span,
                )

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
                decided = self.truth(values.pop(), node.test.span)
                if decided is None:  # checking: both branches must have one shape
                    stack.append((1, node, task[2], "merge"))
                    stack.append((0, node.orelse, task[2]))
                    stack.append((0, node.body, task[2]))
                else:
                    stack.append((0, node.body if decided else node.orelse, task[2]))
            else:
                orelse = values.pop()
                body = values.pop()
                values.append(self._merge_shapes(body, orelse, node))
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

    def _numeric(self, value, node):
        if isinstance(value, (np.ndarray, Var, Abstract)):
            return value
        if isinstance(value, (float, int, np.number)):
            return as_array(value)
        what = "a data table" if isinstance(value, Table) else "a string"
        raise DopTypeError(f"expected a number or array here, not {what}", node.span)

    def _binary(self, node: ast.Binary, left, right):
        left = self._numeric(left, node.left)
        right = self._numeric(right, node.right)
        if node.op == "@":
            return self._apply("matmul", left, right)
        self.span = node.op_span or node.span
        try:
            return self._apply(_BINARY_PRIMS[node.op], left, right)
        except ShapeError as exc:
            exc.message = f"operator '{node.op}': {exc.message}"
            raise exc.located(node.span) from None

    def _compare(self, node: ast.Compare, operands):
        result = None
        for op, a, b in zip(node.ops, operands, operands[1:]):
            c = self._apply(_COMPARE_PRIMS[op], a, b)
            result = c if result is None else self._apply("logical_and", result, c)
        return result

    def _merge_shapes(self, body, orelse, node):
        if shape_of(body) != shape_of(orelse):
            raise ShapeError(
                f"the two branches have different shapes: {format_shape(shape_of(body))} and "
                f"{format_shape(shape_of(orelse))}",
                node.span,
            )
        return Abstract(shape_of(body))

    def _field(self, node: ast.Field, base):
        if not isinstance(base, Table):
            raise DopTypeError(f"'.{node.name}' needs a data table on the left", node.span)
        return self._lookup_column(base, node.name, node.span)

    def _column(self, node: ast.Index, table: Table):
        if len(node.items) != 1 or not isinstance(node.items[0], ast.String):
            raise DopTypeError('a table is indexed by a column name: table["name"]', node.span)
        return self._lookup_column(table, node.items[0].value, node.items[0].span)

    def _lookup_column(self, table: Table, column: str, span):
        if column not in table.columns:
            from diffopt.errors import did_you_mean

            raise DopNameError(
                f"data '{table.name}' has no column '{column}'",
                span,
                notes=[f"its columns: {', '.join(table.columns)}"],
                hint=did_you_mean(column, table.columns),
            )
        return table.columns[column]

    def _index(self, node: ast.Index, base, scope):
        base = self._numeric(base, node.value)
        spec = self.index_spec(node.items, scope)
        return self._apply("index", base, spec=spec)

    def index_spec(self, items, scope) -> tuple:
        spec = []
        for item in items:
            if isinstance(item, ast.Slice):
                parts = []
                for part in (item.start, item.stop, item.step):
                    if part is None:
                        parts.append(None)
                    else:
                        value = self.reenter(part, scope)
                        parts.append(self.integer(value, part.span, "a slice bound"))
                if parts[2] == 0:
                    raise DopTypeError("slice step cannot be zero", item.span)
                spec.append(("slice", *parts))
            else:
                value = self.reenter(item, scope)
                spec.append(self.integer(value, item.span, "an index"))
        return tuple(spec)

    def _array(self, node, items):
        for item in items:
            if not isinstance(item, (np.ndarray, Var, Abstract)):
                raise DopTypeError("array elements must be numbers or arrays", node.span)
        if not items:
            return np.zeros(0)
        return BUILTINS["stack"].fn(*items)

    def _finish_call(self, task, stack, values):
        node: ast.Call = task[1]
        target = task[3]
        if target == "implicit":
            from diffopt.implicit import implicit_call

            values.append(implicit_call(self, node, task[2]))
            return
        if target == "csv":
            values.append(self._csv(node, task[2]))
            return
        if isinstance(target, _Def):
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
        if self.tape is not None:
            self.tape.span = node.span
        try:
            result = entry.fn(*args, **keywords)
        except DopError as exc:
            raise exc.located(node.span) from None
        if not isinstance(result, (np.ndarray, Var, Abstract)):
            result = as_array(result)  # a composite folded to a NumPy scalar
        values.append(result)

    def _csv(self, node: ast.Call, scope):
        if len(node.args) != 1 or not isinstance(node.args[0], ast.String) or node.keywords:
            raise DopTypeError('csv takes one file name: csv("trips.csv")', node.span)
        if self.loader is None:
            raise DopTypeError("csv(...) reads a table only as the whole value of a 'data' "
                               "declaration", node.span, hint='data trips = csv("trips.csv")')
        return self.loader(node)


def _show(value) -> str:
    a = np.asarray(value)
    return f"{float(a):g}" if a.ndim == 0 else f"an array of shape {format_shape(a.shape)}"


__all__ = ["Machine", "Scope", "Table", "RunResult", "ConstraintValue", "as_array"]
