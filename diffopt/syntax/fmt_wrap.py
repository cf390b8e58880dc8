"""Long lines for ``diffopt fmt``: breaking a statement wider than 100 columns.

Owns ``wrap`` (pieces → the statement's lines). A line break is allowed only
inside ``( )`` or ``[ ]`` (the parser ignores it there; anywhere else it ends
the statement), so only bracketed text is ever broken:

- A statement that fits in ``WIDTH`` columns (indentation included) stays on
  one line; so does one with no bracket to break (it is kept long).
- Otherwise the bracket with the longest content among the outermost ones of
  the line is broken: the text up to its opening bracket ends the line, the
  content follows indented 4 more spaces, and the closing bracket starts a
  line at the first line's indentation, followed by the rest.
- Content with several items: one item a line, each followed by a comma (the
  last too where the language allows it, i.e. not in ``( )`` of a grouping
  or ``in [lo, hi]``); when every item is simple (no brackets, no spaced
  operators: numbers, names), as many items a line as fit.
- An item still too long breaks before its loosest operators (comprehension
  clauses, then ``then``/``else``, ``or``, ``and``, comparisons, ``+ -``,
  ``* / // % @``), as many operands a line as fit, each continuation line
  starting with the operator; without operators, at its brackets as above.
- Brackets are not broken once the content would start at column 60 or
  beyond: deeper lines are kept long.

The result depends only on the tree, so formatting stays a fixed point.
Recursion depth is bounded by that column limit (15 levels).
"""

from __future__ import annotations

from diffopt.syntax.fmt_expr import Close, Op, Open, OpenNoComma, Sep, expand

WIDTH = 100
MAX_COLUMN = 60
STEP = 4


def wrap(pieces: list, indent: int) -> str:
    """The text of a statement at block level ``indent``: one line, or lines joined by LF.

    Continuation lines carry their extra indentation (spaces beyond the
    statement's own ``4 * indent``).
    """
    toks = expand(pieces)
    base = STEP * indent
    text = "".join(toks)
    if base + len(text) <= WIDTH or not any(isinstance(t, Open) for t in toks):
        return text
    match = [-1] * len(toks)
    stack: list[int] = []
    for i, tok in enumerate(toks):
        if isinstance(tok, Open):
            stack.append(i)
        elif isinstance(tok, Close) and stack:
            match[stack.pop()] = i
    lines: list[tuple[int, str]] = []
    _Wrapper(toks, match, lines).layout(0, len(toks), base, False)
    return "\n".join(" " * (col - base) + line for col, line in lines)


class _Wrapper:
    def __init__(self, toks: list[str], match: list[int], lines: list):
        self.toks, self.match, self.lines = toks, match, lines
        self.pos = [0]  # pos[i]: length of the text before token i
        for tok in toks:
            self.pos.append(self.pos[-1] + len(tok))

    def width(self, lo: int, hi: int) -> int:
        """len(self.text(lo, hi)) without building it."""
        tok = self.toks[lo]
        strip = len(tok) - len(tok.lstrip(" ")) if isinstance(tok, Op) else 0
        return self.pos[hi] - self.pos[lo] - strip

    def text(self, lo: int, hi: int) -> str:
        text = "".join(self.toks[lo:hi])
        return text.lstrip(" ") if isinstance(self.toks[lo], Op) else text

    def outer(self, lo: int, hi: int):
        """The complete bracket pairs, operators and commas at depth 0 of lo..hi."""
        pairs, ops, seps = [], [], []
        toks, match, i = self.toks, self.match, lo
        while i < hi:
            tok = toks[i]
            if isinstance(tok, Open) and i < match[i] < hi:
                pairs.append((i, match[i]))
                i = match[i] + 1
                continue
            if isinstance(tok, Op) and i > lo:
                ops.append(i)
            elif isinstance(tok, Sep):
                seps.append(i)
            i += 1
        return pairs, ops, seps

    def layout(self, lo: int, hi: int, col: int, inside: bool) -> None:
        """Lines for tokens lo..hi starting a line at ``col``; ``inside``: in a bracket."""
        if col + self.width(lo, hi) <= WIDTH or col >= MAX_COLUMN:
            self.lines.append((col, self.text(lo, hi)))
            return
        pairs, ops, _ = self.outer(lo, hi)
        if inside and ops:
            self.split_ops(lo, hi, col, ops)
            return
        pairs = [p for p in pairs if p[1] > p[0] + 1]
        if not pairs:
            self.lines.append((col, self.text(lo, hi)))
            return
        o, c = max(pairs, key=lambda p: p[1] - p[0])  # the first of the longest
        self.layout(lo, o + 1, col, inside)
        self.body(o, c, col + STEP)
        self.layout(c, hi, col, inside)

    def split_ops(self, lo: int, hi: int, col: int, ops: list[int]) -> None:
        level = min(self.toks[i].level for i in ops)
        cuts = [lo] + [i for i in ops if self.toks[i].level == level] + [hi]
        start = lo
        for k in range(1, len(cuts) - 1):
            # Break before cuts[k] unless the next operand still fits on this line.
            if col + self.width(start, cuts[k + 1]) > WIDTH:
                self.layout(start, cuts[k], col, True)
                start = cuts[k]
        self.layout(start, hi, col, True)

    def body(self, o: int, c: int, col: int) -> None:
        _, _, seps = self.outer(o + 1, c)
        bounds = [o + 1] + [s + 1 for s in seps]
        ends = seps + [c]
        items = list(zip(bounds, ends))
        if len(items) == 1:
            self.layout(o + 1, c, col, True)
            return
        last_comma = "," if not isinstance(self.toks[o], OpenNoComma) else ""
        simple = all(not isinstance(t, (Open, Op)) for t in self.toks[o + 1:c])
        if simple:
            line = ""
            for k, (a, b) in enumerate(items):
                item = self.text(a, b) + ("," if k < len(items) - 1 else last_comma)
                if line and col + len(line) + 1 + len(item) > WIDTH:
                    self.lines.append((col, line))
                    line = ""
                line = f"{line} {item}" if line else item
            self.lines.append((col, line))
            return
        for k, (a, b) in enumerate(items):
            self.layout(a, b, col, True)
            comma = "," if k < len(items) - 1 else last_comma
            at, line = self.lines[-1]
            self.lines[-1] = (at, line + comma)
