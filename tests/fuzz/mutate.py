"""Mutations of real programs and command lines: the inputs a careless user or an attacker types.

The corpus is every ``problems/*.dop`` and ``tests/bad/*.dop``. A mutation
applies one to four edits: a character deleted, inserted or replaced (from
the language's own punctuation, control bytes and non-ASCII), a token
replaced by a hostile number (1e308, nan, -0, 1e999, a 400-digit integer), a
line duplicated, deleted or swapped, brackets nested deeply, a keyword or
built-in name put in a random place, or the line ends changed (CRLF, CR).
Command lines get hostile option values the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOSTILE_NUMBERS = ("1e308", "-1e308", "1e999", "nan", "inf", "-inf", "-0", "0", "1e-320",
                   "9" * 400, "0x10", "1_000", "2.", ".5", "1e", "--1", "4294967296")
INSERTS = ("(", ")", "[", "]", "{", "}", ",", ";", "=", "^", "@", "..", "#", "\"", "'", "\\",
           "\t", "\n", "\r", "\x00", "\x7f", "é", "∞", "\ufeff", "break", "var", "let",
           "param", "for", "if", "else", "root(", "argmin(", "csv(\"/dev/zero\")", "~",
           "normal(", "sum(", "in [", "subject to ", "minimize ", "data ", "option ")
KEYWORD_RE = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|[0-9][0-9.eE+-]*|\S")


def corpus() -> list[str]:
    files = [*sorted((ROOT / "problems").glob("*.dop")),
             *sorted((ROOT / "tests" / "bad").glob("*.dop"))]
    texts = []
    for path in files:
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:  # binary_garbage.dop and friends: kept as latin-1 text
            texts.append(path.read_bytes().decode("latin-1"))
    return texts


def mutate(c, text: str) -> str:
    for _ in range(c.integer(1, 4)):
        text = _one(c, text)
    return text


def _one(c, text: str) -> str:
    kind = c.integer(0, 8)
    n = len(text)
    at = c.integer(0, max(n - 1, 0))
    if kind == 0 and n:
        return text[:at] + text[at + 1:]
    if kind == 1:
        return text[:at] + c.choice(INSERTS) + text[at:]
    if kind == 2:
        tokens = [m for m in KEYWORD_RE.finditer(text)]
        if tokens:
            m = c.choice(tokens)
            return text[:m.start()] + c.choice(HOSTILE_NUMBERS) + text[m.end():]
    lines = text.split("\n")
    i, j = c.integer(0, len(lines) - 1), c.integer(0, len(lines) - 1)
    if kind == 3:
        lines.insert(i, lines[j])
    elif kind == 4 and len(lines) > 1:
        del lines[i]
    elif kind == 5:
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == 6:
        depth = c.choice((3, 33, 200, 5000))
        lines[i] = lines[i] + " " + "[" * depth + "1" + "]" * depth
    elif kind == 7:
        return text.replace("\n", c.choice(("\r\n", "\r", "\n\n")))
    else:
        return text[:at] + " " + c.choice(INSERTS) + " " + text[at:]
    return "\n".join(lines)


def command_line(c, path: str) -> list[str]:
    """A command and options for ``path``, sometimes with hostile values."""
    command = c.choice(("eval", "solve", "solve", "grad", "check", "graph", "fmt", "export"))
    args = [command, path]
    if command in ("solve",):
        args += ["--max-iter", c.choice(("20", "0", "-1", "1e9", "x", "5"))]
        if c.boolean(0.3):
            args += ["--method", c.choice(("lbfgs", "lm", "gd", "newton", "nelder-mead",
                                           "bogus", "adam", "momentum", "bfgs"))]
        if c.boolean(0.2):
            args += ["--tol", c.choice(("1e-6", "0", "-1", "inf", "nan", "abc"))]
    if command in ("eval", "grad", "check") and c.boolean(0.3):
        args += ["--at", c.choice(("init", "random", "p0=1", "p0=nan", '{"p0": 1e308}',
                                   "{" * 50, "x=", '{"p0": [[[[1]]]]}', "p0=[1,2,3]"))]
    if command in ("grad",) and c.boolean(0.3):
        args += ["--mode", c.choice(("forward", "reverse", "sideways"))]
    if c.boolean(0.2) and command != "fmt":
        args += ["--set", c.choice(("k0=1", "k0=nan", "p0=1e308", "nope=1", "k0=[1,2]",
                                    "k0=" + "[" * 40 + "]" * 40, "=", "k0"))]
    if c.boolean(0.1) and command != "fmt":
        args += ["--seed", c.choice(("0", "-1", "99999999999999999999", "x"))]
    if command != "fmt" and command != "export":
        args.append("--json") if c.boolean(0.5) else None
    return args
