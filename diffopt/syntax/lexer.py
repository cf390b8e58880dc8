"""The lexer: the grammar's terminals as one scanner, with the bracket rules built in.

Lark's documented custom-lexer interface (a ``lark.lexer.Lexer`` subclass
given as ``Lark(..., lexer=...)``, whose ``lex(text)`` yields ``Token``s)
runs this instead of Lark's basic lexer. It makes the same tokens (a test
compares it with ``Lark.lex`` of the basic lexer, token for token) from the
same table: the terminals are read from the ``Lark`` object's public
``terminals`` and ``get_terminal``, never written out again here. It
differs only in doing, in the same loop, what a postlexer would do:

* line breaks inside ``()`` and ``[]`` are dropped (inside ``{}`` they end
  statements); brackets must balance and nest at most MAX_NESTING deep;
* ignored terminals (spaces, comments, a BOM) are skipped, and comments are
  kept for ``fmt``;
* the last two tokens the parser took are remembered, so that a syntax
  error can say what came just before the unexpected token.

Why: Lark's lexer and a postlexer generator cost two thirds of a parse; one
scanner with named groups and one loop cost a third of that.
"""

from __future__ import annotations

import re
from contextvars import ContextVar

from lark import Token
from lark.lexer import Lexer

from diffopt.errors import DopSyntaxError
from diffopt.source import Source, Span

# Brackets deeper than this are refused with a clear message. Lark's LALR
# loop and every stage after it walk trees iteratively, so this is a sanity
# limit on input, not a recursion guard.
MAX_NESTING = 10_000

_OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}
_CLOSING_TEXT = {"LPAR": ")", "LSQB": "]", "LBRACE": "}"}


class Scanner:
    """The grammar's terminals as one regular expression of named groups.

    Alternatives are tried in the basic lexer's order: regular expressions
    before strings, longer strings before their prefixes (so ``+=`` and
    ``**`` are not split). Strings that the NAME pattern also matches are
    keywords: NAME is retyped when its text is one.
    """

    def __init__(self, terminals, ignore: tuple[str, ...]):
        regexps = [t for t in terminals if t.pattern.type == "re"]
        strings = [t for t in terminals if t.pattern.type == "str"]
        name = next(t for t in regexps if t.name == "NAME")
        name_pattern = re.compile(name.pattern.value)
        self.keywords = {t.pattern.value: t.name for t in strings
                         if name_pattern.fullmatch(t.pattern.value)}
        strings = sorted((t for t in strings if t.pattern.value not in self.keywords),
                         key=lambda t: (-len(t.pattern.value), t.name))
        parts = [f"(?P<{t.name}>{t.pattern.value})" for t in regexps]
        parts += [f"(?P<{t.name}>{re.escape(t.pattern.value)})" for t in strings]
        self.pattern = re.compile("|".join(parts))
        self.ignore = frozenset(ignore)


# The parser front whose parse is running in this thread (or task). Lark
# builds the lexer itself, and pickles its class into the grammar cache, so
# the lexer finds its front here rather than through an attribute.
PARSING: ContextVar = ContextVar("diffopt_parsing")


class Tokens(Lexer):
    """Lark's custom-lexer interface: ``lex(text)`` yields the front's tokens."""

    def __init__(self, lexer_conf):  # everything it needs comes from the front
        pass

    def lex(self, text: str):
        return tokens(PARSING.get(), text)


def tokens(front, text: str):
    """Yield the tokens of ``text`` for the parser (see the module docstring).

    ``front`` has ``scanner``, ``source`` and ``comments``; ``previous`` and
    ``before_previous`` are set as the parser takes tokens.
    """
    scanner: Scanner = front.scanner
    source: Source = front.source
    match_at = scanner.pattern.match
    keywords, ignore = scanner.keywords, scanner.ignore
    comments = front.comments
    stack: list[Token] = []
    pos, line, line_start, end = 0, 1, 0, len(text)
    while pos < end:
        match = match_at(text, pos)
        if match is None:
            raise bad_character(source, pos)
        kind = match.lastgroup
        value = match.group()
        stop = match.end()
        if kind in ignore:
            if kind == "COMMENT":
                comments.append(Token(kind, value, pos, line, pos - line_start + 1, line,
                                      stop - line_start + 1, stop))
            elif "\n" in value:  # not in these grammar's ignored terminals, but be safe
                line += value.count("\n")
                line_start = pos + value.rindex("\n") + 1
            pos = stop
            continue
        column = pos - line_start + 1
        if kind == "_NL":
            newlines = value.count("\n")
            token = Token(kind, value, pos, line, column, line + newlines,
                          stop - (pos + value.rindex("\n")), stop)
            line += newlines
            line_start = pos + value.rindex("\n") + 1
            pos = stop
            if stack and stack[-1].type != "LBRACE":
                continue
        else:
            if kind == "NAME":
                kind = keywords.get(value, kind)
            token = Token(kind, value, pos, line, column, line, stop - line_start + 1, stop)
            pos = stop
            if kind in _OPENERS:
                stack.append(token)
                if len(stack) > MAX_NESTING:
                    raise DopSyntaxError(
                        f"brackets nested too deeply (more than {MAX_NESTING} levels)",
                        Span.of(source, token))
            elif kind in _CLOSERS:
                if not stack or stack[-1].type != _CLOSERS[kind]:
                    raise unbalanced(source, token, stack)
                stack.pop()
        yield token
        # Reached only when the parser asks for the next token, so after an
        # UnexpectedToken ``previous`` is the token before the bad one.
        front.before_previous, front.previous = front.previous, token
    if stack:
        opener = stack[-1]
        raise DopSyntaxError(f"'{opener.value}' is never closed", Span.of(source, opener),
                             hint=f"add '{_CLOSING_TEXT[opener.type]}'")


def unbalanced(source: Source, token: Token, stack: list[Token]) -> DopSyntaxError:
    if not stack:
        return DopSyntaxError(f"unmatched '{token.value}'", Span.of(source, token))
    opener = stack[-1]
    return DopSyntaxError(
        f"'{token.value}' does not match '{opener.value}' opened at line {opener.line}, "
        f"column {opener.column}",
        Span.of(source, token),
    )


def bad_character(source: Source, pos: int) -> DopSyntaxError:
    char = source.text[pos] if pos < len(source.text) else ""
    span = source.span(pos, pos + 1)
    if char == '"':
        return DopSyntaxError("unterminated string", span, hint='close it with " on the same line')
    if char == "." and source.text[pos + 1 : pos + 2] not in (".",):
        return DopSyntaxError("unexpected '.'", span)
    if char in "!":
        return DopSyntaxError("unexpected '!'", span, hint="'!=' compares; use 'not' to negate")
    if char == "'":
        return DopSyntaxError(
            "unexpected \"'\"", span, hint='strings are written with double quotes: "..."'
        )
    shown = repr(char)[1:-1] if not char.isprintable() else char
    return DopSyntaxError(f"unexpected character '{shown}'", span)
