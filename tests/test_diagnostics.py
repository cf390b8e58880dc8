"""Golden diagnostics: every tests/bad/NAME.dop gives exactly tests/bad/NAME.err.

Each .err file was reviewed by hand: `file:line:col: error: message`, the
source line, a caret under the span, notes and help. Every case exits with
status 2 and never prints a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from diffopt.cli import app

BAD = Path(__file__).parent / "bad"
CASES = sorted(p.stem for p in BAD.glob("*.dop"))


def test_there_are_at_least_forty_bad_inputs():
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_pinned(name, monkeypatch):
    monkeypatch.chdir(BAD)
    result = CliRunner().invoke(app, ["eval", f"{name}.dop"])
    expected = (BAD / f"{name}.err").read_text(encoding="utf-8")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr == expected
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", CASES)
def test_every_diagnostic_starts_with_its_location(name):
    first = (BAD / f"{name}.err").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(f"{name}.dop:")
    location, _, message = first.partition(": error: ")
    _, line, col = location.split(":")
    assert int(line) >= 1 and int(col) >= 1 and message


def test_deeper_nesting_than_the_limit_is_refused_cleanly(tmp_path):
    from diffopt.syntax.parser import MAX_NESTING

    path = tmp_path / "deep.dop"
    path.write_text("param x = 1\nminimize " + "(" * (MAX_NESTING + 1) + "x" +
                    ")" * (MAX_NESTING + 1) + "\n")
    result = CliRunner().invoke(app, ["eval", str(path)])
    assert result.exit_code == 2
    assert f"brackets nested too deeply (more than {MAX_NESTING} levels)" in result.stderr


def test_nothing_the_user_wrote_is_changed(monkeypatch):
    monkeypatch.chdir(BAD)
    before = {p: p.read_bytes() for p in BAD.iterdir()}
    for name in CASES[:10]:
        CliRunner().invoke(app, ["fmt", f"{name}.dop"])
        CliRunner().invoke(app, ["solve", f"{name}.dop", "--trace", "trace.jsonl"])
    assert {p: p.read_bytes() for p in BAD.iterdir() if p.name != "trace.jsonl"} == before
    if (BAD / "trace.jsonl").exists():
        os.remove(BAD / "trace.jsonl")
