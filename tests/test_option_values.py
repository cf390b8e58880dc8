"""One parser per option value: every command reads --at, --set and --data alike.

The CLI passes the text of these options through unchanged, so a bad value
gives the same message and exit status 2 whichever command it was given to
(``check`` once re-parsed ``--at`` itself and crashed with exit 70 on
``x=abc``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from diffopt.cli import app
from diffopt.status import ExitStatus

PROBLEMS = Path(__file__).resolve().parent.parent / "problems"
ROSENBROCK = PROBLEMS / "rosenbrock.dop"  # params x, y; no data
TAXI = PROBLEMS / "taxi.dop"  # data trips = csv("taxi_trips.csv")

AT_COMMANDS = ("eval", "grad", "check", "export")
JSON_AT_COMMANDS = ("eval", "grad", "check")
SET_DATA_COMMANDS = ("eval", "grad", "check", "solve", "graph", "export")

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


BAD_AT = [
    ("x=abc", "--at x: 'abc' is not a number or a JSON array of numbers"),
    ("x=[1,", "--at x: bad JSON in '[1,': Expecting value at character 4"),
    ("=3", "--at expects NAME=VALUE, got '=3' (no name before '=')"),
    ("nope", "--at expects init, random, or parameter values, got 'nope'"),
    ("q=1", "--at: no parameter named 'q'"),
    ('{"q": 1}', "--at: no parameter named 'q'"),
    ('{"x": 1', "--at: bad JSON in '{\"x\": 1': Expecting ',' delimiter at character 8"),
    ("x=1,x=2", "--at: 'x' is given twice in 'x=1,x=2'"),
    ("x=[1, 2]", "--at: 'x' has shape (), the value given has shape (2,)"),
]


@pytest.mark.parametrize("value, message", BAD_AT, ids=[v for v, _ in BAD_AT])
@pytest.mark.parametrize("command", AT_COMMANDS)
def test_bad_at_is_a_usage_error_in_every_command(command, value, message):
    result = run(command, ROSENBROCK, "--at", value)
    assert result.exit_code == ExitStatus.BAD_INPUT, result.stderr
    assert first_line(result.stderr) == f"diffopt: error: {message}"
    assert result.stdout == ""


@pytest.mark.parametrize("value", [v for v, _ in BAD_AT])
def test_bad_at_gives_the_same_diagnostic_in_every_command(value):
    diagnostics = {command: run(command, ROSENBROCK, "--at", value).stderr
                   for command in AT_COMMANDS}
    assert len(set(diagnostics.values())) == 1, diagnostics


@pytest.mark.parametrize("command", JSON_AT_COMMANDS)
@pytest.mark.parametrize("value", ["x=2,y=3", '{"x": 2, "y": 3}'])
def test_every_command_reads_the_same_at_point(command, value):
    result = run(command, ROSENBROCK, "--at", value, "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    if command == "check":
        assert document["points"][0]["at"] == {"x": 2.0, "y": 3.0}
    else:  # f(2, 3) = (1 - 2)^2 + 100 (3 - 2^2)^2
        assert document["objective"] == 101.0


BAD_SET = [
    ("x=abc", "--set x: 'abc' is not a number or a JSON array of numbers"),
    ("x=[1,", "--set x: bad JSON in '[1,': Expecting value at character 4"),
    ("=3", "--set expects NAME=VALUE, got '=3' (no name before '=')"),
    ("nope", "--set expects NAME=VALUE, got 'nope' (no '=')"),
    ("x=", "--set expects NAME=VALUE, got 'x=' (nothing after '=')"),
    ("x=nan", "--set x: nan is not allowed (got 'nan')"),
    ("q=1", "--set q: no const or param named 'q'"),
]


@pytest.mark.parametrize("value, message", BAD_SET, ids=[v for v, _ in BAD_SET])
@pytest.mark.parametrize("command", SET_DATA_COMMANDS)
def test_bad_set_is_a_usage_error_in_every_command(command, value, message):
    result = run(command, ROSENBROCK, "--set", value)
    assert result.exit_code == ExitStatus.BAD_INPUT, result.stderr
    assert first_line(result.stderr) == f"diffopt: error: {message}"
    assert result.stdout == ""


BAD_DATA = [
    ("nope", "--data expects NAME=PATH, got 'nope' (no '=')"),
    ("=a.csv", "--data expects NAME=PATH, got '=a.csv' (no name before '=')"),
    ("trips=", "--data expects NAME=PATH, got 'trips=' (nothing after '=')"),
    ("q=x.csv", "--data q: no data named 'q'"),
]


@pytest.mark.parametrize("value, message", BAD_DATA, ids=[v for v, _ in BAD_DATA])
@pytest.mark.parametrize("command", SET_DATA_COMMANDS)
def test_bad_data_is_a_usage_error_in_every_command(command, value, message):
    result = run(command, TAXI, "--data", value)
    assert result.exit_code == ExitStatus.BAD_INPUT, result.stderr
    assert first_line(result.stderr) == f"diffopt: error: {message}"
    assert result.stdout == ""


@pytest.mark.parametrize("command", SET_DATA_COMMANDS)
def test_missing_data_file_names_the_file_in_every_command(command, tmp_path):
    missing = tmp_path / "missing.csv"
    result = run(command, TAXI, "--data", f"trips={missing}")
    assert result.exit_code == ExitStatus.BAD_INPUT
    assert first_line(result.stderr).endswith(
        f"error: cannot read data file '{missing}': no such file")


@pytest.mark.parametrize("line, message, col", [
    ("option tol = inf", "option 'tol' takes a finite number, not inf", 14),
    ('option method = "lm"',
     "method 'lm' needs a least-squares objective (a sum of squares of residuals)", 17),
])
def test_a_bad_option_line_is_located_at_the_line(tmp_path, line, message, col):
    path = tmp_path / "o.dop"
    path.write_text(f"param x = 1\n{line}\nminimize exp(x) + x^2\n")
    result = run("solve", path)
    assert result.exit_code == ExitStatus.BAD_INPUT, result.stderr
    assert first_line(result.stderr) == f"{path}:2:{col}: error: {message}"


def test_the_same_setting_from_the_command_line_names_the_flag(tmp_path):
    path = tmp_path / "o.dop"
    path.write_text("param x = 1\nminimize exp(x) + x^2\n")
    result = run("solve", path, "--tol", "-1")
    assert result.exit_code == ExitStatus.BAD_INPUT
    assert first_line(result.stderr) == "diffopt: error: --tol must be a positive number, got -1.0"
