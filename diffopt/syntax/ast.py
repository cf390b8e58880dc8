"""The .dop abstract syntax tree: one frozen dataclass per construct.

Every node carries a ``span`` (excluded from equality and repr, so trees
compare by structure alone: what ``fmt``'s safety checks rely on). Parentheses
leave no node; ``**`` is stored as ``^``. Nothing here validates: names,
shapes and arity are the checker's job (diffopt/sema.py).

Trees can be deep (a 10^5-term sum is a 10^5-deep left spine), so code that
walks them must use ``children``/``postorder`` (from walk.py, re-exported
here), never recursion.
Must not import Lark or NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from diffopt.source import Span
from diffopt.syntax.walk import _child_fields as _child_fields  # re-exported: the walks
from diffopt.syntax.walk import children as children
from diffopt.syntax.walk import postorder as postorder
from diffopt.syntax.walk import same_tree as same_tree


def _span() -> Span:
    return field(default=None, compare=False, repr=False)


# ------------------------------------------------------------------ expressions


@dataclass(frozen=True)
class Number:
    """A numeric literal; ``text`` keeps the spelling for fmt."""

    value: float
    text: str
    span: Span = _span()


@dataclass(frozen=True)
class String:
    """A string literal (file names and options only); ``value`` is unescaped."""

    value: str
    span: Span = _span()


@dataclass(frozen=True)
class Name:
    """A reference to a declared name, a built-in constant or a loop index."""

    id: str
    span: Span = _span()


@dataclass(frozen=True)
class Unary:
    """``-x`` or ``+x``."""

    op: str
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Binary:
    """Arithmetic ``+ - * / // % @ ^``; ``op_span`` points at the operator."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span()
    op_span: Span = _span()


@dataclass(frozen=True)
class Compare:
    """A comparison chain ``a < b <= c`` (``ops[i]`` joins operands i, i+1)."""

    ops: tuple[str, ...]
    operands: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class BoolOp:
    """``a and b`` / ``a or b``."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Not:
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Cond:
    """``if test then body else orelse`` (an expression; scalar test)."""

    test: Expr
    body: Expr
    orelse: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Keyword:
    """``name=value`` in a call."""

    name: str
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Lambda:
    """``x: body`` as an argument of ``root``/``argmin`` (binds x in body)."""

    var: str
    body: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Call:
    """``func(args..., kw=...)``; a generator argument is a ``Comprehension``."""

    func: Expr
    args: tuple[Expr, ...]
    keywords: tuple[Keyword, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Slice:
    """``start:stop:step`` inside an index; absent parts are None."""

    start: Expr | None
    stop: Expr | None
    step: Expr | None
    span: Span = _span()


@dataclass(frozen=True)
class Index:
    """``value[items]``; items are expressions or ``Slice``s."""

    value: Expr
    items: tuple[Expr | Slice, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Field:
    """``value.name`` (a data table's column)."""

    value: Expr
    name: str
    span: Span = _span()


@dataclass(frozen=True)
class Array:
    """``[a, b, c]``."""

    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Range:
    """``start..stop``, half-open; only in for headers and comprehensions."""

    start: Expr
    stop: Expr
    span: Span = _span()


@dataclass(frozen=True)
class CompFor:
    var: str
    range: Range
    span: Span = _span()


@dataclass(frozen=True)
class CompIf:
    test: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Comprehension:
    """``element for i in a..b if c ...`` (a generator argument or an array)."""

    element: Expr
    clauses: tuple[CompFor | CompIf, ...]
    span: Span = _span()


@dataclass(frozen=True)
class ArrayComp:
    """``[element for ...]``."""

    comprehension: Comprehension
    span: Span = _span()


Expr = Union[  # noqa: UP007 - a runtime alias; `|` of classes needs 3.10 at import
    Number, String, Name, Unary, Binary, Compare, BoolOp, Not, Cond, Call, Index, Field, Array,
    ArrayComp,
]


# ------------------------------------------------------------------- statements


@dataclass(frozen=True)
class Binding:
    """``name = value`` inside const/data/let/var/option declarations."""

    name: str
    value: Expr
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class Decl:
    """``const|data|let|var|option binding, ...``."""

    kind: str
    bindings: tuple[Binding, ...]
    span: Span = _span()


@dataclass(frozen=True)
class ParamItem:
    """One parameter: ``name[dims] in [lo, hi] = start`` or ``~ random(...)``."""

    name: str
    dims: tuple[Expr, ...] | None
    lower: Expr | None
    upper: Expr | None
    start: Expr | None
    random_start: bool
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class ParamDecl:
    items: tuple[ParamItem, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Def:
    """``def name(params) = body``: a pure function, inlined at each call."""

    name: str
    params: tuple[str, ...]
    body: Expr
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class Objective:
    """``minimize|maximize [label:] expr``."""

    sense: str
    label: str | None
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Constraint:
    """``subject to [label:] comparison``."""

    label: str | None
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Assign:
    """``name = v``, ``name[i] = v`` or ``name op= v`` (op is ``=``, ``+=`` ...)."""

    name: str
    index: tuple[Expr | Slice, ...] | None
    op: str
    value: Expr
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class For:
    var: str
    range: Range
    body: tuple[Stmt, ...]
    span: Span = _span()


@dataclass(frozen=True)
class If:
    """``if test { body } else { orelse }``; ``else if`` nests an If in orelse."""

    test: Expr
    body: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...] | None
    span: Span = _span()


@dataclass(frozen=True)
class Break:
    """``break``, or ``break when a < b``: the loop ends where ``a - b`` crosses
    zero, every var interpolated to the crossing (``when`` is the condition)."""

    when: Expr | None = None
    span: Span = _span()


Stmt = Union[  # noqa: UP007
    Decl, ParamDecl, Def, Objective, Constraint, Assign, For, If, Break]


@dataclass(frozen=True)
class Comment:
    """A ``#`` comment; ``line`` is 1-based; ``own_line`` if nothing precedes it."""

    text: str
    line: int
    own_line: bool


@dataclass(frozen=True)
class Program:
    statements: tuple[Stmt, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    span: Span = _span()
