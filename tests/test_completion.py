"""Shell completion completes option values and .dop files (bash, run for real).

The script is the one ``diffopt --show-completion bash`` prints; bash sources
it and calls its completion function with COMP_WORDS/COMP_CWORD set as
readline would, and prints COMPREPLY.
"""

from __future__ import annotations

import os
import re
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


# ----------------------------------------------- zsh and fish, and naming the shell

ZSH = shutil.which("zsh")
FISH = shutil.which("fish")


def shown_script(shell: str) -> str:
    if not DIFFOPT.exists():
        pytest.skip("the diffopt console script is not installed next to this Python")
    # SHELL=bash: the named shell must win over what detection would find
    return subprocess.run([str(DIFFOPT), "--show-completion", shell], capture_output=True,
                          text=True, env={**os.environ, "SHELL": BASH}, check=True).stdout


def zsh_complete(words: list[str], cwd: Path | None = None) -> list[str]:
    """Run the zsh script's function with _arguments stubbed to print its spec."""
    script = shown_script("zsh")
    quoted = " ".join(f"'{w}'" for w in words)
    program = (f"compdef() {{ : }}\n_arguments() {{ print -r -- \"$@\" }}\n{script}\n"
               f"words=({quoted})\nCURRENT={len(words)}\n_diffopt_completion\n")
    out = subprocess.run([ZSH, "-f", "-c", program], capture_output=True, text=True,
                         cwd=cwd, timeout=60).stdout
    return re.findall(r'"([^"]*)"', out)


@pytest.mark.skipif(ZSH is None, reason="zsh is not installed")
def test_zsh_script_completes_methods_and_files(tmp_path):
    script = shown_script("zsh")
    assert script.lstrip().startswith("#compdef diffopt")
    assert zsh_complete(["diffopt", "solve", "x.dop", "--method", "l"]) == \
        [m for m in METHODS if m.startswith("l")]
    (tmp_path / "model.dop").write_text("param x = 1\nminimize x^2\n")
    (tmp_path / "notes.txt").write_text("")
    assert zsh_complete(["diffopt", "solve", "m"], cwd=tmp_path) == ["model.dop"]


@pytest.mark.skipif(FISH is None, reason="fish is not installed")
def test_fish_script_completes_modes(tmp_path):
    script_file = tmp_path / "diffopt.fish"
    script_file.write_text(shown_script("fish"))
    out = subprocess.run([FISH, "--no-config", "-c",
                          f"source {script_file}; complete -C 'diffopt grad x.dop --mode f'"],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PATH": f"{DIFFOPT.parent}:{os.environ['PATH']}"})
    assert [line.split("\t")[0] for line in out.stdout.splitlines()] == \
        [m for m in GRADIENT_MODES if m.startswith("f")]


def test_install_completion_writes_the_named_shells_script(tmp_path):
    if not DIFFOPT.exists():
        pytest.skip("the diffopt console script is not installed next to this Python")
    env = {**os.environ, "HOME": str(tmp_path), "SHELL": BASH}
    for _ in range(2):  # twice: the rc lines are added once
        subprocess.run([str(DIFFOPT), "--install-completion", "zsh"], env=env, check=True,
                       capture_output=True)
    installed = tmp_path / ".zsh_completions" / "diffopt.zsh"
    assert "#compdef diffopt" in installed.read_text()
    assert (tmp_path / ".zshrc").read_text() == \
        f"autoload -Uz compinit\ncompinit\nsource '{installed}'\n"
    assert not (tmp_path / ".bashrc").exists()


def test_unknown_shell_is_a_usage_error():
    if not DIFFOPT.exists():
        pytest.skip("the diffopt console script is not installed next to this Python")
    result = subprocess.run([str(DIFFOPT), "--show-completion", "tcsh"], capture_output=True,
                            text=True)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == \
        "diffopt: error: no completion for shell 'tcsh'; choose one of bash, zsh, fish\n"
