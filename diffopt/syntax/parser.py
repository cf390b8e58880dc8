"""Text → AST: the Lark parser, the bracket postlexer and syntax diagnostics.

Owns: decoding the bytes (BOM, CRLF, non-UTF-8), building the LALR parser
once per process (cached on disk by Lark), dropping line breaks inside ``()``
and ``[]``, collecting comments for ``fmt``, and turning every Lark exception
into a ``DopSyntaxError`` whose words a user understands (never a terminal
name like ``__ANON_3``). Lark is imported only here and in to_ast.py.
"""

from __future__ import annotations

from functools import lru_cache

from lark import Lark, Token
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from diffopt.errors import DopSyntaxError
from diffopt.resources import resource_path
from diffopt.source import Source, Span
from diffopt.syntax import ast

# Brackets deeper than this are refused with a clear message. Every stage
# after the parser walks trees iteratively, so this is a sanity limit on
# input, not a recursion guard.
MAX_NESTING = 10_000

# What each terminal looks like to a user, for "expected ..." messages.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "_NL": "a line break",
    "$END": "the end of the file",
}

_EXPRESSION_STARTS = {"NAME", "NUMBER", "LPAR", "LSQB", "MINUS", "PLUS"}

_OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}


class _BracketPostlexer:
    """Drops _NL inside () and []; checks bracket balance and nesting depth.

    Also remembers the last two tokens, so a syntax error can say what came
    just before the unexpected one ("expected an expression after '+'").
    """

    always_accept = ("_NL",)

    def __init__(self):
        self.previous: Token | None = None
        self.before_previous: Token | None = None
        self.source: Source | None = None

    def process(self, stream):
        stack: list[Token] = []
        self.previous = self.before_previous = None
        for token in stream:
            kind = token.type
            if kind in _OPENERS:
                stack.append(token)
                if len(stack) > MAX_NESTING:
                    raise DopSyntaxError(
                        f"brackets nested too deeply (more than {MAX_NESTING} levels)",
                        Span.of(self.source, token),
                    )
            elif kind in _CLOSERS:
                if not stack or stack[-1].type != _CLOSERS[kind]:
                    raise _unbalanced(self.source, token, stack)
                stack.pop()
            elif kind == "_NL" and stack and stack[-1].type != "LBRACE":
                continue
            yield token
            self.before_previous, self.previous = self.previous, token
        if stack:
            opener = stack[-1]
            closer = {"LPAR": ")", "LSQB": "]", "LBRACE": "}"}[opener.type]
            raise DopSyntaxError(
                f"'{opener.value}' is never closed",
                Span.of(self.source, opener),
                hint=f"add '{closer}'",
            )


def _unbalanced(source: Source, token: Token, stack: list[Token]) -> DopSyntaxError:
    if not stack:
        return DopSyntaxError(f"unmatched '{token.value}'", Span.of(source, token))
    opener = stack[-1]
    return DopSyntaxError(
        f"'{token.value}' does not match '{opener.value}' opened at line {opener.line}, "
        f"column {opener.column}",
        Span.of(source, token),
    )


@lru_cache(maxsize=1)
def _parser() -> tuple[Lark, _BracketPostlexer, list]:
    comments: list[Token] = []
    postlexer = _BracketPostlexer()
    grammar = resource_path("grammars", "dop.lark").read_text(encoding="utf-8")
    lark = Lark(
        grammar,
        parser="lalr",
        lexer="basic",
        propagate_positions=True,
        maybe_placeholders=True,
        postlex=postlexer,
        lexer_callbacks={"COMMENT": comments.append},
        cache=True,
    )
    return lark, postlexer, comments


# ------------------------------------------------------------------- decoding


def decode(data: bytes, name: str) -> Source:
    """Bytes → Source: UTF-8 only (a BOM is dropped), CRLF kept for the lexer."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        source = Source(name, data[: exc.start].decode("utf-8", "replace"))
        raise DopSyntaxError(
            f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start}",
            source.span(exc.start, exc.start),
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        offset = text.index("\x00")
        source = Source(name, text)
        raise DopSyntaxError(
            f"the file contains a NUL byte at offset {offset}; is it a binary file?",
            source.span(offset, offset),
        )
    return Source(name, text)


# -------------------------------------------------------------------- parsing


def parse(source: Source) -> ast.Program:
    """Parse a whole .dop source into a Program (comments attached)."""
    from diffopt.syntax.to_ast import to_program

    lark, postlexer, comments = _parser()
    comments.clear()
    postlexer.source = source
    # A trailing line break lets the last statement end like every other.
    text = source.text if source.text.endswith("\n") else source.text + "\n"
    try:
        tree = lark.parse(text)
    except DopSyntaxError:
        raise
    except UnexpectedCharacters as exc:
        raise _bad_character(source, exc) from None
    except UnexpectedEOF as exc:
        raise _unexpected_end(source, exc.expected) from None
    except UnexpectedToken as exc:
        number = postlexer.before_previous
        dot = postlexer.previous
        if (dot is not None and dot.type == "DOT" and number is not None
                and number.type == "NUMBER" and number.end_pos == dot.start_pos):
            raise DopSyntaxError(
                f"a number cannot end with '.': write {number.value} or {number.value}.0",
                Span.of(source, number).to(Span.of(source, dot)),
            ) from None
        raise _unexpected_token(source, exc, postlexer.previous) from None
    except LarkError as exc:  # pragma: no cover - Lark's other errors are internal
        raise DopSyntaxError(f"cannot parse: {exc}", source.span(0)) from None
    collected = tuple(_comment(source, token) for token in comments)
    comments.clear()
    return to_program(tree, source, collected)


def _comment(source: Source, token: Token) -> ast.Comment:
    line_start = source.text.rfind("\n", 0, token.start_pos) + 1
    own_line = source.text[line_start : token.start_pos].strip() == ""
    return ast.Comment(token.value.rstrip(), token.line, own_line)


def _bad_character(source: Source, exc: UnexpectedCharacters) -> DopSyntaxError:
    pos = exc.pos_in_stream
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


def _describe(terminal: str) -> str | None:
    if terminal in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[terminal]
    lark = _parser()[0]
    for definition in lark.terminals:
        if definition.name == terminal and definition.pattern.type == "str":
            return f"'{definition.pattern.value}'"
    return None


def _expected_words(expected) -> str | None:
    names = set(expected)
    if names & _EXPRESSION_STARTS >= {"NAME", "NUMBER"}:
        rest = sorted(n for n in names - _EXPRESSION_STARTS - {"STRING", "IF", "NOT"})
        words = ["an expression"] + [w for w in map(_describe, rest) if w]
    else:
        words = sorted(w for w in map(_describe, names) if w)
    if not words or len(words) > 6:
        return None
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _token_text(token: Token) -> str:
    if token.type == "_NL":
        return "line break"
    if token.type == "$END":
        return "end of file"
    return f"'{token.value}'"


def _unexpected_end(source: Source, expected) -> DopSyntaxError:
    end = len(source.text.rstrip())
    words = _expected_words(expected)
    message = "unexpected end of file" + (f": expected {words}" if words else "")
    return DopSyntaxError(message, source.span(end, end))


def _unexpected_token(source: Source, exc: UnexpectedToken, previous) -> DopSyntaxError:
    token = exc.token
    if token.type == "$END":
        return _unexpected_end(source, exc.expected)
    span = Span.of(source, token)
    if token.type == "_NL":
        # Point at the end of the line, not at the start of the next one.
        span = source.span(token.start_pos, token.start_pos)
    expected = set(exc.expected)
    words = _expected_words(expected)
    after = f" after {_token_text(previous)}" if previous is not None else ""
    if expected >= {"NAME", "NUMBER"} and "LBRACE" not in expected:
        message = f"expected an expression{after}, found {_token_text(token)}"
    elif expected >= {"PLUS", "STAR"} and token.type in ("NAME", "NUMBER", "STRING"):
        message = (f"expected an operator or the end of the statement{after}, "
                   f"found {_token_text(token)}")
    elif words:
        message = f"expected {words}{after}, found {_token_text(token)}"
    else:
        message = f"unexpected {_token_text(token)}"
    hint = _hint_for(token, previous, expected)
    return DopSyntaxError(message, span, hint=hint)


def _hint_for(token: Token, previous, expected: set) -> str | None:
    if token.type == "_NL" and "LBRACE" in expected:
        return "put '{' on the same line as the header"
    if token.type == "ELSE":
        return "write '} else {' on one line"
    if token.type == "EQUAL" and expected >= {"PLUS", "STAR"}:
        return "use '==' to compare; '=' only declares or assigns"
    if expected >= {"PLUS", "STAR"} and token.type in ("NAME", "NUMBER", "STRING"):
        return "is an operator or ',' missing?"
    return None
