"""Comments and blank lines for ``diffopt fmt``: where each goes, and the final text.

Owns ``place_comments`` (a comment on a statement's line stays after it;
one on its own line goes before the next unit, at its indentation) and
``Printer``, which joins units and comments into lines and keeps at most one
blank line where the source had one.
"""

from __future__ import annotations

import bisect

from diffopt.syntax.fmt_layout import SourceLines, Unit


def place_comments(units: list[Unit], comments) -> list:
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


class Printer:
    """Joins units and comments into lines, deciding where blank lines go."""

    def __init__(self, lines: SourceLines):
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

    def unit(self, unit: Unit) -> None:
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
