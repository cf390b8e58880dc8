"""Grammar rules → AST (diffopt.syntax.ast), with a span on every node.

Only builds nodes: no validation (that is sema.py's job). ``Builder`` is
given to Lark as its ``transformer``, so Lark's LALR parser calls one method
per reduced rule and the program comes out of the parse as AST: no parse
tree, no second pass, and no recursion at any depth (Lark's LALR parser is a
loop, and each method only looks at its rule's children).

Lark runs with ``keep_all_tokens`` and without placeholders, so a method sees
every token its rule matched, brackets and keywords included. That is what
spans are made of: a node spans from the first token of its rule to the last
(exactly what Lark's ``propagate_positions`` computed), taken from a child
token, or from a child's ``span`` when the child is a node or one of the two
carriers below. Rules starting with ``_`` and Lark's ``*``/``+`` helpers have
no method; Lark splices their children into the parent's.
"""

from __future__ import annotations

from lark import Token

from diffopt.source import Source, Span
from diffopt.syntax import ast

_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
_span = Span.fast
_new = object.__new__
_set = object.__setattr__


def _make(cls, fields: dict):
    """``cls(**fields)`` for a frozen dataclass node, without its ``__init__``.

    Setting the fields directly makes the same object with less work than
    ``__init__`` (the hot rules build a node per term of a long sum); set one
    by one, they stay inline (a dict per node would add about 90 bytes).
    ``fields`` names every field in declaration order: tests/test_parser.py
    compares these nodes with ones built by ``__init__``.
    """
    node = _new(cls)
    for name, value in fields.items():
        _set(node, name, value)
    return node


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


class _Paren:
    """A parenthesized expression: the node, and the span with the parentheses.

    Parentheses leave no AST node, but a parent that starts or ends with
    them spans them: ``(a + b) * c`` starts at ``(``. Every rule that takes
    an expression unwraps it with ``_bare``.
    """

    __slots__ = ("node", "span")

    def __init__(self, node, span: Span):
        self.node = node
        self.span = span


class _Part:
    """A rule's value that is not a node (a block, dims, bounds, a subscript,
    a start value), with its span for the rule it ends."""

    __slots__ = ("value", "span")

    def __init__(self, value, span: Span):
        self.value = value
        self.span = span


def _bare(item):
    return item.node if item.__class__ is _Paren else item


def _between(source: Source, first, last) -> Span:
    """From the start of ``first`` to the end of ``last`` (tokens or spanned)."""
    if first.__class__ is Token:
        start, line, col = first.start_pos, first.line, first.column
    else:
        span = first.span
        start, line, col = span.start, span.line, span.col
    if last.__class__ is Token:
        return _span(source, start, last.end_pos, line, col, last.end_line, last.end_column)
    span = last.span
    return _span(source, start, span.end, line, col, span.end_line, span.end_col)


def _of_token(source: Source, token: Token) -> Span:
    return _span(source, token.start_pos, token.end_pos, token.line, token.column,
                 token.end_line, token.end_column)


def _values(children) -> list:
    """The children that are not tokens (commas, brackets, separators), unwrapped."""
    return [_bare(c) for c in children if c.__class__ is not Token]


class Builder:
    """Lark's transformer: one method per rule (or alias) of grammars/dop.lark.

    Each receives the rule's children (tokens, nodes, ``_Paren``/``_Part``)
    and returns its value. ``source`` is set before each parse (a builder
    serves one parse at a time: parser.py gives each parse its own). A plain
    class: Lark looks the methods up by rule name, and a lark.Transformer
    base would only add a slower default for the spliced rules.
    """

    def __init__(self):
        self.source: Source | None = None

    # -- program and declarations

    def start(self, children):
        return tuple(c for c in children if c.__class__ is not Token)

    def binding(self, children):
        name, _, value = children
        source = self.source
        return ast.Binding(name.value, _bare(value), span=_between(source, name, value),
                           name_span=_of_token(source, name))

    def _decl(kind):
        def build(self, children):
            return ast.Decl(kind, tuple(_values(children)),
                            span=_between(self.source, children[0], children[-1]))

        return build

    const_decl = _decl("const")
    data_decl = _decl("data")
    let_decl = _decl("let")
    var_decl = _decl("var")
    option_decl = _decl("option")
    del _decl

    def param_decl(self, children):
        return ast.ParamDecl(tuple(_values(children)),
                             span=_between(self.source, children[0], children[-1]))

    def param_item(self, children):
        name = children[0]
        parts = {part.value[0]: part.value[1] for part in children[1:]}
        lower, upper = parts.get("bounds", (None, None))
        start = parts.get("value", parts.get("random"))
        source = self.source
        return ast.ParamItem(
            name.value,
            parts.get("dims"),
            lower,
            upper,
            start,
            "random" in parts,
            span=_between(source, name, children[-1]),
            name_span=_of_token(source, name),
        )

    # The three optional parts of a param item, told apart by their tag.

    def dims(self, children):
        return _Part(("dims", tuple(_values(children))),
                     _between(self.source, children[0], children[-1]))

    def bounds(self, children):
        return _Part(("bounds", (_bare(children[2]), _bare(children[4]))),
                     _between(self.source, children[0], children[-1]))

    def start_value(self, children):
        return _Part(("value", _bare(children[1])), _between(self.source, *children))

    def start_random(self, children):
        return _Part(("random", _bare(children[1])), _between(self.source, *children))

    def def_decl(self, children):
        # def NAME ( NAME , NAME ,? ) = expr: the parameters sit between the
        # parentheses, children[2] and children[-3].
        name, body = children[1], children[-1]
        source = self.source
        return ast.Def(
            name.value,
            tuple(p.value for p in children[3:-3] if p.type == "NAME"),
            _bare(body),
            span=_between(source, children[0], body),
            name_span=_of_token(source, name),
        )

    def objective(self, children):
        sense, expr = children[0], children[-1]
        label = children[1].value if len(children) == 4 else None
        return ast.Objective(sense.value, label, _bare(expr),
                             span=_between(self.source, sense, expr))

    def constraint(self, children):
        expr = children[-1]
        label = children[2].value if len(children) == 5 else None
        return ast.Constraint(label, _bare(expr), span=_between(self.source, children[0], expr))

    # -- simulation blocks

    def for_stmt(self, children):
        _, var, _, rng, body = children
        return ast.For(var.value, rng, body.value,
                       span=_between(self.source, children[0], body))

    def if_stmt(self, children):
        test, body = children[1], children[2]
        orelse = None
        if len(children) == 5:
            orelse = children[4]
            orelse = (orelse,) if isinstance(orelse, ast.If) else orelse.value
        return ast.If(_bare(test), body.value, orelse,
                      span=_between(self.source, children[0], children[-1]))

    def block(self, children):
        statements = tuple(c for c in children if c.__class__ is not Token)
        return _Part(statements, _between(self.source, children[0], children[-1]))

    def break_stmt(self, children):
        when = _bare(children[2]) if len(children) == 3 else None  # break when a < b
        return ast.Break(when, span=_between(self.source, children[0], children[-1]))

    def assign(self, children):
        name, op, value = children[0], children[-2], children[-1]
        index = children[1].value if len(children) == 4 else None
        source = self.source
        return ast.Assign(name.value, index, op.value, _bare(value),
                          span=_between(source, name, value), name_span=_of_token(source, name))

    def range(self, children):
        start, _, stop = children
        return ast.Range(_bare(start), _bare(stop), span=_between(self.source, start, stop))

    # -- expressions

    def cond_expr(self, children):
        _, test, _, body, _, orelse = children
        return ast.Cond(_bare(test), _bare(body), _bare(orelse),
                        span=_between(self.source, children[0], orelse))

    def or_op(self, children):
        left, _, right = children
        return ast.BoolOp("or", _bare(left), _bare(right),
                          span=_between(self.source, left, right))

    def and_op(self, children):
        left, _, right = children
        return ast.BoolOp("and", _bare(left), _bare(right),
                          span=_between(self.source, left, right))

    def not_op(self, children):
        keyword, operand = children
        return ast.Not(_bare(operand), span=_between(self.source, keyword, operand))

    def compare(self, children):
        operands = tuple(_bare(c) for c in children[0::2])
        ops = tuple(op.value for op in children[1::2])
        return ast.Compare(ops, operands, span=_between(self.source, children[0], children[-1]))

    def binary(self, children):
        # The hottest rule (a long sum is one per term): _between inlined.
        left, op, right = children
        first, last = left.span, right.span
        source = self.source
        text = op.value
        return _make(ast.Binary, {
            "op": "^" if text == "**" else text,
            "left": left.node if left.__class__ is _Paren else left,
            "right": right.node if right.__class__ is _Paren else right,
            "span": _span(source, first.start, last.end, first.line, first.col, last.end_line,
                          last.end_col),
            "op_span": _span(source, op.start_pos, op.end_pos, op.line, op.column, op.end_line,
                             op.end_column),
        })

    def unary_op(self, children):
        op, operand = children
        return ast.Unary(op.value, _bare(operand), span=_between(self.source, op, operand))

    def call(self, children):
        func, close = children[0], children[-1]
        args, keywords = children[2] if len(children) == 4 else ((), ())
        first = func.span
        return _make(ast.Call, {
            "func": func.node if func.__class__ is _Paren else func,
            "args": args,
            "keywords": keywords,
            "span": _span(self.source, first.start, close.end_pos, first.line, first.col,
                          close.end_line, close.end_column),
        })

    def arguments(self, children):
        if len(children) == 1 and children[0].__class__ is not ast.Keyword:
            item = children[0]  # the common f(x): one positional argument
            return ((item.node if item.__class__ is _Paren else item,), ())
        items = _values(children)
        args = tuple(c for c in items if not isinstance(c, ast.Keyword))
        keywords = tuple(c for c in items if isinstance(c, ast.Keyword))
        # Keep positional-after-keyword visible to the checker: remember order.
        if args and keywords and _first_index(items, ast.Keyword) < _last_positional(items):
            return (tuple(items), ())
        return (args, keywords)

    def generator_arguments(self, children):
        comprehension, *keywords = _values(children)
        return ((comprehension,), tuple(keywords))

    def keyword(self, children):
        name, _, value = children
        return ast.Keyword(name.value, _bare(value), span=_between(self.source, name, value))

    def binder(self, children):
        var, _, body = children
        return ast.Lambda(var.value, _bare(body), span=_between(self.source, var, body))

    def index(self, children):
        value, items = children
        return ast.Index(_bare(value), items.value, span=_between(self.source, value, items))

    def subscript(self, children):
        return _Part(tuple(_values(children)), _between(self.source, children[0], children[-1]))

    def slice(self, children):
        # [start] : [stop] [: [step]]: each ':' begins the next part.
        parts = [None]
        for child in children:
            if child.__class__ is Token:
                parts.append(None)
            else:
                parts[-1] = _bare(child)
        parts += [None] * (3 - len(parts))
        return ast.Slice(*parts, span=_between(self.source, children[0], children[-1]))

    def field(self, children):
        value, _, name = children
        return ast.Field(_bare(value), name.value, span=_between(self.source, value, name))

    def number(self, children):
        (token,) = children
        text = token.value
        span = _span(self.source, token.start_pos, token.end_pos, token.line, token.column,
                     token.end_line, token.end_column)
        return _make(ast.Number, {"value": float(text.replace("_", "")), "text": text,
                                  "span": span})

    def string(self, children):
        (token,) = children
        return ast.String(_unescape(token.value[1:-1]), span=_of_token(self.source, token))

    def name(self, children):
        (token,) = children  # _of_token inlined: names are the commonest node
        return _make(ast.Name, {"id": token.value, "span": _span(
            self.source, token.start_pos, token.end_pos, token.line, token.column,
            token.end_line, token.end_column)})

    def paren(self, children):
        open_, inner, close = children
        return _Paren(_bare(inner), _between(self.source, open_, close))

    def array(self, children):
        return ast.Array(tuple(_values(children)),
                         span=_between(self.source, children[0], children[-1]))

    def array_comprehension(self, children):
        return ast.ArrayComp(children[1], span=_between(self.source, children[0], children[-1]))

    def comprehension(self, children):
        element = children[0]
        return ast.Comprehension(_bare(element), tuple(children[1:]),
                                 span=_between(self.source, element, children[-1]))

    def comp_for(self, children):
        _, var, _, rng = children
        return ast.CompFor(var.value, rng, span=_between(self.source, children[0], rng))

    def comp_if(self, children):
        keyword, test = children
        return ast.CompIf(_bare(test), span=_between(self.source, keyword, test))


def _first_index(items, cls) -> int:
    return next(i for i, item in enumerate(items) if isinstance(item, cls))


def _last_positional(items) -> int:
    return max(i for i, item in enumerate(items) if not isinstance(item, ast.Keyword))
__all__ = ["Builder"]
