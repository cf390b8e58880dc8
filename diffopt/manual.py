"""The manual behind ``diffopt help [TOPIC]``: find a shipped man page, render it, page it.

Topics: none (the overview, diffopt.1), ``language`` (dop.5) and one per
command (``solve`` is diffopt-solve.1), read from the pages shipped with the
package (diffopt/resources.py), so a new command's page is a new topic.

Rendering, first that works: ``groff -man -Tutf8``, then ``man -l``, then
the built-in converter in diffopt/roff.py. Paging: through ``$PAGER`` (else
``less -R``) only when standard output is a terminal; to a pipe or a file
the text is written plainly, without bold or underline. The decisions are
written down in man/diffopt-help.1.

Standard library only (no Typer, Rich, Lark or NumPy).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TextIO

from diffopt import roff
from diffopt.resources import resource_path

OVERVIEW = "diffopt.1"
LANGUAGE = "language"


class UnknownTopic(ValueError):
    """``diffopt help`` was asked about a topic that has no page."""


def man_dir() -> Path:
    """The folder holding the shipped pages (inside the package once installed)."""
    return resource_path("man", OVERVIEW).parent


def topics() -> list[str]:
    """``language``, then every command that has a page, alphabetically."""
    commands = sorted(path.name[len("diffopt-"):-len(".1")]
                      for path in man_dir().glob("diffopt-*.1"))
    return [LANGUAGE] + commands


def page_for(topic: str | None) -> Path:
    """The page of a topic (None: the overview).

    Raises:
        UnknownTopic: with a one-line message listing the topics.
    """
    if topic is None:
        return man_dir() / OVERVIEW
    if topic == LANGUAGE:
        return man_dir() / "dop.5"
    if topic in topics():
        return man_dir() / f"diffopt-{topic}.1"
    raise UnknownTopic(f"unknown topic '{topic}'; topics: {', '.join(topics())}")


# ------------------------------------------------------------------ rendering


def render(page: Path, width: int = 80, *, styled: bool = False) -> str:
    """The page as text ``width`` columns wide; ``styled`` keeps bold and underline."""
    return (_with_groff(page, width, styled) or _with_man(page, width)
            or roff.to_text(page.read_text(encoding="utf-8"), width))


def _run(argv: list[str], env: dict[str, str] | None = None) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, check=False, env=env, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    text = done.stdout.decode("utf-8", errors="replace")
    return text if done.returncode == 0 and text.strip() else None


def _with_groff(page: Path, width: int, styled: bool) -> str | None:
    if shutil.which("groff") is None:
        return None
    # -rcR=1: one continuous page; -rHY=0: no hyphenation; -P-cbou: no bold/underline.
    argv = ["groff", "-man", "-Tutf8", "-rcR=1", "-rHY=0", f"-rLL={width - 2}n",
            f"-rLT={width - 2}n"]
    return _run(argv + ([] if styled else ["-P-cbou"]) + [str(page)])


def _with_man(page: Path, width: int) -> str | None:
    if shutil.which("man") is None:
        return None
    env = {k: v for k, v in os.environ.items() if k != "MAN_KEEP_FORMATTING"}
    # Captured (not a terminal), man writes plain text through its own `col -b`.
    env.update(MANPAGER="cat", PAGER="cat", MANWIDTH=str(width))
    return _run(["man", "-l", str(page)], env)


# ------------------------------------------------------------------ showing


def pager_command() -> list[str]:
    """``$PAGER`` (else ``less -R``); a bare ``less`` gets ``-R`` to pass styles through."""
    argv = shlex.split(os.environ.get("PAGER") or "") or ["less", "-R"]
    if Path(argv[0]).name == "less" and not any(a in ("-R", "-r") for a in argv[1:]):
        argv.append("-R")
    return argv


def show(page: Path, out: TextIO | None = None, *, isatty: bool | None = None) -> None:
    """Render ``page`` and write it to ``out``, through the pager on a terminal."""
    out = out or sys.stdout
    terminal = out.isatty() if isatty is None else isatty
    width = max(shutil.get_terminal_size((80, 24)).columns, 40)
    text = render(page, width, styled=terminal)
    if terminal and _through_pager(text):
        return
    out.write(text)  # a closed pipe ends the command like any other (141), in the CLI
    out.flush()


def _through_pager(text: str) -> bool:
    """Page ``text``; False when the pager cannot be started (then print it)."""
    try:
        pager = subprocess.Popen(pager_command(), stdin=subprocess.PIPE)
    except OSError:
        return False
    try:
        pager.communicate(text.encode(sys.stdout.encoding or "utf-8", errors="replace"))
    except KeyboardInterrupt:  # less handles Ctrl-C itself; wait for it to finish
        pager.wait()
    return True
