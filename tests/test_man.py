"""The man pages stay in step with the code they document.

Every built-in function, diagnostic kind, constant, subcommand, long option
and solve method the program knows must appear in the right man page, in the
right section; every page has the standard sections; and groff renders each
page without a warning (skipped where groff is not installed).

The roff is read with a small converter (``roff_text``) that knows the man
macros and escapes the pages use; it does not try to be a full troff.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import typer

from diffopt.cli import app
from diffopt.errors import ERROR_KINDS
from diffopt.ops import library  # noqa: F401  (registers the built-ins)
from diffopt.ops.registry import BUILTINS, CONSTANTS
from diffopt.vocab import FILE_OPTIONS, METHODS, MODES, OPTIONS, ExitStatus

MAN = Path(__file__).resolve().parent.parent / "man"
COMMANDS = sorted(command.name or command.callback.__name__ for command in app.registered_commands)
PAGES = ["dop.5", "diffopt.1"] + [f"diffopt-{name}.1" for name in COMMANDS]

# ------------------------------------------------------------------ reading roff

_ESCAPES = [
    (re.compile(r"\\f(\[[^\]]*\]|\(..|.)"), ""),  # font changes: \fB \fI \fR \fP \f(CW \f[B]
    (re.compile(r"\\\*(\[[^\]]*\]|\(..|.)"), ""),  # string interpolation
    (re.compile(r"\\\[u2026\]"), "..."),
    (re.compile(r"\\\((aq)"), "'"),
    (re.compile(r"\\\((dq)"), '"'),
    (re.compile(r"\\\[[^\]]*\]"), " "),  # other named characters: \[u2500], \[mu]
    (re.compile(r"\\\(.."), " "),  # two-letter characters: \(em \(mu \(*t
    (re.compile(r"\\[&%]"), ""),  # zero-width: \& \%
    (re.compile(r"\\~"), " "),
    (re.compile(r"\\ "), " "),
    (re.compile(r"\\-"), "-"),
    (re.compile(r"\\e"), "\\"),
]

_ALTERNATING = {"BR", "RB", "BI", "IB", "IR", "RI"}


def _unescape(text: str) -> str:
    for pattern, replacement in _ESCAPES:
        text = pattern.sub(lambda _, r=replacement: r, text)
    return text


def _macro_args(rest: str) -> list[str]:
    """Arguments of a macro line: separated by spaces, "double quoted" kept whole."""
    return [quoted if quoted or not bare else bare
            for quoted, bare in re.findall(r'"((?:[^"]|"")*)"|(\S+)', rest)
            if quoted or bare]


def roff_line(line: str) -> str:
    """The text one roff line contributes (macros dropped, font macros' arguments kept)."""
    if not line.startswith((".", "'")):
        return _unescape(line)
    match = re.match(r"[.'](\S+)\s*(.*)", line)
    if not match:
        return ""
    macro, rest = match.groups()
    if macro in ("B", "I", "SM", "SB"):
        return _unescape(" ".join(_macro_args(rest)))
    if macro in _ALTERNATING:
        return _unescape("".join(_macro_args(rest)))
    if macro in ("SH", "SS"):
        return _unescape(" ".join(_macro_args(rest)))
    return ""  # .TP .PP .RS .EX ... and their numeric arguments


def read_page(name: str) -> str:
    return (MAN / name).read_text(encoding="utf-8")


def sections(page: str) -> dict[str, list[str]]:
    """Section name (as in .SH) -> its roff lines."""
    found: dict[str, list[str]] = {}
    current = None
    for line in page.splitlines():
        if line.startswith(".SH"):
            current = roff_line(line).strip()
            found[current] = []
        elif current is not None:
            found[current].append(line)
    return found


def text_of(lines: list[str]) -> str:
    return "\n".join(roff_line(line) for line in lines)


def tags(lines: list[str]) -> list[str]:
    """The tag (first line) of every .TP paragraph, as text."""
    return [roff_line(lines[i + 1]).strip()
            for i, line in enumerate(lines[:-1]) if re.match(r"\.TP\b", line)]


def option_entries(lines: list[str]) -> dict[str, str]:
    """Tag -> text of each .TP paragraph (up to the next .TP, .PP or .SS)."""
    entries: dict[str, str] = {}
    tag = None
    for i, line in enumerate(lines):
        if re.match(r"\.TP\b", line) and i + 1 < len(lines):
            tag = roff_line(lines[i + 1]).strip()
            entries[tag] = ""
        elif re.match(r"\.(PP|SS|SH)\b", line):
            tag = None
        elif tag is not None and not re.match(r"\.TP\b", lines[i - 1]):  # not the tag line
            entries[tag] += roff_line(line) + "\n"
    return entries


def words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))


def long_options(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*", text))


def section(name: str, title: str) -> list[str]:
    found = sections(read_page(name))
    assert title in found, f"{name} has no section {title!r} (has {sorted(found)})"
    return found[title]


# ------------------------------------------------------------------ the converter itself


def test_roff_line_reads_the_macros_the_pages_use():
    assert roff_line(r".BR diffopt\-solve (1),") == "diffopt-solve(1),"
    assert roff_line(r'.B "soft_if(margin, a, b, tau=1)"') == "soft_if(margin, a, b, tau=1)"
    assert roff_line(r'.BI \-\-set " name" = value') == "--set name=value"
    assert roff_line(r"x \fBmax\fR(\fIv\fR) \(em y\e") == "x max(v)   y\\"
    assert roff_line(".TP 12") == ""


# ------------------------------------------------------------------ every page


@pytest.mark.parametrize("name", PAGES)
def test_page_exists_with_standard_sections(name):
    page = read_page(name)
    title, number = name.rsplit(".", 1)
    th = re.search(r"^\.TH\s+(\S+)\s+(\S+)", page, re.MULTILINE)
    assert th, f"{name} has no .TH line"
    assert _unescape(th.group(1)) == title.upper() and th.group(2) == number
    found = sections(page)
    for required in ("NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"):
        assert required in found, f"{name} has no {required} section"
    name_line = text_of(found["NAME"]).strip()
    assert re.match(rf"{re.escape(title)} - \S", name_line), name_line


@pytest.mark.parametrize("name", PAGES)
def test_page_carries_the_current_version(name):
    from diffopt import __version__

    th = next(line for line in read_page(name).splitlines() if line.startswith(".TH"))
    assert f'"diffopt {__version__}"' in th, th


@pytest.mark.parametrize("name", PAGES)
def test_page_source_is_ascii(name):
    # groff without preconv reads bytes as Latin-1: non-ASCII text is written as escapes.
    text = read_page(name)
    bad = [n for n, line in enumerate(text.splitlines(), 1) if not line.isascii()]
    assert not bad, f"{name}: non-ASCII characters on lines {bad}"


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
@pytest.mark.parametrize("name", PAGES)
def test_groff_renders_without_warnings(name):
    result = subprocess.run(
        ["groff", "-man", "-Tutf8", "-ww", "-z", str(MAN / name)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


# ------------------------------------------------------------------ dop.5


def test_every_builtin_is_in_the_builtin_functions_section():
    lines = section("dop.5", "BUILT-IN FUNCTIONS")
    present = words(text_of(lines))
    missing = sorted(name for name in BUILTINS if name not in present)
    assert not missing, f"built-ins missing from dop.5 BUILT-IN FUNCTIONS: {missing}"


def test_every_builtin_has_an_entry_with_its_signature():
    entries = {}
    for tag in tags(section("dop.5", "BUILT-IN FUNCTIONS")):
        match = re.match(r"(\w+)\((.*)\)$", tag)
        if match:
            entries[match.group(1)] = {a.split("=")[0].strip() for a in match.group(2).split(",")}
    for name, builtin in BUILTINS.items():
        assert name in entries, f"dop.5 has no entry '{name}(...)' in BUILT-IN FUNCTIONS"
        wanted = set(builtin.positional) | set(builtin.keywords)
        assert wanted <= entries[name], (
            f"dop.5 entry for {name} lists {sorted(entries[name])}, "
            f"the registry has {sorted(wanted)}"
        )


def test_every_constant_is_in_the_constants_section():
    listed = set(tags(section("dop.5", "CONSTANTS")))
    assert set(CONSTANTS) <= listed, f"constants missing: {sorted(set(CONSTANTS) - listed)}"


def test_every_diagnostic_kind_is_in_the_diagnostics_section():
    lines = section("dop.5", "DIAGNOSTICS")
    listed = set(tags(lines))
    kinds = [cls.kind for cls in ERROR_KINDS]
    missing = [kind for kind in kinds if kind not in listed]
    assert not missing, f"diagnostic kinds missing from dop.5 DIAGNOSTICS: {missing}"
    # each kind comes with an example message
    text = text_of(lines)
    assert text.count(": error: ") >= len(kinds)


def test_language_page_has_its_reference_sections():
    found = sections(read_page("dop.5"))
    for title in ("LEXICAL STRUCTURE", "DECLARATIONS", "EXPRESSIONS", "SHAPES AND BROADCASTING",
                  "INDEXING, SLICING AND COMPREHENSIONS", "SIMULATION BLOCKS",
                  "IMPLICIT FUNCTIONS", "DERIVATIVE CONVENTIONS",
                  "RELAXATIONS AND STRAIGHT-THROUGH ESTIMATORS", "RANDOM FUNCTIONS AND SEEDING",
                  "CONSTRAINTS", "OPTIONS", "DATA AND CSV FILES", "EXAMPLES"):
        assert title in found, f"dop.5 has no section {title}"


def test_dop_5_lists_exactly_the_file_options():
    assert tags(section("dop.5", "OPTIONS")) == list(OPTIONS)


def test_each_string_option_lists_its_choices_in_dop_5():
    entries = option_entries(section("dop.5", "OPTIONS"))
    for option in FILE_OPTIONS:
        if option.choices is not None:
            text = entries[option.name]
            missing = [c for c in option.choices if not re.search(rf"(?<![\w-]){c}(?![\w-])", text)]
            assert not missing, f"dop.5 option {option.name} lacks choices {missing}"


def test_examples_point_at_existing_problems():
    problems = Path(__file__).resolve().parent.parent / "problems"
    named = {tag for tag in tags(section("dop.5", "EXAMPLES")) if tag.endswith(".dop")}
    shipped = {path.name for path in problems.glob("*.dop")}
    assert named == shipped, f"not documented: {shipped - named}; missing files: {named - shipped}"


# ------------------------------------------------------------------ commands


def test_every_subcommand_has_a_page_and_is_listed_in_diffopt_1():
    listed = set(tags(section("diffopt.1", "COMMANDS")))
    see_also = text_of(section("diffopt.1", "SEE ALSO"))
    for name in COMMANDS:
        assert (MAN / f"diffopt-{name}.1").is_file(), f"man/diffopt-{name}.1 is missing"
        assert name in listed, f"diffopt.1 COMMANDS does not list '{name}'"
        assert f"diffopt-{name}(1)" in see_also, f"diffopt.1 SEE ALSO lacks diffopt-{name}(1)"
    pages = {path.name[len("diffopt-"):-len(".1")] for path in MAN.glob("diffopt-*.1")}
    assert pages == set(COMMANDS), f"pages without a command: {sorted(pages - set(COMMANDS))}"


def _click_options(command) -> set[str]:
    found = set()
    for param in command.params:
        if isinstance(param, typer.core.TyperOption) or param.param_type_name == "option":
            found.update(opt for opt in param.opts + param.secondary_opts if opt.startswith("--"))
    return found


@pytest.mark.parametrize("name", COMMANDS)
def test_every_long_option_is_in_its_page(name):
    command = typer.main.get_command(app).commands[name]
    real = _click_options(command)
    documented = long_options(text_of(section(f"diffopt-{name}.1", "OPTIONS")))
    missing = sorted(real - documented)
    assert not missing, f"diffopt-{name}.1 OPTIONS lacks {missing}"
    invented = sorted(documented - real - {"--help"})
    assert not invented, f"diffopt-{name}.1 OPTIONS documents options that do not exist: {invented}"
    synopsis = long_options(text_of(section(f"diffopt-{name}.1", "SYNOPSIS")))
    assert real - {"--help"} <= synopsis, f"diffopt-{name}.1 SYNOPSIS lacks {real - synopsis}"


def test_global_options_are_in_diffopt_1():
    real = _click_options(typer.main.get_command(app))
    documented = long_options(text_of(section("diffopt.1", "OPTIONS")))
    assert real <= documented, f"diffopt.1 lacks {sorted(real - documented)}"


def test_solve_page_lists_exactly_the_methods():
    assert tags(section("diffopt-solve.1", "METHODS")) == list(METHODS)


def test_solve_page_mode_option_lists_exactly_the_modes():
    text = option_entries(section("diffopt-solve.1", "OPTIONS"))["--mode mode"]
    named = [m for m in MODES if re.search(rf"\b{m}\b", text)]
    assert named == list(MODES)


def test_exit_statuses_and_environment_in_diffopt_1():
    listed = sorted(int(tag) for tag in tags(section("diffopt.1", "EXIT STATUS")))
    assert listed == sorted(int(status) for status in ExitStatus)
    assert "DIFFOPT_TRACEBACK" in tags(section("diffopt.1", "ENVIRONMENT"))


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_page_has_exit_status_and_examples(name):
    found = sections(read_page(f"diffopt-{name}.1"))
    assert "EXIT STATUS" in found and "EXAMPLES" in found
    assert "OPTIONS" in found
