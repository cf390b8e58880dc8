"""Text → AST: the Lark parser, its lexer and syntax diagnostics.

Owns: decoding the bytes (BOM, CRLF, non-UTF-8), building the LALR parser
once per process (cached on disk by Lark), lexing (dropping line breaks
inside ``()`` and ``[]``, checking brackets, collecting comments for
``fmt``), and turning every Lark exception into a ``DopSyntaxError`` whose
words a user understands (never a terminal name like ``__ANON_3``). Lark is
imported only here, in lalr.py (the parse loop) and in to_ast.py.

Speed: a 10^5-node program is a few hundred thousand tokens and about a
million LALR reductions, so the per-token and per-reduction work is kept
small. Lark builds the grammar, the LALR table and the rule callbacks, but
the parse loop is lalr.Driver's, on integer tables read from Lark's once,
with runs of unit reductions (``?expr: conditional`` ... ``?postfix: atom``)
taken as one memoized step. The callbacks reduce rules straight into AST
nodes (to_ast.Builder is Lark's transformer: no parse tree, no second pass),
and ``_Lexer`` is one loop doing the lexer's and the postlexer's work, on
Lark's own terminal table.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from lark import Lark, Token
from lark.exceptions import LarkError, UnexpectedEOF, UnexpectedToken
from lark.lexer import BasicLexer, PatternStr, UnlessCallback

from diffopt.errors import DopSyntaxError
from diffopt.gcpause import gc_paused
from diffopt.resources import resource_path
from diffopt.source import Source, Span
from diffopt.syntax import ast
from diffopt.syntax.lalr import Driver

if TYPE_CHECKING:
    from diffopt.syntax.to_ast import Builder

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


class _Run:
    """What the lexer and ``parse`` share about the parse under way.

    One parse at a time per process (the parser is built once and reused).
    ``previous`` and ``before_previous`` are the last two tokens the parser
    has asked past, so a syntax error can say what came just before the
    unexpected one ("expected an expression after '+'").
    """

    __slots__ = ("source", "comments", "previous", "before_previous")

    def __init__(self):
        self.source: Source | None = None
        self.comments: list[tuple[str, int, int]] = []  # (text, line, offset)
        self.previous: Token | None = None
        self.before_previous: Token | None = None


_RUN = _Run()


class _Lexer(BasicLexer):
    """Lark's basic lexer for this grammar, as one loop that also postlexes.

    The terminals, their order and the keyword rule (a NAME spelled like a
    keyword is that keyword) are Lark's own: ``BasicLexer`` works them out
    from the grammar and this class only reads them, so the tokens are those
    Lark would produce. The loop then does in the same pass what a postlexer
    would: drops line breaks inside () and [], checks that brackets balance
    and nest at most MAX_NESTING deep, and collects comments. The parse loop
    (lalr.Driver) calls ``lex(text)`` (also Lark's interface for custom
    lexers) and pulls tokens one at a time, as Lark's loop does, so every
    error surfaces at the same point of the parse.
    """

    # Lark's first custom-lexer interface: lex(text) -> tokens. Pinned, since
    # BasicLexer's own lex(state, parser_state) is Lark's internal one.
    __future_interface__ = 0

    def __init__(self, conf):
        super().__init__(conf)
        scanner = self.scanner  # building it also fills self.callback
        # One alternation in Lark's order, so the first alternative that
        # matches wins, as in Lark's Scanner.
        self._scan = self.re.compile(
            "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in scanner.terminals),
            conf.g_regex_flags,
        ).finditer
        # terminal -> {spelling: keyword terminal}; Lark's UnlessCallback does
        # the same lookup with a regex per token.
        self._keywords: dict[str, dict[str, str]] = {}
        for name, callback in self.callback.items():
            keywords = callback.scanner.terminals if isinstance(callback, UnlessCallback) else ()
            if not keywords or not all(isinstance(k.pattern, PatternStr) and not k.pattern.flags
                                       for k in keywords):
                raise TypeError(f"diffopt's lexer cannot mirror Lark's callback on {name}")
            self._keywords[name] = {k.pattern.value: k.name for k in keywords}

    def lex(self, text: str):
        run = _RUN
        source = run.source
        comments = run.comments
        keywords = self._keywords
        ignore = self.ignore_types
        newline_types = self.newline_types
        make = str.__new__
        stack: list[Token] = []
        run.previous = run.before_previous = None
        pos, line, line_start = 0, 1, 0
        # finditer tries each position in turn like Lark's match loop; a
        # match that does not start where the last one ended skipped a
        # character no terminal matches.
        for found in self._scan(text):
            start, end = found.span()
            if start != pos:
                raise _bad_character(source, pos)
            pos = end
            kind = found.lastgroup
            value = found.group()
            token_line, column = line, start - line_start + 1
            if kind in newline_types:
                count = value.count("\n")
                if count:
                    line += count
                    line_start = start + value.rindex("\n") + 1
            if kind in ignore:
                if kind == "COMMENT":
                    comments.append((value, token_line, start))
                continue
            if kind in keywords:
                kind = keywords[kind].get(value, kind)
            # Token(...) runs two Python-level constructors; this is the same
            # object with the same eight fields, set directly.
            token = make(Token, value)
            token.type = kind
            token.value = value
            token.start_pos = start
            token.line = token_line
            token.column = column
            token.end_line = line
            token.end_column = end - line_start + 1
            token.end_pos = end
            if kind in _OPENERS:
                stack.append(token)
                if len(stack) > MAX_NESTING:
                    raise DopSyntaxError(
                        f"brackets nested too deeply (more than {MAX_NESTING} levels)",
                        Span.of(source, token),
                    )
            elif kind in _CLOSERS:
                if not stack or stack[-1].type != _CLOSERS[kind]:
                    raise _unbalanced(source, token, stack)
                stack.pop()
            elif kind == "_NL" and stack and stack[-1].type != "LBRACE":
                continue
            yield token
            # Reached only when the parser asks for the next token, so after
            # an UnexpectedToken ``previous`` is the token before the bad one.
            run.before_previous, run.previous = run.previous, token
        if pos != len(text):
            raise _bad_character(source, pos)
        if stack:
            opener = stack[-1]
            closer = {"LPAR": ")", "LSQB": "]", "LBRACE": "}"}[opener.type]
            raise DopSyntaxError(
                f"'{opener.value}' is never closed",
                Span.of(source, opener),
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
def _parser() -> tuple[Lark, Builder, Driver]:
    from diffopt.syntax.to_ast import Builder

    builder = Builder()
    grammar = resource_path("grammars", "dop.lark").read_text(encoding="utf-8")
    lark = Lark(
        grammar,
        parser="lalr",
        lexer=_Lexer,
        # The builder computes spans from the tokens of each rule, so it gets
        # them all (propagate_positions cost half the parse), and finds
        # optional parts by what they are rather than by None placeholders.
        keep_all_tokens=True,
        maybe_placeholders=False,
        transformer=builder,
        cache=True,
    )
    # Lark wraps the custom lexer class; the driver pulls from its lex(text).
    lexer = getattr(lark.parser.lexer, "lexer", None)
    if not isinstance(lexer, _Lexer) or lark.options.postlex is not None:
        raise TypeError("internal error: cannot find diffopt's lexer inside the Lark parser")
    return lark, builder, Driver(lark, lexer.lex)


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
    _, builder, driver = _parser()
    run = _RUN
    run.source = builder.source = source
    run.comments = comments = []
    # A trailing line break lets the last statement end like every other.
    text = source.text if source.text.endswith("\n") else source.text + "\n"
    try:
        # Tokens and nodes are acyclic and all stay alive until the parse
        # ends: collections would only walk them again (half the parse).
        with gc_paused():
            statements = driver.parse(text)
    except DopSyntaxError:
        raise
    except UnexpectedEOF as exc:
        raise _unexpected_end(source, exc.expected) from None
    except UnexpectedToken as exc:
        number = run.before_previous
        dot = run.previous
        if (dot is not None and dot.type == "DOT" and number is not None
                and number.type == "NUMBER" and number.end_pos == dot.start_pos):
            raise DopSyntaxError(
                f"a number cannot end with '.': write {number.value} or {number.value}.0",
                Span.of(source, number).to(Span.of(source, dot)),
            ) from None
        raise _unexpected_token(source, exc, run.previous) from None
    except LarkError as exc:  # pragma: no cover - Lark's other errors are internal
        raise DopSyntaxError(f"cannot parse: {exc}", source.span(0)) from None
    finally:
        run.source = builder.source = None
        run.comments = []
    collected = tuple(_comment(source, *comment) for comment in comments)
    return ast.Program(statements, collected, span=source.span(0, len(source.text)))


def _comment(source: Source, text: str, line: int, offset: int) -> ast.Comment:
    line_start = source.text.rfind("\n", 0, offset) + 1
    own_line = source.text[line_start:offset].strip() == ""
    return ast.Comment(text.rstrip(), line, own_line)


def _bad_character(source: Source, pos: int) -> DopSyntaxError:
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
