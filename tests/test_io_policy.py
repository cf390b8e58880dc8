"""Standard streams that cannot be used: one documented line and exit 2, or 141.

The policy (diffopt(1), EXIT STATUS): a reader that leaves ends the command
quietly with 141; any other unwritable standard output (full disk, closed
descriptor) and a closed or non-UTF-8 standard input are one line on
stderr and exit 2 -- never a traceback, never exit 70, never a silent 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DIFFOPT = [sys.executable, "-m", "diffopt"]
TERRAIN = str(Path(__file__).resolve().parents[1] / "problems" / "terrain.dop")
TAXI = str(Path(__file__).resolve().parents[1] / "problems" / "taxi.dop")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
@pytest.mark.parametrize("args", [["solve", TERRAIN], ["solve", TERRAIN, "--json"],
                                  ["eval", TERRAIN], ["--version"]])
def test_a_full_disk_is_one_line_and_exit_2(args):
    with open("/dev/full", "w") as full:
        result = subprocess.run([*DIFFOPT, *args], stdout=full, stderr=subprocess.PIPE,
                                timeout=60)
    assert result.returncode == 2
    assert result.stderr.decode() == \
        "diffopt: error: cannot write standard output: no space left on device\n"


def closed_stdout(args):
    # the child starts with descriptor 1 closed, as `>&-` does
    code = ("import os, subprocess, sys; os.close(1); "
            f"sys.exit(subprocess.run({[*DIFFOPT, *args]!r}).returncode)")
    return subprocess.run([sys.executable, "-c", code], stderr=subprocess.PIPE, timeout=60)


def test_a_closed_stdout_is_reported_not_ignored():
    result = closed_stdout(["solve", TERRAIN])
    assert result.returncode == 2
    assert result.stderr.decode() == ("diffopt: error: cannot write standard output: "
                                      "bad file descriptor (standard output is closed)\n")


def test_a_closed_stdout_is_fine_for_a_command_that_prints_nothing():
    result = closed_stdout(["fmt", "--check", TERRAIN])
    assert (result.returncode, result.stderr) == (0, b"")


def test_a_closed_stdin():
    result = subprocess.run([*DIFFOPT, "solve", "-"], stdin=subprocess.DEVNULL,
                            capture_output=True, timeout=60,
                            preexec_fn=lambda: os.close(0))
    assert result.returncode == 2
    assert result.stderr.decode() == \
        "diffopt: error: standard input is closed; give a file name instead of '-'\n"


def test_non_utf8_program_on_stdin_is_located():
    result = subprocess.run([*DIFFOPT, "solve", "-"], input=b"param x = 1\n\xff\xfe\n",
                            capture_output=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.decode().startswith(
        "<stdin>:2:1: error: the file is not UTF-8 text: byte 0xff at offset 12")


def test_non_utf8_data_on_stdin():
    result = subprocess.run([*DIFFOPT, "eval", TAXI, "--data", "trips=-"],
                            input=b"a,\xff\n1,2\n", capture_output=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.decode() == \
        "diffopt: error: standard input is not UTF-8 text: byte 0xff at offset 2\n"


@pytest.mark.parametrize("command", ["eval", "solve", "grad", "check", "graph"])
def test_every_command_ends_141_when_its_reader_leaves_at_once(command):
    process = subprocess.Popen([*DIFFOPT, command, TERRAIN], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.close()
    status = process.wait(timeout=60)
    assert (status, process.stderr.read()) == (141, b"")
