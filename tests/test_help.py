"""The manual is at home: `man` finds the installed pages, `diffopt help` shows them.

- A non-editable install puts every page into the venv's share/man, and
  ``man -w`` finds them with only the venv's bin on PATH (skipped without man).
- ``diffopt help [TOPIC]`` renders each page; an unknown topic is a one-line
  usage error (exit 2); a pipe gets plain text, a terminal gets the pager.
- The built-in roff converter renders every page readably (the fallback
  where neither groff nor man is installed).
- Every ``--help`` ends with a pointer to the pages.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from diffopt import manual, roff
from diffopt.cli import app

ROOT = Path(__file__).resolve().parent.parent
MAN = ROOT / "man"
PAGES = sorted(path.name for path in MAN.glob("*.[0-9]"))
COMMANDS = sorted(command.name or command.callback.__name__ for command in app.registered_commands)
LANGUAGE_SENTENCE = ("file describes one optimization problem: constants, data, parameters, "
                     "derived values and exactly one objective")


def flat(text: str) -> str:
    return " ".join(text.split())


def unstyled(text: str) -> str:
    """Text without overstrike (x\\bx) or SGR escapes: what a terminal shows."""
    return re.sub(r"\x1b\[[0-9;]*m", "", re.sub(r".\x08", "", text))


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def headings(source: str) -> list[str]:
    return [roff.unescape(" ".join(roff.macro_args(line[3:])))
            for line in source.splitlines() if line.startswith(".SH ")]


# ------------------------------------------------------------------ installed pages


def test_installed_pages_are_in_share_man(installed):
    _, venv, _ = installed
    for name in PAGES:
        assert (venv / "share" / "man" / f"man{name[-1]}" / name).is_file(), name


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
@pytest.mark.parametrize("query", [["diffopt"], ["diffopt-solve"], ["5", "dop"]])
def test_man_finds_the_installed_pages_through_path(installed, query):
    _, venv, base = installed
    env = {k: v for k, v in os.environ.items() if k not in ("MANPATH", "MANOPT")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    found = subprocess.run(["man", "-w", *query], capture_output=True, text=True, env=env,
                           cwd=base)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip().startswith(str(venv / "share" / "man")), found.stdout


def test_installed_command_shows_the_language(installed):
    _, venv, base = installed
    shown = subprocess.run([str(venv / "bin" / "diffopt"), "help", "language"],
                           capture_output=True, text=True, cwd=base)
    assert shown.returncode == 0, shown.stderr
    assert LANGUAGE_SENTENCE in flat(shown.stdout)


# ------------------------------------------------------------------ diffopt help


def test_help_language_prints_the_language_reference():
    result = run("help", "language")
    assert result.exit_code == 0, result.output
    assert re.search(r"^LEXICAL STRUCTURE$", result.stdout, re.MULTILINE)
    assert LANGUAGE_SENTENCE in flat(result.stdout)


def test_topics_are_the_language_and_every_command():
    assert manual.topics() == ["language"] + COMMANDS


@pytest.mark.parametrize("topic", [None] + manual.topics())
def test_every_topic_renders(topic):
    result = run("help", *([topic] if topic else []))
    assert result.exit_code == 0, result.output
    page = manual.page_for(topic)
    for heading in headings(page.read_text(encoding="utf-8")):
        assert re.search(rf"^{re.escape(heading)}$", result.stdout, re.MULTILINE), heading
    assert "\x1b" not in result.stdout and "\b" not in result.stdout  # plain text to a pipe


def test_help_without_topic_is_the_overview():
    assert "diffopt - minimize what a .dop file describes" in flat(run("help").stdout)


def test_unknown_topic_is_a_one_line_usage_error():
    result = run("help", "solv")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "unknown topic 'solv'" in result.stderr
    assert "topics: language, " in result.stderr and "solve" in result.stderr


def test_a_terminal_gets_the_pager(tmp_path, monkeypatch, capsys):
    paged = tmp_path / "paged.txt"
    monkeypatch.setenv("PAGER", f"sh -c 'cat > \"$0\"' {paged}")
    manual.show(manual.page_for("fmt"), isatty=True)
    assert capsys.readouterr().out == ""
    assert "CANONICAL LAYOUT" in unstyled(paged.read_text(encoding="utf-8"))


def test_a_missing_pager_prints_the_page(monkeypatch, capsys):
    monkeypatch.setenv("PAGER", "/nonexistent/pager")
    manual.show(manual.page_for("fmt"), isatty=True)
    assert "CANONICAL LAYOUT" in unstyled(capsys.readouterr().out)


def test_pager_command(monkeypatch):
    monkeypatch.delenv("PAGER", raising=False)
    assert manual.pager_command() == ["less", "-R"]
    monkeypatch.setenv("PAGER", "less")
    assert manual.pager_command() == ["less", "-R"]
    monkeypatch.setenv("PAGER", "more -d")
    assert manual.pager_command() == ["more", "-d"]


def test_help_is_light_on_imports():
    code = ("import sys\nfrom diffopt.cli import main\nsys.argv = ['diffopt', 'help', 'fmt']\n"
            "try:\n    main()\nexcept SystemExit as exit:\n    assert exit.code in (0, None)\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('numpy', 'lark', 'rich')]\n"
            "sys.stderr.write(' '.join(heavy))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "CANONICAL LAYOUT" in done.stdout


# ------------------------------------------------------------------ the built-in converter


@pytest.mark.parametrize("name", PAGES)
def test_fallback_renders_every_page_readably(name):
    source = (MAN / name).read_text(encoding="utf-8")
    text = roff.to_text(source, 80)
    lines = text.splitlines()
    for heading in headings(source):
        assert heading in lines, f"{name}: heading {heading!r} is not a line of its own"
    leftovers = [line for line in lines if re.match(r"\s*[.'][A-Za-z]{1,2}(\s|$)", line)]
    assert not leftovers, f"{name}: roff requests left in the text: {leftovers[:3]}"
    escapes = re.findall(r"\\(?:f[BIRP(\[]|\(..|\[[^\]]*\]|\*)", text)
    assert not escapes, f"{name}: roff escapes left in the text: {escapes[:5]}"


def test_fallback_is_used_without_groff_and_man(monkeypatch):
    monkeypatch.setattr(manual.shutil, "which", lambda _: None)
    text = manual.render(manual.page_for("language"))
    assert "LEXICAL STRUCTURE" in text.splitlines()
    assert LANGUAGE_SENTENCE in flat(text)


def test_fallback_macros():
    text = roff.to_text(".TH X 1\n.SH NAME\nx \\- y\n.TP\n.B \\-\\-flag\nDoes \\fIthings\\fR.\n"
                        ".PP\n.RS 4\n.EX\na  b\n.EE\n.RE\n.IP \\(bu 2\nitem\n", 60)
    assert text.splitlines() == ["X(1)", "", "NAME", "       x - y", "",
                                 "       --flag Does things.", "", "           a  b", "",
                                 "       \u2022 item"]
    long = roff.to_text(".SH A\n" + "word " * 40 + "\n.TP\n.B \\-\\-a\\-long\\-tag\nbody\n", 40)
    assert all(len(line) <= 40 for line in long.splitlines())
    assert long.splitlines()[-2:] == ["       --a-long-tag", "              body"]


# ------------------------------------------------------------------ --help points at the pages


@pytest.mark.parametrize("name", [None] + COMMANDS)
def test_every_help_points_at_the_pages(name):
    result = run(*([name] if name else []), "--help")
    assert result.exit_code == 0, result.output
    topic = f" {name}" if name else ""
    page = f"diffopt-{name}" if name else "diffopt"
    assert (f"See 'diffopt help{topic}' or man {page}; the language: "
            "'diffopt help language' or man 5 dop.") in flat(result.stdout)


def test_the_app_help_is_built_with_the_pointer():
    group = typer.main.get_command(app)
    assert "man 5 dop" in group.epilog
