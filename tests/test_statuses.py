"""Each status word on a problem built to reach it, and the tests behind ``converged``.

The words and their tests are defined in diffopt/solve/stopping.py and
man/diffopt-solve.1: converged, stalled, diverged, max_iter, failed (and
interrupted, tested in test_solvers.py and test_signals.py). A converged
verdict needs a documented test to hold at the returned point, never a
NaN, and never a gradient large against the objective's scale; the last
test here checks that over every problem the repository ships.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from diffopt import api
from diffopt.solve.loop import minimize
from diffopt.solve.oracle import Oracle

REPO = Path(__file__).resolve().parents[1]


def smooth(f, g, n=1, **extra) -> Oracle:
    return Oracle(n, lambda x: f(x), lambda x: (f(x), g(x)), **extra)


def test_converged_by_the_relative_gradient_when_the_objective_is_large():
    # f = 1e12 (1 + (x - 3)^2): an absolute 1e-8 on g = 2e12 (x - 3) asks for x to
    # 5e-21, below float64's spacing at 3; relative to f it is an ordinary test.
    oracle = smooth(lambda x: 1e12 * (1 + (x[0] - 3) ** 2), lambda x: np.array([2e12 * (x[0] - 3)]))
    out = minimize(oracle, np.array([0.0]), method="lbfgs")
    assert out.status == "converged", out.message
    assert out.message.startswith("relative gradient")
    assert out.x[0] == pytest.approx(3.0, abs=1e-8)


def test_stalled_at_a_kink_says_why_and_is_not_converged():
    # |x - 1| has no gradient test that holds: at the kink the line search fails.
    oracle = smooth(lambda x: abs(x[0] - 1.0) + 0.0, lambda x: np.array([np.sign(x[0] - 1.0)]))
    out = minimize(oracle, np.array([0.3]), method="lbfgs")
    assert out.status == "stalled", out.message
    assert out.x[0] == pytest.approx(1.0, abs=1e-6)
    assert out.message == ("no step along the search direction reduced the objective; "
                           "relative gradient 1")


def test_diverged_when_the_objective_is_unbounded_below():
    out = minimize(smooth(lambda x: -x[0], lambda x: np.array([-1.0])), np.array([0.0]),
                   method="lbfgs")  # fmt: skip
    assert out.status == "diverged", out.message
    assert "unbounded below" in out.message


def test_diverged_names_the_parameter_that_ran_off():
    # gd with a huge fixed step on f = -x: x passes 1e10 before the limit.
    oracle = smooth(lambda x: -x[0], lambda x: np.array([-1.0]), labels=("speed",))
    out = minimize(oracle, np.array([1.0]), method="gd", lr=1e9, max_iter=20)
    assert out.status == "diverged", out.message
    assert "parameter 'speed' ran off to 2e+10 (from 1)" in out.message


def test_max_iter_when_the_budget_ends_first():
    rosen = lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    grad = lambda x: np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2),
                               200 * (x[1] - x[0] ** 2)])  # fmt: skip
    out = minimize(smooth(rosen, grad, n=2), np.array([-1.2, 1.0]), method="bfgs", max_iter=3)
    assert out.status == "max_iter" and "iteration limit (3)" in out.message


def test_lm_budget_counts_evaluations():
    # lm's limit is 200 (n + 1) trial evaluations of the residuals, not iterations.
    def res(x):
        return np.array([10 * (x[1] - x[0] ** 2), 1 - x[0]])

    def jac(x):
        return res(x), np.array([[-20 * x[0], 10.0], [-1.0, 0.0]])

    f = lambda x: float(res(x) @ res(x))
    oracle = Oracle(2, f, lambda x: (f(x), 2 * jac(x)[1].T @ res(x)), residuals=res, jacobian=jac)
    out = minimize(oracle, np.array([-1.2, 1.0]), method="lm", max_iter=4)
    assert out.status == "max_iter" and "evaluation limit (4)" in out.message
    assert out.evaluations["objective"] - out.evaluations["gradient"] == 4  # one per trial
    full = minimize(oracle, np.array([-1.2, 1.0]), method="lm")
    assert full.status == "converged", full.message
    np.testing.assert_allclose(full.x, [1.0, 1.0], atol=1e-10)


def test_failed_when_the_start_is_not_finite():
    out = minimize(smooth(lambda x: float(np.log(x[0])), lambda x: 1 / x), np.array([-1.0]),
                   method="lbfgs")  # fmt: skip
    assert out.status == "failed"


def test_huge_data_are_no_excuse_for_converged():
    # Data of 1e150 make f ~ 1e300: the relative gradient at the start is 5e-150,
    # yet the fit is far off. The least-squares guard (cosine, Gauss-Newton step)
    # holds every method to the fit; lm reaches it.
    source = ("data x = [1.0, 2.0, 3.0, 4.0]\ndata y = [1e150, 2.0, 3.0, 1e150]\n"
              "param a = 1, b = 0\nlet r = a * x + b - y\nminimize sum(r^2)\n")
    results = {m: _solve_text(source, m) for m in ("lm", "lbfgs", "newton")}
    lm = results["lm"]
    assert lm["status"] == "converged", lm["message"]
    assert lm["params"]["b"] == pytest.approx(5e149, rel=1e-12)
    for method in ("lbfgs", "newton"):
        document = results[method]
        assert document["status"] != "converged" or abs(document["params"]["b"]) > 1e149


def _solve_text(source: str, method: str) -> dict:
    command = [sys.executable, "-m", "diffopt", "solve", "-", "--json", "--method", method]
    done = subprocess.run(command, input=source, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == (0 if json.loads(done.stdout)["status"] == "converged" else 1)
    return json.loads(done.stdout)


def test_stalled_and_diverged_exit_with_status_1():
    done = subprocess.run([sys.executable, "-m", "diffopt", "solve", "tests/fits/boxbod-1.dop",
                           "--json"], capture_output=True, text=True, cwd=REPO)  # fmt: skip
    assert json.loads(done.stdout)["status"] == "diverged"
    assert done.returncode == 1


def _shipped() -> list[Path]:
    fits = sorted((REPO / "tests" / "fits").glob("*.dop"))
    return sorted((REPO / "problems").glob("*.dop")) + fits


@pytest.mark.parametrize("path", _shipped(), ids=lambda p: p.name)
def test_no_converged_with_nan_or_a_large_scaled_gradient(path):
    # Every shipped problem, default settings: a converged result has a finite objective
    # and a scaled gradient (numpy, from the API's gradient) below sqrt(tol) = 1e-4.
    session = api.load(str(path))
    result = api.solve(session)
    if result.status != "converged":
        return
    assert math.isfinite(result.objective.value)
    assert math.isfinite(result.gradient_norm) or result.method == "nelder-mead"
    oracle = session.oracle()
    if oracle.jacobian is None or oracle.has_bounds:
        return
    x = session.problem.flatten(result.params)
    r, jac = oracle.jacobian(x)
    r, jac = np.asarray(r, float), np.asarray(jac, float).reshape(np.size(r), x.size)
    norms = np.linalg.norm(jac, axis=0)
    live = norms > 0
    rnorm = np.linalg.norm(r)
    cosine = np.max(np.abs(jac[:, live].T @ r) / (norms[live] * rnorm)) if rnorm else 0.0
    step = np.linalg.lstsq(jac, -r, rcond=None)[0]
    typical = np.maximum(np.abs(x), np.abs(session.problem.start_point()))
    relative_step = np.linalg.norm(norms * step) / np.linalg.norm(norms * typical)
    assert min(cosine, relative_step) <= 1e-4, (cosine, relative_step)
