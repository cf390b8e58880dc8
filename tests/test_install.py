"""A non-editable `pip install .` into a fresh venv ships the grammar and works.

The venv sees the dependencies already installed for the test run (a .pth
file naming this interpreter's site-packages), so only diffopt itself is
built and installed; what it proves is that the wheel built
from this tree carries diffopt/grammars/dop.lark and the man pages, and that
the installed command parses and solves a problem from another directory.
The install itself is the ``installed`` fixture in conftest.py (tests/test_help.py
uses the same one for the man pages installed into share/man).
"""

from __future__ import annotations

import json
import subprocess

import pytest


def test_installed_package_carries_the_grammar_and_man_pages(installed):
    python, venv, base = installed
    probe = ("import diffopt, diffopt.resources as r; print(diffopt.__file__); "
             "print(r.resource_path('grammars', 'dop.lark')); "
             "print(r.resource_path('man', 'diffopt.1'))")
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True,
                         cwd=base).stdout.split()
    assert all(line.startswith(str(venv)) for line in out), out


def test_installed_command_solves_a_problem(installed):
    python, venv, base = installed
    problem = base / "p.dop"
    problem.write_text("param x = 0\nminimize (x - 3)^2 + 1\n")
    result = subprocess.run([str(venv / "bin" / "diffopt"), "solve", str(problem), "--json"],
                            capture_output=True, text=True, cwd=base)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["params"]["x"] == pytest.approx(3)
