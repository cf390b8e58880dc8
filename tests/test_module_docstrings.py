"""Every module says what it owns: a module docstring, as architecture.md asks.

(No module over 400 lines is tests/test_layout.py's job.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "diffopt"
MODULES = sorted(path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
                 if path.name != "__init__.py")


@pytest.mark.parametrize("name", MODULES)
def test_module_has_a_docstring(name):
    tree = ast.parse((PACKAGE / name).read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"diffopt/{name} has no module docstring"
