"""Lark parse tree → AST (diffopt.syntax.ast), with a span on every node.

Only builds nodes: no validation (that is sema.py's job). Uses Lark's
non-recursive transformer so that arbitrarily deep trees convert without
touching Python's recursion limit. Rule methods receive ``(span, children)``
through one ``v_args`` wrapper, so no method handles positions itself.
"""

from __future__ import annotations

from lark import Token, Transformer_NonRecursive, v_args

from diffopt.source import Source, Span
from diffopt.syntax import ast

_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _with_span(method, _rule_name, children, meta):
    return method(meta, children)


def _present(children):
    return [c for c in children if c is not None]


@v_args(wrapper=_with_span)
class _ToAst(Transformer_NonRecursive):
    def __init__(self, source: Source):
        super().__init__(visit_tokens=False)
        self.source = source

    def _span(self, item) -> Span:
        return Span.of(self.source, item)

    # -- program and declarations

    def start(self, meta, children):
        return ast.Program(tuple(children), span=self._span(meta))

    def binding(self, meta, children):
        name, value = children
        return ast.Binding(str(name), value, span=self._span(meta), name_span=self._span(name))

    def _decl(kind):
        def build(self, meta, children):
            return ast.Decl(kind, tuple(children), span=self._span(meta))

        return build

    const_decl = _decl("const")
    data_decl = _decl("data")
    let_decl = _decl("let")
    var_decl = _decl("var")
    option_decl = _decl("option")
    del _decl

    def param_decl(self, meta, children):
        return ast.ParamDecl(tuple(children), span=self._span(meta))

    def param_item(self, meta, children):
        name, dims, bounds, start = children
        lower, upper = bounds if bounds is not None else (None, None)
        random_start = start is not None and start[0] == "random"
        return ast.ParamItem(
            str(name),
            dims,
            lower,
            upper,
            start[1] if start is not None else None,
            random_start,
            span=self._span(meta),
            name_span=self._span(name),
        )

    def dims(self, meta, children):
        return tuple(children)

    def bounds(self, meta, children):
        return tuple(children)

    def start_value(self, meta, children):
        return ("value", children[0])

    def start_random(self, meta, children):
        return ("random", children[0])

    def def_decl(self, meta, children):
        name, *params, body = children
        return ast.Def(
            str(name),
            tuple(str(p) for p in params if p is not None),
            body,
            span=self._span(meta),
            name_span=self._span(name),
        )

    def objective(self, meta, children):
        sense, label, expr = children
        return ast.Objective(
            str(sense), str(label) if label is not None else None, expr, span=self._span(meta)
        )

    def constraint(self, meta, children):
        label, expr = children
        label = str(label) if label is not None else None
        return ast.Constraint(label, expr, span=self._span(meta))

    # -- simulation blocks

    def for_stmt(self, meta, children):
        var, rng, body = children
        return ast.For(str(var), rng, body, span=self._span(meta))

    def if_stmt(self, meta, children):
        test, body, orelse = children
        if isinstance(orelse, ast.If):
            orelse = (orelse,)
        return ast.If(test, body, orelse, span=self._span(meta))

    def block(self, meta, children):
        return tuple(children)

    def break_stmt(self, meta, children):
        return ast.Break(span=self._span(meta))

    def assign(self, meta, children):
        name, index, op, value = children
        return ast.Assign(
            str(name), index, str(op), value, span=self._span(meta), name_span=self._span(name)
        )

    def range(self, meta, children):
        start, stop = children
        return ast.Range(start, stop, span=self._span(meta))

    # -- expressions

    def cond_expr(self, meta, children):
        return ast.Cond(*children, span=self._span(meta))

    def or_op(self, meta, children):
        return ast.BoolOp("or", *children, span=self._span(meta))

    def and_op(self, meta, children):
        return ast.BoolOp("and", *children, span=self._span(meta))

    def not_op(self, meta, children):
        return ast.Not(children[0], span=self._span(meta))

    def compare(self, meta, children):
        operands = tuple(children[0::2])
        ops = tuple(str(op) for op in children[1::2])
        return ast.Compare(ops, operands, span=self._span(meta))

    def binary(self, meta, children):
        left, op, right = children
        text = "^" if op == "**" else str(op)
        return ast.Binary(
            text, left, right, span=self._span(meta), op_span=self._span(op)
        )

    def unary_op(self, meta, children):
        op, operand = children
        return ast.Unary(str(op), operand, span=self._span(meta))

    def call(self, meta, children):
        func, arguments = children
        args, keywords = arguments if arguments is not None else ((), ())
        return ast.Call(func, args, keywords, span=self._span(meta))

    def arguments(self, meta, children):
        args = tuple(c for c in children if not isinstance(c, ast.Keyword))
        keywords = tuple(c for c in children if isinstance(c, ast.Keyword))
        # Keep positional-after-keyword visible to the checker: remember order.
        if args and keywords and _first_index(children, ast.Keyword) < _last_positional(children):
            return (tuple(children), ())
        return (args, keywords)

    def generator_arguments(self, meta, children):
        return ((children[0],), tuple(children[1:]))

    def keyword(self, meta, children):
        name, value = children
        return ast.Keyword(str(name), value, span=self._span(meta))

    def binder(self, meta, children):
        var, body = children
        return ast.Lambda(str(var), body, span=self._span(meta))

    def index(self, meta, children):
        value, items = children
        return ast.Index(value, items, span=self._span(meta))

    def subscript(self, meta, children):
        return tuple(children)

    def slice(self, meta, children):
        parts = list(children) + [None] * (3 - len(children))
        return ast.Slice(*parts[:3], span=self._span(meta))

    def field(self, meta, children):
        value, name = children
        return ast.Field(value, str(name), span=self._span(meta))

    def number(self, meta, children):
        (token,) = children
        return ast.Number(float(token.replace("_", "")), str(token), span=self._span(token))

    def string(self, meta, children):
        (token,) = children
        return ast.String(_unescape(token[1:-1]), span=self._span(token))

    def name(self, meta, children):
        (token,) = children
        return ast.Name(str(token), span=self._span(token))

    def paren(self, meta, children):
        return children[0]

    def array(self, meta, children):
        return ast.Array(tuple(_present(children)), span=self._span(meta))

    def array_comprehension(self, meta, children):
        return ast.ArrayComp(children[0], span=self._span(meta))

    def comprehension(self, meta, children):
        element, *clauses = children
        return ast.Comprehension(element, tuple(clauses), span=self._span(meta))

    def comp_for(self, meta, children):
        var, rng = children
        return ast.CompFor(str(var), rng, span=self._span(meta))

    def comp_if(self, meta, children):
        return ast.CompIf(children[0], span=self._span(meta))


def _first_index(items, cls) -> int:
    return next(i for i, item in enumerate(items) if isinstance(item, cls))


def _last_positional(items) -> int:
    return max(i for i, item in enumerate(items) if not isinstance(item, ast.Keyword))


def to_program(tree, source: Source, comments: tuple[ast.Comment, ...]) -> ast.Program:
    """Convert a Lark parse tree into a Program carrying ``comments``."""
    program = _ToAst(source).transform(tree)
    return ast.Program(program.statements, comments, span=source.span(0, len(source.text)))


__all__ = ["to_program", "Token"]
