"""``diffopt fmt`` on the command line: --check, --diff, -w (atomic) and several files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from diffopt.cli import app

REPO = Path(__file__).resolve().parents[1]
PROBLEMS = sorted((REPO / "problems").glob("*.dop"))
MESSY = "param x=1 # start\nminimize  (x-2)^2\n"
CLEAN = "param x = 1  # start\nminimize (x - 2)^2\n"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.name)
def test_every_problem_is_canonical(path):
    result = run("fmt", "--check", path)
    assert result.exit_code == 0, result.stderr


def test_diff_prints_a_unified_diff_and_exits_1(tmp_path):
    messy = tmp_path / "m.dop"
    messy.write_text(MESSY)
    result = run("fmt", "--diff", messy)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[:2] == [f"--- a/{messy}", f"+++ b/{messy}"]
    assert "-param x=1 # start\n-minimize  (x-2)^2\n+param x = 1  # start\n" in result.stdout
    assert messy.read_text() == MESSY
    clean = tmp_path / "c.dop"
    clean.write_text(CLEAN)
    result = run("fmt", "--diff", clean)
    assert (result.exit_code, result.stdout) == (0, "")


def test_write_rewrites_in_place_keeping_the_mode(tmp_path):
    messy = tmp_path / "m.dop"
    messy.write_text(MESSY)
    messy.chmod(0o640)
    result = run("fmt", "-w", messy)
    assert result.exit_code == 0 and result.stdout == ""
    assert messy.read_text() == CLEAN
    assert stat.S_IMODE(messy.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.dop"]  # no temporary left
    assert run("fmt", "--write", messy).exit_code == 0
    assert messy.read_text() == CLEAN


def test_several_files(tmp_path):
    a, b = tmp_path / "a.dop", tmp_path / "b.dop"
    a.write_text(MESSY)
    b.write_text(CLEAN)
    result = run("fmt", "--check", a, b)
    assert result.exit_code == 1
    assert result.stderr == f"{a}: would be reformatted\n"
    result = run("fmt", "--diff", a, b)
    assert result.exit_code == 1 and result.stdout.count("--- a/") == 1
    assert run("fmt", "-w", a, b).exit_code == 0
    assert a.read_text() == CLEAN and b.read_text() == CLEAN
    assert run("fmt", "--check", a, b).exit_code == 0
    assert run("fmt", a, b).stdout == CLEAN + CLEAN


def test_write_leaves_a_file_with_a_syntax_error_unchanged(tmp_path):
    bad, good = tmp_path / "bad.dop", tmp_path / "good.dop"
    data = b"param x = (1\r\nminimize  x  # \xc3\xa9\r\n"
    bad.write_bytes(data)
    good.write_text(MESSY)
    result = run("fmt", "-w", bad, good)
    assert result.exit_code == 2
    assert "bad.dop:" in result.stderr
    assert bad.read_bytes() == data
    assert good.read_text() == CLEAN  # the other files are still done
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.dop", "good.dop"]


def test_write_refuses_a_read_only_file(tmp_path):
    messy = tmp_path / "m.dop"
    messy.write_text(MESSY)
    messy.chmod(0o444)
    result = run("fmt", "-w", messy)
    assert result.exit_code == 2
    assert "cannot write" in result.stderr and "read-only" in result.stderr
    assert messy.read_text() == MESSY
    assert stat.S_IMODE(messy.stat().st_mode) == 0o444


def test_write_failure_in_the_directory_leaves_the_file_unchanged(tmp_path, monkeypatch):
    messy = tmp_path / "m.dop"
    messy.write_text(MESSY)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    result = run("fmt", "-w", messy)
    assert result.exit_code == 2
    assert "cannot write" in result.stderr and "permission denied" in result.stderr
    assert messy.read_text() == MESSY
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.dop"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in any directory")
def test_write_in_an_unwritable_directory(tmp_path):
    messy = tmp_path / "d" / "m.dop"
    messy.parent.mkdir()
    messy.write_text(MESSY)
    messy.parent.chmod(0o555)
    try:
        result = run("fmt", "-w", messy)
    finally:
        messy.parent.chmod(0o755)
    assert result.exit_code == 2 and messy.read_text() == MESSY


def test_usage_errors(tmp_path):
    messy = tmp_path / "m.dop"
    messy.write_text(MESSY)
    assert run("fmt", "--check", "--diff", messy).exit_code == 2
    result = runner.invoke(app, ["fmt", "-w", "-"], input=MESSY)
    assert result.exit_code == 2 and "standard input" in result.stderr
    result = run("fmt", "-w", tmp_path / "missing.dop")
    assert result.exit_code == 2 and "cannot read" in result.stderr


def test_quiet_leaves_only_the_exit_status(tmp_path):
    messy = tmp_path / "m.dop"
    messy.write_text(MESSY)
    result = run("fmt", "--check", "-q", messy)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", "")
    result = run("fmt", "-w", "--quiet", messy)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert messy.read_text() == CLEAN
    bad = tmp_path / "bad.dop"
    bad.write_text("param x = \n")
    result = run("fmt", "--check", "-q", bad)  # errors are still reported
    assert result.exit_code == 2 and result.stderr.startswith(f"{bad}:1:")
