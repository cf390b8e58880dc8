"""A small roff-to-text converter for diffopt's own man pages.

``diffopt help`` renders a page with groff (or man) when one is installed;
this is the fallback for systems without either. It knows the man macros
the pages use (.TH .SH .SS .PP .TP .IP .RS/.RE .EX/.EE .nf/.fi .br .sp and
the font macros .B .I .BR .IR ...), fills and indents paragraphs the way man
does, drops every other request, and turns escapes into plain characters.
It is not a troff: no registers, strings, conditionals or macros of its own.

Standard library only; nothing here imports anything else from diffopt.
"""

from __future__ import annotations

import re
import textwrap

MARGIN = 7  # man's left margin and its default paragraph indent
_NBSP = "\u00a0"  # stands for an unbreakable space until the line is wrapped

_CHARACTERS = {
    "em": "\u2014", "en": "\u2013", "bu": "\u2022", "aq": "'", "dq": '"', "lq": "\u201c",
    "rq": "\u201d", "oq": "'", "cq": "'", "mu": "\u00d7", "pd": "\u2202", "<-": "\u2190",
    "->": "\u2192", "+-": "\u00b1", ">=": "\u2265", "<=": "\u2264", "!=": "\u2260",
    "co": "\u00a9", "de": "\u00b0", "*m": "\u03bc", "*t": "\u03c4", "*s": "\u03c3",
    "*l": "\u03bb", "*a": "\u03b1", "*b": "\u03b2", "*e": "\u03b5", "hy": "-", "ti": "~",
    "ha": "^", "rs": "\\", "sl": "/", "ga": "`", "lB": "[", "rB": "]",
}
_ESCAPE = re.compile(
    r"\\(?:f(?:\[[^\]]*\]|\(..|.)"  # font change: \fB \f(CW \f[B]
    r"|\*(?:\[([^\]]*)\]|\((..)|(.))"  # predefined string: \*(lq \*[R]
    r"|\[([^\]]*)\]|\((..)"  # named character: \[u2500] \(em
    r"|(.))"  # one-character escape: \- \e \& ...
)
_SINGLE = {"-": "-", "e": "\\", "\\": "\\", " ": _NBSP, "~": _NBSP, "0": _NBSP, "'": "'",
           "`": "`", ".": "."}
_ALTERNATING = {"BR", "RB", "BI", "IB", "IR", "RI"}
_FONTS = {"B", "I", "SM", "SB"}


def _character(name: str) -> str:
    if re.fullmatch(r"u[0-9A-Fa-f]{4,6}", name):
        return chr(int(name[1:], 16))
    return _CHARACTERS.get(name, "")


def unescape(text: str) -> str:
    """Plain text of a roff text fragment (font changes dropped, characters resolved)."""

    def replace(match: re.Match) -> str:
        string = match.group(1) or match.group(2) or match.group(3)
        if string is not None:
            return _CHARACTERS.get(string, "")  # \*(lq and friends; other strings vanish
        named = match.group(4) or match.group(5)
        if named is not None:
            return _character(named)
        return _SINGLE.get(match.group(6) or "", "")

    return _ESCAPE.sub(replace, text)


def macro_args(rest: str) -> list[str]:
    """Arguments of a macro line: separated by spaces (not ``\\ ``), "double quoted" kept whole."""
    return [quoted.replace('""', '"') if quoted or not bare else bare
            for quoted, bare in re.findall(r'"((?:[^"]|"")*)"?|((?:\\.|[^\s\\])+)', rest)]


class _Writer:
    """Output lines, with the man margins: a left margin (.RS) and a paragraph offset."""

    def __init__(self, width: int):
        self.width = width
        self.lines: list[str] = []
        self.words: list[str] = []
        self.margins: list[int] = []
        self.margin = MARGIN
        self.offset = 0  # the body indent of a .TP/.IP paragraph
        self.hang: str | None = None  # a short tag printed at the start of the body
        self.fill = True
        self.prevailing = MARGIN  # the indent of .TP/.IP/.RS without a width (man's rule)
        self.heading_at = -1  # no blank line right under a heading

    def blank(self) -> None:
        self.flush()
        if self.lines and self.lines[-1] != "" and len(self.lines) != self.heading_at:
            self.lines.append("")

    def heading(self, text: str, indent: int) -> None:
        self.blank()
        self.margins, self.margin, self.offset, self.prevailing = [], MARGIN, 0, MARGIN
        self.emit(text, indent)
        self.heading_at = len(self.lines)

    def emit(self, text: str, indent: int) -> None:
        self.lines.append((" " * indent + text).rstrip().replace(_NBSP, " "))

    def flush(self) -> None:
        if not self.words:
            return
        indent = self.margin + self.offset
        text = " ".join(self.words)
        self.words = []
        wrapped = textwrap.wrap(text, width=max(self.width - indent, 20), break_long_words=False,
                                break_on_hyphens=False) or [""]
        for i, line in enumerate(wrapped):
            if i == 0 and self.hang is not None:
                self.emit(self.hang + line, self.margin)
            else:
                self.emit(line, indent)
        self.hang = None

    def text(self, text: str) -> None:
        if not self.fill:
            self.emit(text, self.margin + self.offset)
        elif not text.strip():
            self.blank()
        else:
            if text[0].isspace():
                self.flush()  # a line starting with a space breaks, as in roff
            self.words.append(text.strip())

    def tag(self, tag: str, width: int) -> None:
        """Start an indented paragraph: the tag at the margin, the body ``width`` further."""
        self.blank()
        self.offset = width
        if len(tag) < width:
            self.hang = tag.ljust(width)
        else:
            self.emit(tag, self.margin)


def _width_arg(out: _Writer, args: list[str], index: int) -> int:
    """An explicit indent (which becomes the prevailing one), else the prevailing indent."""
    if len(args) > index:
        match = re.match(r"(\d+)", args[index])
        if match:
            out.prevailing = int(match.group(1))
    return out.prevailing


def to_text(source: str, width: int = 80) -> str:
    """Render a man page's roff source as plain text, ``width`` columns wide."""
    out = _Writer(width)
    tag_width: int | None = None  # set after .TP: the next text line is the tag
    for line in source.splitlines():
        if line.startswith((".\\\"", "'\\\"", ".\\#")) or line.strip() in (".", "'"):
            continue
        match = re.match(r"[.'\s]*([A-Za-z]+)\s*(.*)", line) if line[:1] in ".'" else None
        if match is None:
            text = unescape(line)
        else:
            macro, rest = match.groups()
            args = [unescape(arg) for arg in macro_args(rest)]
            text = _request(out, macro, args)
            if text is None:
                if macro == "TP":
                    tag_width = _width_arg(out, args, 0)
                continue
        if tag_width is not None:
            out.tag(text.strip(), tag_width)
            tag_width = None
        else:
            out.text(text)
    out.flush()
    while out.lines and out.lines[-1] == "":
        out.lines.pop()
    return "\n".join(out.lines) + "\n"


def _request(out: _Writer, macro: str, args: list[str]) -> str | None:
    """Carry out one macro line; return the text it contributes, or None."""
    if macro in _FONTS:
        return " ".join(args) if args else None
    if macro in _ALTERNATING:
        return "".join(args)
    if macro == "TH":
        title = f"{args[0]}({args[1]})" if len(args) > 1 else " ".join(args)
        out.emit(title, 0)
        out.lines.append("")
    elif macro in ("SH", "SS"):
        out.heading(" ".join(args), 0 if macro == "SH" else 3)
    elif macro in ("PP", "LP", "P"):
        out.blank()
        out.offset, out.prevailing = 0, MARGIN
    elif macro == "TP":
        out.flush()
    elif macro == "IP":
        out.tag(args[0] if args else "", _width_arg(out, args, 1))
    elif macro == "RS":
        out.flush()
        out.margins.append(out.margin)
        out.margin += _width_arg(out, args, 0)
        out.offset = 0
    elif macro == "RE":
        out.flush()
        out.margin = out.margins.pop() if out.margins else MARGIN
        out.offset = 0
    elif macro in ("EX", "nf"):
        out.flush()
        out.fill = False
    elif macro in ("EE", "fi"):
        out.fill = True
    elif macro == "br":
        out.flush()
    elif macro == "sp":
        out.blank()
    return None  # .ad .na .hy .nh .ne .in .ft ... change nothing a reader sees
