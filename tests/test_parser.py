"""The parser's contract with Lark, with threads and with the file system.

What is checked: diffopt reaches Lark only through its public interface (no
private module or name is imported, no lark.parsers/lark.parse_tree_builder
internals), so any lark 1.x can run it; two parses running at once in two
threads never see each other's state; the grammar cache Lark unpickles is
kept only where no other user can write it. The trees, spans and messages
themselves are pinned by test_parser_speed.py and test_diagnostics.py.
"""

from __future__ import annotations

import ast as pyast
import os
import stat
import threading
from pathlib import Path

import pytest

from diffopt.errors import DopSyntaxError
from diffopt.source import Source
from diffopt.syntax import ast
from diffopt.syntax import parser as front
from diffopt.syntax.parser import parse

PACKAGE = Path(front.__file__).resolve().parents[1]

# Lark's documented modules: the package itself, its exceptions, and in
# lark.lexer Token and Lexer (the base class of a custom lexer, Lark's
# documented ``lexer=`` interface). Everything else (lark.parsers.*,
# lark.parse_tree_builder, lark.load_grammar, the basic lexer's classes ...)
# is Lark's inside.
_PUBLIC_LARK_MODULES = {"lark", "lark.exceptions", "lark.lexer"}
_PUBLIC_FROM_LEXER = {"Token", "Lexer"}


def _lark_imports():
    """(file, line, module, name) for every import of Lark under diffopt/."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = pyast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in pyast.walk(tree):
            if isinstance(node, pyast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "lark":
                        yield path.name, node.lineno, alias.name, None
            elif isinstance(node, pyast.ImportFrom) and node.module:
                if node.module.split(".")[0] == "lark":
                    for alias in node.names:
                        yield path.name, node.lineno, node.module, alias.name


def test_lark_is_imported_through_its_public_interface_only():
    found = list(_lark_imports())
    assert found, "the scan found no Lark import at all: is it looking in the right place?"
    bad = []
    for file, line, module, name in found:
        where = f"{file}:{line}: {module}" + (f".{name}" if name else "")
        if module not in _PUBLIC_LARK_MODULES or any(p.startswith("_") for p in module.split(".")):
            bad.append(where)
        elif name is not None and (name.startswith("_") or name == "*"):
            bad.append(where)
        elif module == "lark.lexer" and name not in _PUBLIC_FROM_LEXER:
            bad.append(where)
    assert not bad, "private Lark imports:\n" + "\n".join(bad)


@pytest.mark.parametrize("module", ["parser.py", "lexer.py", "to_ast.py"])
def test_no_private_attribute_is_read_where_lark_objects_are_handled(module):
    # The two modules that hold Lark objects (the parser, its exceptions,
    # tokens) read no attribute whose name starts with one underscore,
    # Lark's private convention; only the parser's own two methods do.
    source = (PACKAGE / "syntax" / module).read_text(encoding="utf-8")
    tree = pyast.parse(source)
    ours = {"_comment", "_unexpected"}  # _Front's own methods
    private = sorted({node.attr for node in pyast.walk(tree)
                      if isinstance(node, pyast.Attribute) and node.attr.startswith("_")
                      and not node.attr.startswith("__") and node.attr not in ours})
    assert private == []


def test_the_private_lalr_driver_is_gone():
    assert not (PACKAGE / "syntax" / "lalr.py").exists()


# ------------------------------------------------------------------ threads


def _sum_program(terms: int, name: str) -> str:
    body = " + ".join(f"{name}[{i}]" for i in range(terms))
    return f"param {name}[{terms}] = 0\nminimize {body}  # {name}\n"


def _shape(program: ast.Program) -> list:
    return [(type(n).__name__, n.span.start, n.span.end) for n in ast.postorder(program)]


def test_parses_in_two_threads_at_once_get_their_own_trees():
    texts = {"a": _sum_program(300, "a"), "b": "var s = 0\nfor i in 0..3 {\n  s += (i\n)\n}\n"
             "maximize s  # b\n", "bad": "param x = 1\nminimize x +\n"}
    expected = {}
    for key, text in texts.items():
        try:
            expected[key] = _shape(parse(Source(f"{key}.dop", text)))
        except DopSyntaxError as exc:
            expected[key] = (exc.message, exc.span.start)
    failures: list[str] = []
    barrier = threading.Barrier(3)

    def work(key: str) -> None:
        barrier.wait()
        for _ in range(40):
            source = Source(f"{key}.dop", texts[key])
            try:
                program = parse(source)
                got = _shape(program)
                if any(n.span.source is not source for n in ast.postorder(program)):
                    failures.append(f"{key}: a span of another source")
                if [c.text for c in program.comments] != [f"# {key}"]:
                    failures.append(f"{key}: comments {program.comments}")
            except DopSyntaxError as exc:
                got = (exc.message, exc.span.start)
                if exc.span.source is not source:
                    failures.append(f"{key}: an error span of another source")
            if got != expected[key]:
                failures.append(f"{key}: another tree")

    threads = [threading.Thread(target=work, args=(key,)) for key in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# -------------------------------------------------------------- grammar cache


def test_the_grammar_cache_lives_in_a_private_folder(tmp_path, monkeypatch):
    if not hasattr(os, "getuid"):
        pytest.skip("no file owners here: the parser keeps no cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    where = front._cache_file()
    assert where and Path(where).parent == tmp_path / "diffopt"
    mode = stat.S_IMODE(os.lstat(tmp_path / "diffopt").st_mode)
    assert mode & 0o077 == 0


def test_a_cache_folder_others_can_write_is_not_used(tmp_path, monkeypatch):
    if not hasattr(os, "getuid"):
        pytest.skip("no file owners here: the parser keeps no cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "diffopt").mkdir()
    os.chmod(tmp_path / "diffopt", 0o777)
    assert front._cache_file() is False
    os.chmod(tmp_path / "diffopt", 0o700)
    (tmp_path / "diffopt").rmdir()
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    (tmp_path / "diffopt").symlink_to(tmp_path / "elsewhere")
    assert front._cache_file() is False


def test_a_parser_built_from_the_cache_parses_as_the_first(tmp_path, monkeypatch):
    if not hasattr(os, "getuid"):
        pytest.skip("no file owners here: the parser keeps no cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    text = "param x in [0, 1] = 0.5\nminimize (x - 1)^2 + -x  # c\n"
    fresh = front._Front()  # builds the grammar and writes the cache
    assert any((tmp_path / "diffopt").iterdir())
    cached = front._Front()  # loads it
    first = fresh.parse(Source("a.dop", text))
    second = cached.parse(Source("a.dop", text))
    assert ast.same_tree(first, second)
    assert _shape(first) == _shape(second)
    assert first.comments == second.comments


def test_nodes_built_without_init_are_those_init_builds():
    # to_ast builds its hottest nodes (Binary, Call, Number, Name) by giving
    # each its field dictionary at once: same fields, same order, same values.
    import dataclasses

    program = parse(Source("a.dop", "param x = 1\nminimize f(x) * 2_0.5 + x ** 2\n"))
    seen = set()
    for node in ast.postorder(program):
        cls = type(node)
        rebuilt = cls(**{f.name: getattr(node, f.name) for f in dataclasses.fields(cls)})
        assert list(vars(node)) == list(vars(rebuilt)) == [f.name for f in
                                                           dataclasses.fields(cls)]
        assert vars(node) == vars(rebuilt)
        seen.add(cls)
    assert {ast.Binary, ast.Call, ast.Number, ast.Name} <= seen


# ------------------------------------------------- the scanner against Lark's lexer

_BASIC: list = []


def _basic_lark():
    """Lark's own basic lexer on the same grammar (built once)."""
    from lark import Lark

    from diffopt.syntax.parser import _grammar

    if not _BASIC:
        _BASIC.append(Lark(_grammar(), parser="lalr", lexer="basic", keep_all_tokens=True))
    return _BASIC[0]


def _fields(token) -> tuple:
    return (token.type, str(token), token.start_pos, token.line, token.column,
            token.end_line, token.end_column, token.end_pos)


def _lark_tokens(text: str) -> list[tuple]:
    """Lark's tokens, line breaks inside () and [] dropped as the language says."""
    out, stack = [], []
    for token in _basic_lark().lex(text):
        if token.type in ("LPAR", "LSQB", "LBRACE"):
            stack.append(token.type)
        elif token.type in ("RPAR", "RSQB", "RBRACE") and stack:
            stack.pop()
        elif token.type == "_NL" and stack and stack[-1] != "LBRACE":
            continue
        out.append(_fields(token))
    return out


def _scanner_tokens(text: str) -> list[tuple]:
    from types import SimpleNamespace

    from diffopt.syntax.lexer import Scanner, tokens
    from diffopt.syntax.parser import _ignored

    front = SimpleNamespace(scanner=Scanner(_basic_lark().terminals, _ignored()),
                            source=Source("t.dop", text), comments=[], previous=None,
                            before_previous=None)
    return [_fields(t) for t in tokens(front, text)]


_TEXTS = sorted((Path(__file__).resolve().parents[1] / "problems").glob("*.dop")) + sorted(
    (Path(__file__).resolve().parent / "bad").glob("*.dop"))


@pytest.mark.parametrize("path", _TEXTS, ids=[p.name for p in _TEXTS])
def test_the_scanner_makes_lark_basic_lexers_tokens(path):
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        expected = _lark_tokens(text)
    except Exception:  # Lark refuses the text (a bad character): so must the scanner
        with pytest.raises(DopSyntaxError):
            _scanner_tokens(text)
        return
    try:
        got = _scanner_tokens(text)
    except DopSyntaxError:  # bracket errors: Lark's lexer does not check brackets
        return
    assert got == expected


def test_the_scanner_splits_operators_and_keywords_as_lark_does():
    text = "a+=b**c//d<=e==f!=g>=h..i.5 x1 if_ ifx if not notx 1e-3 2.5e+4 [x,\n y] # c\n"
    assert _scanner_tokens(text) == _lark_tokens(text)


def test_the_scanner_agrees_with_lark_on_mutated_programs():
    import random

    rng = random.Random(7)
    pieces = ["+", "-", "*", "**", "/", "//", "=", "==", "<=", ">", "!=", "..", ".", "(", ")",
              "[", "]", "{", "}", "\n", " ", "#", '"', "1.5e3", "x", "if", "not", "_", ",", ":",
              "+=", "\t", "\r\n", "~", "@", "%", "^"]
    sources = [p.read_text(encoding="utf-8") for p in _TEXTS[:12]]
    for _ in range(300):
        text = rng.choice(sources)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(pieces) + text[at + rng.randint(0, 2):]
        try:
            expected = _lark_tokens(text)
        except Exception:
            with pytest.raises(DopSyntaxError):
                _scanner_tokens(text)
            continue
        try:
            got = _scanner_tokens(text)
        except DopSyntaxError:  # brackets: Lark's lexer does not check them
            continue
        assert got == expected, text
