"""Loop exits: `break when` (the exit interpolated and differentiated), the
warnings about exits that move with the parameters, and check's staircases.

References are NumPy re-implementations of the programs (and scipy for the
optimum), never diffopt itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from diffopt import api
from diffopt.cli import app

LOOPS = Path(__file__).parent / "loops"
WRITEUP = LOOPS / "projectile_break.dop"  # the write-up's plain `break`
INTERPOLATED = LOOPS / "projectile_break_when.dop"
V0, G, DT, TARGET, STEPS = 15.0, 9.81, 0.01, 10.0, 200
runner = CliRunner()

EXIT_MOVES = ("the exit step of this loop depends on the parameters (its 'break' at 14:27 is "
              "under a condition on them): the objective is piecewise in that step and the "
              "derivative ignores the jumps; 'break when <comparison>' interpolates the "
              "crossing instead")
RAN_OUT = ("this loop ran all its 200 steps without its 'break' at 14:27 firing: its vars are "
           "where the steps ran out, not where the exit condition was met")


def landing(angle: float, interpolate: bool) -> float:
    """px where the write-up's loop leaves off: at the step below ground (plain
    break, after step 5) or interpolated where py crosses 0 (break when)."""
    vx, vy = V0 * np.cos(angle), V0 * np.sin(angle)
    px = py = 0.0
    for t in range(STEPS):
        px_before, py_before = px, py
        px, py, vy = px + vx * DT, py + vy * DT, vy - G * DT
        if interpolate and py < 0:
            fraction = py_before / (py_before - py)
            return px_before + fraction * (px - px_before)
        if not interpolate and py < 0 and t > 5:
            return px
    return px


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "l.dop"
    path.write_text(text)
    return path


# ------------------------------------------------------------------ break when


def test_break_when_interpolates_every_var_and_differentiates_the_fraction(tmp_path):
    # y falls by 0.3 a per step and crosses 0 at t = 1 / (0.3 a): t^2 and its
    # derivative -2 t^2 / a, exactly, though the loop runs whole steps
    path = write(tmp_path, "param a = 1.1\nvar y = 1, t = 0\nfor i in 0..10 {\n"
                 "    y = y - a * 0.3\n    t = t + 1\n    break when y < 0\n}\nminimize t^2\n")
    session = api.load(path)
    t = 1 / (0.3 * 1.1)
    for mode in ("reverse", "forward"):
        result = api.gradient(session, mode=mode)
        assert result.objective.value == pytest.approx(t**2, rel=1e-12)
        assert float(result.gradient["a"]) == pytest.approx(-2 * t**2 / 1.1, rel=1e-10)
    assert float(api.evaluate(session).lets["y"]) == pytest.approx(0.0, abs=1e-12)


def test_the_compiled_program_rechecks_the_exit_step():
    session = api.load(INTERPOLATED)
    first = session.value(np.array([0.5]))
    traces = session.traces
    assert session.value(np.array([0.5 + 1e-9])) == pytest.approx(first, rel=1e-6)
    assert session.traces == traces  # same exit step: the compiled program is reused
    for angle in (0.3, 0.45):  # the exit comes at other steps: recorded again
        value = session.value(np.array([angle]))
        assert value == pytest.approx((landing(angle, True) - TARGET) ** 2, rel=1e-12)
    assert session.traces == traces + 2


def test_writeup_projectile_with_break_when_lands_at_the_true_optimum():
    from scipy.optimize import brentq, minimize_scalar

    exact = brentq(lambda a: landing(a, True) - TARGET, 0.01, 0.6, xtol=1e-14)
    bounded = minimize_scalar(lambda a: (landing(a, True) - TARGET) ** 2, bounds=(0.01, 0.6),
                              method="bounded", options={"xatol": 1e-10})
    assert bounded.x == pytest.approx(exact, abs=1e-7)
    result = run("solve", INTERPOLATED, "--json")
    document = json.loads(result.stdout)
    assert result.exit_code == 0 and document["status"] == "converged"
    assert document["params"]["angle"] == pytest.approx(exact, abs=1e-9)
    assert document["params"]["angle"] == pytest.approx(0.2220479473, abs=1e-9)
    assert document["warnings"] == []
    # the derivative sees the exit move: it matches the reference's secant
    h = 1e-7
    secant = ((landing(0.5 + h, True) - TARGET) ** 2
              - (landing(0.5 - h, True) - TARGET) ** 2) / (2 * h)
    grad = api.gradient(api.load(INTERPOLATED))
    assert float(grad.gradient["angle"]) == pytest.approx(secant, rel=1e-5)
    checked = run("check", INTERPOLATED, "--json")
    assert checked.exit_code == 0, checked.stdout
    assert json.loads(checked.stdout)["warnings"] == []


def test_writeup_projectile_with_plain_break_warns_naming_the_loop():
    result = run("solve", WRITEUP, "--json")
    document = json.loads(result.stdout)
    # it "converges" where the ball never lands (the loop ran out of steps)
    assert document["params"]["angle"] == pytest.approx(1.2309594173, abs=1e-6)
    assert landing(document["params"]["angle"], False) == pytest.approx(TARGET, abs=1e-6)
    where = {"file": str(WRITEUP), "line": 10, "col": 1}
    assert document["warnings"] == [{"message": EXIT_MOVES, **where},
                                    {"message": RAN_OUT, **where}]
    assert f"{WRITEUP}:10:1: warning: {EXIT_MOVES}" in result.stderr
    assert f"{WRITEUP}:10:1: warning: {RAN_OUT}" in result.stderr


def test_check_fails_on_the_writeup_staircase_with_the_explanation():
    result = run("check", WRITEUP, "--json", "--at", "angle=0.5")
    assert result.exit_code == 1  # cli.md: the check found a mismatch
    document = json.loads(result.stdout)
    assert document["passed"] is False
    point = document["points"][0]
    assert point["entries"][0]["reverse"] == pytest.approx(-201.8456, abs=1e-3)
    explanation = point["staircase"]
    assert explanation.startswith("staircase: the objective jumps by ")
    assert f"where the branch decision at {WRITEUP}:14:8 flips" in explanation
    assert "the derivative -201.846 follows the path taken and ignores such jumps" in explanation
    assert explanation in point["notes"]
    # the jump is a whole step of the ball: v0 cos(a) dt in px, times 2 (px - target)
    jump = float(explanation.split("jumps by ")[1].split()[0])
    px = landing(0.5, False)
    assert jump == pytest.approx(2 * (px - TARGET) * V0 * np.cos(0.5) * DT, rel=0.1)
    # the trend the secants give is that of the reference's wide secants
    trend = ((landing(0.53, False) - TARGET) ** 2 - (landing(0.47, False) - TARGET) ** 2) / 0.06
    assert f"give {trend:.4g}" in explanation or f"to {trend:.4g}" in explanation
    assert document["warnings"][0]["message"] == EXIT_MOVES
    shown = run("check", WRITEUP, "--at", "angle=0.5")
    assert shown.exit_code == 1 and "staircase: the objective jumps" in shown.stdout


def test_a_kink_at_a_flip_is_not_a_staircase(tmp_path):
    # continuous, slope 1 then 3: secants disagree with the derivative, but nothing jumps
    path = write(tmp_path, "param x = 0.999\nminimize if x < 1 then x else 3 * x - 2\n")
    result = run("check", path, "--json")
    assert result.exit_code == 0, result.stdout
    assert "staircase" not in json.loads(result.stdout)["points"][0]


def test_break_when_that_never_fires_is_reported():
    result = run("eval", INTERPOLATED, "--json", "--at", '{"angle": 1.3}')
    document = json.loads(result.stdout)
    assert document["objective"] == pytest.approx((landing(1.3, True) - TARGET) ** 2)
    assert document["warnings"] == [{
        "message": "this loop ran all its 200 steps without its 'break when' at 14:5 firing: "
                   "its vars are where the steps ran out, not where the exit condition was met",
        "file": str(INTERPOLATED), "line": 10, "col": 1}]


def test_break_when_already_true_at_the_start(tmp_path):
    path = write(tmp_path, "param a = 1\nvar y = -1\nfor i in 0..5 {\n    y = y - a\n"
                 "    break when y < 0\n}\nminimize y^2\n")
    document = json.loads(run("eval", path, "--json").stdout)
    assert document["lets"]["y"] == -2.0  # one step, not interpolated
    assert document["warnings"] == [{
        "message": "the condition of 'break when' already holds where the loop starts: there "
                   "is no crossing to interpolate, the loop ends after its first step",
        "file": str(path), "line": 5, "col": 5}]


def test_break_when_with_vectors_and_inside_a_branch_not_taken(tmp_path):
    # a vector var is interpolated elementwise; the loop in the untaken branch
    # is only shape-checked and changes nothing
    path = write(tmp_path, "param v = 2\nvar p = [0, 0], h = 1\nif v > 5 {\n"
                 "    for i in 0..9 {\n        h = h - 1\n        break when h < 0\n    }\n}\n"
                 "for i in 0..100 {\n    p = p + [v, 1] * 0.1\n    h = h - v * 0.1\n"
                 "    break when h < 0\n}\nminimize sum(p)\n")
    result = api.gradient(api.load(path))
    # h crosses 0 at time 1 / v: p = [v, 1] / v = [1, 1 / v]
    assert result.objective.value == pytest.approx(1 + 1 / 2, rel=1e-12)
    assert float(result.gradient["v"]) == pytest.approx(-1 / 4, rel=1e-10)


def test_break_when_is_formatted_and_parsed_back(tmp_path):
    path = write(tmp_path, "param a = 1\nvar y = 1\nfor i in 0..10 {\n    y = y - a\n"
                 "    break when y<=0\n}\nminimize y^2\n")
    original, formatted = api.format_source(str(path))
    assert "    break when y <= 0\n" in formatted
    assert original != formatted
