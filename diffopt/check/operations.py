"""What each expression node does with its evaluated operands (the machine's mixin).

Operators, comparisons, indexing, arrays, fields of tables and ``csv(...)``:
each takes values that are constants, Vars or Abstracts and applies
primitives through ``_apply`` (which ``Machine`` defines). Constant checks
(``constant``, ``integer``) raise located errors.
"""

from __future__ import annotations

import numpy as np

from diffopt.check.calls import lookup_column
from diffopt.check.values import Table, is_constant
from diffopt.errors import DopTypeError, ShapeError
from diffopt.ops.registry import BUILTINS, Abstract, Var, as_array, format_shape, shape_of
from diffopt.syntax import ast

_BINARY_PRIMS = {"+": "add", "-": "sub", "*": "mul", "/": "div", "^": "pow", "%": "mod",
                 "//": "floordiv", "@": "matmul"}
_COMPARE_PRIMS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}


class Operations:
    """Node operations shared by the interpreter (see the module docstring)."""

    def constant(self, value, span, what: str) -> np.ndarray:
        if not is_constant(value):
            raise DopTypeError(f"{what} must be a constant (it depends on a parameter)", span)
        return value

    def integer(self, value, span, what: str) -> int:
        value = self.constant(value, span, what)
        if value.shape != () or not np.isfinite(value) or float(value) != int(value):
            raise DopTypeError(f"{what} must be an integer, not {_show(value)}", span)
        return int(value)


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

    def _merge_shapes(self, body, orelse, node) -> Abstract:
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
        return lookup_column(base, node.name, node.span)

    def _column(self, node: ast.Index, table: Table):
        if len(node.items) != 1 or not isinstance(node.items[0], ast.String):
            raise DopTypeError('a table is indexed by a column name: table["name"]', node.span)
        return lookup_column(table, node.items[0].value, node.items[0].span)

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
        if max(len(shape_of(item)) for item in items) >= 32:
            raise ShapeError("arrays nest at most 32 levels deep (NumPy's limit)", node.span)
        return BUILTINS["stack"].fn(*items)

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
