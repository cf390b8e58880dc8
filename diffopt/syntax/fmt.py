"""AST → canonical .dop text (``diffopt fmt``), with safety checks.

Owns the canonical layout and the guarantee that formatting never changes a
program: the output parses back to the same tree (spans ignored), formatting
it again changes nothing, and every comment is still there (the safety checks
of gdtoolkit's formatter). Uses the parser only to re-read its own output; must
not import NumPy, Rich or the evaluator.

Canonical layout (the rules ``man/dop.5`` lists for ``diffopt fmt``):

- One statement per line; ``;`` between statements becomes a line break.
- Blocks are indented by 4 spaces per level; ``{`` ends the header line
  (``for i in 0..n {``, ``if c {``) and ``}`` stands on its own line.
- ``} else {`` and ``} else if c {`` are one line; an ``else`` block that holds
  nothing but an ``if`` statement is written ``} else if`` (unless comments
  sit between the two, which then keep their block). An empty block is ``{``
  and ``}`` on consecutive lines.
- One space on each side of ``+ - * / // % @``, comparisons, ``and``, ``or``,
  and of ``=``, ``+=``, ``-=``, ``*=``, ``/=``, ``~`` in statements; none
  around ``^`` (``x^2``); ``**`` is written ``^``.
- Unary ``-``/``+`` stick to their operand (``-x``), except that two signs in
  a row keep a space (``- -x``); ``not`` is followed by one space.
- No space before ``(`` of a call or ``[`` of an index, none around ``.`` of a
  field; ``, `` after every comma; trailing commas are dropped.
- Keyword arguments are ``name=value`` (no spaces, as in Python); the bound
  variable of ``root``/``argmin`` is ``x: body``; labels are
  ``minimize name: expr`` and ``subject to name: expr``.
- Slices and ranges have no spaces: ``v[1:]``, ``v[::2]``, ``A[:, j]``,
  ``for i in 0..n - 1``.
- Parentheses only where the precedence table needs them (from loosest:
  ``if-then-else``, ``or``, ``and``, ``not``, comparisons, ``+ -``,
  ``* / // % @``, unary ``- +``, ``^``, calls/indexing/fields). Binary
  operators group to the left, so ``a - (b - c)`` and ``a / (b * c)`` keep
  theirs; ``^`` groups to the right, so ``(a^b)^c`` keeps them and ``a^b^c``
  needs none; ``(-x)^2`` keeps them, ``-x^2`` is ``-(x^2)``; comparison
  chains do not nest: ``(a < b) == c`` keeps them.
- ``if c then a else b`` is bracketed when it is an operand, the test or the
  ``then`` part of another ``if … then … else``, the test of an ``if``
  statement, a slice bound or the element of a comprehension; elsewhere (a
  whole value, an argument, an array item or index, or the ``else`` part of a
  chain) it stands bare.
- Numbers keep their spelling (``2_000``, ``.5``, ``1e-3``); strings are
  re-quoted with the escapes ``\\\\``, ``\\"``, ``\\n``, ``\\t`` (an unknown
  escape such as ``\\q`` was read as ``q`` and is written so).
- Declarations keep their comma lists: ``const a = 1, b = 2`` stays one line.
- Blank lines: at most one, and only where the source had at least one
  between two statements or comments; none at the start or end of the file,
  right after a ``{`` or right before a ``}``.
- Comments are kept verbatim. A comment on its own line stays on its own line
  before the statement that follows it, at that statement's indentation (at
  the end of a block: before the ``}``, indented as the block). A comment after
  a statement stays on that statement's line, after two spaces. A comment
  inside a bracketed expression that spans several lines moves to its own
  line before the statement. Comments after the last statement stay at the
  end of the file.
- Long lines are not wrapped: an expression spread over several lines inside
  brackets is joined onto one line.
- The text ends with one line break (LF); an empty program gives empty text.

Everything here is iterative (an explicit stack instead of recursion), so a
100 000-term sum or thousands of nested brackets format at any depth.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from diffopt.errors import DopError
from diffopt.source import Source
from diffopt.syntax import ast

__all__ = ["format_program", "format_expr", "check_safety"]

# ------------------------------------------------------------------ precedence

# From loosest to tightest, as in grammars/dop.lark.
COND, OR, AND, NOT, COMPARE, SUM, PRODUCT, UNARY, POWER, POSTFIX = range(10)

_BINARY_LEVEL = {"+": SUM, "-": SUM, "*": PRODUCT, "/": PRODUCT, "//": PRODUCT, "%": PRODUCT,
                 "@": PRODUCT, "^": POWER}


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


def _joined(items, level: int, sep: str = ", ") -> list:
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
    return [(node.left, level), f" {node.op} ", (node.right, level + 1)]


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
            pieces += [f" for {clause.var} in ", (clause.range, COND)]
        else:
            pieces += [" if ", (clause.test, OR)]
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
            pieces += [f" {op} ", (operand, SUM)]
        return pieces
    if kind is ast.BoolOp:
        level = _prec(node)
        return [(node.left, level), f" {node.op} ", (node.right, level + 1)]
    if kind is ast.Not:
        return ["not ", (node.operand, NOT)]
    if kind is ast.Cond:
        return ["if ", (node.test, OR), " then ", (node.body, OR), " else ", (node.orelse, COND)]
    if kind is ast.Call:
        args = _joined(node.args + node.keywords, COND)
        return [(node.func, POSTFIX), "(", *args, ")"]
    if kind is ast.Keyword:
        return [f"{node.name}=", (node.value, COND)]
    if kind is ast.Lambda:
        return [f"{node.var}: ", (node.body, COND)]
    if kind is ast.Index:
        return [(node.value, POSTFIX), "[", *_joined(node.items, COND), "]"]
    if kind is ast.Slice:
        return _slice_pieces(node)
    if kind is ast.Field:
        return [(node.value, POSTFIX), f".{node.name}"]
    if kind is ast.Array:
        return ["[", *_joined(node.items, COND), "]"]
    if kind is ast.ArrayComp:
        return ["[", (node.comprehension, COND), "]"]
    if kind is ast.Comprehension:
        return _comprehension_pieces(node)
    if kind is ast.Range:
        return [(node.start, SUM), "..", (node.stop, SUM)]
    raise AssertionError(f"fmt: no layout for {kind.__name__} (internal error)")


def _render(pieces: list) -> str:
    """Expand pieces into text with an explicit stack (any depth, linear time).

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
            stack += [")", (node, COND), "("]
        else:
            stack.extend(reversed(_pieces(node)))
    return "".join(out)


def format_expr(expr) -> str:
    """Canonical text of one expression (with the minimal parentheses).

    Args:
        expr: an expression node (or a keyword, slice, range or comprehension).

    Returns:
        The expression on one line.
    """
    return _render([(expr, COND)])


# ------------------------------------------------------------------- statements


def _param_item_pieces(item: ast.ParamItem) -> list:
    pieces: list = [item.name]
    if item.dims is not None:
        pieces += ["[", *_joined(item.dims, COND), "]"]
    if item.lower is not None or item.upper is not None:
        pieces += [" in [", (item.lower, COND), ", ", (item.upper, COND), "]"]
    if item.start is not None:
        pieces += [" ~ " if item.random_start else " = ", (item.start, COND)]
    return pieces


def _labelled(words: str, label: str | None, expr) -> list:
    head = f"{words} {label}: " if label is not None else f"{words} "
    return [head, (expr, COND)]


def _statement_pieces(stmt) -> list:
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
            pieces += ["[", *_joined(stmt.index, COND), "]"]
        return [*pieces, f" {stmt.op} ", (stmt.value, COND)]
    if isinstance(stmt, ast.Break):
        return ["break"]
    raise AssertionError(f"fmt: no layout for {type(stmt).__name__} (internal error)")


# ------------------------------------------------------------------- line units

# The output is a list of units, one per output line. Each unit remembers the
# source lines it came from (first..last), which is how comments and blank
# lines find their place.


@dataclass
class _Unit:
    indent: int
    text: str
    first: int
    last: int
    opener: bool = False  # ends with `{`: no blank line may follow
    closer: bool = False  # starts with `}`: no blank line before; comments indented deeper
    leading: list = field(default_factory=list)  # (comment, moved) pairs
    trailing: list = field(default_factory=list)


class _Text:
    """Line lookups in the source text (1-based lines, LF or CRLF)."""

    def __init__(self, source: Source):
        self.text = source.text
        self.starts: list[int] = []  # offset where each line begins
        self.blank = [0]  # blank[k]: how many of lines 1..k are blank
        offset = 0
        for line in self.text.split("\n"):
            self.starts.append(offset)
            offset += len(line) + 1
            self.blank.append(self.blank[-1] + (line.strip() == ""))

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def blank_between(self, after: int, before: int) -> bool:
        """Whether a blank line lies strictly between lines ``after`` and ``before``."""
        hi = min(before - 1, len(self.blank) - 1)
        return hi > after and self.blank[hi] - self.blank[max(after, 0)] > 0

    def find(self, offset: int | None, char: str) -> int | None:
        """Offset of the next ``char`` at or after ``offset``, skipping comments."""
        if offset is None:
            return None
        text, pos = self.text, offset
        while pos < len(text):
            ch = text[pos]
            if ch == char:
                return pos
            if ch == "#":
                pos = text.find("\n", pos)
                if pos < 0:
                    return None
            pos += 1
        return None


def _start(node) -> int | None:
    return node.span.start if getattr(node, "span", None) is not None else None


def _end(node) -> int | None:
    return node.span.end if getattr(node, "span", None) is not None else None


class _Layout:
    """Builds the units of a program, statement by statement, without recursion."""

    def __init__(self, source: Source, comments):
        self.lines = _Text(source)
        self.units: list[_Unit] = []
        self.comment_lines = sorted(c.line for c in comments)

    def line(self, offset: int | None) -> int:
        """Source line of ``offset``; without positions, the previous unit's line."""
        if offset is None:
            return self.units[-1].last if self.units else 1
        return self.lines.line_of(offset)

    def add(self, unit: _Unit) -> None:
        # Keep first/last non-decreasing so comments can be placed by bisection.
        if self.units:
            unit.first = max(unit.first, self.units[-1].first)
            unit.last = max(unit.last, self.units[-1].last)
        unit.last = max(unit.last, unit.first)
        self.units.append(unit)

    def build(self, program: ast.Program) -> list[_Unit]:
        stack: list = [(stmt, 0) for stmt in reversed(program.statements)]
        while stack:
            item, indent = stack.pop()
            if isinstance(item, _Unit):
                self.add(item)
            elif isinstance(item, ast.For):
                self.add_for(item, indent, stack)
            elif isinstance(item, ast.If):
                self.add_if(item, indent, stack)
            else:
                text = _render(_statement_pieces(item))
                first, last = self.line(_start(item)), self.line(_end(item))
                self.add(_Unit(indent, text, first, last))
        return self.units

    def push_body(self, body, indent: int, stack: list) -> None:
        stack.extend((stmt, indent + 1) for stmt in reversed(body))

    def header(self, text: str, indent: int, first: int | None, brace_after, closer=False):
        brace = self.lines.find(brace_after, "{")
        return _Unit(indent, text, self.line(first), self.line(brace), opener=True, closer=closer)

    def add_for(self, stmt: ast.For, indent: int, stack: list) -> None:
        text = _render([f"for {stmt.var} in ", (stmt.range, COND), " {"])
        self.add(self.header(text, indent, _start(stmt), _end(stmt.range)))
        end = self.line(_end(stmt))
        stack.append((_Unit(indent, "}", end, end, closer=True), indent))
        self.push_body(stmt.body, indent, stack)

    def add_if(self, stmt: ast.If, indent: int, stack: list) -> None:
        # An else-if chain is flattened here so that its length costs no depth.
        chain = [stmt]
        while True:
            tail = chain[-1].orelse
            if tail is None or len(tail) != 1 or not isinstance(tail[0], ast.If):
                break
            if self.commented_else_block(chain[-1], tail[0]):
                break
            chain.append(tail[0])
        closing = [self.body_close(link) for link in chain]
        last = chain[-1]
        units: list = []  # in output order; pushed reversed below
        for k, link in enumerate(chain):
            text = _render(["} else if " if k else "if ", (link.test, OR), " {"])
            first = closing[k - 1] if k else _start(link)
            unit = self.header(text, indent, first, _end(link.test), closer=k > 0)
            units.append(unit)
            units.extend((s, indent + 1) for s in link.body)
        if last.orelse is not None:
            close = closing[-1]
            brace = self.lines.find(close + 1 if close is not None else None, "{")
            units.append(_Unit(indent, "} else {", self.line(close), self.line(brace),
                               opener=True, closer=True))
            units.extend((s, indent + 1) for s in last.orelse)
        end_first, end_last = self.line(_end(last)), self.line(_end(stmt))
        units.append(_Unit(indent, "}", end_first, end_last, closer=True))
        self.add(units[0])
        stack.extend(
            (u, indent) if isinstance(u, _Unit) else u for u in reversed(units[1:])
        )

    def commented_else_block(self, outer: ast.If, inner: ast.If) -> bool:
        """Whether ``else { if … }`` has comments that ``} else if`` would misplace."""
        close = self.body_close(outer)
        brace = self.lines.find(close + 1 if close is not None else None, "{")
        start, end = _start(inner), _end(inner)
        if brace is None or start is None or brace > start:
            return False  # written `else if` already
        return self.has_comment(self.line(close), self.line(start)) or self.has_comment(
            self.line(end), self.line(_end(outer))
        )

    def has_comment(self, first: int, last: int) -> bool:
        i = bisect.bisect_left(self.comment_lines, first)
        return i < len(self.comment_lines) and self.comment_lines[i] <= last

    def body_close(self, stmt: ast.If) -> int | None:
        """Offset of the `}` that closes the then-block of ``stmt``."""
        if stmt.body:
            return self.lines.find(_end(stmt.body[-1]), "}")
        brace = self.lines.find(_end(stmt.test), "{")
        return self.lines.find(brace + 1 if brace is not None else None, "}")


# --------------------------------------------------------------------- comments


def _place_comments(units: list[_Unit], comments) -> list:
    """Attach each comment to a unit (leading or trailing); return the rest."""
    firsts = [u.first for u in units]
    lasts = [u.last for u in units]
    at_end = []
    for comment in sorted(comments, key=lambda c: c.line):
        line = comment.line
        if not comment.own_line:
            i = bisect.bisect_right(lasts, line) - 1
            if i >= 0 and lasts[i] == line:  # after the last token of unit i's line
                units[i].trailing.append(comment)
                continue
        i = bisect.bisect_left(lasts, line)  # the first unit not yet finished
        if i == len(units):
            at_end.append(comment)
        else:
            units[i].leading.append((comment, firsts[i] <= line))
    return at_end


# ------------------------------------------------------------------ the printer


class _Printer:
    """Joins units and comments into lines, deciding where blank lines go."""

    def __init__(self, lines: _Text):
        self.lines = lines
        self.out: list[str] = []
        self.last_line: int | None = None  # last source line emitted so far
        self.after_opener = False

    def emit(self, indent: int, text: str, first: int, last: int, *, closer=False,
             opener=False) -> None:
        if (
            self.last_line is not None
            and not self.after_opener
            and not closer
            and self.lines.blank_between(self.last_line, first)
        ):
            self.out.append("")
        self.out.append("    " * indent + text)
        self.last_line = last if self.last_line is None else max(self.last_line, last)
        self.after_opener = opener

    def unit(self, unit: _Unit) -> None:
        inner = unit.indent + 1 if unit.closer else unit.indent
        for comment, moved in unit.leading:
            where = unit.first if moved else comment.line
            self.emit(inner, comment.text, where, where)
        text = unit.text
        if unit.trailing:
            text += "  " + "  ".join(c.text for c in unit.trailing)
        self.emit(unit.indent, text, unit.first, unit.last, closer=unit.closer,
                  opener=unit.opener)

    def text(self) -> str:
        return "\n".join(self.out) + "\n" if self.out else ""


def _format(program: ast.Program, source: Source) -> str:
    layout = _Layout(source, program.comments)
    units = layout.build(program)
    at_end = _place_comments(units, program.comments)
    printer = _Printer(layout.lines)
    for unit in units:
        printer.unit(unit)
    for comment in at_end:
        printer.emit(0, comment.text, comment.line, comment.line)
    return printer.text()


# ------------------------------------------------------------------- public API


def format_program(program: ast.Program, source: Source) -> str:
    """The canonical text of ``program`` (see the module docstring for the rules).

    Args:
        program: the parsed program, with its comments.
        source: the text it was parsed from (for comment and blank-line places).

    Returns:
        The formatted text, ending with a line break (empty for an empty file).

    Raises:
        AssertionError: if the safety checks fail (a bug in fmt, not a user error).
    """
    text = _format(program, source)
    check_safety(program, text, source.name)
    return text


def check_safety(original: ast.Program, formatted_text: str, source_name: str) -> None:
    """Check that ``formatted_text`` is a faithful, stable layout of ``original``.

    It must parse to the same tree (spans ignored), keep every comment and be a
    fixed point of formatting.

    Args:
        original: the program that was formatted.
        formatted_text: the output of the formatter.
        source_name: the file name, for messages.

    Raises:
        AssertionError: naming the check that failed (an internal error).
    """
    from diffopt.syntax.parser import parse

    source = Source(source_name, formatted_text)
    try:
        reparsed = parse(source)
    except DopError as exc:
        raise AssertionError(
            f"fmt internal error: the formatted {source_name} does not parse: {exc}"
        ) from None
    if not ast.same_tree(original, reparsed):
        raise AssertionError(
            f"fmt internal error: formatting {source_name} changed its syntax tree"
        )
    before = sorted(c.text for c in original.comments)
    after = sorted(c.text for c in reparsed.comments)
    if before != after:
        raise AssertionError(
            f"fmt internal error: formatting {source_name} kept {len(after)} of "
            f"{len(before)} comments"
        )
    if _format(reparsed, source) != formatted_text:
        raise AssertionError(
            f"fmt internal error: formatting {source_name} twice gives a different text"
        )
