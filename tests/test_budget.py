"""The memory budget (--max-memory): refused before the work, located, with the estimate."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from diffopt import budget
from diffopt.cli import app
from diffopt.errors import UsageError

runner = CliRunner()


def run(tmp_path, text, *args, env=None):
    path = tmp_path / "m.dop"
    path.write_text(text)
    return runner.invoke(app, [args[0], str(path), *args[1:]], env=env)


@pytest.mark.parametrize("text, expected", [
    ("512M", 512 * 1000**2), ("2G", 2 * 1000**3), ("1.5GiB", int(1.5 * 2**30)),
    ("100000000", 10**8), ("64 mib", 64 << 20), ("1e9", 10**9),
])
def test_sizes(text, expected):
    assert budget.parse_size(text) == expected


def test_a_percentage_is_of_physical_memory():
    assert budget.parse_size("25%") == int(budget.physical_memory() * 0.25)


@pytest.mark.parametrize("text", ["", "1x", "-5G", "G", "nan", "0", "10K"])
def test_bad_sizes(text):
    with pytest.raises(UsageError):
        budget.parse_size(text)


def test_a_long_loop_is_judged_by_its_first_step_and_refused_at_its_for(tmp_path):
    text = "param x = 1\nvar s = 0\nfor i in 0..1000000000 {\n    s += x * i\n}\nminimize s^2\n"
    result = run(tmp_path, text, "eval", "--max-memory", "64M")
    assert result.exit_code == 2
    first = result.stderr.splitlines()[0]
    # the first step records x * i and s + (x * i): two scalars and two equations
    step = 2 * (8 + budget.EQUATION_BYTES)
    assert re.fullmatch(
        rf".*m\.dop:3:1: error: this loop would record about 7\d\d GiB \(1,000,000,000 steps "
        rf"of {step} bytes each, judged by its first\); the memory budget is 61 MiB; raise it "
        r"with --max-memory", first), first


def test_a_loop_within_the_budget_runs(tmp_path):
    text = "param x = 1\nvar s = 0\nfor i in 0..1000 {\n    s += x * i\n}\nminimize s^2\n"
    result = run(tmp_path, text, "eval", "--json", "--max-memory", "64M")
    assert result.exit_code == 0, result.stderr
    assert '"objective": 249500250000.0' in result.stdout  # (sum of 0..999)^2


def test_an_array_larger_than_the_budget(tmp_path):
    result = run(tmp_path, "param w = 1\nminimize sum(zeros(1e7)) + w\n", "eval",
                 "--max-memory", "50M")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"{tmp_path / 'm.dop'}:2:14: error: zeros's result would have 1e+07 elements "
        "(76.3 MiB); the memory budget is 47.7 MiB; raise it with --max-memory")


def test_many_arrays_together_pass_the_budget(tmp_path):
    # each 1e6-element array fits, the forty recorded ones together do not
    lets = "".join(f"let a{i} = w * {i + 1} + zeros(1000000)\n" for i in range(40))
    total = " + ".join(f"sum(a{i})" for i in range(40))
    result = run(tmp_path, f"param w = 1\n{lets}minimize {total}\n", "eval",
                 "--max-memory", "100M")
    assert result.exit_code == 2
    assert re.fullmatch(r".*m\.dop:\d+:\d+: error: operator '\+': the program's arrays and "
                        r"recording need more than \S+ MiB; the memory budget is 95.4 MiB; "
                        r"raise it with "
                        r"--max-memory", result.stderr.splitlines()[0]), result.stderr


def test_a_data_file_larger_than_the_budget_is_not_read(tmp_path):
    (tmp_path / "big.csv").write_text("a\n" + "1.0\n" * 600000)  # 2.4 MB
    text = 'data t = csv("big.csv")\nparam x = 1\nminimize (x - mean(t.a))^2\n'
    result = run(tmp_path, text, "eval", "--max-memory", "2M")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"{tmp_path / 'm.dop'}:1:10: error: cannot read data file '{tmp_path / 'big.csv'}': "
        "it is 2.29 MiB, more than the memory budget of 1.91 MiB; raise it with --max-memory")
    assert run(tmp_path, text, "eval", "--max-memory", "8M").exit_code == 0


def test_the_environment_variable_sets_the_default(tmp_path):
    result = run(tmp_path, "param w = 1\nminimize sum(zeros(1e7)) + w\n", "eval",
                 env={"DIFFOPT_MAX_MEMORY": "50M"})
    assert result.exit_code == 2 and "the memory budget is 47.7 MiB" in result.stderr
