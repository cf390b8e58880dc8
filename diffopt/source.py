"""Source text and spans: where every diagnostic points.

A ``Source`` is a named text (a file name, or ``<stdin>``); a ``Span`` is a
half-open character range in it with 1-based line and column numbers of its
ends, columns counted in characters. Spans are built from Lark tokens
(``Span.of``) or from known positions (``Span.fast``, the parser's one per
AST node), and travel on every AST node, every graph node and every
diagnostic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_new_object = object.__new__


@dataclass(frozen=True)
class Source:
    name: str
    text: str = field(repr=False)

    def line_text(self, line: int) -> str:
        """The text of 1-based line ``line`` without its line break."""
        lines = self.text.splitlines()
        if 1 <= line <= len(lines):
            return lines[line - 1]
        return ""

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = self.text.count("\n", 0, offset) + 1
        line_start = self.text.rfind("\n", 0, offset) + 1
        return line, offset - line_start + 1

    def span(self, start: int, end: int | None = None) -> Span:
        """The span of characters [start, end) of this source."""
        end = start if end is None else end
        line, col = self.position(start)
        end_line, end_col = self.position(end)
        return Span(self, start, end, line, col, end_line, end_col)


@dataclass(frozen=True)
class Span:
    source: Source = field(repr=False, compare=False)
    start: int
    end: int
    line: int
    col: int
    end_line: int
    end_col: int

    @staticmethod
    def fast(source: Source, start: int, end: int, line: int, col: int, end_line: int,
             end_col: int) -> Span:
        """``Span(source, start, ...)``, four times faster.

        The frozen dataclass ``__init__`` sets each field through
        ``object.__setattr__``; filling the instance dictionary directly
        gives the same object (same fields, same order). The parser makes a
        span or two per AST node.
        """
        span = _new_object(Span)
        fields = span.__dict__
        fields["source"] = source
        fields["start"] = start
        fields["end"] = end
        fields["line"] = line
        fields["col"] = col
        fields["end_line"] = end_line
        fields["end_col"] = end_col
        return span

    @staticmethod
    def of(source: Source, item) -> Span:
        """The span of a Lark ``Token`` or tree ``Meta`` (same field names)."""
        start = getattr(item, "start_pos", None)
        if start is None:
            return Span.fast(source, 0, 0, 1, 1, 1, 1)
        return Span.fast(source, start, item.end_pos, item.line, item.column, item.end_line,
                         item.end_column)

    def to(self, other: Span) -> Span:
        """The span covering ``self`` through ``other``."""
        return Span(
            self.source, self.start, other.end, self.line, self.col, other.end_line, other.end_col
        )

    @property
    def location(self) -> str:
        return f"{self.source.name}:{self.line}:{self.col}"

    @property
    def text(self) -> str:
        return self.source.text[self.start : self.end]


def unknown_span(name: str = "<input>") -> Span:
    """A span for errors that have no better place (an empty file, say)."""
    return Span(Source(name, ""), 0, 0, 1, 1, 1, 1)

