"""Diagnostics as text: ``file:line:col: error: message``, the line, a caret, notes.

This module owns the layout of every error and warning the user sees. The
plain text (``render``) is the same with and without a terminal; on a
terminal ``render_rich`` gives the very same characters with colour added,
the quoted source line coloured by the ``.dop`` lexer (diffopt.highlight).
It only formats: it computes nothing about the problem and imports nothing
from diffopt beyond ``errors`` and ``source`` (and, in ``render_rich``
alone, the lexer). Rich and Pygments are imported lazily, by ``render_rich``
alone.

Layout::

    taxi.dop:7:12: error: unknown name 'sped'
        7 | let t = d / sped
          |             ^~~~
    help: did you mean 'speed'?

- Columns are characters, 1-based; the caret sits under the span's first
  character and ``~`` runs to its last character on that line. An empty span
  still gets one ``^``; a span running over several lines is underlined to
  the end of its first line.
- Tabs in the shown line are expanded to the next multiple of ``TAB_WIDTH``
  columns, and East Asian wide characters take two cells, so the caret stays
  under the right character.
- A span whose source text is empty (an empty file, a pseudo-source for the
  command line) prints only the first line, then the notes and the help.
- An error without a span (``span is None``: a bad option value nobody has
  placed) is reported by program name, as command-line tools do:
  ``diffopt: error: message``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING

from diffopt.errors import DopError
from diffopt.source import Span

if TYPE_CHECKING:
    from rich.text import Text

TAB_WIDTH = 4
PROGRAM = "diffopt"  # the location shown for an error without a span

# Rich styles per segment kind (used by render_rich only).
_STYLES = {
    "location": "bold",
    "error": "bold red",
    "warning": "bold yellow",
    "message": "bold",
    "gutter": "blue",
    "caret": "bold red",
    "caret_warning": "bold yellow",
    "note": "bold cyan",
    "help": "bold green",
    "plain": "",
    "source": "",  # the quoted source line: coloured token by token (_source_text)
}

Segment = tuple[str, str]  # (text, style kind)


# ------------------------------------------------------------------ public API


def render(error: DopError) -> str:
    """The plain-text diagnostic for ``error`` (no trailing newline).

    Args:
        error: any ``DopError``; its span, notes and hint are shown.

    Returns:
        The diagnostic lines joined by ``"\\n"``.
    """
    return _plain(_segments("error", error.message, error.span, error.notes, error.hint))


def render_warning(
    message: str, span: Span | None, notes: Iterable[str] = (), hint: str | None = None
) -> str:
    """Like ``render`` but for a warning: ``file:line:col: warning: message``."""
    return _plain(_segments("warning", message, span, notes, hint))


def render_rich(error: DopError) -> Text:
    """``render(error)`` as a Rich ``Text`` with colour; ``.plain`` is the same string.

    Print it with ``console.print(text, soft_wrap=True)`` so a long source line
    is not wrapped under the caret.
    """
    return _rich(_segments("error", error.message, error.span, error.notes, error.hint))


def render_warning_rich(
    message: str, span: Span | None, notes: Iterable[str] = (), hint: str | None = None
) -> Text:
    """``render_warning`` as a Rich ``Text`` with colour."""
    return _rich(_segments("warning", message, span, notes, hint))


# -------------------------------------------------------------------- layout


def _segments(
    severity: str, message: str, span: Span | None, notes: Iterable[str], hint: str | None
) -> list[list[Segment]]:
    """The diagnostic as lines of styled segments; both renderers share it."""
    location = span.location if span is not None else PROGRAM
    lines: list[list[Segment]] = [
        [
            (f"{location}:", "location"),
            (" ", "plain"),
            (f"{severity}:", severity),
            (" ", "plain"),
            (message, "message"),
        ]
    ]
    if span is not None and span.source.text:
        lines.extend(_excerpt(span, "caret" if severity == "error" else "caret_warning"))
    lines.extend([("note:", "note"), (" " + note, "plain")] for note in notes)
    if hint:
        lines.append([("help:", "help"), (" " + hint, "plain")])
    return lines


def _excerpt(span: Span, caret_style: str) -> list[list[Segment]]:
    """The source line with a gutter, and the caret line under it."""
    line = _line_text(span.source.text, span.line)
    cells = _cell_offsets(line)  # cells[i]: display column where character i starts
    first = max(span.col, 1) - 1
    if span.end_line == span.line:
        last = max(span.end_col - 1, first + 1)
    else:
        last = max(len(line), first + 1)
    start_cell = _cell_at(cells, first)
    width = max(_cell_at(cells, last) - start_cell, 1)
    number = str(span.line)
    pad = " " * max(len(number), 4)
    shown = _expand(line).rstrip()
    source_line: list[Segment] = [(f" {number:>{len(pad)}} |", "gutter")]
    if shown:
        source_line.append((" ", "plain"))
        source_line.append((shown, "source"))
    caret_line: list[Segment] = [
        (f" {pad} |", "gutter"),
        (" " + " " * start_cell, "plain"),
        ("^" + "~" * (width - 1), caret_style),
    ]
    return [source_line, caret_line]


def _line_text(text: str, line: int) -> str:
    """1-based line ``line`` of ``text``, split at "\\n" as the lexer counts lines."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return ""
    # Control characters (a binary file, a stray escape) would garble the
    # terminal: show each as '?', one cell wide, so the caret stays aligned.
    return "".join(
        ch if ch == "\t" or ch.isprintable() else "?"
        for ch in lines[line - 1].removesuffix("\r")
    )


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _cell_offsets(line: str) -> list[int]:
    """Display column of each character of ``line`` and of the end (len + 1 entries)."""
    cells = [0]
    for ch in line:
        col = cells[-1]
        cells.append(col + TAB_WIDTH - col % TAB_WIDTH if ch == "\t" else col + _char_width(ch))
    return cells


def _cell_at(cells: list[int], index: int) -> int:
    """Display column of character ``index``; past the end, one cell per character."""
    if index < len(cells):
        return cells[index]
    return cells[-1] + index - (len(cells) - 1)


def _expand(line: str) -> str:
    """``line`` with tabs expanded to the same stops ``_cell_offsets`` uses."""
    out: list[str] = []
    col = 0
    for ch in line:
        if ch == "\t":
            step = TAB_WIDTH - col % TAB_WIDTH
            out.append(" " * step)
            col += step
        else:
            out.append(ch)
            col += _char_width(ch)
    return "".join(out)


# ----------------------------------------------------------------- renderers


def _plain(lines: list[list[Segment]]) -> str:
    return "\n".join("".join(text for text, _ in line) for line in lines)


def _rich(lines: list[list[Segment]]) -> Text:
    from rich.text import Text

    out = Text()
    for i, line in enumerate(lines):
        if i:
            out.append("\n")
        for text, kind in line:
            if kind == "source":
                out.append_text(_source_text(text))
            else:
                out.append(text, style=_STYLES[kind] or None)
    return out


def _source_text(line: str) -> Text:
    """One line of ``.dop`` source as a Rich ``Text`` coloured by the ``.dop`` lexer.

    Styles come from Rich's ANSI theme (the terminal's own palette, no
    background); ``.plain`` is ``line`` unchanged.
    """
    from pygments.token import Whitespace
    from rich.syntax import ANSI_DARK, ANSISyntaxTheme
    from rich.text import Text

    from diffopt.highlight import DopLexer

    theme = ANSISyntaxTheme(ANSI_DARK)
    out = Text()
    for _, token, value in DopLexer().get_tokens_unprocessed(line):
        out.append(value, style=None if token in Whitespace else theme.get_style_for_token(token))
    return out
