"""``diffopt fmt FILE...``: print, check, diff or rewrite files in canonical layout.

Without options the canonical text is printed; ``--check`` only reports,
``--diff`` prints a unified diff, ``-w/--write`` rewrites each file in place
atomically (a temporary file in the same directory, flushed and fsynced, then
``os.replace``; the file's mode is kept, and on any error the original is left
byte for byte as it was). Every file is handled even when an earlier one fails;
the exit status is the worst: 2 (an error), 1 (``--check``/``--diff`` found a
file to reformat), 0.
"""

from __future__ import annotations

import difflib
import os
import stat
import sys
import tempfile
from typing import Annotated

import typer

from diffopt.cli.app import app
from diffopt.cli.common import command
from diffopt.errors import DopError, UsageError
from diffopt.status import ExitStatus

FilesArg = Annotated[list[str], typer.Argument(
    help="The .dop files, or - to read standard input.", metavar="FILE...")]


def unified_diff(name: str, before: str, after: str) -> str:
    """The unified diff of ``before`` → ``after`` with ``a/NAME`` and ``b/NAME`` headers."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile=f"a/{name}", tofile=f"b/{name}",
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def write_atomically(path: str, text: str) -> None:
    """Replace the file at ``path`` by ``text`` (UTF-8), all at once or not at all.

    Raises:
        UsageError: the file or its directory cannot be written; the file is unchanged.
    """
    real = os.path.realpath(path)  # write through a symbolic link, keep the link
    try:
        mode = stat.S_IMODE(os.stat(real).st_mode)
    except OSError as exc:
        raise UsageError(f"cannot write '{path}': {(exc.strerror or str(exc)).lower()}") from None
    if not mode & stat.S_IWUSR or not os.access(real, os.W_OK):
        raise UsageError(f"cannot write '{path}': the file is read-only")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(real)}.",
                                   suffix=".fmt.tmp", dir=os.path.dirname(real))
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, real)
        tmp = None
    except OSError as exc:
        raise UsageError(f"cannot write '{path}': {(exc.strerror or str(exc)).lower()}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _one(path: str, check: bool, diff: bool, write: bool, quiet: bool) -> ExitStatus:
    from diffopt import api

    original, formatted = api.format_source(path)
    changed = formatted != original
    if check:
        if changed and not quiet:
            sys.stderr.write(f"{path}: would be reformatted\n")
        return ExitStatus.FAILURE if changed else ExitStatus.SUCCESS
    if diff:
        if changed:
            sys.stdout.write(unified_diff(path, original, formatted))
        return ExitStatus.FAILURE if changed else ExitStatus.SUCCESS
    if write:
        if path == "-":
            raise UsageError("-w cannot rewrite standard input; give a file name")
        if changed:
            write_atomically(path, formatted)
            if not quiet:
                sys.stderr.write(f"{path}: reformatted\n")
        return ExitStatus.SUCCESS
    sys.stdout.write(formatted)
    return ExitStatus.SUCCESS


@app.command("fmt")
@command
def fmt_command(
    files: FilesArg,
    check: Annotated[bool, typer.Option(
        "--check", help="Print nothing; exit 1 if a file is not in canonical layout.")] = False,
    diff: Annotated[bool, typer.Option(
        "--diff", help="Print a unified diff; exit 1 if a file is not in canonical layout.")
    ] = False,
    write: Annotated[bool, typer.Option(
        "--write", "-w", help="Rewrite the files in place (atomically).")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="With --check or -w: no per-file lines; the exit status says it.")
    ] = False,
):
    """Print FILE in canonical layout; --check, --diff or -w for files in place."""
    from diffopt.report.diagnostics import render

    if check + diff + write > 1:
        raise UsageError("choose one of --check, --diff and -w/--write")
    status = ExitStatus.SUCCESS
    for path in files:
        try:
            result = _one(path, check, diff, write, quiet)
        except DopError as error:
            if len(files) == 1:
                raise
            sys.stderr.write(render(error) + "\n")
            result = ExitStatus.BAD_INPUT
        status = max(status, result)
    return status
