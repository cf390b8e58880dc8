"""Degenerate root/argmin solutions are warned about (never silently returned).

Each warning is checked word for word, with its place (the call), in the
JSON of eval, solve and check and on standard error. Numbers in the
messages are recomputed here from the closed form of each g.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from diffopt import api
from diffopt.cli import app

runner = CliRunner()


def write(tmp_path, text: str):
    path = tmp_path / "i.dop"
    path.write_text(text)
    return path


def warnings_of(path, command: str = "eval", *args: str) -> list:
    result = runner.invoke(app, [command, str(path), "--json", *args])
    return json.loads(result.stdout)["warnings"]


def test_root_at_a_triple_root_warns_that_it_is_nearly_singular(tmp_path):
    # x^3 = p at p = 0: Newton creeps to x = 8.9e-5 (|g| < 1e-12), where
    # dg/dx = 3x^2 = 2.4e-8 and the slope dc/dp = 1/(3c^2) is 4.2e7
    path = write(tmp_path, "param p = 0\nlet c = root(x: x^3 - p, init = 1)\n"
                           "minimize (c - 1)^2\n")
    session = api.load(path)
    c = float(api.evaluate(session).lets["c"])
    assert 0 < c < 1e-4 and abs(c**3) <= 1e-12
    slope = 3 * c**2
    message = (f"root: ∂g/∂x is nearly singular at x = {c:.6g} (∂g/∂x = {slope:.3g}): x is "
               f"pinned down only to about ±{1e-12 / slope:.2g} by |g| <= 1e-12, and its "
               "derivative (through the inverse) is unreliable")
    expected = [{"message": message, "file": str(path), "line": 2, "col": 9}]
    assert warnings_of(path) == expected
    assert warnings_of(path, "check") == expected
    assert warnings_of(path, "grad") == expected
    result = runner.invoke(app, ["eval", str(path)])
    assert f"{path}:2:9: warning: {message}" in result.stderr


def test_a_well_posed_root_has_no_warning(tmp_path):
    path = write(tmp_path, "param p = 8\nlet c = root(x: x^3 - p, init = 1)\nminimize (c - 1)^2\n")
    assert warnings_of(path) == []


def test_argmin_at_an_inflection_warns_that_it_is_not_a_minimum(tmp_path):
    # f = (x^3 - 8)^2 from init = 1: Newton on f' = 6x^2 (x^3 - 8) goes to the
    # inflection at 0, not to the minimum at 2
    path = write(tmp_path, "param q = 1\nlet m = argmin(x: (x^3 - 8)^2 * q, init = 1)\n"
                           "minimize m^2\n")
    m = float(api.evaluate(api.load(path)).lets["m"])
    assert abs(m) < 1e-6
    second = 30 * m**4 - 96 * m  # f''
    assert second < 0
    message = (f"argmin: x = {m:.6g} is a stationary point of f but not a minimum: "
               f"f'' = {second:.3g} < 0 there (a maximum or an inflection); start nearer a "
               "minimum with init=")
    assert warnings_of(path) == [{"message": message, "file": str(path), "line": 2, "col": 9}]
    result = runner.invoke(app, ["solve", str(path), "--json"])
    assert json.loads(result.stdout)["warnings"][0]["message"] == message


def test_argmin_at_a_saddle_and_at_a_maximum(tmp_path):
    # f = x0^2 - x1^2 has a saddle at 0 (Hessian eigenvalues 2, -2): Newton
    # on the linear gradient lands there in one step
    path = write(tmp_path, "param a = 1\nlet s = argmin(x: a * (x[0]^2 - x[1]^2), init = [1, 1])"
                           "\nminimize sum(s^2) + a^2\n")
    assert warnings_of(path) == [{
        "message": "argmin: x = [0. 0.] is a stationary point of f but not a minimum: its "
                   "Hessian has a negative eigenvalue, -2 (a saddle point); start nearer a "
                   "minimum with init=",
        "file": str(path), "line": 2, "col": 9}]
    path = write(tmp_path, "param a = 1\nlet s = argmin(x: -(x - a)^2, init = 3)\n"
                           "minimize s^2\n")
    assert warnings_of(path) == [{
        "message": "argmin: x = 1 is a stationary point of f but not a minimum: f'' = -2 < 0 "
                   "there (a maximum or an inflection); start nearer a minimum with init=",
        "file": str(path), "line": 2, "col": 9}]


def test_a_solve_stopped_short_of_its_tolerance(tmp_path):
    # g = 1e20 (x^2 - 2): at the float nearest sqrt(2), |g| is 1e20 times a
    # rounding error, far above tol = 1e-12, and no float does better
    path = write(tmp_path, "param a = 2\nlet r = root(x: 1e20 * (x^2 - a), init = 1)\n"
                           "minimize (r - 1)^2\n")
    r = float(api.evaluate(api.load(path)).lets["r"])
    assert r == pytest.approx(np.sqrt(2), rel=1e-15)
    g = abs(1e20 * (r * r - 2))
    assert g > 1e-12
    assert warnings_of(path) == [{
        "message": f"root stopped short of its tolerance: |g| = {g:.3g} > tol = 1e-12 at "
                   f"x = {r:.6g}",
        "file": str(path), "line": 2, "col": 9}]


def test_a_constant_implicit_value_is_judged_when_loaded(tmp_path):
    # no parameter inside: the value is computed once, while checking
    path = write(tmp_path, "let c = root(x: x^3, init = 1)\nparam p = 1\nminimize (p - c)^2\n")
    (found,) = warnings_of(path)
    assert found["message"].startswith("root: ∂g/∂x is nearly singular at x = ")
    assert (found["line"], found["col"]) == (1, 9)
