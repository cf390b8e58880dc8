"""Live progress goes to stderr when stderr is a terminal, whatever stdout is.

Runs real ``diffopt solve`` and ``check`` processes with stderr on a
pseudo-terminal and stdout on a file, and checks that the progress (the
iteration line and its sparkline) reaches the terminal while the file holds
exactly the report; and that a non-terminal stderr gets nothing but warnings.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from diffopt.report.progress import BLOCKS, sparkline

PROBLEMS = Path(__file__).resolve().parent.parent / "problems"
ROSENBROCK = PROBLEMS / "rosenbrock.dop"
# gd with a small step crawls along the valley: a couple of seconds of iterations
SLOW = ["--method", "gd", "--lr", "0.0002", "--max-iter", "30000"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM", "COLUMNS")}
    env.update({"TERM": "xterm-256color", "COLUMNS": "200"}, **extra)
    return env


def run_with_tty_stderr(args, stdout_path: Path, env=None) -> tuple[int, bytes]:
    """Run diffopt with stderr on a pty and stdout on a file; (exit status, stderr bytes)."""
    master, slave = pty.openpty()
    with open(stdout_path, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "diffopt", *map(str, args)],
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=slave,
                                   env=env or _env())
    os.close(slave)
    chunks = []
    while True:  # drain the terminal while the process runs, so it never blocks
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    status = process.wait(timeout=120)
    os.close(master)
    return status, b"".join(chunks)


def test_progress_on_terminal_stderr_report_on_file(tmp_path):
    out = tmp_path / "out.txt"
    status, err = run_with_tty_stderr(["solve", ROSENBROCK, *SLOW], out)
    assert status in (0, 1), err
    text = err.decode("utf-8", "replace")
    assert "iteration" in text and "/30000" in text and "objective" in text
    assert any(block in text for block in BLOCKS)  # the sparkline
    report = out.read_text(encoding="utf-8")
    assert "\x1b[" not in report and not any(block in report for block in BLOCKS)
    assert "solving" not in report and "/30000" not in report
    # the same report as without a terminal anywhere
    plain = subprocess.run([sys.executable, "-m", "diffopt", "solve", str(ROSENBROCK), *SLOW],
                           capture_output=True, text=True, env=_env(), timeout=120)
    assert _without_time(plain.stdout) == _without_time(report)


def _without_time(report: str) -> str:
    return "\n".join(line for line in report.splitlines() if "time" not in line)


def test_progress_with_json_stdout_is_one_document(tmp_path):
    out = tmp_path / "out.json"
    status, err = run_with_tty_stderr(["solve", ROSENBROCK, *SLOW, "--json"], out)
    assert status in (0, 1), err
    assert b"iteration" in err
    document = json.loads(out.read_text(encoding="utf-8"))  # exactly one JSON document
    assert document["method"] == "gd"


def test_quiet_draws_no_progress(tmp_path):
    status, err = run_with_tty_stderr(["solve", ROSENBROCK, *SLOW, "--quiet"], tmp_path / "o")
    assert status in (0, 1)
    assert b"iteration" not in err


def test_dumb_terminal_gets_plain_lines(tmp_path):
    status, err = run_with_tty_stderr(["solve", ROSENBROCK, *SLOW], tmp_path / "o",
                                      env=_env(TERM="dumb"))
    assert status in (0, 1)
    assert b"\x1b[" not in err  # no colours, no cursor movement


def test_check_shows_phases_on_terminal(tmp_path):
    out = tmp_path / "o"
    status, err = run_with_tty_stderr(["check", PROBLEMS / "terrain.dop", "--json"], out)
    assert status == 0, err
    assert b"iteration" not in err  # check has phases only, each shown after a delay
    assert json.loads(out.read_text(encoding="utf-8"))["passed"] is True


def test_non_terminal_stderr_gets_nothing():
    done = subprocess.run([sys.executable, "-m", "diffopt", "solve", str(ROSENBROCK), *SLOW],
                          capture_output=True, text=True, env=_env(), timeout=120)
    assert done.returncode in (0, 1)
    assert done.stderr == ""
    done = subprocess.run([sys.executable, "-m", "diffopt", "check", str(ROSENBROCK)],
                          capture_output=True, text=True, env=_env(), timeout=120)
    assert done.stderr == ""


@pytest.mark.parametrize("values, expected", [
    ([1.0, 2.0, 3.0], "▁▅█"),
    ([5.0, 5.0], "▁▁"),
    ([1000.0, 100.0, 10.0, 1.0], "█▆▃▁"),  # four decades: log scale
    ([1.0, float("nan")], "▁█"),
])
def test_sparkline(values, expected):
    assert sparkline(values) == expected


def test_phase_shown_only_after_a_delay():
    import io

    from rich.console import Console

    from diffopt.report.progress import ProgressDisplay

    display = ProgressDisplay(Console(file=io.StringIO(), force_terminal=True, width=120))
    display.phase("checking and recording")
    assert display.__rich__().plain == ""  # a quick phase is never drawn
    display._phase_started -= 1.0
    assert display.__rich__().plain.startswith("checking and recording…  1")
