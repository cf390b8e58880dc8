"""``solve --sensitivity``: derivatives of the optimum with respect to consts, and multipliers.

References are independent of the sensitivity code: central differences of
optima re-solved with ``--set``-style overrides (terrain), and closed forms
of small problems worked out by hand (projection onto a budget line, a
derived const, an active bound).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from diffopt import api
from diffopt.cli import app
from diffopt.sensitivity import sensitivity

ROOT = Path(__file__).resolve().parent.parent
TERRAIN = ROOT / "problems" / "terrain.dop"
CONSTRAINED = ROOT / "problems" / "constrained.dop"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def solved(path, sets=None, tol=1e-12):
    session = api.load(path, sets=sets)
    result = api.solve(session, tol=tol)
    assert result.status == "converged", result.message
    return session, result


def analyzed(path, **options):
    session, result = solved(path)
    return result, sensitivity(session, session.problem.flatten(result.params), **options)


@pytest.mark.parametrize("name", ["v1", "v2", "v3", "h", "d"])
def test_terrain_derivatives_match_central_differences_of_re_solved_optima(name):
    result, found = analyzed(TERRAIN)
    j = found.wrt.index(name)
    value, step = found.values[j], 1e-4 * found.values[j]
    optima = []
    for sign in (1, -1):
        _, moved = solved(TERRAIN, sets={name: value + sign * step})
        optima.append(np.array([moved.params["x1"], moved.params["x2"],
                                moved.objective.value]))
    numeric = (optima[0] - optima[1]) / (2 * step)
    assert found.param_labels == ("x1", "x2")
    np.testing.assert_allclose(found.params[:, j], numeric[:2], rtol=1e-6)
    np.testing.assert_allclose(found.objective[j], numeric[2], rtol=1e-6)


def test_terrain_objective_derivative_is_the_envelope_partial():
    # d t*/d v_i = -t_i / v_i at the optimum (t_i = leg length / v_i)
    result, found = analyzed(TERRAIN, wrt=["v1", "v2", "v3"])
    assert found.wrt == ("v1", "v2", "v3")
    for j, (leg, speed) in enumerate([("t1", 0.7), ("t2", 0.3), ("t3", 0.45)]):
        assert found.objective[j] == pytest.approx(-float(result.lets[leg]) / speed, rel=1e-9)


def test_constrained_multipliers_satisfy_kkt():
    result, found = analyzed(CONSTRAINED)
    x, y = float(result.params["x"]), float(result.params["y"])
    grad_f = np.array([2 * (x - 2), 2 * (y - 1)])  # (x - 2)^2 + (y - 1)^2
    grad_spend = np.array([1.0, 1.0])  # x + y - budget <= 0
    grad_nonnegative = np.array([-1.0, 0.0])  # -x <= 0
    lam = found.multipliers
    assert set(lam) == {"spend", "nonnegative"}
    stationarity = grad_f + lam["spend"] * grad_spend + lam["nonnegative"] * grad_nonnegative
    np.testing.assert_allclose(stationarity, 0.0, atol=1e-7)
    assert lam["spend"] == pytest.approx(1.0, rel=1e-7) and lam["nonnegative"] == 0.0


def test_constrained_derivatives_match_the_closed_form():
    # x* = (wx - wy + b)/2, y* = (wy - wx + b)/2, f* = (wx + wy - b)^2 / 2
    _, found = analyzed(CONSTRAINED)
    assert found.wrt == ("wish_x", "wish_y", "budget")
    np.testing.assert_allclose(found.params, [[0.5, -0.5, 0.5], [-0.5, 0.5, 0.5]], atol=1e-9)
    np.testing.assert_allclose(found.objective, [1.0, 1.0, -1.0], rtol=1e-7)


def test_maximize_reports_the_objective_as_written(tmp_path):
    path = tmp_path / "max.dop"
    path.write_text("const a = 2, b = 1, c = 2\nparam x = 0, y = 0\n"
                    "maximize -(x - a)^2 - (y - b)^2\nsubject to budget: x + y <= c\n")
    _, found = analyzed(path)
    # f* = -(a + b - c)^2 / 2: df*/dc = a + b - c = 1; lambda (of -f) = 1
    np.testing.assert_allclose(found.objective, [-1.0, -1.0, 1.0], rtol=1e-7)
    assert found.multipliers["budget"] == pytest.approx(1.0, rel=1e-7)


def test_a_derived_const_moves_with_the_const_it_comes_from(tmp_path):
    path = tmp_path / "derived.dop"
    path.write_text("const a = 2\nconst b = 3 * a\nparam x = 0\nminimize (x - b)^2 + a * x\n")
    _, found = analyzed(path)
    # x* = b - a/2 and f* = a b - a^2/4; with b = 3a: dx*/da = 2.5, df*/da = 5.5 a
    assert found.wrt == ("a", "b")
    np.testing.assert_allclose(found.params, [[2.5, 1.0]], rtol=1e-9)
    np.testing.assert_allclose(found.objective, [11.0, 2.0], rtol=1e-9)


def test_a_parameter_at_an_active_bound_stays_there(tmp_path):
    path = tmp_path / "bound.dop"
    path.write_text("const c = 1\nparam x in [0, inf] = 1\nminimize (x + c)^2\n")
    _, found = analyzed(path)
    assert found.active_bounds == ("x",)
    np.testing.assert_allclose(found.params, [[0.0]])
    np.testing.assert_allclose(found.objective, [2.0], rtol=1e-9)  # 2 (x* + c)


def test_a_const_needed_as_a_constant_is_skipped_with_the_reason(tmp_path):
    path = tmp_path / "count.dop"
    path.write_text("const N = 3, s = 2\nparam w[N] = 0\n"
                    "minimize sum([(w[i] - s * i)^2 for i in 0..N])\n")
    _, found = analyzed(path)
    assert found.skipped == (("N", "a range bound must be a constant (line 3)"),)
    np.testing.assert_allclose(found.params, [[0.0], [1.0], [2.0]], atol=1e-9)


def test_a_singular_hessian_warns_and_leaves_out_the_parameters(tmp_path):
    path = tmp_path / "valley.dop"
    path.write_text("const c = 1\nparam x = 0, y = 0\nminimize (x + y - c)^2\n")
    result = run("solve", path, "--sensitivity", "--json")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0] == (
        f"{path}:3:10: warning: the Hessian at the optimum is singular (the optimum is not "
        "isolated): the derivatives of the parameters do not exist")
    document = json.loads(result.stdout)["sensitivity"]
    assert document["params"] is None and document["singular"] is True
    assert document["objective"]["c"] == pytest.approx(0.0, abs=1e-7)


def test_cli_table_and_json(tmp_path):
    table = run("solve", TERRAIN, "--wrt", "v2")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    start = lines.index("sensitivity of the optimum")
    assert lines[start + 1].split() == ["const", "value", "d", "objective", "d", "x1", "d", "x2"]
    assert lines[start + 3].split()[:2] == ["v2", "0.3"]
    document = json.loads(run("solve", CONSTRAINED, "--sensitivity", "--json").stdout)
    sens = document["sensitivity"]
    assert sens["wrt"] == ["wish_x", "wish_y", "budget"]
    assert sens["params"]["x"]["budget"] == pytest.approx(0.5)
    assert sens["multipliers"]["spend"] == pytest.approx(1.0, rel=1e-6)
    assert document["status"] == "converged"  # the solve report is unchanged
    assert "sensitivity" not in json.loads(run("solve", TERRAIN, "--json").stdout)


@pytest.mark.parametrize("wrt, message", [
    ("budgt", "diffopt: error: --wrt budgt: no const named 'budgt'"),
    ("x", "diffopt: error: --wrt x: no const named 'x'"),
    ("budget,,wish_x", "diffopt: error: --wrt budget,,wish_x: expected const names separated "
                       "by commas"),
])
def test_bad_wrt_is_a_usage_error(wrt, message):
    result = run("solve", CONSTRAINED, "--wrt", wrt)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == message


def test_a_surrogate_derivative_is_named_in_a_warning():
    result = run("solve", ROOT / "problems" / "ste.dop", "--sensitivity", "--json")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0].endswith(
        "warning: ste_round has a surrogate derivative by design: the sensitivities follow "
        "it, not the true dependence of the optimum")
    assert result.stderr.startswith(str(ROOT / "problems" / "ste.dop") + ":")


def test_a_large_const_is_included_only_when_named(tmp_path):
    path = tmp_path / "large.dop"
    path.write_text("const big = [i / 20000 for i in 0..20001], c = 2\nparam x = 0\n"
                    "minimize (x - c * mean(big))^2\n")
    _, found = analyzed(path)
    assert found.wrt == ("c",)
    assert found.skipped == (("big", "20001 entries are too many to include by default; "
                                     "name it with --wrt"),)
    np.testing.assert_allclose(found.params, [[0.5]], rtol=1e-9)  # x* = c * mean(big)
    _, named = analyzed(path, wrt=["big"])
    assert len(named.wrt) == 20001 and not named.skipped
    np.testing.assert_allclose(named.params[0, :3], 2 / 20001, rtol=1e-9)


def test_the_table_keeps_to_the_terminal_width(tmp_path):
    path = tmp_path / "wide.dop"
    path.write_text("const c = 2, k = 0.1\nparam x[20] = 0\n"
                    "minimize sum((x - c)^2) + k * sum(x^4) + k * sum(x)^2\n")
    lines = run("solve", path, "--sensitivity").stdout.splitlines()
    table = lines[lines.index("sensitivity of the optimum") + 1:]
    assert all(len(line) <= 80 for line in table)
    assert table[3].split()[:2] == ["k", "0.1"]  # never cropped to "0."
    assert table[4].startswith("  … derivatives of ") and table[4].endswith(
        " more parameters in --json")


def test_dependent_active_constraints_are_named(tmp_path):
    path = tmp_path / "twice.dop"
    path.write_text("const c = 1\nparam x = 0, y = 0\nminimize (x - c)^2 + y^2\n"
                    "subject to a: x + y == 1\nsubject to b: 2 * x + 2 * y == 2\n")
    result = run("solve", path, "--sensitivity", "--json")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0] == (
        f"{path}:3:10: warning: the gradients of the active constraints are linearly "
        "dependent at the optimum (a, b): the multipliers are not unique and the derivatives "
        "of the parameters do not exist")
    assert json.loads(result.stdout)["sensitivity"]["params"] is None


def test_multipliers_without_any_const(tmp_path):
    path = tmp_path / "plain.dop"
    path.write_text("param x = 0, y = 0\nminimize (x - 2)^2 + (y - 1)^2\n"
                    "subject to spend: x + y <= 2\n")
    _, found = analyzed(path)
    assert found.wrt == () and found.params.shape == (2, 0) and not found.warnings
    assert found.multipliers["spend"] == pytest.approx(1.0, rel=1e-7)
    lines = run("solve", path, "--sensitivity").stdout.splitlines()
    start = lines.index("sensitivity of the optimum")
    assert lines[start + 1] == "  the problem has no consts"
