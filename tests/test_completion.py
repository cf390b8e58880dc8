"""Shell completion completes option values and .dop files (bash, run for real).

The script is the one ``diffopt --show-completion bash`` prints; bash sources
it and calls its completion function with COMP_WORDS/COMP_CWORD set as
readline would, and prints COMPREPLY.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from diffopt.vocab import GRADIENT_MODES, METHODS

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="bash is not installed")
DIFFOPT = Path(sys.executable).parent / "diffopt"


def complete(words: list[str], cwd: Path | None = None) -> list[str]:
    if not DIFFOPT.exists():
        pytest.skip("the diffopt console script is not installed next to this Python")
    script = subprocess.run([str(DIFFOPT), "--show-completion", "bash"], capture_output=True,
                            text=True, env={**os.environ, "SHELL": BASH}, check=True).stdout
    line = " ".join(words)
    program = (f"{script}\nCOMP_WORDS=({line})\nCOMP_CWORD={len(words) - 1}\n"
               f"_diffopt_completion {DIFFOPT}\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    result = subprocess.run([BASH, "-c", program], capture_output=True, text=True,
                            cwd=cwd, timeout=60)
    return [w for w in result.stdout.splitlines() if w]


def test_method_values_complete():
    assert complete(["diffopt", "solve", "x.dop", "--method", "l"]) == \
        [m for m in METHODS if m.startswith("l")]


def test_grad_modes_complete():
    assert complete(["diffopt", "grad", "x.dop", "--mode", "f"]) == \
        [m for m in GRADIENT_MODES if m.startswith("f")]


def test_file_arguments_complete_to_dop_files_and_folders(tmp_path):
    (tmp_path / "model.dop").write_text("param x = 1\nminimize x^2\n")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "more").mkdir()
    assert complete(["diffopt", "solve", ""], cwd=tmp_path) == ["model.dop", "more/"]
