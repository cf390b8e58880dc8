"""Reproducers of internal errors and unlocated or misleading messages (hostile input).

Each was an exit 70 or an answer in the wrong words; each now ends as a
located error (exit 2) or a correct result. Messages that name this
machine's memory are matched by pattern; the rest are pinned in tests/bad.
"""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from diffopt.cli import app
from diffopt.status import ExitStatus

runner = CliRunner()


def run(tmp_path, text: str, *args: str):
    path = tmp_path / "h.dop"
    path.write_text(text)
    return runner.invoke(app, [*args[:1], str(path), *args[1:]])


@pytest.mark.parametrize("call", ["logsumexp(a)", "soft_max(a)", "ste_step(a)",
                                  "straight_through(1, a)"])
def test_scalar_arguments_evaluate_and_check(tmp_path, call):
    # a scalar parameter reaches NumPy code as a Python float on the compiled path
    result = run(tmp_path, f"param a = 0.5\nminimize {call}\n", "eval", "--json")
    assert result.exit_code == 0, result.stderr
    checked = run(tmp_path, f"param a = 0.5\nminimize {call}\n", "check")
    assert checked.exit_code == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("text, where, what", [
    ("param w[1e308]\nminimize sum(w)\n", "1:7", "parameter 'w' would have 1e+308 elements"),
    ("param w = 1\nminimize sum(zeros(1e12)) + w\n", "2:14",
     "zeros's result would have 1e+12 elements"),
    ("param w = 1\nminimize sum(ones([1e5, 1e5])) + w\n", "2:14",
     "ones's result would have 1e+10 elements"),
])
def test_arrays_larger_than_memory_are_refused_before_the_work(tmp_path, text, where, what):
    result = run(tmp_path, text, "eval")
    assert result.exit_code == ExitStatus.BAD_INPUT, result.stderr
    first = result.stderr.splitlines()[0]
    assert re.fullmatch(rf".*h\.dop:{where}: error: {re.escape(what)} \(.* ([TG]iB|bytes)\); "
                        r"the memory budget is .* \(half of this machine's memory\); raise it with "
                        r"--max-memory", first), first


def test_a_negative_seed_is_a_usage_error(tmp_path):
    result = run(tmp_path, "param q = 1\nminimize q^2\n", "eval", "--seed", "-1")
    assert result.exit_code == ExitStatus.BAD_INPUT
    assert result.stderr.splitlines()[0] == \
        "diffopt: error: --seed must be a non-negative integer, got -1"


def test_maximizing_an_unbounded_objective_says_so_in_the_files_words(tmp_path):
    result = run(tmp_path, "param x = 1\nmaximize exp(x)\n", "solve", "--json")
    document = json.loads(result.stdout)
    assert document["status"] == "diverged"
    assert "rose to 1.8e+308: it looks unbounded above" in document["message"]
    assert "below" not in document["message"] and "-1.8e+308" not in document["message"]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_zero_times_infinity_is_zero_in_both_modes(tmp_path, mode):
    # d/dx sqrt(abs(x)) at 0: sqrt'(0) = inf meets abs'(0) = 0
    result = run(tmp_path, "param x = 0\nminimize sqrt(abs(x))\n", "grad", "--json",
                 "--mode", mode)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["gradient"] == {"x": 0.0}


@pytest.mark.skipif(not __import__("os").path.exists("/dev/zero"), reason="no /dev/zero")
def test_a_device_is_not_read_as_a_table(tmp_path):
    result = run(tmp_path, 'data t = csv("/dev/zero")\nparam x = 1\nminimize x^2 + sum(t.a)\n',
                 "eval")
    assert result.exit_code == ExitStatus.BAD_INPUT
    assert result.stderr.splitlines()[0].endswith(
        "h.dop:1:10: error: cannot read data file '/dev/zero': it is not a regular file "
        "(a device, pipe or socket)")


def test_arrays_nested_deeper_than_numpy_allows_are_located(tmp_path):
    text = "param x = 1\nlet a = " + "[" * 33 + "x" + "]" * 33 + "\nminimize sum(a)\n"
    result = run(tmp_path, text, "eval")
    assert result.exit_code == ExitStatus.BAD_INPUT
    assert result.stderr.splitlines()[0].endswith(
        "h.dop:2:9: error: arrays nest at most 32 levels deep (NumPy's limit)")


@pytest.mark.parametrize("option", ["--at", "--set"])
def test_deep_json_values_are_refused_without_recursion(tmp_path, option):
    value = "x=" + "[" * 5000 + "]" * 5000
    result = run(tmp_path, "param x = 1\nminimize x^2\n", "eval", option, value)
    assert result.exit_code == ExitStatus.BAD_INPUT
    assert "nests 5000 levels deep; values nest at most 33" in result.stderr.splitlines()[0]


def test_check_fails_where_the_objective_is_not_a_number(tmp_path):
    result = run(tmp_path, "param x = 1\nminimize log(x - 2)\n", "check")
    assert result.exit_code == ExitStatus.FAILURE
    assert "the objective is nan at this point (first NaN: evaluation through log at" \
        in " ".join(result.stdout.split())
    assert result.stderr == ""  # no RuntimeWarning leaks


def test_a_jacobian_of_1e308_does_not_hang_the_least_squares_step(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "huge.dop"
    path.write_text("data mix = [[1e308,1,1],[0,1,0],[0,0,1],[1,1,1]]\ndata out = [1,2,3,4]\n"
                    "param w[3] = 0\nminimize mean((mix @ w - out)^2)\n")
    result = subprocess.run([sys.executable, "-m", "diffopt", "solve", str(path), "--json",
                             "--max-iter", "5"], capture_output=True, text=True, timeout=60)
    assert json.loads(result.stdout)["method"] == "lm"
    assert "DLASCL" not in result.stderr  # LAPACK was never handed an inf


def test_cr_only_line_ends_end_statements_as_well_as_comments(tmp_path):
    path = tmp_path / "cr.dop"
    path.write_bytes(b"param x = 3  # start\rminimize (x - 1)^2\r")
    result = runner.invoke(app, ["solve", str(path), "--json"])
    assert result.exit_code == 0, result.stderr
    assert abs(json.loads(result.stdout)["params"]["x"] - 1) < 1e-6
    path.write_bytes(b"param x = 3\r\rminimize (x - 1)^2 +\r")
    result = runner.invoke(app, ["eval", str(path)])
    assert result.exit_code == 2 and result.stderr.startswith(f"{path}:3:")


def test_a_linear_algebra_failure_inside_a_solve_is_a_failed_status(tmp_path, monkeypatch):
    import numpy as np

    from diffopt.solve import newton

    def refuse(*args, **kwargs):
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(newton.np.linalg, "eigh", refuse)
    monkeypatch.setattr(newton.np.linalg, "solve", refuse)
    monkeypatch.setattr(newton.np.linalg, "cholesky", refuse)
    result = run(tmp_path, "param x = 3\nminimize (x - 1)^4 + x^2\n", "solve", "--json",
                 "--method", "newton")
    assert result.exit_code == 1, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "failed"
    assert document["message"].startswith("the linear algebra failed (SVD did not converge)")


@pytest.mark.parametrize("text, message", [
    # found by the fuzzer (cases 20402 and 91282 of seed 0): internal errors before
    ("param W[1e308, 3] = 0, v[2] = 0\nminimize sum(W @ v)\n",
     "1:7: error: parameter 'W' would have 3e+308 elements (2.4e+309 bytes)"),
    ("param w = 1\nminimize sum(arange(-1e308, 1e308)) + w\n",
     "2:14: error: arange's result would have 1e+309 elements (8e+309 bytes)"),
])
def test_sizes_past_the_largest_float_are_refused_in_words(tmp_path, text, message):
    result = run(tmp_path, text, "graph")
    assert result.exit_code == ExitStatus.BAD_INPUT, result.stderr
    assert message in result.stderr.splitlines()[0]


def test_an_empty_descending_arange_is_empty(tmp_path):
    result = run(tmp_path, "param w = 1\nminimize sum(arange(0, -1e308)) + w\n", "eval", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["objective"] == 1.0


def test_an_infinite_start_is_refused_where_it_is_written(tmp_path):
    # found by the fuzzer (case 29880 of seed 1): a line search without a descent direction
    result = run(tmp_path, "param p0[1] in [-inf, inf] = inf\nconst k1 = 0\nminimize k1\n",
                 "solve", "--json")
    assert result.exit_code == ExitStatus.BAD_INPUT
    assert result.stderr.splitlines()[0].endswith(
        "h.dop:1:30: error: the start value of 'p0' is inf; a start must be a finite number")


def test_a_line_search_along_an_ascent_direction_fails_softly():
    import numpy as np

    from diffopt.solve.linesearch import strong_wolfe

    found = strong_wolfe(lambda x: (float(x @ x), 2 * x), np.array([1.0]), 1.0,
                         np.array([2.0]), np.array([1.0]))
    assert not found.ok and found.evaluations == 0
    assert found.message == "the search direction is not a descent direction (slope 2)"
