"""Locate files shipped with diffopt: the grammar and the man pages.

An installed wheel carries them inside the package (``diffopt/grammars``,
``diffopt/man``, copied there by setup.py); a source checkout keeps them at
the top of the repository. Nothing here imports anything heavy.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_path(folder: str, name: str) -> Path:
    """Return the path of a shipped file, preferring the installed copy."""
    for base in (_PACKAGE / folder, _PACKAGE.parent / folder):
        candidate = base / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"diffopt is missing its {folder}/{name}; reinstall the package")
