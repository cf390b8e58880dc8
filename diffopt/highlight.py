"""A Pygments lexer for ``.dop`` files: ``pygmentize -l dop``, and colour in diagnostics.

``DopLexer`` is registered through the ``pygments.lexers`` entry point
(pyproject.toml), so after installing diffopt ``pygmentize -l dop FILE``
and any Pygments-based tool highlight ``*.dop`` files. The diagnostics
renderer (``diffopt.report.diagnostics.render_rich``) colours the source line
of an error with it.

The token patterns follow the grammar's terminals (grammars/dop.lark:
NAME, NUMBER, STRING, COMMENT and the operator strings). Which names are
keywords is not written out here: every word is lexed by one pattern, and
its kind is looked up, on first use, in diffopt's own tables:

* keywords: the quoted words of the grammar (the words the scanner retypes
  from NAME); of these, ``DECLARATIONS`` start a declaration and
  ``WORD_OPERATORS`` are operators;
* built-in functions: ``BUILTINS`` and ``SPECIAL_FORMS``;
* built-in constants: ``CONSTANTS``.

Importing this module costs only Pygments (a dependency of Rich, so
installed with diffopt); the tables, which need NumPy, are loaded the first
time a word is classified. ``editors/dop.tmLanguage.json`` is the same
lexer for TextMate-grammar editors; tests/test_highlight.py checks that
the two agree and that both know exactly these words.
"""

from __future__ import annotations

import functools
import re

from pygments.lexer import RegexLexer, bygroups, default
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

__all__ = ["DECLARATIONS", "DopLexer", "WORD_OPERATORS", "vocabulary"]

# Keywords that begin a declaration (highlighted as Keyword.Declaration).
DECLARATIONS = frozenset({"const", "data", "param", "let", "var", "def", "option"})
# Keywords that are operators (Operator.Word, like Python's lexer).
WORD_OPERATORS = frozenset({"and", "or", "not"})

# The grammar's terminals (grammars/dop.lark), as Pygments patterns.
NAME = r"[^\W\d]\w*"
_DIGITS = r"\d(?:_?\d)*"
FLOAT = (rf"(?:{_DIGITS}\.{_DIGITS}|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?"
         rf"|{_DIGITS}[eE][+-]?{_DIGITS}")
INTEGER = _DIGITS
# Longest first, so "**" is not "*" "*" and "<=" is not "<" "=".
OPERATORS = r"\*\*|//|\.\.|<=|>=|==|!=|\+=|-=|\*=|/=|[-+*/%@^<>=~]"
PUNCTUATION = r"[()\[\]{},:;]"


def _grammar_keywords() -> frozenset[str]:
    """The reserved words: the grammar's quoted strings that NAME also matches."""
    from diffopt.resources import resource_path

    grammar = resource_path("grammars", "dop.lark").read_text(encoding="utf-8")
    name = re.compile(NAME)
    return frozenset(word for word in re.findall(r'"([^"\\]+)"', grammar)
                     if name.fullmatch(word))


@functools.cache
def vocabulary() -> dict[str, object]:
    """Every word that is not a plain name, with its token type.

    Built from the grammar (keywords) and the language tables (built-ins,
    special forms, constants); loaded once, on first use.
    """
    from diffopt.ops import library  # noqa: F401  (fills BUILTINS)
    from diffopt.ops.language import CONSTANTS, SPECIAL_FORMS
    from diffopt.ops.registry import BUILTINS

    words: dict[str, object] = {}  # word -> a pygments.token type
    words.update(dict.fromkeys(BUILTINS, Name.Builtin))
    words.update(dict.fromkeys(SPECIAL_FORMS, Name.Builtin))
    words.update(dict.fromkeys(CONSTANTS, Name.Constant))
    for word in _grammar_keywords():
        if word in DECLARATIONS:
            words[word] = Keyword.Declaration
        elif word in WORD_OPERATORS:
            words[word] = Operator.Word
        else:
            words[word] = Keyword
    return words


def _word(lexer, match):
    """A NAME token: a keyword, built-in, constant or plain name."""
    text = match.group()
    yield match.start(), vocabulary().get(text, Name), text


class DopLexer(RegexLexer):
    """Lexer for diffopt's ``.dop`` optimization problem files."""

    name = "Dop"
    aliases = ["dop"]
    filenames = ["*.dop"]
    mimetypes = ["text/x-dop"]

    tokens = {
        "root": [
            (r"\n", Whitespace),
            (r"[ \t\f\r\ufeff]+", Whitespace),
            (r"#[^\r\n]*", Comment.Single),
            (r'"', String.Double, "string"),
            # A field after a dot is a column name, whatever the word (t.e, t.csv).
            (rf"(\.)({NAME})", bygroups(Punctuation, Name.Attribute)),
            (FLOAT, Number.Float),
            (INTEGER, Number.Integer),
            (NAME, _word),
            (OPERATORS, Operator),
            (PUNCTUATION, Punctuation),
            (r"\.", Punctuation),
        ],
        "string": [
            (r'"', String.Double, "#pop"),
            (r"\\.", String.Escape),
            (r'[^"\\\r\n]+', String.Double),
            # An unterminated string ends at the line's end (an error the parser reports).
            default("#pop"),
        ],
    }
