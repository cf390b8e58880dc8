"""The text of expressions and simple statements for ``diffopt fmt``: one line each.

Owns the precedence table and the minimal parentheses (``format_expr``),
and the one-line layout of every statement but ``for``/``if``
(``statement_pieces``). Text is built top-down from "pieces" with an
explicit stack, so any depth formats in linear time. The layout rules are
listed in diffopt.syntax.fmt.
"""

from __future__ import annotations

from diffopt.syntax import ast

# ------------------------------------------------------------------ precedence

# From loosest to tightest, as in grammars/dop.lark.
COND, OR, AND, NOT, COMPARE, SUM, PRODUCT, UNARY, POWER, POSTFIX = range(10)

_BINARY_LEVEL = {"+": SUM, "-": SUM, "*": PRODUCT, "/": PRODUCT, "//": PRODUCT, "%": PRODUCT,
                 "@": PRODUCT, "^": POWER}


# Typed text: ``render`` joins these like any string; fmt_wrap reads the types
# to find where a long line may break (inside brackets, at commas and operators).


class Open(str):
    """An opening ``(`` or ``[`` of an expression; a trailing comma may follow its last item."""


class OpenNoComma(Open):
    """An opening bracket whose list takes no trailing comma (``in [lo, hi]``, parentheses)."""


class Close(str):
    """The closing ``)`` or ``]`` of an ``Open``."""


class Sep(str):
    """The ``", "`` between the items of a bracket."""


class Op(str):
    """A spaced binary operator (or ``then``/``else``, a comprehension clause): a line may
    break before it; ``level`` is its precedence (the loosest breaks first)."""

    level: int

    def __new__(cls, text: str, level: int):
        self = super().__new__(cls, text)
        self.level = level
        return self


SEP = Sep(", ")
PAREN, PAREN_CLOSE = OpenNoComma("("), Close(")")
CALL = Open("(")
BRACKET, BRACKET_CLOSE = Open("["), Close("]")
BOUNDS = OpenNoComma("[")
_OPS = {op: Op(f" {op} ", level) for op, level in _BINARY_LEVEL.items()}
_OPS.update({op: Op(f" {op} ", COMPARE) for op in ("<", "<=", ">", ">=", "==", "!=")})
_OPS.update({"or": Op(" or ", OR), "and": Op(" and ", AND), "then": Op(" then ", COND),
             "else": Op(" else ", COND), "if": Op(" if ", COND - 1)})


def _op(op: str) -> Op:
    return _OPS.get(op) or Op(f" {op} ", COMPARE)


def _prec(node) -> int:
    """How tightly ``node`` binds when printed without brackets."""
    if isinstance(node, ast.Binary):
        return _BINARY_LEVEL[node.op]
    if isinstance(node, ast.Unary):
        return UNARY
    if isinstance(node, ast.Compare):
        return COMPARE
    if isinstance(node, ast.Not):
        return NOT
    if isinstance(node, ast.BoolOp):
        return OR if node.op == "or" else AND
    if isinstance(node, ast.Cond):
        return COND
    # Atoms, postfix forms, and the pieces that only occur in their own slots
    # (keywords, slices, ranges, comprehension clauses) are never bracketed.
    return POSTFIX


# ------------------------------------------------------------------ expressions

# A "piece" is either literal text or a (node, minimum precedence) pair: the
# node is printed in brackets when it binds looser than its slot requires.


def _quote(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def _joined(items, level: int, sep: str = SEP) -> list:
    pieces: list = []
    for i, item in enumerate(items):
        if i:
            pieces.append(sep)
        pieces.append((item, level))
    return pieces


def _binary_pieces(node: ast.Binary) -> list:
    level = _BINARY_LEVEL[node.op]
    if node.op == "^":  # right-associative; the base is a postfix expression
        return [(node.left, POSTFIX), "^", (node.right, UNARY)]
    return [(node.left, level), _OPS[node.op], (node.right, level + 1)]


def _slice_pieces(node: ast.Slice) -> list:
    pieces: list = []
    if node.start is not None:
        pieces.append((node.start, OR))
    pieces.append(":")
    if node.stop is not None:
        pieces.append((node.stop, OR))
    if node.step is not None:
        pieces += [":", (node.step, OR)]
    return pieces


def _comprehension_pieces(node: ast.Comprehension) -> list:
    pieces: list = [(node.element, OR)]
    for clause in node.clauses:
        if isinstance(clause, ast.CompFor):
            pieces += [Op(f" for {clause.var} in ", COND - 1), (clause.range, COND)]
        else:
            pieces += [_OPS["if"], (clause.test, OR)]
    return pieces


def _pieces(node) -> list:
    """The text of ``node`` one level deep: literal strings and child slots."""
    kind = type(node)
    if kind is ast.Number:
        return [node.text]
    if kind is ast.Name:
        return [node.id]
    if kind is ast.String:
        return [_quote(node.value)]
    if kind is ast.Binary:
        return _binary_pieces(node)
    if kind is ast.Unary:
        # Two signs in a row keep a space: `- -x`.
        gap = " " if isinstance(node.operand, ast.Unary) else ""
        return [node.op + gap, (node.operand, UNARY)]
    if kind is ast.Compare:
        pieces = [(node.operands[0], SUM)]
        for op, operand in zip(node.ops, node.operands[1:]):
            pieces += [_op(op), (operand, SUM)]
        return pieces
    if kind is ast.BoolOp:
        level = _prec(node)
        return [(node.left, level), _OPS[node.op], (node.right, level + 1)]
    if kind is ast.Not:
        return ["not ", (node.operand, NOT)]
    if kind is ast.Cond:
        return ["if ", (node.test, OR), _OPS["then"], (node.body, OR), _OPS["else"],
                (node.orelse, COND)]
    if kind is ast.Call:
        args = _joined(node.args + node.keywords, COND)
        return [(node.func, POSTFIX), CALL, *args, PAREN_CLOSE]
    if kind is ast.Keyword:
        return [f"{node.name}=", (node.value, COND)]
    if kind is ast.Lambda:
        return [f"{node.var}: ", (node.body, COND)]
    if kind is ast.Index:
        return [(node.value, POSTFIX), BRACKET, *_joined(node.items, COND), BRACKET_CLOSE]
    if kind is ast.Slice:
        return _slice_pieces(node)
    if kind is ast.Field:
        return [(node.value, POSTFIX), f".{node.name}"]
    if kind is ast.Array:
        return [BRACKET, *_joined(node.items, COND), BRACKET_CLOSE]
    if kind is ast.ArrayComp:
        return [BRACKET, (node.comprehension, COND), BRACKET_CLOSE]
    if kind is ast.Comprehension:
        return _comprehension_pieces(node)
    if kind is ast.Range:
        return [(node.start, SUM), "..", (node.stop, SUM)]
    raise AssertionError(f"fmt: no layout for {kind.__name__} (internal error)")


def render(pieces: list) -> str:
    """The text of ``pieces`` on one line."""
    return "".join(expand(pieces))


def expand(pieces: list) -> list[str]:
    """Expand pieces into text tokens with an explicit stack (any depth, linear time).

    Top-down rather than bottom-up (``ast.postorder`` with one string per
    node): concatenating child strings would copy a long sum's text once per
    term, which is quadratic.
    """
    out: list[str] = []
    stack = list(reversed(pieces))
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        node, level = item
        if _prec(node) < level:
            stack += [PAREN_CLOSE, (node, COND), PAREN]
        else:
            stack.extend(reversed(_pieces(node)))
    return out


def format_expr(expr) -> str:
    """Canonical text of one expression (with the minimal parentheses).

    Args:
        expr: an expression node (or a keyword, slice, range or comprehension).

    Returns:
        The expression on one line.
    """
    return render([(expr, COND)])


# ------------------------------------------------------------------- statements


def _param_item_pieces(item: ast.ParamItem) -> list:
    pieces: list = [item.name]
    if item.dims is not None:
        pieces += [BRACKET, *_joined(item.dims, COND), BRACKET_CLOSE]
    if item.lower is not None or item.upper is not None:
        pieces += [" in ", BOUNDS, (item.lower, COND), SEP, (item.upper, COND), BRACKET_CLOSE]
    if item.start is not None:
        pieces += [" ~ " if item.random_start else " = ", (item.start, COND)]
    return pieces


def _labelled(words: str, label: str | None, expr) -> list:
    head = f"{words} {label}: " if label is not None else f"{words} "
    return [head, (expr, COND)]


def statement_pieces(stmt) -> list:
    """The one-line text of a simple statement (not ``for``/``if``)."""
    if isinstance(stmt, ast.Decl):
        pieces: list = [f"{stmt.kind} "]
        for i, binding in enumerate(stmt.bindings):
            pieces += [", " if i else "", f"{binding.name} = ", (binding.value, COND)]
        return pieces
    if isinstance(stmt, ast.ParamDecl):
        pieces = ["param "]
        for i, item in enumerate(stmt.items):
            pieces += [", " if i else "", *_param_item_pieces(item)]
        return pieces
    if isinstance(stmt, ast.Def):
        return [f"def {stmt.name}({', '.join(stmt.params)}) = ", (stmt.body, COND)]
    if isinstance(stmt, ast.Objective):
        return _labelled(stmt.sense, stmt.label, stmt.expr)
    if isinstance(stmt, ast.Constraint):
        return _labelled("subject to", stmt.label, stmt.expr)
    if isinstance(stmt, ast.Assign):
        pieces = [stmt.name]
        if stmt.index is not None:
            pieces += [BRACKET, *_joined(stmt.index, COND), BRACKET_CLOSE]
        return [*pieces, f" {stmt.op} ", (stmt.value, COND)]
    if isinstance(stmt, ast.Break):
        return ["break"] if stmt.when is None else ["break when ", (stmt.when, COND)]
    raise AssertionError(f"fmt: no layout for {type(stmt).__name__} (internal error)")
