"""Statements to output lines for ``diffopt fmt``: blocks, indentation, else-if chains.

Owns ``Layout``, which turns a program into ``Unit``s (one per output line,
each remembering the source lines it came from, which is how comments and
blank lines find their place), and ``SourceLines``, the line lookups in the
source text. Iterative: an explicit stack instead of recursion, so deep
nesting and long else-if chains cost no Python stack.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from diffopt.source import Source
from diffopt.syntax import ast
from diffopt.syntax.fmt_expr import COND, OR, statement_pieces
from diffopt.syntax.fmt_wrap import wrap

# The output is a list of units, one per output line. Each unit remembers the
# source lines it came from (first..last), which is how comments and blank
# lines find their place.


@dataclass
class Unit:
    indent: int
    text: str  # LF between the lines of a wrapped statement
    first: int
    last: int
    opener: bool = False  # ends with `{`: no blank line may follow
    closer: bool = False  # starts with `}`: no blank line before; comments indented deeper
    leading: list = field(default_factory=list)  # (comment, moved) pairs
    trailing: list = field(default_factory=list)


class SourceLines:
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


class Layout:
    """Builds the units of a program, statement by statement, without recursion."""

    def __init__(self, source: Source, comments):
        self.lines = SourceLines(source)
        self.units: list[Unit] = []
        self.comment_lines = sorted(c.line for c in comments)

    def line(self, offset: int | None) -> int:
        """Source line of ``offset``; without positions, the previous unit's line."""
        if offset is None:
            return self.units[-1].last if self.units else 1
        return self.lines.line_of(offset)

    def add(self, unit: Unit) -> None:
        # Keep first/last non-decreasing so comments can be placed by bisection.
        if self.units:
            unit.first = max(unit.first, self.units[-1].first)
            unit.last = max(unit.last, self.units[-1].last)
        unit.last = max(unit.last, unit.first)
        self.units.append(unit)

    def build(self, program: ast.Program) -> list[Unit]:
        stack: list = [(stmt, 0) for stmt in reversed(program.statements)]
        while stack:
            item, indent = stack.pop()
            if isinstance(item, Unit):
                self.add(item)
            elif isinstance(item, ast.For):
                self.add_for(item, indent, stack)
            elif isinstance(item, ast.If):
                self.add_if(item, indent, stack)
            else:
                text = wrap(statement_pieces(item), indent)
                first, last = self.line(_start(item)), self.line(_end(item))
                self.add(Unit(indent, text, first, last))
        return self.units

    def push_body(self, body, indent: int, stack: list) -> None:
        stack.extend((stmt, indent + 1) for stmt in reversed(body))

    def header(self, text: str, indent: int, first: int | None, brace_after, closer=False):
        brace = self.lines.find(brace_after, "{")
        return Unit(indent, text, self.line(first), self.line(brace), opener=True, closer=closer)

    def add_for(self, stmt: ast.For, indent: int, stack: list) -> None:
        text = wrap([f"for {stmt.var} in ", (stmt.range, COND), " {"], indent)
        self.add(self.header(text, indent, _start(stmt), _end(stmt.range)))
        end = self.line(_end(stmt))
        stack.append((Unit(indent, "}", end, end, closer=True), indent))
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
            text = wrap(["} else if " if k else "if ", (link.test, OR), " {"], indent)
            first = closing[k - 1] if k else _start(link)
            unit = self.header(text, indent, first, _end(link.test), closer=k > 0)
            units.append(unit)
            units.extend((s, indent + 1) for s in link.body)
        if last.orelse is not None:
            close = closing[-1]
            brace = self.lines.find(close + 1 if close is not None else None, "{")
            units.append(Unit(indent, "} else {", self.line(close), self.line(brace),
                               opener=True, closer=True))
            units.extend((s, indent + 1) for s in last.orelse)
        end_first, end_last = self.line(_end(last)), self.line(_end(stmt))
        units.append(Unit(indent, "}", end_first, end_last, closer=True))
        self.add(units[0])
        stack.extend(
            (u, indent) if isinstance(u, Unit) else u for u in reversed(units[1:])
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
