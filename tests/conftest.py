"""Fixtures shared by test modules: one non-editable install of this checkout.

``installed`` builds the checkout into a wheel and installs it (``pip install
--no-deps``) into a fresh venv once per test session; tests/test_install.py
and tests/test_help.py both use it.
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
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
