"""What every command shares: options, consoles, error → exit-status mapping."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from typing import Annotated

import typer

import diffopt.cli.signals as signals
from diffopt.errors import DopError
from diffopt.status import ExitStatus


def dop_files(incomplete: str) -> list[str]:
    """Shell completion of a FILE argument: .dop files and folders starting so."""
    folder, _, start = incomplete.rpartition("/")
    base = folder or "."
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return []
    found = []
    for entry in entries:
        if not entry.startswith(start) or (entry.startswith(".") and not start.startswith(".")):
            continue
        path = f"{folder}/{entry}" if folder else entry
        if os.path.isdir(os.path.join(base, entry)):
            found.append(path + "/")
        elif entry.endswith(".dop"):
            found.append(path)
    return found


def one_of(choices) -> Callable[[str], list[str]]:
    """Shell completion of an option's value from its table of choices (diffopt.vocab)."""
    return lambda incomplete: [c for c in choices if c.startswith(incomplete)]


FileArg = Annotated[str, typer.Argument(help="The .dop file, or - to read standard input.",
                                        metavar="FILE", autocompletion=dop_files)]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="Override a const or a param's start: NAME=VALUE (a number or JSON array).",
    metavar="NAME=VALUE")]
DataOpt = Annotated[list[str] | None, typer.Option(
    "--data", help="Replace a data table: NAME=PATH, or NAME=- for standard input.",
    metavar="NAME=PATH")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for random starts and functions.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document and nothing else.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the final result.")]
MaxMemoryOpt = Annotated[str | None, typer.Option(
    "--max-memory", envvar="DIFFOPT_MAX_MEMORY", metavar="SIZE",
    help="Memory budget: a program or data file estimated to need more is refused "
         "(512M, 2G, 25%; default: half of physical memory).")]
AtOpt = Annotated[str | None, typer.Option(
    "--at", help='Point: init, random, NAME=VALUE,... or a JSON object like \'{"x1": 3}\'.')]


def consoles():
    """(stdout console, stderr console); plain text when not a terminal."""
    from rich.console import Console

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            # Rich's default exits with status 1, which reads as "did not
            # converge"; re-raise so the command ends like any closed pipe (141)
            raise BrokenPipeError()

    return PipeConsole(highlight=False), PipeConsole(stderr=True, highlight=False)


def assignments(items, option: str) -> dict[str, str]:
    """NAME=VALUE option values (``--set``, ``--data``) as name -> text, through their parser."""
    from diffopt.option_values import parse_assignment

    return dict(parse_assignment(item, option) for item in items or [])


def load(file: str, sets, data, seed, progress=None, max_memory: str | None = None):
    """``api.load`` with the command's ``--set``/``--data``/``--max-memory``;
    ``progress`` is told its phases."""
    from diffopt import api

    return api.load(file, sets=assignments(sets, "--set"), data=assignments(data, "--data"),
                    seed=seed, progress=progress, max_memory=max_memory)


class _NoProgress:
    """The progress display when there is none to draw: every call does nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        return None

    def phase(self, name: str, **details) -> None:
        return None

    def __call__(self, info) -> None:
        return None


def progress_display(quiet: bool, label: str = "solving"):
    """The live progress on stderr, or a do-nothing stand-in.

    Drawn only when stderr is a terminal and ``--quiet`` is not given,
    whatever stdout is (``--json | jq`` and ``> file`` still show it). Rich is
    imported only then, so a non-terminal run imports none of it.
    """
    if quiet or not sys.stderr.isatty():
        return _NoProgress()
    from diffopt.report.progress import ProgressDisplay

    return ProgressDisplay(consoles()[1], label=label)


def print_json(document) -> None:
    from diffopt.report.jsonout import dumps

    sys.stdout.write(dumps(document) + "\n")
    sys.stdout.flush()


def report_warnings(warnings) -> None:
    """Numerical warnings (first NaN/inf and where it came from) go to stderr."""
    if not warnings:
        return
    from diffopt.report.diagnostics import render_warning, render_warning_rich

    for found in warnings:
        message = found.describe()
        print_diagnostic(render_warning(message, found.span),
                         functools.partial(render_warning_rich, message, found.span))


def print_diagnostic(plain: str, rich, console=None) -> None:
    """Print a diagnostic on stderr: coloured on a colour terminal, else ``plain``.

    ``rich`` makes the coloured ``Text`` (whose ``.plain`` is ``plain``); it is
    called only for a terminal with colours, not when ``NO_COLOR`` is set,
    stderr is a pipe or a file, or ``TERM=dumb``. ``console`` (tests) replaces
    the stderr console; without one, a non-terminal stderr gets ``plain``
    without importing Rich.
    """
    if console is None:
        if os.environ.get("NO_COLOR") or not sys.stderr.isatty():
            sys.stderr.write(plain + "\n")
            return
        console = consoles()[1]
    if console.no_color or console.color_system is None or console.is_dumb_terminal:
        console.file.write(plain + "\n")
        console.file.flush()
        return
    console.print(rich(), soft_wrap=True)


def interrupted_document(file) -> dict:
    """The --json document of a command interrupted before it had a result
    (while loading, compiling, or before a solve's first evaluation)."""
    return {"problem": os.path.basename(file) if isinstance(file, str) else None,
            "status": "interrupted", "success": False,
            "message": "interrupted before a result (while loading or preparing)"}


def command(fn):
    """Run a command body; map DopError to a diagnostic and exit status 2.

    Anything else escaping is a bug: one line on stderr (the traceback only
    with DIFFOPT_TRACEBACK=1) and exit status 70 (ExitStatus.INTERNAL_ERROR).
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            status = fn(*args, **kwargs)
        except DopError as error:
            from diffopt.report.diagnostics import render, render_rich

            print_diagnostic(render(error), functools.partial(render_rich, error))
            raise typer.Exit(ExitStatus.BAD_INPUT) from None
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            sys.stderr.write("interrupted\n")
            if kwargs.get("json"):  # --json promises one document, even now
                print_json(interrupted_document(kwargs.get("file")))
            raise typer.Exit(signals.interrupted_status()) from None
        except BrokenPipeError:
            raise typer.Exit(signals.stdout_closed()) from None
        except signals.OutputError as error:
            raise typer.Exit(signals.output_failed(error)) from None
        except Exception as exc:  # a bug in diffopt, not in the user's input
            if os.environ.get("DIFFOPT_TRACEBACK"):
                traceback.print_exc()
            sys.stderr.write(f"diffopt: internal error: {type(exc).__name__}: {exc}\n"
                             "(set DIFFOPT_TRACEBACK=1 to see where; please report it)\n")
            raise typer.Exit(ExitStatus.INTERNAL_ERROR) from None
        if status == ExitStatus.INTERRUPTED:
            status = signals.interrupted_status()  # Ctrl-C, or SIGTERM/SIGHUP
        raise typer.Exit(int(status or 0))

    return wrapper
