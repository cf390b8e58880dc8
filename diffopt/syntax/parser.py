"""Text → AST: decoding, Lark's LALR parser and syntax diagnostics.

Owns: decoding the bytes (BOM, CRLF, non-UTF-8); the Lark parser for
grammars/dop.lark, driven through Lark's documented interface only (the
``Lark`` options ``transformer``, ``lexer`` (a custom ``Lexer`` class, see
lexer.py) and ``cache``, ``Lark.terminals``, ``Lark.get_terminal``,
``Token`` and the ``Unexpected*`` exceptions); and every Lark exception
turned into a ``DopSyntaxError`` in words a user understands (never a
terminal name like ``__ANON_3``). Lark is imported only here, in lexer.py
and in to_ast.py.

Speed: the scanner of lexer.py feeds Lark's LALR loop, which runs
to_ast.Builder's methods as the rule callbacks (Lark's inline transformer),
so the program comes out of the parse as AST: no parse tree, no second
pass, no position propagation. The grammar is written to keep reductions
few (see its header).

Reentrancy: a parse runs on a ``_Front``, a Lark parser with its own builder,
comment list and lexer state, that no other parse uses meanwhile. Idle
fronts wait in ``_IDLE``; a parse that finds none builds one, so parses in
several threads each have their own and never share parse state.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import threading
from functools import lru_cache
from pathlib import Path

from lark import Lark, LarkError, Token, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from diffopt.errors import DopSyntaxError
from diffopt.gcpause import gc_paused
from diffopt.resources import resource_path
from diffopt.source import Source, Span
from diffopt.syntax import ast
from diffopt.syntax.lexer import MAX_NESTING, PARSING, Scanner, Tokens, bad_character
from diffopt.syntax.to_ast import Builder

__all__ = ["MAX_NESTING", "decode", "parse"]

# What each terminal looks like to a user, for "expected ..." messages.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "_NL": "a line break",
    "$END": "the end of the file",
}

_EXPRESSION_STARTS = {"NAME", "NUMBER", "LPAR", "LSQB", "MINUS", "PLUS"}



@lru_cache(maxsize=1)
def _grammar() -> str:
    return resource_path("grammars", "dop.lark").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _ignored() -> tuple[str, ...]:
    """The terminals the grammar's ``%ignore`` lines name."""
    return tuple(re.findall(r"^%ignore\s+(\w+)", _grammar(), flags=re.M))


def _cache_file() -> str | bool:
    """Where Lark keeps its analysis of the grammar between runs; False: nowhere.

    Lark unpickles that file, so only this user may be able to write it.
    (``cache=True`` would use a predictable name in the shared temp dir,
    which another user could plant first.) It lives in the user's cache
    directory, in a folder made 0700 and used only if it is a real directory
    owned by this user and closed to everyone else. Lark checks the file's
    hash of the grammar, the options and its own version, and rebuilds it on
    any mismatch.
    """
    if not hasattr(os, "getuid"):
        return False  # no owner to check against: build the grammar each run
    try:
        base = os.environ.get("XDG_CACHE_HOME", "")
        if not os.path.isabs(base):
            base = os.path.join(Path.home(), ".cache")
        folder = os.path.join(base, "diffopt")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except (OSError, RuntimeError):  # no home, read-only file system ...
        return False
    if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid()
            or info.st_mode & 0o077):
        return False
    version = "{}{}".format(*sys.version_info[:2])
    return os.path.join(folder, f"dop-grammar-py{version}.lark-cache")


class _Front:
    """One Lark parser and the state of the parse running on it (one at a time).

    Its lexer (lexer.py) reads the source being parsed, collects comments
    and remembers the last two tokens the parser took, so a syntax error can
    say what came just before the unexpected token ("expected an expression
    after '+'").
    """

    def __init__(self):
        self.source: Source | None = None
        self.comments: list[Token] = []
        self.previous: Token | None = None
        self.before_previous: Token | None = None
        self.builder = Builder()
        self.lark = Lark(
            _grammar(),
            parser="lalr",
            lexer=Tokens,  # lexer.py: the grammar's terminals, one scanner
            # The builder makes spans from its rules' tokens, so it gets them
            # all, and tells optional parts by what they are, not by None
            # placeholders; positions are not propagated (it needs none).
            transformer=self.builder,
            keep_all_tokens=True,
            maybe_placeholders=False,
            cache=_cache_file(),
        )
        self.scanner = Scanner(self.lark.terminals, _ignored())

    def parse(self, source: Source) -> ast.Program:
        self.source = self.builder.source = source
        self.comments = comments = []
        # A trailing line break lets the last statement end like every other.
        text = source.text if source.text.endswith("\n") else source.text + "\n"
        running = PARSING.set(self)
        try:
            # Tokens and nodes are acyclic and all stay alive until the parse
            # ends: collections would only walk them again (half the parse).
            with gc_paused():
                statements = self.lark.parse(text)
        except DopSyntaxError:
            raise
        except UnexpectedCharacters as exc:  # pragma: no cover - the scanner raises first
            raise bad_character(source, exc.pos_in_stream) from None
        except UnexpectedEOF as exc:
            raise _unexpected_end(self.lark, source, exc.expected) from None
        except UnexpectedToken as exc:
            raise self._unexpected(source, exc) from None
        except LarkError as exc:  # pragma: no cover - Lark's other errors are internal
            raise DopSyntaxError(f"cannot parse: {exc}", source.span(0)) from None
        finally:
            PARSING.reset(running)
            self.source = self.builder.source = None
            self.comments = []
            self.previous = self.before_previous = None
        collected = tuple(_comment(source, token) for token in comments)
        return ast.Program(statements, collected, span=source.span(0, len(source.text)))

    def _unexpected(self, source: Source, exc: UnexpectedToken) -> DopSyntaxError:
        number, dot = self.before_previous, self.previous
        if (dot is not None and dot.type == "DOT" and number is not None
                and number.type == "NUMBER" and number.end_pos == dot.start_pos):
            return DopSyntaxError(
                f"a number cannot end with '.': write {number.value} or {number.value}.0",
                Span.of(source, number).to(Span.of(source, dot)),
            )
        return _unexpected_token(self.lark, source, exc, dot)


# Fronts no parse is using. Taking one and giving it back are the only
# shared steps of a parse, under the lock.
_IDLE: list[_Front] = []
_IDLE_LOCK = threading.Lock()


# ------------------------------------------------------------------- decoding


_LONE_CR = re.compile(r"\r(?!\n)")


def decode(data: bytes, name: str) -> Source:
    """Bytes → Source: UTF-8 only (a BOM is dropped), CRLF kept for the lexer.

    A lone CR (old Mac line ends) becomes LF: it ends a line, for statements
    as for comments. One character for one, so offsets do not move.
    """
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
    if "\r" in text:
        text = _LONE_CR.sub("\n", text)
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
    """Parse a whole .dop source into a Program (comments attached).

    Safe to call from several threads at once: each parse has a front of its own.
    """
    with _IDLE_LOCK:
        front = _IDLE.pop() if _IDLE else None
    if front is None:
        front = _Front()
    try:
        return front.parse(source)
    finally:
        with _IDLE_LOCK:
            _IDLE.append(front)


def _comment(source: Source, token: Token) -> ast.Comment:
    offset = token.start_pos
    line_start = source.text.rfind("\n", 0, offset) + 1
    own_line = source.text[line_start:offset].strip() == ""
    return ast.Comment(token.value.rstrip(), token.line, own_line)


def _describe(lark: Lark, terminal: str) -> str | None:
    if terminal in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[terminal]
    try:
        pattern = lark.get_terminal(terminal).pattern
    except KeyError:
        return None
    return f"'{pattern.value}'" if pattern.type == "str" else None


def _expected_words(lark: Lark, expected) -> str | None:
    names = set(expected)
    if names & _EXPRESSION_STARTS >= {"NAME", "NUMBER"}:
        rest = sorted(n for n in names - _EXPRESSION_STARTS - {"STRING", "IF", "NOT"})
        words = ["an expression"] + [w for w in (_describe(lark, n) for n in rest) if w]
    else:
        words = sorted(w for w in (_describe(lark, n) for n in names) if w)
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


def _unexpected_end(lark: Lark, source: Source, expected) -> DopSyntaxError:
    end = len(source.text.rstrip())
    words = _expected_words(lark, expected)
    message = "unexpected end of file" + (f": expected {words}" if words else "")
    return DopSyntaxError(message, source.span(end, end))


def _unexpected_token(lark: Lark, source: Source, exc: UnexpectedToken,
                      previous) -> DopSyntaxError:
    token = exc.token
    if token.type == "$END":
        return _unexpected_end(lark, source, exc.expected)
    span = Span.of(source, token)
    if token.type == "_NL":
        # Point at the end of the line, not at the start of the next one.
        span = source.span(token.start_pos, token.start_pos)
    expected = set(exc.expected)
    words = _expected_words(lark, expected)
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
