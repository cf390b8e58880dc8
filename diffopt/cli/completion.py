"""Completion scripts for a shell the user names: ``--show-completion zsh``.

Typer's ``--show-completion`` and ``--install-completion`` are flags: they
take the shell from process-tree detection and ignore a shell named after
them, so ``diffopt --install-completion zsh`` typed in bash installed the
bash script. This module answers those two options when a shell is named
(``bash``, ``zsh``, ``fish``), before Typer sees them; without a name,
Typer's detection applies as before.

The script itself comes from the completion protocol the scripts use at
run time (``_DIFFOPT_COMPLETE=source_<shell> diffopt`` prints the script;
the scripts call ``complete_<shell>``), so the value completion that the
commands declare with ``autocompletion=`` is the same in every shell.
Installing writes the script where each shell looks for completions:

    bash  ~/.bash_completions/diffopt.sh, sourced from ~/.bashrc
    zsh   ~/.zsh_completions/diffopt.zsh, sourced from ~/.zshrc after compinit
          (sourced, not autoloaded from fpath: the script registers its
          function with compdef, which an autoloaded file would only do on
          the first Tab, completing nothing that time)
    fish  ~/.config/fish/completions/diffopt.fish (fish loads it by itself)

Lines added to an rc file are added once (running the install twice adds
nothing), and the script file is replaced atomically.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

SHELLS = ("bash", "zsh", "fish")
PROGRAM = "diffopt"
COMPLETE_VAR = "_DIFFOPT_COMPLETE"


def requested(argv: list[str]) -> tuple[str, str] | None:
    """("show"|"install", shell) when argv is exactly one of the two options and a shell."""
    if len(argv) != 2 or argv[0] not in ("--show-completion", "--install-completion"):
        return None
    return ("show" if argv[0] == "--show-completion" else "install"), argv[1]


def script(shell: str, run_app) -> str:
    """The completion script for shell, as the app prints it under the source protocol."""
    saved = os.environ.get(COMPLETE_VAR)
    os.environ[COMPLETE_VAR] = f"source_{shell}"
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            run_app([], prog_name=PROGRAM)
    finally:
        if saved is None:
            del os.environ[COMPLETE_VAR]
        else:
            os.environ[COMPLETE_VAR] = saved
    return out.getvalue()


def _add_lines(rc: Path, lines: list[str]) -> None:
    text = rc.read_text(encoding="utf-8") if rc.exists() else ""
    missing = [line for line in lines if line not in text.splitlines()]
    if missing:
        sep = "" if not text or text.endswith("\n") else "\n"
        rc.write_text(text + sep + "\n".join(missing) + "\n", encoding="utf-8")


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def install(shell: str, text: str, home: Path) -> Path:
    """Write the script where shell finds it (and the rc lines it needs); return its path."""
    if shell == "bash":
        path = home / ".bash_completions" / f"{PROGRAM}.sh"
        _write_atomically(path, text)
        _add_lines(home / ".bashrc", [f"source '{path}'"])
    elif shell == "zsh":
        path = home / ".zsh_completions" / f"{PROGRAM}.zsh"
        _write_atomically(path, text)
        _add_lines(home / ".zshrc", ["autoload -Uz compinit", "compinit", f"source '{path}'"])
    else:
        path = home / ".config" / "fish" / "completions" / f"{PROGRAM}.fish"
        _write_atomically(path, text)
    return path


def answer(argv: list[str], run_app) -> int | None:
    """Handle ``--show-completion SHELL`` / ``--install-completion SHELL``; None: not ours."""
    request = requested(argv)
    if request is None:
        return None
    action, shell = request
    if shell not in SHELLS:
        sys.stderr.write(f"diffopt: error: no completion for shell {shell!r}; "
                         f"choose one of {', '.join(SHELLS)}\n")
        return 2
    text = script(shell, run_app)
    if action == "show":
        sys.stdout.write(text)
        return 0
    path = install(shell, text, Path.home())
    sys.stdout.write(f"{shell} completion installed in {path}\n"
                     "Completion will take effect once you restart the terminal.\n")
    return 0
