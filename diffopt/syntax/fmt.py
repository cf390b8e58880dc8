"""AST → canonical .dop text (``diffopt fmt``), with safety checks.

Owns the public ``format_program``, the canonical layout's rules (below)
and the guarantee that formatting never changes a program: the output
parses back to the same tree (spans ignored), formatting it again changes
nothing, and every comment is still there (the safety checks of gdtoolkit's
formatter). Uses the parser only to re-read its own output; must
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
- A comment after a statement goes on its last line; trailing comments on
  consecutive lines at one indentation are aligned two spaces past the
  longest code of the run (fmt_comments).
- A statement longer than 100 columns is broken inside its brackets only
  (the rules are in fmt_wrap); one with no bracket to break stays long.
- The text ends with one line break (LF); an empty program gives empty text.

Everything is iterative (an explicit stack instead of recursion), so a
100 000-term sum or thousands of nested brackets format at any depth.

The work is split by job: fmt_expr (expressions and one-line statements),
fmt_layout (statements to lines: blocks, indentation, else-if chains),
fmt_wrap (breaking long lines) and fmt_comments (where comments and blank
lines go, and the final text).
"""

from __future__ import annotations

from diffopt.errors import DopError
from diffopt.source import Source
from diffopt.syntax import ast
from diffopt.syntax.fmt_comments import Printer, place_comments
from diffopt.syntax.fmt_expr import format_expr
from diffopt.syntax.fmt_layout import Layout

__all__ = ["format_program", "format_expr", "check_safety"]


def _format(program: ast.Program, source: Source) -> str:
    layout = Layout(source, program.comments)
    units = layout.build(program)
    at_end = place_comments(units, program.comments)
    printer = Printer(layout.lines)
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
