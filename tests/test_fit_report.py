"""The fit report against independent references: scipy's curve_fit, closed
forms, brute-force profile scans, and the exact words for what does not apply.

scipy (the ``test`` extra) computes the references; diffopt never checks itself.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import diffopt
from diffopt import api
from diffopt.cli import app

scipy_optimize = pytest.importorskip("scipy.optimize")

ROOT = Path(__file__).resolve().parent.parent
PROBLEMS = ROOT / "problems"
runner = CliRunner()
TIGHT = dict(ftol=1e-15, xtol=1e-15, gtol=1e-15, maxfev=10000)


def solve_file(path, **options):
    return api.solve(api.load(path), **options)


def solve_text(tmp_path, text: str, name: str = "fit.dop", **options):
    path = tmp_path / name
    path.write_text(text)
    return solve_file(path, **options)


def inline(name: str, values) -> str:
    return f"data {name} = {json.dumps(np.asarray(values, dtype=float).tolist())}\n"


# ------------------------------------------------------------ against curve_fit


def test_taxi_stderr_and_covariance_agree_with_curve_fit_to_8_digits():
    table = np.genfromtxt(PROBLEMS / "taxi_trips.csv", delimiter=",", names=True)
    d, t = table["distance_km"], table["duration_min"]

    def model(d, v):
        return 60 * d / v

    def jacobian(d, v):
        return (-60 * d / v**2)[:, None]

    popt, pcov = scipy_optimize.curve_fit(model, d, t, p0=[20.0], jac=jacobian, **TIGHT)
    fit = solve_file(PROBLEMS / "taxi.dop")
    assert fit.params["speed"] == pytest.approx(popt[0], rel=1e-10)
    assert fit.fit.stderr["speed"] == pytest.approx(math.sqrt(pcov[0, 0]), rel=1e-8)
    np.testing.assert_allclose(fit.fit.covariance, pcov, rtol=1e-8)


def test_polyfit_stderr_and_covariance_agree_with_curve_fit_to_8_digits():
    xs = np.array([-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    ys = np.array([8.2, 6.14, 4.218, 2.683, 1.864, 1.153, 1.318, 1.952, 2.052, 3.064])

    def model(x, a, b, c):
        return a * x**2 + b * x + c

    def jacobian(x, a, b, c):
        return np.column_stack([x**2, x, np.ones_like(x)])

    popt, pcov = scipy_optimize.curve_fit(model, xs, ys, p0=[0, 0, 0], jac=jacobian, **TIGHT)
    fit = solve_file(PROBLEMS / "polyfit.dop").fit
    got = np.array([fit.stderr[name] for name in "abc"])
    np.testing.assert_allclose(got, np.sqrt(np.diag(pcov)), rtol=1e-8)
    np.testing.assert_allclose(fit.covariance, pcov, rtol=1e-8, atol=1e-8 * np.abs(pcov).max())
    assert fit.labels == ("a", "b", "c")


T = np.arange(6.0)
Y = np.array([10.2, 6.1, 3.6, 2.3, 1.2, 0.8])
DY = np.array([0.5, 0.4, 0.3, 0.2, 0.1, 0.1])
DECAY = "param A = 10, k = 0.5\nlet residual = A * exp(-k * t) - y\n"


def decay(t, A, k):
    return A * np.exp(-k * t)


def decay_jacobian(t, A, k):
    return np.column_stack([np.exp(-k * t), -A * t * np.exp(-k * t)])


def test_weighted_fit_agrees_with_curve_fit_with_absolute_sigma(tmp_path):
    popt, pcov = scipy_optimize.curve_fit(decay, T, Y, p0=[10, 0.5], sigma=DY,
                                          absolute_sigma=True, jac=decay_jacobian, **TIGHT)
    text = (inline("t", T) + inline("y", Y) + inline("dy", DY) + DECAY
            + "minimize sumsq(residual)\noption sigma = dy\n")
    result = solve_text(tmp_path, text)
    np.testing.assert_allclose([result.params["A"], result.params["k"]], popt, rtol=1e-9)
    np.testing.assert_allclose(result.fit.covariance, pcov, rtol=1e-7)
    chi2 = float(np.sum(((decay(T, *popt) - Y) / DY) ** 2))
    assert result.fit.chi2 == pytest.approx(chi2, rel=1e-9)
    assert result.objective.value == pytest.approx(chi2, rel=1e-9)  # the weighted objective
    assert result.fit.absolute_sigma and result.fit.reduced_chi2 == pytest.approx(chi2 / 4)
    # the relative-sigma covariance is a different number: absolute semantics are in force
    _, relative = scipy_optimize.curve_fit(decay, T, Y, p0=[10, 0.5], sigma=DY,
                                           jac=decay_jacobian, **TIGHT)
    assert not np.allclose(result.fit.covariance, relative, rtol=1e-3)


def test_weighted_mean_objective_keeps_its_constant_and_the_same_fit(tmp_path):
    text = (inline("t", T) + inline("y", Y) + inline("dy", DY) + DECAY
            + "minimize mean(residual^2)\noption sigma = dy\n")
    result = solve_text(tmp_path, text)
    popt, _ = scipy_optimize.curve_fit(decay, T, Y, p0=[10, 0.5], sigma=DY,
                                       jac=decay_jacobian, **TIGHT)
    chi2 = float(np.sum(((decay(T, *popt) - Y) / DY) ** 2))
    assert result.objective.value == pytest.approx(chi2 / 6, rel=1e-9)
    assert result.fit.chi2 == pytest.approx(chi2, rel=1e-9)


def test_absolute_sigma_gives_errors_without_degrees_of_freedom(tmp_path):
    # two points, two parameters: a line through both; errors from sigma alone
    text = ("data x = [0, 2]\ndata y = [1, 5]\nparam a = 0, b = 0\n"
            "minimize sumsq(a + b * x - y)\noption sigma = [0.5, 0.5]\n")
    fit = solve_text(tmp_path, text).fit
    X = np.array([[1.0, 0.0], [1.0, 2.0]]) / 0.5
    reference = np.linalg.inv(X.T @ X)
    assert fit.dof == 0 and fit.reduced_chi2 is None and fit.applies
    np.testing.assert_allclose(fit.covariance, reference, rtol=1e-12)


# ------------------------------------------------------------ goodness of fit


def test_chi2_aic_bic_and_r_squared_follow_lmfit_definitions():
    xs = np.array([-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    ys = np.array([8.2, 6.14, 4.218, 2.683, 1.864, 1.153, 1.318, 1.952, 2.052, 3.064])
    coefficients = np.polyfit(xs, ys, 2)
    resid = np.polyval(coefficients, xs) - ys
    chi2, m, p = float(resid @ resid), 10, 3
    fit = solve_file(PROBLEMS / "polyfit.dop").fit
    assert fit.chi2 == pytest.approx(chi2, rel=1e-10)
    assert fit.reduced_chi2 == pytest.approx(chi2 / 7, rel=1e-10)
    assert fit.aic == pytest.approx(m * math.log(chi2 / m) + 2 * p, rel=1e-10)
    assert fit.bic == pytest.approx(m * math.log(chi2 / m) + math.log(m) * p, rel=1e-10)
    r2 = 1 - chi2 / float(np.sum((ys - ys.mean()) ** 2))
    assert fit.r_squared == pytest.approx(r2, rel=1e-10)
    relative = {name: fit.stderr[name] / abs(v) for name, v in zip("abc", coefficients)}
    assert fit.relative_error == pytest.approx(relative, rel=1e-8)


def test_r_squared_is_left_out_when_the_residual_is_not_model_minus_data(tmp_path):
    text = "data y = [1, 2, 4]\nparam a = 1\nminimize sumsq(log(a * y))\n"
    fit = solve_text(tmp_path, text).fit
    assert fit.r_squared is None


def test_asymptotic_intervals_are_value_plus_minus_z_stderr():
    result = solve_file(PROBLEMS / "polyfit.dop", confidence=0.9)
    fit = result.fit
    z = 1.6448536269514722  # the 95th percentile of the standard normal
    for i, name in enumerate("abc"):
        value, err = result.params[name], fit.stderr[name]
        assert fit.intervals.lower[i] == pytest.approx(value - z * err, rel=1e-12)
        assert fit.intervals.upper[i] == pytest.approx(value + z * err, rel=1e-12)
    assert fit.intervals.delta_chi2 == pytest.approx(z * z, rel=1e-12)


def test_strong_correlations_are_flagged(tmp_path):
    x = np.linspace(10.0, 11.0, 8)
    y = 2.0 + 0.5 * x + 0.01 * np.sin(5 * x)
    text = inline("x", x) + inline("y", y) + "param a = 0, b = 0\nminimize sumsq(a + b * x - y)\n"
    fit = solve_text(tmp_path, text).fit
    X = np.column_stack([np.ones_like(x), x])
    cov = np.linalg.inv(X.T @ X)
    rho = cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1])
    assert abs(rho) > 0.9
    ((a, b, got),) = fit.strong_correlations
    assert (a, b) == ("a", "b") and got == pytest.approx(rho, rel=1e-8)
    x = np.linspace(-1.0, 1.0, 8)
    text = inline("x", x) + inline("y", 2.0 + 0.5 * x + 0.01 * np.sin(5 * x)) + \
        "param a = 0, b = 0\nminimize sumsq(a + b * x - y)\n"
    assert solve_text(tmp_path, text, name="weak.dop").fit.strong_correlations == ()


# ------------------------------------------------------------ profile intervals


def _profile_scan(A_grid, t, y, k0):
    """chi2 profile of A by brute force: for each A, k re-fitted by scipy."""
    values, k = [], k0
    for A in A_grid:
        found = scipy_optimize.least_squares(lambda p, A=A: decay(t, A, p[0]) - y, [k],
                                             method="lm", **{kw: 1e-14 for kw in
                                                              ("ftol", "xtol", "gtol")})
        k = found.x[0]
        values.append(float(found.fun @ found.fun))
    return np.array(values)


def _crossing(grid, rise, level):
    """Where the scanned rise crosses level (linear interpolation between grid points)."""
    i = int(np.flatnonzero(rise >= level)[0])
    return grid[i - 1] + (level - rise[i - 1]) * (grid[i] - grid[i - 1]) / (rise[i] - rise[i - 1])


def test_profile_intervals_agree_with_a_brute_force_scan(tmp_path):
    t = np.arange(5.0)
    y = np.array([9.8, 4.9, 3.1, 1.2, 0.9])  # few points, strong curvature
    text = inline("t", t) + inline("y", y) + DECAY + "minimize sumsq(residual)\n"
    result = solve_text(tmp_path, text, intervals="profile", confidence=0.95)
    fit = result.fit
    popt, pcov = scipy_optimize.curve_fit(decay, t, y, p0=[10, 0.5], jac=decay_jacobian,
                                          **TIGHT)
    rss = float(np.sum((decay(t, *popt) - y) ** 2))
    s2 = rss / 3
    level = 1.959963984540054**2
    stderr = math.sqrt(pcov[0, 0])
    ends = []
    for side in (-1, 1):
        grid = popt[0] + side * np.linspace(0.0, 4 * stderr, 401)
        rise = (_profile_scan(grid, t, y, popt[1]) - rss) / s2
        ends.append(_crossing(grid, rise, level))
    width = ends[1] - ends[0]
    assert fit.intervals.method == "profile"
    assert fit.intervals.lower[0] == pytest.approx(ends[0], abs=1e-5 * width)
    assert fit.intervals.upper[0] == pytest.approx(ends[1], abs=1e-5 * width)
    # the model is curved: the profile interval is not the symmetric asymptotic one
    z = 1.959963984540054
    asymmetric = (ends[1] - popt[0]) - (popt[0] - ends[0])
    assert abs(asymmetric) > 1e-3 * width
    assert abs(fit.intervals.upper[0] - (popt[0] + z * stderr)) > 1e-3 * width


def test_profile_of_a_linear_model_is_the_asymptotic_interval():
    one_sigma = math.erf(1 / math.sqrt(2))
    result = solve_file(PROBLEMS / "polyfit.dop", intervals="profile", confidence=one_sigma)
    fit = result.fit
    assert fit.intervals.delta_chi2 == pytest.approx(1.0, rel=1e-12)
    for i, name in enumerate("abc"):
        value, err = result.params[name], fit.stderr[name]
        assert fit.intervals.lower[i] == pytest.approx(value - err, rel=1e-7)
        assert fit.intervals.upper[i] == pytest.approx(value + err, rel=1e-7)


def test_profile_end_at_a_bound_is_the_bound_with_a_note(tmp_path):
    text = ("data x = [0, 1, 2, 3]\ndata y = [0.1, 1.2, 1.9, 3.2]\n"
            "param a in [-0.05, 1] = 0.5, b = 1\nminimize sumsq(a + b * x - y)\n")
    fit = solve_text(tmp_path, text, intervals="profile").fit
    assert fit.intervals.lower[0] == -0.05
    assert ("a: the lower end is the bound -0.05 (chi2 rises by less than 3.841 before it)"
            in fit.intervals.notes)


# ------------------------------------------------------------ what does not apply


def test_no_degrees_of_freedom_says_so_instead_of_nan(tmp_path):
    text = "data x = [0, 1, 2]\ndata y = [1, 0, 3]\nparam a = 0, b = 0, c = 0\n" \
           "minimize sumsq(a + b * x + c * x^2 - y)\n"
    result = solve_text(tmp_path, text)
    fit = result.fit
    assert not fit.applies and fit.dof == 0 and fit.reduced_chi2 is None
    assert fit.notes == ("3 residuals for 3 parameters leave no degrees of freedom: the "
                         "residual variance RSS/(m - p) is undefined, and with it the standard "
                         "errors, covariance and intervals (add data, or give the residuals' "
                         "uncertainties with option sigma)",)
    document = result.to_json()["fit"]
    assert document["stderr"] == {"a": None, "b": None, "c": None}
    assert document["covariance"]["matrix"] is None and document["intervals"] is None
    path = tmp_path / "fit.dop"
    shown = runner.invoke(app, ["solve", str(path)]).stdout
    assert "nan" not in shown and "reduced χ² = undefined" in shown
    assert "leave no degrees of freedom" in shown


def test_rank_deficient_model_names_the_parameters_it_cannot_determine(tmp_path):
    x = np.linspace(0.0, 1.0, 9)
    y = 1.0 + 2.0 * x + 0.1 * np.cos(7 * x)
    text = inline("x", x) + inline("y", y) + "param p = 0, q = 0, s = 0\n" \
        "minimize sum((p + q + s * x - y)^2)\n"
    fit = solve_text(tmp_path, text).fit
    assert fit.notes == ("the data do not determine p, q (the Jacobian has rank 2 for 3 "
                         "parameters): their standard errors are infinite; only combinations "
                         "of them are identified",)
    assert fit.dof == 7 and fit.applies
    shown = runner.invoke(app, ["solve", str(tmp_path / "fit.dop")]).stdout
    assert shown.count("not identifiable") == 2


def test_straight_through_fit_says_the_statistics_do_not_apply():
    result = solve_file(PROBLEMS / "ste.dop")
    fit = result.fit
    assert not fit.applies
    assert fit.notes == (f"the objective uses surrogate derivatives (ste_round at "
                         f"{PROBLEMS / 'ste.dop'}:46:9): its Jacobian is not the derivative of "
                         "the residuals, so standard errors, covariance and intervals do not "
                         "apply",)
    document = result.to_json()["fit"]
    assert document["statistics_apply"] is False
    assert document["stderr"] == {"w": [None, None, None]}
    shown = runner.invoke(app, ["solve", str(PROBLEMS / "ste.dop")]).stdout
    assert "std. error" not in shown and "surrogate derivatives" in shown


# ------------------------------------------------------------ option sigma errors


@pytest.mark.parametrize("option, message", [
    ("option sigma = [1, 2]",
     "fit.dop:4:16: error: option 'sigma' has shape (2,), but the residuals have shape (3,)"),
    ("option sigma = [1, 0, 2]",
     "fit.dop:4:16: error: option 'sigma': sigma[1] = 0 is not positive; an uncertainty "
     "must be a finite number > 0"),
    ("option sigma = -1",
     "fit.dop:4:16: error: option 'sigma': sigma = -1 is not positive; an uncertainty "
     "must be a finite number > 0"),
    ("option sigma = a",
     "fit.dop:4:16: error: option 'sigma' takes a number or an array of numbers that does "
     "not depend on a parameter (a data column, say)"),
    ("option confidence = 1.5",
     "fit.dop:4:21: error: option 'confidence' must be between 0 and 1, not 1.5"),
    ("option intervals = \"minos\"",
     "fit.dop:4:20: error: option 'intervals' must be one of asymptotic, profile"),
])
def test_bad_fit_options_are_located_errors(tmp_path, option, message):
    path = tmp_path / "fit.dop"
    path.write_text(f"data y = [1, 2, 3]\nparam a = 0\nminimize sumsq(a - y)\n{option}\n")
    result = runner.invoke(app, ["solve", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == message.replace("fit.dop", str(path))


def test_sigma_needs_a_least_squares_objective(tmp_path):
    path = tmp_path / "fit.dop"
    path.write_text("data y = [1, 2, 3]\nparam a = 0\nminimize sum(abs(a - y))\n"
                    "option sigma = 2\n")
    result = runner.invoke(app, ["solve", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"{path}:4:16: error: option 'sigma' weights the residuals of a least-squares fit, "
        "but the objective is not a minimized sum or mean of squares")


@pytest.mark.parametrize("flags, message", [
    (["--intervals", "minos"], "diffopt: error: --intervals must be asymptotic or profile, "
                               "not 'minos'"),
    (["--confidence", "1"], "diffopt: error: --confidence must be between 0 and 1, not 1"),
])
def test_bad_interval_flags_exit_2(flags, message):
    result = runner.invoke(app, ["solve", str(PROBLEMS / "polyfit.dop"), *flags])
    assert result.exit_code == 2 and result.stderr.splitlines()[0] == message


# ------------------------------------------------------------ the JSON document


def test_solve_json_has_success_gradient_bounds_settings_version_and_schema(tmp_path):
    table = np.genfromtxt(PROBLEMS / "taxi_trips.csv", delimiter=",", names=True)
    d, t = table["distance_km"], table["duration_min"]
    source = (PROBLEMS / "taxi.dop").read_text().replace("in [1, 200]", "in [1, 25]")
    path = tmp_path / "taxi.dop"
    path.write_text(source)
    (tmp_path / "taxi_trips.csv").write_text((PROBLEMS / "taxi_trips.csv").read_text())
    result = runner.invoke(app, ["solve", str(path), "--json", "--seed", "7"])
    document = json.loads(result.stdout)
    assert document["schema"] == 2 and document["diffopt_version"] == diffopt.__version__
    assert document["success"] is (document["status"] == "converged")
    assert document["params"]["speed"] == 25.0
    assert document["active_bounds"] == {"speed": "upper"}
    # d/dv mean((60 d / v - t)^2) at v = 25, by hand
    r = 60 * d / 25.0 - t
    assert document["gradient"]["speed"] == pytest.approx(np.mean(2 * r * (-60 * d / 625.0)),
                                                          rel=1e-10)
    settings = document["settings"]
    assert settings == {"method": "lm", "method_asked": "auto", "mode": "auto", "tol": 1e-8,
                        "ftol": settings["ftol"], "xtol": settings["xtol"],
                        "max_iter": settings["max_iter"], "max_evaluations":
                            settings["max_evaluations"], "lr": None, "seed": 7, "sigma": None,
                        "intervals": "asymptotic", "confidence": 0.95}
    assert isinstance(settings["max_iter"], int) and settings["max_iter"] > 0
    fit = document["fit"]
    assert fit["covariance"]["names"] == ["speed"]
    assert fit["covariance"]["matrix"][0][0] == pytest.approx(fit["stderr"]["speed"] ** 2)
    assert set(fit) >= {"residuals", "dof", "reduced_chi2", "stderr", "correlation", "chi2",
                        "aic", "bic", "r_squared", "relative_error", "intervals", "notes"}


def test_settings_record_flags_and_the_step_of_fixed_step_methods():
    result = runner.invoke(app, ["solve", str(PROBLEMS / "rosenbrock.dop"), "--json",
                                 "--method", "gd", "--max-iter", "5", "--tol", "1e-6"])
    settings = json.loads(result.stdout)["settings"]
    assert settings["method"] == "gd" and settings["max_iter"] == 5
    assert settings["tol"] == 1e-6 and settings["lr"] == 0.1
    assert settings["ftol"] is None and settings["xtol"] is None
    assert settings["intervals"] is None and "fit" not in json.loads(result.stdout)


# ------------------------------------------------------------ profile.py on its own


def _line_oracle(x, y, interrupt_after=None):
    """The oracle of sumsq(a + b x - y), by hand (no diffopt program involved)."""
    from diffopt.solve.oracle import Oracle

    X = np.column_stack([np.ones_like(x), x])
    calls = [0]

    def residuals(p):
        calls[0] += 1
        if interrupt_after is not None and calls[0] > interrupt_after:
            raise KeyboardInterrupt
        return X @ p - y

    def jacobian(p):
        return residuals(p), X

    def value_and_grad(p):
        r = residuals(p)
        return float(r @ r), 2 * X.T @ r

    return Oracle(n=2, value=lambda p: value_and_grad(p)[0], value_and_grad=value_and_grad,
                  residuals=residuals, jacobian=jacobian, lower=np.full(2, -np.inf),
                  upper=np.full(2, np.inf))


def test_profile_intervals_of_a_line_are_its_closed_form():
    from diffopt.solve.profile import profile_intervals

    x = np.linspace(0.0, 3.0, 7)
    y = 0.5 + 1.5 * x + 0.2 * np.cos(4 * x)
    X = np.column_stack([np.ones_like(x), x])
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    resid = X @ beta - y
    s2 = float(resid @ resid) / 5
    stderr = np.sqrt(np.diag(np.linalg.inv(X.T @ X)) * s2)
    found = profile_intervals(_line_oracle(x, y), beta, stderr, ("a", "b"), variance=s2,
                              threshold=4.0, method="lm")
    np.testing.assert_allclose(found.lower, beta - 2 * stderr, rtol=1e-8)
    np.testing.assert_allclose(found.upper, beta + 2 * stderr, rtol=1e-8)
    assert found.notes == () and found.evaluations > 0


def test_profiling_stops_on_ctrl_c_and_keeps_what_it_has():
    from diffopt.solve.profile import profile_intervals

    x = np.linspace(0.0, 3.0, 7)
    y = 0.5 + 1.5 * x + 0.2 * np.cos(4 * x)
    X = np.column_stack([np.ones_like(x), x])
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    found = profile_intervals(_line_oracle(x, y, interrupt_after=3), beta, np.ones(2),
                              ("a", "b"), variance=1.0, threshold=1.0, method="lm")
    assert np.all(np.isnan(found.lower)) and np.all(np.isnan(found.upper))
    assert found.notes == ("interrupted while profiling a: its intervals and those after it "
                           "were not computed",)
