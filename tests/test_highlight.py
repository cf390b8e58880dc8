"""Highlighting: the Pygments lexer, coloured diagnostics, the TextMate grammar.

* Every kind of token gets its Pygments type; no problem file gives an Error.
* ``editors/dop.tmLanguage.json`` agrees with the lexer, character by
  character, on the samples and on every problem file (``tm_scopes`` is a
  small test-only TextMate matcher: at each position the rule matching
  earliest wins, ties going to the first listed, as TextMate does).
* Both know exactly the words of diffopt's tables.
* ``pygmentize -l dop`` works from the installed entry point.
* Diagnostics are coloured on a colour terminal, plain (and unchanged)
  with NO_COLOR or a pipe.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

from diffopt.cli.common import print_diagnostic
from diffopt.errors import DopError
from diffopt.highlight import DECLARATIONS, DopLexer, vocabulary
from diffopt.ops import library  # noqa: F401  (fills BUILTINS)
from diffopt.ops.language import CONSTANTS, SPECIAL_FORMS
from diffopt.ops.registry import BUILTINS
from diffopt.report.diagnostics import render, render_rich
from diffopt.source import Source

ROOT = Path(__file__).resolve().parent.parent
PROBLEMS = sorted((ROOT / "problems").glob("*.dop"))
BAD = ROOT / "tests" / "bad"
GRAMMAR = json.loads((ROOT / "editors" / "dop.tmLanguage.json").read_text(encoding="utf-8"))

# (source, the token sampled, its Pygments type)
SAMPLES = [
    ("minimize x", "minimize", Keyword),
    ("maximize x", "maximize", Keyword),
    ("subject to c: x <= 1", "subject", Keyword),
    ("subject to c: x <= 1", "to", Keyword),
    ("for i in 0..3 { break }", "for", Keyword),
    ("for i in 0..3 { break }", "in", Keyword),
    ("for i in 0..3 { break }", "break", Keyword),
    ("let y = if c then 1 else 2", "then", Keyword),
    ("let y = if c then 1 else 2", "else", Keyword),
    ("let y = a and not b or c", "and", Operator.Word),
    ("let y = a and not b or c", "not", Operator.Word),
    *[(f"{word} x = 1", word, Keyword.Declaration) for word in sorted(DECLARATIONS - {"def"})],
    ("def f(x) = x", "def", Keyword.Declaration),
    ("let y = sqrt(x)", "sqrt", Name.Builtin),
    ("let y = root(x: x^2 - 2, init=1)", "root", Name.Builtin),
    ("let y = 2 * pi", "pi", Name.Constant),
    ("let y = t.e", "e", Name.Attribute),
    ("let speed = 1", "speed", Name),
    ("let y = 1", "1", Number.Integer),
    ("let y = 1.5e-3", "1.5e-3", Number.Float),
    ("let y = .5", ".5", Number.Float),
    ("let y = 1_000", "1_000", Number.Integer),
    ('data t = csv("a\\"b.csv")', '\\"', String.Escape),
    ('data t = csv("a\\"b.csv")', "b.csv", String.Double),
    ("let y = 1  # a comment", "# a comment", Comment.Single),
    ("for i in 0..n { }", "..", Operator),
    ("let y = x ** 2", "**", Operator),
    ("let y = x // 2", "//", Operator),
    ("subject to x <= 1", "<=", Operator),
    ("x += 1", "+=", Operator),
    ("let y = x != 1", "!=", Operator),
    ("let y = f(x, 1)", ",", Punctuation),
]


def pygments_types(text: str) -> list:
    """The Pygments token type of each character of ``text``."""
    types = [None] * len(text)
    for start, token, value in DopLexer().get_tokens_unprocessed(text):
        types[start:start + len(value)] = [token] * len(value)
    return types


@pytest.mark.parametrize(("text", "sample", "expected"), SAMPLES,
                         ids=[f"{s[1]}-{i}" for i, s in enumerate(SAMPLES)])
def test_sample_token_types(text, sample, expected):
    start = text.rindex(sample)
    got = {t for t in pygments_types(text)[start:start + len(sample)]}
    assert got == {expected}, (sample, got)


@pytest.mark.parametrize("path", PROBLEMS, ids=[p.name for p in PROBLEMS])
def test_no_error_tokens_in_problem_files(path):
    text = path.read_text(encoding="utf-8")
    tokens = list(DopLexer().get_tokens(text))
    assert not [(t, v) for t, v in tokens if t in Error]
    assert "".join(v for _, v in tokens) == (text if text.endswith("\n") else text + "\n")


def test_vocabulary_is_the_tables_and_the_grammar():
    words = vocabulary()
    assert {w for w, t in words.items() if t is Name.Builtin} == set(BUILTINS) | set(SPECIAL_FORMS)
    assert {w for w, t in words.items() if t is Name.Constant} == set(CONSTANTS)
    keywords = {w for w, t in words.items() if t in Keyword or t is Operator.Word}
    documented = ("const data param let def var minimize maximize subject to option for in if "
                  "then else and or not break when")  # dop-language.md + dop.5 (when)
    assert keywords == set(documented.split())
    assert DECLARATIONS <= keywords


def test_importing_the_lexer_is_cheap():
    code = ("import sys, diffopt.highlight; "
            "print(sorted(m for m in ('numpy', 'lark', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------- TextMate


# Pygments type -> the TextMate scope (prefix) the grammar must give.
TM_SCOPES = {
    Comment.Single: "comment.line.number-sign",
    String.Double: "string.quoted.double",
    String.Escape: "constant.character.escape",
    Number.Integer: "constant.numeric",
    Number.Float: "constant.numeric",
    Keyword: "keyword.control",
    Keyword.Declaration: "storage.type",
    Operator.Word: "keyword.operator.word",
    Operator: "keyword.operator",
    Name.Builtin: "support.function",
    Name.Constant: "constant.language",
    Name.Attribute: "variable.other.member",
    Name: "variable.other",
    Punctuation: "punctuation",
}


def _rules(patterns: list[dict]) -> list[dict]:
    """Patterns with includes (``#name``) resolved and nested lists flattened."""
    out = []
    for rule in patterns:
        if "include" in rule:
            rule = GRAMMAR["repository"][rule["include"].removeprefix("#")]
        if "match" in rule or "begin" in rule:
            out.append(rule)
        else:
            out.extend(_rules(rule["patterns"]))
    return out


def tm_scopes(text: str) -> list[str | None]:
    """The innermost TextMate scope of each character of ``text`` (test-only matcher).

    Line by line, as TextMate does; supports ``match`` (with ``captures``)
    and ``begin``/``end`` (with inner ``patterns``) rules, which is all the
    grammar uses.
    """
    scopes: list[str | None] = [None] * len(text)
    stack: list[dict] = []  # open begin/end rules
    offset = 0
    for line in text.split("\n"):
        pos = 0
        while pos <= len(line):
            if stack:
                candidates = [("end", stack[-1])] + [("match", r) for r in
                                                     _rules(stack[-1].get("patterns", []))]
            else:
                candidates = [("begin" if "begin" in r else "match", r)
                              for r in _rules(GRAMMAR["patterns"])]
            best = None
            for kind, rule in candidates:
                found = re.compile(rule[kind]).search(line, pos)
                if found and (best is None or found.start() < best[2].start()):
                    best = (kind, rule, found)
            if best is None:
                break
            kind, rule, found = best
            outer = stack[-1]["name"] if stack else None
            start, end = offset + found.start(), offset + found.end()
            scopes[offset + pos:start] = [outer] * (start - offset - pos)
            if kind == "begin":
                stack.append(rule)
            elif kind == "end":
                stack.pop()
            scopes[start:end] = [rule.get("name", outer)] * (end - start)
            for group, capture in rule.get("captures", {}).items():
                g = int(group)
                if found.start(g) >= 0:
                    scopes[offset + found.start(g):offset + found.end(g)] = (
                        [capture["name"]] * (found.end(g) - found.start(g)))
            if found.end() == pos and kind == "match":
                pos += 1  # an empty match must not stall
            else:
                pos = found.end()
            if kind == "end" and found.end() == len(line) == found.start():
                break
        offset += len(line) + 1
    return scopes


def disagreements(text: str) -> list[tuple[int, str, object, str | None]]:
    """Characters where the grammar's scope is not the lexer's type's scope."""
    bad = []
    for i, (token, scope) in enumerate(zip(pygments_types(text), tm_scopes(text))):
        if token is None or token in Whitespace:
            continue
        expected = TM_SCOPES[token]
        if not (scope or "").startswith(expected):
            bad.append((i, text[i], token, scope))
    return bad


def test_textmate_matcher_sees_scopes():
    scopes = tm_scopes('let s = "a\\nb" # c')
    assert scopes[0] == "storage.type.declaration.dop"
    assert scopes[8] == scopes[13] == "string.quoted.double.dop"
    assert scopes[10] == "constant.character.escape.dop"
    assert scopes[-1] == "comment.line.number-sign.dop"


@pytest.mark.parametrize(("text", "sample", "expected"), SAMPLES,
                         ids=[f"{s[1]}-{i}" for i, s in enumerate(SAMPLES)])
def test_textmate_agrees_on_samples(text, sample, expected):
    start = text.rindex(sample)
    scopes = set(tm_scopes(text)[start:start + len(sample)])
    assert all(s and s.startswith(TM_SCOPES[expected]) for s in scopes), (sample, scopes)
    assert not disagreements(text)


@pytest.mark.parametrize("path", PROBLEMS, ids=[p.name for p in PROBLEMS])
def test_textmate_agrees_on_problem_files(path):
    assert not disagreements(path.read_text(encoding="utf-8"))


def test_textmate_knows_the_same_words():
    listed = set()
    for rule in _rules(GRAMMAR["patterns"]):
        if rule.get("match", "").startswith(r"\b(?:"):
            listed |= set(re.findall(r"\w+", rule["match"][len(r"\b(?:"):]))
    listed.discard("b")  # the closing \b
    assert listed == set(vocabulary())
    text = " ".join(sorted(listed)) + " plain_name θ1"
    assert not disagreements(text)


def test_textmate_regexes_compile_in_python():
    for rule in _rules(GRAMMAR["patterns"]) + _rules(GRAMMAR["repository"]["string"]["patterns"]):
        for key in ("match", "begin", "end"):
            if key in rule:
                re.compile(rule[key])


# ------------------------------------------------------------- pygmentize


def test_pygmentize_finds_the_installed_lexer():
    assert "dop" in {ep.name for ep in entry_points(group="pygments.lexers")}, (
        "the pygments.lexers entry point is missing: reinstall diffopt (pip install -e .)")
    pygmentize = Path(sys.executable).parent / "pygmentize"
    command = ([str(pygmentize)] if pygmentize.exists() else [sys.executable, "-m", "pygments"])
    result = subprocess.run(command + ["-l", "dop", "-f", "terminal",
                                       str(ROOT / "problems" / "terrain.dop")],
                            capture_output=True, text=True, check=True)
    assert "\x1b[" in result.stdout and "minimize" in result.stdout
    guessed = subprocess.run(command + ["-N", "x.dop"], capture_output=True, text=True,
                             check=True)
    assert guessed.stdout.strip() == "dop"


# ------------------------------------------------------------ diagnostics


def _error() -> DopError:
    source = Source("t.dop", "let t = d / sped  # time\n")
    return DopError("unknown name 'sped'", source.span(12, 16), hint="did you mean 'speed'?")


def _console(**options):
    from rich.console import Console

    return Console(file=io.StringIO(), highlight=False, **options)


def test_rich_diagnostic_is_the_plain_one_coloured():
    error = _error()
    assert render_rich(error).plain == render(error)
    console = _console(force_terminal=True, color_system="standard")
    print_diagnostic(render(error), lambda: render_rich(error), console)
    out = console.file.getvalue()
    assert re.search(r"\x1b\[[0-9;]*m(\x1b\[[0-9;]*m)*let\x1b\[0m", out), repr(out)
    assert re.sub(r"\x1b\[[0-9;]*m", "", out) == render(error) + "\n"


@pytest.mark.parametrize("options", [{"force_terminal": True, "no_color": True},
                                     {"force_terminal": False}], ids=["NO_COLOR", "pipe"])
def test_plain_diagnostic_without_colour(options):
    error = _error()
    console = _console(**options)
    print_diagnostic(render(error), lambda: render_rich(error), console)
    assert console.file.getvalue() == render(error) + "\n"


def _stderr_through_a_terminal(command: list[str], env: dict) -> str:
    """Run ``command`` with stderr on a pseudo-terminal; what it wrote there."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    try:
        subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=slave, env=env, cwd=BAD, timeout=120, check=False)
    finally:
        os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_cli_colours_errors_on_a_terminal_only():
    bad = BAD / "assign_to_let.dop"
    expected = (BAD / "assign_to_let.err").read_text(encoding="utf-8")
    # --quiet: no live progress (drawn on a terminal stderr after 0.3 s) mixed in
    command = [sys.executable, "-m", "diffopt", "check", bad.name, "--quiet"]
    env = {k: v for k, v in os.environ.items()
           if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE",
                        "COLUMNS")}
    env["TERM"] = "xterm-256color"
    coloured = _stderr_through_a_terminal(command, env)
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured).strip() == expected.strip()
    plain = _stderr_through_a_terminal(command, env | {"NO_COLOR": "1"})
    assert plain.strip() == expected.strip()
    piped = subprocess.run(command, capture_output=True, text=True, env=env, cwd=BAD,
                           check=False)
    assert piped.stderr.strip() == expected.strip()
