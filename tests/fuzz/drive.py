"""Run one fuzz case through the CLI in-process and classify the outcome.

Outcomes: ``ok`` (exit 0 or 1, and with ``--json`` exactly one JSON
document), ``refused`` (exit 2 with a located ``file:line:col: error:`` or a
usage error ``diffopt: error:`` / Click's ``Error:``), and the defects:
``unlocated`` (exit 2 without either), ``internal`` (exit 70), ``traceback``
(an exception escaped the command layer), ``warning`` (a raw Python warning
reached stderr), ``bad-json``, ``hang`` (over the time cap) and ``memory``
(MemoryError). Case ``n`` of seed ``s`` is reproducible: ``case(n, s)``
rebuilds it, and ``python tests/fuzz/run.py --show N`` prints it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from fuzz.mutate import command_line, corpus, mutate
from fuzz.programs import RandomChooser, program

DEFECTS = ("unlocated", "internal", "traceback", "warning", "bad-json", "hang", "memory")
LOCATED = re.compile(r"^(.+:\d+:\d+: error: |diffopt: error: |Usage: |Error: )", re.MULTILINE)
RAW_WARNING = re.compile(r"\w+Warning: |Exception ignored|Traceback \(most recent")
_CORPUS: list[str] = []


class CaseTimeout(BaseException):
    """The per-case time cap passed (a BaseException: no ``except Exception`` eats it)."""


@dataclass(frozen=True)
class Case:
    number: int
    text: str
    args: tuple  # the command line, with "{file}" where the program's path goes


@dataclass(frozen=True)
class Outcome:
    case: Case
    kind: str
    exit_code: int | None
    detail: str


def case(number: int, seed: int = 0) -> Case:
    """Case ``number``: a generated program, a mutated one, or a mutated command line."""
    if not _CORPUS:
        _CORPUS.extend(corpus())
    c = RandomChooser(seed * 1_000_003 + number)
    flavour = number % 3
    if flavour == 0:
        text = program(c)
    else:
        text = mutate(c, c.choice(_CORPUS))
    if flavour == 2:
        args = tuple(command_line(c, "{file}"))
    else:
        args = (c.choice(("eval", "solve", "check", "grad")), "{file}", "--json") \
            if c.boolean(0.5) else (c.choice(("eval", "solve", "check", "grad", "fmt")), "{file}")
        if args[0] == "solve":
            args = args + ("--max-iter", "50")
    return Case(number, text, args)


def classify(exit_code: int | None, stdout: str, stderr: str, exception, json_wanted: bool):
    if isinstance(exception, MemoryError):
        return "memory", repr(exception)
    if exception is not None and not isinstance(exception, SystemExit):
        return "traceback", f"{type(exception).__name__}: {exception}"
    if RAW_WARNING.search(stderr):
        return "warning", stderr[:300]
    if exit_code == 70:
        return "internal", stderr[:300]
    if exit_code == 2:
        if LOCATED.search(stderr):
            return "refused", stderr.splitlines()[0][:200] if stderr else ""
        return "unlocated", stderr[:300]
    if exit_code in (0, 1):
        if json_wanted:
            try:
                json.loads(stdout)
            except ValueError:
                return "bad-json", stdout[:300]
        return "ok", ""
    return "internal", f"exit {exit_code}: {stderr[:300]}"


def run_case(item: Case, seconds: float = 10.0, workdir: str | None = None) -> Outcome:
    """Run ``item`` in this process, with a SIGALRM time cap (main thread only)."""
    from typer.testing import CliRunner

    from diffopt.cli import app

    directory = workdir or tempfile.mkdtemp(prefix="diffopt-fuzz-")
    path = Path(directory) / "case.dop"
    path.write_bytes(item.text.encode("utf-8", errors="surrogateescape"))
    args = [str(path) if a == "{file}" else a for a in item.args]
    env = {"DIFFOPT_MAX_MEMORY": os.environ.get("DIFFOPT_FUZZ_MEMORY", "1G"), "COLUMNS": "100"}

    def expire(signum, frame):
        raise CaseTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")  # every warning shows, so each is caught as a defect
            result = CliRunner().invoke(app, args, env=env, catch_exceptions=True)
        kind, detail = classify(result.exit_code, result.stdout, result.stderr,
                                result.exception, "--json" in args)
        code = result.exit_code
    except CaseTimeout:
        kind, detail, code = "hang", f"over {seconds:g} s", None
    except MemoryError as exc:
        kind, detail, code = "memory", repr(exc), None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return Outcome(item, kind, code, detail)
