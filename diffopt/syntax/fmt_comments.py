"""Comments and blank lines for ``diffopt fmt``: where each goes, and the final text.

Owns ``place_comments`` (a comment on a statement's line stays after it;
one on its own line goes before the next unit, at its indentation) and
``Printer``, which joins units and comments into lines, keeps at most one
blank line where the source had one, and aligns trailing comments: in a run
of consecutive lines at the same indentation that each end in a comment (a
blank line, a line with no trailing comment, a comment on its own line or
a change of indentation ends the run), every comment starts at one column,
two past the end of the run's longest code.
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


def _indentation(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


class Printer:
    """Joins units and comments into lines, deciding where blank lines go."""

    def __init__(self, lines: SourceLines):
        self.lines = lines
        self.out: list[list] = []  # [code, trailing comment or None] per line
        self.last_line: int | None = None  # last source line emitted so far
        self.after_opener = False

    def emit(self, indent: int, text: str, first: int, last: int, *, closer=False,
             opener=False, comment: str | None = None) -> None:
        if (
            self.last_line is not None
            and not self.after_opener
            and not closer
            and self.lines.blank_between(self.last_line, first)
        ):
            self.out.append(["", None])
        prefix = "    " * indent
        for line in text.split("\n"):
            self.out.append([prefix + line, None])
        self.out[-1][1] = comment
        self.last_line = last if self.last_line is None else max(self.last_line, last)
        self.after_opener = opener

    def unit(self, unit: Unit) -> None:
        inner = unit.indent + 1 if unit.closer else unit.indent
        for comment, moved in unit.leading:
            where = unit.first if moved else comment.line
            self.emit(inner, comment.text, where, where)
        comment = "  ".join(c.text for c in unit.trailing) if unit.trailing else None
        self.emit(unit.indent, unit.text, unit.first, unit.last, closer=unit.closer,
                  opener=unit.opener, comment=comment)

    def text(self) -> str:
        out, lines, start = self.out, [], 0
        while start < len(out):
            end = start
            indent = _indentation(out[start][0])
            while (end < len(out) and out[end][1] is not None
                   and _indentation(out[end][0]) == indent):
                end += 1
            if end == start:  # no trailing comment
                lines.append(out[start][0])
                start += 1
                continue
            column = max(len(code) for code, _ in out[start:end]) + 2
            lines.extend(code.ljust(column) + comment for code, comment in out[start:end])
            start = end
        return "\n".join(lines) + "\n" if lines else ""
