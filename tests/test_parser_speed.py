"""The front end: same trees, same spans, same diagnostics, any size, any input.

The parser reduces rules straight into AST nodes and computes spans itself,
so tests/parser_spans.json pins, for every program below and every real
.dop file in the repository, what the Lark-tree implementation produced:
each node's type and spans (``span``, ``op_span``, ``name_span``), the
comments, and the syntax or name error with its message, span, hint and
notes. Regenerate it only after a reviewed change of the language:
``python tests/test_parser_speed.py``. Large inputs are checked for
behaviour (they parse, without recursion, to the expected shape), never for
wall-clock time.

Beyond the pinned corpus, mutated copies of it and arbitrary text must
either parse to an AST whose spans lie inside the source and nest, or raise
a DopSyntaxError with a span inside the source whose message names no
grammar terminal: never a Lark exception, never an internal error.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import random
import re
import sys
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffopt.errors import DopError, DopSyntaxError
from diffopt.sema import check_names
from diffopt.source import Source
from diffopt.syntax import ast
from diffopt.syntax.parser import MAX_NESTING, decode, parse

REPO = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "parser_spans.json"

# Small programs that between them use every rule of the grammar, odd
# spacing, line breaks inside brackets, CRLF, tabs, comments everywhere, and
# the syntax errors the parser words itself.
SNIPPETS = {
    "every_declaration": (
        "const n = 3, m = n + 1\n"
        "data d = csv(\"t.csv\"), ee = [1, 2,]\n"
        "option method = \"lbfgs\"; option tol = 1e-9\n"
        "param a, b[n] in [0, 1], c[2, 3,] = 0.5, r ~ normal(0, 1)\n"
        "param s in [ -1 , 1 ] ~ uniform( -1, 1 )\n"
        "let y = a + b[0] * c[1, 2], z = -a\n"
        "var v = 0\n"
        "def f(p, q,) = p * q\n"
        "def g() = 1\n"
        "def h(p) = p\n"
        "minimize total: f(a, y) + g() + h(z) + v\n"
        "subject to a <= 1\n"
        "subject to lim: 0 <= a < 1 == 1 != 2 >= 0 > -1\n"
    ),
    "blocks": (
        "param x = 1\nvar s = 0\nvar t = [0, 0, 0]\n"
        "for i in 0..3 {\n  s += x * i; t[i] = s\n  if s > 2 { break }\n}\n"
        "for j in 1 .. abs(3) { }\n"
        "for k in 0..9 {\n  s -= x\n  break  when s<=-( 1 )  # interpolated\n}\n"
        "if x > 0 and not x > 5 or x == 1 {\n  s -= 1\n} else if x < -1 { s *= 2 }"
        " else {\n\n  s /= 2\n\n}\n"
        "if x > 0 { s = 1 } else { }\n"
        "if x > 0 {}\n"
        "t[0:2] = 1\nt[:] = 2\n"
        "maximize s + sum(t)\n"
    ),
    "expressions": (
        "param x = 1, w[3, 3] = 0\n"
        "let a = if x > 0 then x else -x\n"
        "let b = x ** 2 ^ 3 - -x + +x // 2 % 3 / 4 @ 5\n"
        "let c = w[:, 0] + w[1:, ::2] + w[::] + w[:2:] + w[0, 1:2:1] + w[(0), ]\n"
        "let d = [i * j for i in 0..3 for j in 0..i if i > j if j > 0]\n"
        "let e2 = sum(i for i in 0..3, axis=0) + sum(x for i in 0..2 if i > 0,)\n"
        "let f = root(t: t^2 - x, init = 1.5) + argmin(u: (u - 1)^2, init=0)\n"
        "let g = d.col + f(1)(2)[0].name[1]\n"
        "let h = [] + [1] + [[1, 2], [3, 4],] + ((x))\n"
        "let k = where(x > 0, 1, 0) + min(x, 2, key = 3, )\n"
        "let m = \"a\\\"b\\\\c\\n\" + \"\"\n"
        "let n = 1_000.5e-3 + .5 + 2E+10 + 3.25\n"
        "let o = ((x + 1) * (x - 1)) ^ (-(x))\n"
        "minimize (x)\n"
    ),
    "line_breaks_in_brackets": (
        "param x = 1\nlet y = max(\n  x,\n  2\n)\nlet z = [\n  1,\n  2\n]\n"
        "let q = (x +\n  x\n)\nminimize (\n  x\n  + y\n)\n"
    ),
    "comments": (
        "# leading\n\n\nparam x = 1  # trailing\n# own line\n"
        "minimize x + (  # inside\n  x  # more\n)\n# last"
    ),
    "crlf_tabs_unicode": (
        "param\tx = 1\r\nlet ü = x + 2\r\n\r\nlet 名前 = ü  # é\r\nminimize 名前\r\n"
    ),
    "separators": ";;\n; param x = 1;;\n\n; minimize x ;\n;",
    "no_final_newline": "param x = 1\nminimize x",
    "empty": "",
    "only_comment": "# nothing here",
    "deep_parens": "param x = 1\nminimize " + "(" * 30 + "x" + ")" * 30 + " * 2\n",
    "deep_unary": "param x = 1\nminimize " + "-" * 30 + "x\n",
    "deep_power": "param x = 1\nminimize " + "x ^ " * 20 + "x\n",
    "long_sum": "param x = 0.5\nminimize "
    + " + ".join(f"sin(x * {i % 97 + 1})" for i in range(40))
    + "\n",
    "long_chain": "param x = 1\nminimize x" + "[0]" * 10 + ".a" * 10 + "(1)" * 10 + "\n",
    # syntax errors
    "err_missing_operand": "param x = 1\nminimize x +\n",
    "err_missing_operand_eof": "param x = 1\nminimize x +",
    "err_two_values": "param x = 1\nminimize x 2\n",
    "err_assign_compare": "param x = 1\nsubject to x = 2\nminimize x\n",
    "err_brace_line": "param x = 1\nfor i in 0..3\n{ }\nminimize x\n",
    "err_else_line": "param x = 1\nif x > 0 { }\nelse { }\nminimize x\n",
    "err_trailing_dot": "param x = 1.\nminimize x\n",
    "err_trailing_dot_space": "param x = 1 .\nminimize x\n",
    "err_bad_char": "param x = 1\nminimize x $ 2\n",
    "err_bang": "param x = 1\nminimize !x\n",
    "err_quote": "param x = 1\nminimize 'x'\n",
    "err_unterminated": "option m = \"abc\nminimize 1\n",
    "err_dot": "param x = 1\nminimize x + .\n",
    "err_dotdot": "param x = 1\nfor i in 0...3 { }\nminimize x\n",
    "err_control": "param x = 1\nminimize x \x01\n",
    "err_unclosed": "param x = 1\nminimize (x + [1\n",
    "err_unclosed_brace": "param x = 1\nfor i in 0..3 {\nminimize x\n",
    "err_unmatched": "param x = 1\nminimize x)\n",
    "err_mismatched": "param x = 1\nminimize (x]\n",
    "err_keyword_name": "param if = 1\nminimize 1\n",
    "err_eof_after_keyword": "param x = 1\nminimize",
    "err_eof_in_def": "def f(",
    "err_comma": "param x = 1,\nminimize x\n",
    "err_slice_junk": "param x[3] = 1\nminimize x[1:2:3:4]\n",
    "err_generator_twice": "minimize sum(i for i in 0..3, j for j in 0..2)\n",
    "err_missing_to": "subject x < 1\n",
    "err_in_block": "var s = 0\nfor i in 0..3 { s += }\nminimize s\n",
    "err_string_op": "minimize \"a\" \"b\"\n",
    "err_double_op": "param x = 1\nminimize x + * 2\n",
    "err_too_deep": "minimize " + "(" * (MAX_NESTING + 1) + "1" + ")" * (MAX_NESTING + 1),
    # name and structure errors found by check_names
    "name_unknown": "param x = 1\nminimize y + x\n",
    "name_typo": "param speed = 1\nminimize sped\n",
    "name_later": "param x = 1\nminimize x + z\nlet z = 2\n",
    "name_twice": "param x = 1\nlet x = 2\nminimize x\n",
    "name_recursive": "def f(x) = f(x)\nminimize f(1)\n",
    "name_function_value": "param x = 1\nminimize sin\n",
    "name_not_function": "param x = 1\nminimize x(1)\n",
    "name_comparison": "param x = 1\nminimize x + (x < 1)\n",
    "name_break": "param x = 1\nbreak\nminimize x\n",
    "name_objective_block": "param x = 1\nfor i in 0..2 { minimize x }\n",
    "name_two_objectives": "param x = 1\nminimize x\nmaximize x\n",
    "name_no_objective": "param x = 1\n",
    "name_assign_param": "param x = 1\nx = 2\nminimize x\n",
    "name_builtin": "param pi = 1\nminimize pi\n",
}


def _span(span) -> list | None:
    if span is None:
        return None
    return [span.start, span.end, span.line, span.col, span.end_line, span.end_col]


def _error(exc: DopError) -> dict:
    return {"kind": type(exc).__name__, "message": exc.message, "span": _span(exc.span),
            "hint": exc.hint, "notes": list(exc.notes)}


def _fields(node) -> list:
    """A node's own values, with "*" for each child node (postorder has those)."""
    out = []
    for name in ast._child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, tuple):
            out.append(["*" if dataclasses.is_dataclass(v) else v for v in value])
        else:
            out.append("*" if dataclasses.is_dataclass(value) else value)
    return out


def describe(source: Source) -> dict:
    """Everything observable of parsing and name-checking ``source``."""
    try:
        program = parse(source)
    except DopError as exc:
        return {"parse_error": _error(exc)}
    nodes = []
    for node in ast.postorder(program):  # iterative: repr() would recurse
        if node.span is not None:
            assert node.span.source is source
        nodes.append([type(node).__name__, _fields(node), _span(node.span),
                      _span(getattr(node, "op_span", None)),
                      _span(getattr(node, "name_span", None))])
    out = {"nodes": nodes,
           "comments": [[c.text, c.line, c.own_line] for c in program.comments]}
    try:
        check_names(program)
    except DopError as exc:
        out["check_error"] = _error(exc)
    return out


def corpus() -> dict[str, Source]:
    """Every program the fixture pins, by a stable name."""
    sources = {f"snippet/{name}": Source(f"{name}.dop", text) for name, text in SNIPPETS.items()}
    files = [*sorted((REPO / "problems").glob("*.dop")),
             *sorted((REPO / "tests" / "fmt_cases").glob("*.dop")),
             *sorted((REPO / "tests" / "bad").glob("*.dop"))]
    for path in files:
        try:
            source = decode(path.read_bytes(), path.name)
        except DopError:
            continue  # not UTF-8 or binary: decode's own error, pinned elsewhere
        sources[path.relative_to(REPO).as_posix()] = source
    return sources


@lru_cache(maxsize=1)
def _fixture() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


CORPUS = corpus()


def test_the_fixture_covers_the_corpus():
    assert sorted(_fixture()) == sorted(CORPUS)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_same_tree_spans_and_diagnostics(name):
    assert describe(CORPUS[name]) == _fixture()[name]


# ------------------------------------------------------------------ large inputs


def _long_sum(terms: int) -> str:
    body = " + ".join(f"sin(x * {i % 97 + 1})" for i in range(terms))
    return f"param x = 0.5\nminimize {body}\n"


def test_a_long_sum_is_a_left_spine_with_exact_spans():
    terms = 20_000
    text = _long_sum(terms)
    program = parse(Source("big.dop", text))
    check_names(program)
    expr = program.statements[1].expr
    for i in reversed(range(1, terms)):
        assert isinstance(expr, ast.Binary) and expr.op == "+"
        right = expr.right
        assert isinstance(right, ast.Call) and right.func.id == "sin"
        assert right.span.text == f"sin(x * {i % 97 + 1})"
        assert expr.op_span.text == "+"
        assert expr.span.start == len("param x = 0.5\nminimize ")
        assert expr.span.end == right.span.end
        expr = expr.left
    assert expr.span.text == "sin(x * 1)"


def test_deep_parentheses_keep_inner_and_outer_spans():
    depth = 3000
    text = "param x = 1\nminimize " + "(" * depth + "x + 1" + ")" * depth + " * 2\n"
    program = parse(Source("deep.dop", text))
    check_names(program)
    product = program.statements[1].expr
    assert product.span.text == "(" * depth + "x + 1" + ")" * depth + " * 2"
    assert product.left.span.text == "x + 1"


def test_deep_nesting_at_the_limit_parses_without_recursion():
    # Every bracket kind at MAX_NESTING deep, and as deep a unary chain, with
    # the recursion limit just above the caller's depth: the parse loop,
    # the lexer and the callbacks must not recurse at all.
    opened = MAX_NESTING
    programs = {
        "parens": "minimize " + "(" * opened + "x" + ")" * opened + "\n",
        "calls": "minimize " + "f(" * opened + "x" + ")" * opened + "\n",
        "arrays": "minimize " + "[" * opened + "x" + "]" * opened + "\n",
        "unary": "minimize " + "-" * opened + "x\n",
    }
    results = {}
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 50)
    try:
        for name, text in programs.items():
            results[name] = parse(Source(f"{name}.dop", text))
    finally:
        sys.setrecursionlimit(limit)
    assert isinstance(results["parens"].statements[0].expr, ast.Name)
    for name, kind in (("calls", ast.Call), ("arrays", ast.Array), ("unary", ast.Unary)):
        nodes = [n for n in ast.postorder(results[name]) if isinstance(n, kind)]
        assert len(nodes) == opened
        assert nodes[-1].span.text == programs[name][len("minimize "):-1]


# ------------------------------------------------ any input: a diagnostic or AST


# Pieces a mutation inserts: every keyword and operator, and some of each
# token kind, so mutants reach most states of the table with most lookaheads.
_PIECES = [
    "const", "data", "param", "let", "var", "option", "def", "minimize", "maximize",
    "subject", "to", "for", "in", "if", "then", "else", "break", "when", "or", "and", "not",
    "x", "y", "f", "1", "2.5", '"s"', "(", ")", "[", "]", "{", "}", ",", ";", ":", ".",
    "..", "=", "~", "+=", "-=", "*=", "/=", "+", "-", "*", "/", "//", "%", "@", "^", "**",
    "<", "<=", ">", ">=", "==", "!=", "\n", " ", "# c\n", "$", "'", "!", "\"", "\x01",
]
_SPLIT = re.compile(r'\s+|#[^\n]*|"[^"\n]*"|\d+(?:\.\d+)?|\w+|\.\.|\*\*|//|[<>=!+\-*/]=|.')


def mutate(text: str, edits) -> str:
    """``text`` with each (kind, where, piece) edit applied to its lexical pieces."""
    parts = _SPLIT.findall(text) or [""]
    for kind, where, piece in edits:
        i = where % len(parts)
        if kind == "delete" and len(parts) > 1:
            del parts[i]
        elif kind == "double":
            parts.insert(i, parts[i])
        elif kind == "swap" and i + 1 < len(parts):
            parts[i], parts[i + 1] = parts[i + 1], parts[i]
        elif kind == "replace":
            parts[i] = piece
        else:
            parts.insert(i, piece)
    return "".join(parts)


_PARSED = sorted(name for name, entry in _fixture().items() if "nodes" in entry)
_KINDS = ["delete", "double", "swap", "replace", "insert"]
_TERMINAL_NAME = re.compile(r"\b(?:__ANON_\d+|_NL|\$END|[A-Z][A-Z_]{2,})\b")


def parses_or_explains(source: Source) -> dict:
    """describe(), checking what any input must give: an AST whose spans lie
    inside the source and nest in their parents, or a DopSyntaxError inside
    the source whose words name no grammar terminal (never a Lark exception,
    never an internal error)."""
    try:
        program = parse(source)
    except DopSyntaxError as exc:
        span = exc.span
        assert span is not None and span.source is source
        assert 0 <= span.start <= span.end <= len(source.text)
        words = re.sub(r"'[^']*'", "", exc.message)  # the user's own text is quoted
        assert exc.message and not _TERMINAL_NAME.search(words), exc.message
        return describe(source)
    length = len(source.text)
    for node in ast.postorder(program):
        span = node.span
        assert 0 <= span.start <= span.end <= length
        for child in ast.children(node):
            assert span.start <= child.span.start <= child.span.end <= span.end
    return describe(source)


def test_mutated_programs_parse_or_get_a_worded_diagnostic():
    # Seeded, so every run checks the same few hundred mutants.
    errors = 0
    for name in _PARSED:
        rng = random.Random(name)
        for _ in range(4):
            edits = [(rng.choice(_KINDS), rng.randrange(10**6), rng.choice(_PIECES))
                     for _ in range(rng.randint(1, 3))]
            text = mutate(CORPUS[name].text, edits)
            errors += "parse_error" in parses_or_explains(Source("mutant.dop", text))
    assert errors > 200  # most mutants are syntax errors: the error paths were exercised


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_PARSED),
       st.lists(st.tuples(st.sampled_from(_KINDS), st.integers(0, 10**6),
                          st.sampled_from(_PIECES)), min_size=1, max_size=4))
def test_any_mutant_parses_or_gets_a_worded_diagnostic(name, edits):
    parses_or_explains(Source("mutant.dop", mutate(CORPUS[name].text, edits)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES), max_size=40))
def test_any_string_of_pieces_parses_or_gets_a_worded_diagnostic(pieces):
    parses_or_explains(Source("pieces.dop", "".join(pieces)))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_gets_a_worded_diagnostic(text):
    parses_or_explains(Source("text.dop", text))


if __name__ == "__main__":  # pragma: no cover - regenerates the fixture
    sys.setrecursionlimit(10_000)
    data = {name: describe(source) for name, source in sorted(CORPUS.items())}
    # One node per line: a change of the language shows as a readable diff.
    lines = ["{"]
    for i, (name, entry) in enumerate(data.items()):
        nodes = entry.pop("nodes", None)
        body = json.dumps(entry, ensure_ascii=False, sort_keys=True)
        if nodes is not None:
            body = body[:-1] + ', "nodes": [\n' + ",\n".join(
                json.dumps(node, ensure_ascii=False) for node in nodes) + "]}"
        lines.append(f"{json.dumps(name)}: {body}" + ("," if i < len(data) - 1 else ""))
    lines.append("}")
    FIXTURE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(data)} programs to {FIXTURE}")
