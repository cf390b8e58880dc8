"""A non-editable `pip install .` into a fresh venv ships the grammar and works.

The venv sees the dependencies already installed for the test run (a .pth
file naming this interpreter's site-packages), so only diffopt itself is
built and installed; what it proves is that the wheel built
from this tree carries diffopt/grammars/dop.lark and the man pages, and that
the installed command parses and solves a problem from another directory.
"""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("install")
    source = base / "src"
    # Copy the tree (without build leftovers) so the build cannot touch the checkout.
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache",
        ".hypothesis"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # The runtime dependencies, from the environment running the tests. A path
    # listed in a .pth file is only appended to sys.path (the .pth files inside
    # it are not run), so an editable diffopt there cannot shadow the wheel.
    target = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                             "['purelib'])"], capture_output=True, text=True, check=True)
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    Path(target.stdout.strip(), "deps.pth").write_text("\n".join(deps) + "\n")
    # A normal (isolated) build, as `pip install .` does for a user; the runtime
    # dependencies come from the system site-packages the venv can see.
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(source)],
                   check=True, cwd=base)
    return python, venv, base


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
