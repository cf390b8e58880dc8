"""Positions between diffopt and the Language Server Protocol.

diffopt's spans are 1-based lines and columns counted in characters (code
points); LSP positions are 0-based lines and characters counted in UTF-16
code units (or UTF-8 bytes, or code points, when the client asks for
those: ``encoding`` "utf-8", "utf-16" or "utf-32"). Lines are split at
"\\n" only, as ``diffopt.source.Source`` counts them (a "\\r" before it
stays at the end of its line). Plain data only: a position is a
``(line, character)`` pair, a range a pair of those.
"""

from __future__ import annotations

Position = tuple[int, int]
Range = tuple[Position, Position]


def lines_of(text: str) -> list[str]:
    """The lines of ``text`` as diffopt counts them (split at "\\n" only)."""
    return text.split("\n")


def _unit(ch: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(ch.encode("utf-8"))
    if encoding == "utf-32":
        return 1
    return 2 if ord(ch) > 0xFFFF else 1


def utf16_length(text: str, encoding: str = "utf-16") -> int:
    """How many code units ``text`` takes (UTF-16: 2 for a character beyond U+FFFF)."""
    if encoding == "utf-32":
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def to_lsp(lines: list[str], line: int, col: int, encoding: str = "utf-16") -> Position:
    """A 1-based (line, character column) of diffopt → a 0-based LSP position."""
    if not lines:
        return (0, 0)
    row = min(max(line - 1, 0), len(lines) - 1)
    text = lines[row]
    index = min(max(col - 1, 0), len(text))
    return (row, utf16_length(text[:index], encoding))


def span_range(lines: list[str], span, encoding: str = "utf-16") -> Range:
    """The LSP range of a diffopt ``Span`` (its 1-based ends)."""
    return (to_lsp(lines, span.line, span.col, encoding),
            to_lsp(lines, span.end_line, span.end_col, encoding))


def from_lsp(lines: list[str], line: int, character: int,
             encoding: str = "utf-16") -> tuple[int, int]:
    """An LSP position → (0-based line, 0-based code point index in that line), clamped."""
    if not lines:
        return (0, 0)
    row = min(max(line, 0), len(lines) - 1)
    text = lines[row]
    units = 0
    for index, ch in enumerate(text):
        if units >= character:
            return (row, index)
        units += _unit(ch, encoding)
    return (row, len(text))


def end_of(lines: list[str], encoding: str = "utf-16") -> Position:
    """The LSP position just past the last character of the text."""
    if not lines:
        return (0, 0)
    return (len(lines) - 1, utf16_length(lines[-1], encoding))
