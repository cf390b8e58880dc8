"""The one pass from AST to IR: checking and recording are one run of the program.

What it must keep from the two-pass design: a branch not taken at the start
is still checked (shapes, names of columns, ...); and what it must add: no
second interpretation, loops that break early are not run to their bound,
and implicit functions' derivative rules never run the AST interpreter.
"""

from __future__ import annotations

import numpy as np
import pytest

from diffopt import api
from diffopt.check import runner
from diffopt.check.machine import Machine
from diffopt.errors import ShapeError
from diffopt.ir.subprogram import SubProgram


def load(tmp_path, text: str, **kw):
    path = tmp_path / "p.dop"
    path.write_text(text)
    return api.load(path, **kw)


def test_loading_runs_the_program_once(tmp_path, monkeypatch):
    runs = []
    original = runner.Runner.run
    monkeypatch.setattr(runner.Runner, "run", lambda self: runs.append(1) or original(self))
    session = load(tmp_path, "param x = 1\nvar y = 0\nif x > 0 { y = x^2 }\nminimize (y - 2)^2\n")
    assert len(runs) == 1
    session.value_and_grad(session.problem.start_point())
    assert len(runs) == 1  # the checking pass's recording is the first trace


@pytest.mark.parametrize("text, line, col", [
    # statement branch not taken at the start (x = 1 > 0)
    ("param x = 1\nvar y = 0\nif x < 0 { y = [1, 2] }\nminimize y^2\n", 3, 16),
    # expression branch not taken at the start
    ("param x = 1\nminimize if x > 0 then x^2 else sum([x, x] + [1, 2, 3])\n", 2, 37),
])
def test_a_branch_not_taken_at_the_start_is_still_checked(tmp_path, text, line, col):
    with pytest.raises(ShapeError) as caught:
        load(tmp_path, text)
    assert (caught.value.span.line, caught.value.span.col) == (line, col)


def test_exploring_a_branch_not_taken_changes_nothing(tmp_path):
    # the untaken branch assigns y and draws a random number: neither may
    # leak into the traced program (y stays 0; s is the run's first draw)
    session = load(tmp_path, "param x = 1\nvar y = 0\n"
                             "if x < 0 { y = normal(0, 1) + 100 }\n"
                             "let s = normal(0, 1)\nminimize (x - s)^2 + y^2\n")
    first_draw = np.random.default_rng([0, 0]).normal(0, 1)  # ops.random's keying
    result = api.evaluate(session)
    assert float(result.lets["y"]) == 0.0
    assert float(result.lets["s"]) == first_draw
    assert result.objective.value == (1 - first_draw) ** 2
    # after the branch flips (a re-trace takes it) and back, the same draw
    f, _ = session.value_and_grad(np.array([-2.0]))
    assert session.traces == 2
    assert np.isfinite(f)
    assert float(api.evaluate(session).lets["s"]) == first_draw


def test_a_loop_that_breaks_early_is_not_run_to_its_bound(tmp_path):
    session = load(tmp_path, "param x = 1\nvar s = 0\n"
                             "for i in 0..1000000000 { s += x\n if s > 5 { break } }\n"
                             "minimize s^2\n")
    tape = session.recording.tape
    assert len(tape.guards) == 6  # the condition was decided 6 times
    assert len(tape.eqns) < 100
    assert api.evaluate(session).objective.value == 36.0


def test_implicit_rules_run_the_sub_tape_not_the_interpreter(tmp_path, monkeypatch):
    session = load(tmp_path, "param p = 8\nlet c = root(x: x^3 - p, init=1)\n"
                             "minimize (c - 1)^2 + argmin(x: (x - p)^2, init=0)\n")
    subs = [e.params["sub"] for e in session.recording.tape.eqns if e.prim.name == "implicit"]
    assert len(subs) == 2 and all(isinstance(s, SubProgram) for s in subs)

    def refuse(*args, **kwargs):
        raise AssertionError("the AST interpreter ran")

    monkeypatch.setattr(Machine, "eval", refuse)
    for p in (8.0, 27.0, 2.0):
        f, g = session.value_and_grad(np.array([p]))
        c = np.cbrt(p)
        # f = (p^(1/3) - 1)^2 + p: df/dp = 2 (c - 1) / (3 c^2) + 1
        assert f == pytest.approx((c - 1) ** 2 + p, rel=1e-12)
        assert g[0] == pytest.approx(2 * (c - 1) / (3 * c * c) + 1, rel=1e-9)
        H = session.hessian(np.array([p]))
        # d²f/dp² = 2/(9c⁴) − 4(c − 1)/(9c⁵)
        assert H[0, 0] == pytest.approx(2 / (9 * c**4) - 4 * (c - 1) / (9 * c**5), rel=1e-7)
    assert session.traces == 1


def test_a_root_inside_a_root_differentiates_in_both_modes(tmp_path):
    # y* = sqrt(p x + 1) (y^2 = p x + 1 from y = 1), x*^3 = y*: x*^6 = p x* + 1,
    # so dx*/dp = x* / (6 x*^5 - p) by implicit differentiation of that
    session = load(tmp_path, "param p = 2\n"
                             "minimize root(x: x^3 - root(y: y^2 - p*x - 1, init=1), init=1)\n")
    p = 2.0
    x = np.array([1.2])
    for _ in range(60):  # Newton on x^6 - p x - 1, independently of diffopt
        x = x - (x**6 - p * x - 1) / (6 * x**5 - p)
    f, reverse = session.value_and_grad(np.array([p]))
    _, forward = session.gradient_forward(np.array([p]))
    assert f == pytest.approx(x[0], rel=1e-12)
    expected = x[0] / (6 * x[0] ** 5 - p)
    assert reverse[0] == pytest.approx(expected, rel=1e-10)
    assert forward[0] == pytest.approx(expected, rel=1e-10)


def test_an_implicit_body_reading_a_value_and_its_source_counts_each_path_once(tmp_path):
    # x* = p + q with q = p^2: dx*/dp = 1 + 2p (not 1 + 4p)
    session = load(tmp_path, "param p = 2\nlet q = p^2\nminimize root(x: x - p - q, init=0)\n")
    f, g = session.value_and_grad(np.array([2.0]))
    _, forward = session.gradient_forward(np.array([2.0]))
    assert f == pytest.approx(6.0) and g[0] == pytest.approx(5.0) and forward[0] == 5.0
