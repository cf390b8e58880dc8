"""Pipes and signals, the way Unix tools behave (documented in diffopt(1), EXIT STATUS).

Each test runs the real command in a subprocess: a reader that closes the
pipe early, and SIGTERM in the middle of a solve.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

DIFFOPT = [sys.executable, "-m", "diffopt"]


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    path = tmp_path / "big.dop"
    # far more than a pipe buffer of output
    path.write_text("param x = 1\nlet big = arange(0, 200000) * x\nminimize x^2\n")
    # buffered standard output, Python's default (with PYTHONUNBUFFERED a
    # write to a pipe whose reader left can end short without an error)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    process = subprocess.Popen([*DIFFOPT, "eval", str(path), "--json"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.read(1) == b"{"
    process.stdout.close()  # like `| head -c 1`
    status = process.wait(timeout=60)
    stderr = process.stderr.read().decode()
    assert status == 141, stderr
    assert stderr == ""  # no traceback, no "Exception ignored"


def test_a_small_output_read_whole_is_a_normal_exit(tmp_path):
    path = tmp_path / "small.dop"
    path.write_text("param x = 1\nminimize x^2\n")
    result = subprocess.run([*DIFFOPT, "eval", str(path)], capture_output=True, timeout=60)
    assert result.returncode == 0 and result.stderr == b""


def test_sigterm_stops_a_solve_at_its_best_point(tmp_path):
    path = tmp_path / "slow.dop"
    # gradient descent with a tiny step on a long valley: runs far longer than the test waits
    path.write_text("param x = -1.2, y = 1\noption method = \"gd\"\noption lr = 1e-7\n"
                    "option max_iter = 100000000\nminimize (1 - x)^2 + 100 * (y - x^2)^2\n")
    trace = tmp_path / "trace.jsonl"
    process = subprocess.Popen([*DIFFOPT, "solve", str(path), "--json", "--trace", str(trace)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # past loading, inside the iterations (however busy)
        if trace.exists() and trace.read_text().count("\n") >= 2:
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143, err.decode()
    document = json.loads(out)
    assert document["status"] == "interrupted"
    assert document["iterations"] > 0


def test_solve_json_into_a_reader_that_takes_one_byte(tmp_path):
    # a small document fits in the pipe: written in full, the solve's own status
    terrain = Path(__file__).resolve().parent.parent / "problems" / "terrain.dop"
    process = subprocess.Popen([*DIFFOPT, "solve", str(terrain), "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.read(1) == b"{"
    process.stdout.close()
    status = process.wait(timeout=60)
    assert status in (0, 141)
    assert process.stderr.read() == b""


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_while_loading_still_gives_one_json_document(tmp_path, sig, status):
    path = tmp_path / "long_check.dop"
    # checking runs this loop for many seconds (recording nothing: its body
    # does not depend on x), so the signal lands while loading
    path.write_text("param x = 1\nvar s = 0\nfor i in 0..100000000 {\n    s += i\n}\n"
                    "minimize (s * x - 3)^2\n")
    process = subprocess.Popen([*DIFFOPT, "solve", str(path), "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2.0)
    process.send_signal(sig)
    out, err = process.communicate(timeout=60)
    assert process.returncode == status, err.decode()
    document = json.loads(out)
    assert document["status"] == "interrupted" and document["success"] is False
    assert document["problem"] == "long_check.dop"
