"""The solver layer on small problems with known answers.

Covers: every method on a convex quadratic, Rosenbrock and the problems within
its reach; bounds (active and inactive, found natively); NaN/inf regions
(back-off); the augmented Lagrangian (equality, inequality, nonlinear,
mixed with bounds; infeasible problems reported as failed); statuses
(converged, max_iter, failed, interrupted); evaluation counts; events;
method selection and option errors; the line searches and the trust-region
subproblem on their own.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from diffopt.errors import OptionError
from diffopt.solve.linesearch import projected_backtracking, strong_wolfe
from diffopt.solve.loop import minimize
from diffopt.solve.methods import METHODS
from diffopt.solve.newton import trust_region_step
from diffopt.solve.oracle import Constraints, IterationInfo, Oracle
from diffopt.solve.quasi_newton import lbfgs_apply, lbfgs_reduced_apply

ALL = tuple(METHODS)
SECOND_ORDER = ("bfgs", "lbfgs", "newton", "lm")  # methods expected to converge tightly


# ---------------------------------------------------------------- problem builders


def quadratic(a, b, **extra) -> Oracle:
    """f = (x - b)' A (x - b) = |L'(x - b)|^2 with A = L L', as residuals too."""
    a = np.atleast_2d(np.asarray(a, dtype=float))
    b = np.asarray(b, dtype=float)
    lt = np.linalg.cholesky(a).T

    def res(x):
        return lt @ (x - b)

    return Oracle(
        n=b.size,
        value=lambda x: float(res(x) @ res(x)),
        value_and_grad=lambda x: (float(res(x) @ res(x)), 2.0 * a @ (x - b)),
        hessian=lambda x: 2.0 * a,
        residuals=res,
        jacobian=lambda x: (res(x), lt),
        **extra,
    )


def diagonal(d, b, **extra) -> Oracle:
    return quadratic(np.diag(np.asarray(d, dtype=float)), b, **extra)


def rosenbrock(**extra) -> Oracle:
    def res(x):
        return np.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])

    def jac(x):
        return np.array([[-20.0 * x[0], 10.0], [-1.0, 0.0]])

    def vg(x):
        r = res(x)
        return float(r @ r), 2.0 * jac(x).T @ r

    def hess(x):
        return np.array([[1200.0 * x[0] ** 2 - 400.0 * x[1] + 2.0, -400.0 * x[0]],
                         [-400.0 * x[0], 200.0]])  # fmt: skip

    return Oracle(2, lambda x: vg(x)[0], vg, hessian=hess, residuals=res,
                  jacobian=lambda x: (res(x), jac(x)), **extra)  # fmt: skip


def linear_constraints(a, b, kinds, names=None) -> Constraints:
    """A x - b (<= | ==) 0."""
    a = np.atleast_2d(np.asarray(a, dtype=float))
    b = np.asarray(b, dtype=float)
    names = names or tuple(f"c{i}" for i in range(b.size))
    return Constraints(tuple(names), tuple(kinds), lambda x: a @ x - b, lambda x: (a @ x - b, a))


def counted(oracle: Oracle, counts: dict) -> Oracle:
    """The oracle with the test's own tally of calls, to check the solver's counts."""

    def tally(name, fun):
        if fun is None:
            return None

        def wrapped(*args):
            counts[name] = counts.get(name, 0) + 1
            return fun(*args)

        return wrapped

    return dataclasses.replace(
        oracle,
        value=tally("value", oracle.value),
        value_and_grad=tally("value_and_grad", oracle.value_and_grad),
        hessian=tally("hessian", oracle.hessian),
        hvp=tally("hvp", oracle.hvp),
        residuals=tally("residuals", oracle.residuals),
        jacobian=tally("jacobian", oracle.jacobian),
    )


RNG = np.random.default_rng(7)
_Q, _ = np.linalg.qr(RNG.standard_normal((5, 5)))
QUAD_A = _Q @ np.diag([0.5, 1.0, 2.0, 3.0, 4.0]) @ _Q.T  # eigenvalues 0.5..4: easy for gd
QUAD_B = np.arange(1.0, 6.0)
FIRST_ORDER_LR = {"gd": 0.1, "momentum": 0.02, "adam": 0.1, "sgd": 0.1, "adamw": 0.1}


# ---------------------------------------------------------------- convergence


@pytest.mark.parametrize("method", ALL)
def test_convex_quadratic(method):
    out = minimize(quadratic(QUAD_A, QUAD_B), np.zeros(5), method=method,
                   lr=FIRST_ORDER_LR.get(method))  # fmt: skip
    assert out.status == "converged", out.message
    assert out.method == method
    xtol, ftol = (1e-3, 1e-6) if method == "nelder-mead" else (1e-6, 1e-12)
    np.testing.assert_allclose(out.x, QUAD_B, atol=xtol)
    assert out.objective < ftol
    if method != "nelder-mead":
        assert out.gradient_norm <= 1e-8
    else:
        assert math.isnan(out.gradient_norm)


def test_quasi_newton_methods_are_fast_on_a_quadratic():
    # A quadratic in 5 unknowns: the quasi-Newton methods need a handful of steps, Newton 1
    # after its trust region has grown to reach the minimum.
    for method, limit in (("bfgs", 20), ("lbfgs", 20), ("newton", 6), ("lm", 6)):
        out = minimize(quadratic(QUAD_A, QUAD_B), np.zeros(5), method=method)
        assert out.iterations <= limit, (method, out.iterations)


@pytest.mark.parametrize("method", ("bfgs", "lbfgs", "newton", "lm", "nelder-mead"))
def test_rosenbrock(method):
    out = minimize(rosenbrock(), np.array([-1.2, 1.0]), method=method)
    assert out.status == "converged", out.message
    xtol = 1e-3 if method == "nelder-mead" else 1e-7
    np.testing.assert_allclose(out.x, [1.0, 1.0], atol=xtol)
    assert out.objective < (1e-8 if method == "nelder-mead" else 1e-14)
    assert out.iterations < (200 if method == "nelder-mead" else 60)


def test_adam_reaches_the_rosenbrock_minimum():
    out = minimize(rosenbrock(), np.array([-1.2, 1.0]), method="adam", lr=0.02, max_iter=6000)
    assert out.status == "converged", out.message
    np.testing.assert_allclose(out.x, [1.0, 1.0], atol=1e-5)


def test_gd_and_momentum_on_rosenbrock_make_steady_progress():
    # Plain first-order methods crawl along the valley; within a budget they must
    # still get close and report max_iter honestly rather than claim convergence.
    for method, lr in (("gd", 1e-3), ("momentum", 2e-4)):
        out = minimize(rosenbrock(), np.array([-1.2, 1.0]), method=method, lr=lr, max_iter=3000)
        assert out.status == "max_iter"
        assert out.iterations == 3000
        assert out.objective < 0.05  # from 24.2
        assert "iteration limit (3000)" in out.message


def test_least_squares_with_a_residual_scale():
    # A mean-squared-error fit: f = (1/m) sum((a t + b - y)^2), a line through noisy data.
    t = np.linspace(0.0, 3.0, 12)
    y = 2.0 * t - 1.0 + 0.1 * np.sin(7.0 * t)
    design = np.column_stack([t, np.ones_like(t)])
    scale = 1.0 / t.size

    def res(x):
        return design @ x - y

    def vg(x):
        r = res(x)
        return scale * float(r @ r), 2.0 * scale * design.T @ r

    hessian = 2.0 * scale * design.T @ design
    oracle = Oracle(2, lambda x: vg(x)[0], vg, hessian=lambda x: hessian, residuals=res,
                    jacobian=lambda x: (res(x), design), residual_scale=scale)  # fmt: skip
    best = np.linalg.lstsq(design, y, rcond=None)[0]
    f_best = scale * float(np.sum((design @ best - y) ** 2))
    for method in ("auto", "lbfgs", "newton"):
        out = minimize(oracle, np.zeros(2), method=method)
        assert out.status == "converged", out.message
        np.testing.assert_allclose(out.x, best, atol=1e-8)
        assert out.objective == pytest.approx(f_best, rel=1e-10)
    assert minimize(oracle, np.zeros(2)).method == "lm"


def test_newton_escapes_a_saddle_point():
    # f = (x^2 - 1)^2 / 4 + y^2 starts exactly on the saddle's ridge x = 0, where the
    # Hessian is indefinite and g has no x component (the trust region's "hard case").
    def vg(z):
        x, y = z
        return (x * x - 1) ** 2 / 4 + y * y, np.array([x * (x * x - 1), 2 * y])

    oracle = Oracle(2, lambda z: vg(z)[0], vg,
                    hessian=lambda z: np.diag([3 * z[0] ** 2 - 1, 2.0]))  # fmt: skip
    out = minimize(oracle, np.array([0.0, 1.0]), method="newton")
    assert out.status == "converged", out.message
    assert abs(abs(out.x[0]) - 1.0) < 1e-8 and abs(out.x[1]) < 1e-8
    assert out.objective < 1e-16


def test_newton_from_hessian_vector_products_and_from_finite_differences():
    plain = rosenbrock()
    hess = plain.hessian
    via_hvp = dataclasses.replace(plain, hessian=None, hvp=lambda x, v: hess(x) @ v)
    via_fd = dataclasses.replace(plain, hessian=None)
    for oracle, hessians in ((via_hvp, True), (via_fd, False)):
        out = minimize(oracle, np.array([-1.2, 1.0]), method="newton")
        assert out.status == "converged", out.message
        np.testing.assert_allclose(out.x, [1.0, 1.0], atol=1e-7)
        # A Hessian assembled from n products counts once; differences cost gradients.
        assert (out.evaluations["hessian"] > 0) == hessians
        if not hessians:
            assert out.evaluations["gradient"] > 2 * out.iterations


# ---------------------------------------------------------------- bounds


@pytest.mark.parametrize("method", ALL)
def test_active_bound_is_found(method):
    # min (x - 3)^2 with x in [0, 1]: the minimum is on the upper bound.
    oracle = diagonal([1.0], [3.0], lower=np.array([0.0]), upper=np.array([1.0]))
    out = minimize(oracle, np.array([0.5]), method=method)
    assert out.status == "converged", out.message
    assert out.x[0] == pytest.approx(1.0, abs=1e-12)
    assert out.objective == pytest.approx(4.0)
    if method != "nelder-mead":
        assert out.gradient_norm == 0.0  # projected: the raw gradient is -4


@pytest.mark.parametrize("method", ("bfgs", "lbfgs", "newton", "lm", "nelder-mead"))
def test_rosenbrock_with_an_active_upper_bound(method):
    # With x1 <= 0.5: f >= (1 - x1)^2 >= 0.25, reached at (0.5, 0.25).
    oracle = rosenbrock(lower=np.array([-np.inf, -np.inf]), upper=np.array([0.5, np.inf]))
    out = minimize(oracle, np.array([-1.2, 1.0]), method=method)
    assert out.status == "converged", out.message
    xtol = 1e-4 if method == "nelder-mead" else 1e-8
    np.testing.assert_allclose(out.x, [0.5, 0.25], atol=xtol)
    assert out.objective == pytest.approx(0.25, abs=1e-8)
    assert out.x[0] <= 0.5


@pytest.mark.parametrize("method", ("bfgs", "lbfgs", "newton", "lm", "nelder-mead"))
def test_several_active_bounds_on_both_sides(method):
    # A separable quadratic's box-constrained minimiser is clip(b, lower, upper).
    d = np.array([1.0, 2.0, 0.5, 3.0, 1.5, 1.0])
    b = np.array([-2.0, 0.3, 4.0, -0.5, 2.5, 0.0])
    lower = np.array([-1.0, -1.0, -1.0, -np.inf, 0.0, -1.0])
    upper = np.array([1.0, 1.0, 1.0, 0.0, 1.0, np.inf])
    out = minimize(diagonal(d, b, lower=lower, upper=upper), np.zeros(6), method=method)
    assert out.status == "converged", out.message
    xtol = 1e-3 if method == "nelder-mead" else 1e-8
    np.testing.assert_allclose(out.x, np.clip(b, lower, upper), atol=xtol)
    assert np.all(out.x >= lower) and np.all(out.x <= upper)


def test_start_outside_the_box_is_clipped_and_inactive_bounds_do_no_harm():
    box = dict(lower=np.array([-2.0, -2.0]), upper=np.array([2.0, 2.0]))
    seen = []
    out = minimize(rosenbrock(**box), np.array([5.0, -5.0]), method="lbfgs",
                   callback=lambda info: seen.append(info.x))  # fmt: skip
    assert out.status == "converged", out.message
    np.testing.assert_allclose(out.x, [1.0, 1.0], atol=1e-7)
    assert all(np.all(np.abs(x) <= 2.0) for x in seen)


# ---------------------------------------------------------------- NaN / inf regions


def ball(a, radius, tally):
    """|x - a|^2 inside |x| < radius, NaN outside (as log or sqrt of a negative would be)."""
    a = np.asarray(a, dtype=float)

    def vg(x):
        if x @ x >= radius**2:
            tally["nan"] = tally.get("nan", 0) + 1
            return math.nan, np.full_like(x, math.nan)
        return float((x - a) @ (x - a)), 2.0 * (x - a)

    res = lambda x: (x - a) if x @ x < radius**2 else np.full_like(x, math.nan)
    return Oracle(a.size, lambda x: vg(x)[0], vg, hessian=lambda x: 2.0 * np.eye(a.size),
                  residuals=res, jacobian=lambda x: (res(x), np.eye(a.size)))  # fmt: skip


@pytest.mark.parametrize("method", ALL)
def test_nan_region_is_backed_away_from(method):
    tally = {}
    oracle = ball([0.8, 0.8], 1.5, tally)
    lr = {"gd": 0.9, "momentum": 0.1, "adam": 0.3}.get(method)
    out = minimize(oracle, np.array([-1.0, -1.0]), method=method, lr=lr, max_iter=3000)
    assert out.status == "converged", out.message
    np.testing.assert_allclose(out.x, [0.8, 0.8], atol=1e-3 if method == "nelder-mead" else 1e-7)
    assert np.isfinite(out.objective)
    if method == "gd":
        assert tally["nan"] > 0  # the first full step leaves the ball


@pytest.mark.parametrize("method", ("bfgs", "lbfgs"))
def test_line_search_backs_off_from_nan(method):
    # sum(sqrt(1 + x^2)) flattens out, so the secant model overshoots the minimum at 0
    # into the region |x_i| >= 2.5 where the objective is NaN.
    tally = {}

    def vg(x):
        if np.max(np.abs(x)) >= 2.5:
            tally["nan"] = tally.get("nan", 0) + 1
            return math.nan, np.full_like(x, math.nan)
        s = np.sqrt(1.0 + x * x)
        return float(s.sum()), x / s

    out = minimize(Oracle(2, lambda x: vg(x)[0], vg), np.array([2.0, -1.5]), method=method)
    assert out.status == "converged", out.message
    # f - 2 ~ |x|^2 / 2 falls below f's rounding error near |x| ~ 1e-8.
    np.testing.assert_allclose(out.x, [0.0, 0.0], atol=1e-7)
    assert out.objective == pytest.approx(2.0)
    assert tally["nan"] > 0


def test_newton_backs_off_from_a_log_barrier():
    # f = sum(x - log x) is NaN for x <= 0; the first Newton steps from x = 30 aim far
    # below 0, so the trust region must shrink until the trial points are finite.
    tally = {}

    def vg(x):
        if np.any(x <= 0):
            tally["nan"] = tally.get("nan", 0) + 1
            return math.nan, np.full_like(x, math.nan)
        return float(np.sum(x - np.log(x))), 1.0 - 1.0 / x

    oracle = Oracle(2, lambda x: vg(x)[0], vg, hessian=lambda x: np.diag(1.0 / x**2))
    out = minimize(oracle, np.array([30.0, 0.1]), method="newton")
    assert out.status == "converged", out.message
    np.testing.assert_allclose(out.x, [1.0, 1.0], atol=1e-8)
    assert out.objective == pytest.approx(2.0)
    assert tally["nan"] > 0


def test_non_finite_start_fails_plainly():
    oracle = Oracle(1, lambda x: math.nan, lambda x: (math.nan, np.array([math.nan])))
    for method in ("lbfgs", "nelder-mead"):
        out = minimize(oracle, np.array([1.0]), method=method)
        assert out.status == "failed"
        assert out.iterations == 0
        assert "start point" in out.message and "nan" in out.message


# ---------------------------------------------------------------- general constraints


@pytest.mark.parametrize("method", ("bfgs", "lbfgs", "newton", "lm", "nelder-mead"))
def test_equality_constraint(method):
    # min x^2 + y^2 subject to x + y = 1: (1/2, 1/2), f = 1/2.
    cons = linear_constraints([[1.0, 1.0]], [1.0], ["eq"], ["sum"])
    out = minimize(diagonal([1.0, 1.0], [0.0, 0.0], constraints=cons), np.array([3.0, -1.0]),
                   method=method)  # fmt: skip
    assert out.status == "converged", out.message
    xtol = 1e-4 if method == "nelder-mead" else 1e-7
    np.testing.assert_allclose(out.x, [0.5, 0.5], atol=xtol)
    assert out.objective == pytest.approx(0.5, abs=1e-6)
    assert abs(out.constraint_values[0]) <= 1e-8
    assert out.constraint_violations.shape == (1,)
    assert out.max_violation <= 1e-8


@pytest.mark.parametrize("method", SECOND_ORDER)
def test_inequality_constraint(method):
    # min (x - 2)^2 + (y - 1)^2 subject to x + y <= 2: the projection (3/2, 1/2), f = 1/2.
    cons = linear_constraints([[1.0, 1.0]], [2.0], ["le"])
    out = minimize(diagonal([1.0, 1.0], [2.0, 1.0], constraints=cons), np.zeros(2),
                   method=method)  # fmt: skip
    assert out.status == "converged", out.message
    np.testing.assert_allclose(out.x, [1.5, 0.5], atol=1e-7)
    assert out.objective == pytest.approx(0.5, abs=1e-7)
    assert out.constraint_violations[0] <= 1e-8


@pytest.mark.parametrize("method", ("bfgs", "lbfgs", "newton"))
def test_nonlinear_inequality_constraint(method):
    # min x + y subject to x^2 + y^2 <= 2: (-1, -1), f = -2.
    cons = Constraints(("disk",), ("le",), lambda x: np.array([x @ x - 2.0]),
                       lambda x: (np.array([x @ x - 2.0]), 2.0 * x[None, :]))  # fmt: skip
    oracle = Oracle(2, lambda x: float(x.sum()), lambda x: (float(x.sum()), np.ones(2)),
                    hessian=lambda x: np.zeros((2, 2)), constraints=cons)  # fmt: skip
    out = minimize(oracle, np.array([0.3, 0.1]), method=method)
    assert out.status == "converged", out.message
    np.testing.assert_allclose(out.x, [-1.0, -1.0], atol=1e-7)
    assert out.objective == pytest.approx(-2.0, abs=1e-7)


@pytest.mark.parametrize("method", ("lbfgs", "lm"))
def test_inactive_inequality_leaves_the_unconstrained_minimum(method):
    cons = linear_constraints([[1.0]], [5.0], ["le"], ["cap"])
    out = minimize(diagonal([1.0], [1.0], constraints=cons), np.array([9.0]), method=method)
    assert out.status == "converged", out.message
    assert out.x[0] == pytest.approx(1.0, abs=1e-8)
    assert out.constraint_values[0] == pytest.approx(-4.0, abs=1e-7)
    assert out.constraint_violations[0] == 0.0


@pytest.mark.parametrize("method", ("lbfgs", "bfgs", "lm"))
def test_equality_inequality_and_bounds_together(method):
    # min (x-2)^2 + (y-2.5)^2 + z^2  s.t.  x + y + z = 3,  x <= 1,  z >= 0 (a bound).
    # KKT: x = 1 (multiplier 1), y = 2, z = 0 on its bound (multiplier 1), f = 1.25.
    cons = linear_constraints([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]], [3.0, 1.0], ["eq", "le"])
    oracle = diagonal([1.0, 1.0, 1.0], [2.0, 2.5, 0.0], constraints=cons,
                      lower=np.array([-np.inf, -np.inf, 0.0]))  # fmt: skip
    out = minimize(oracle, np.array([0.0, 0.0, 1.0]), method=method)
    assert out.status == "converged", out.message
    np.testing.assert_allclose(out.x, [1.0, 2.0, 0.0], atol=1e-7)
    assert out.objective == pytest.approx(1.25, abs=1e-7)
    assert out.x[2] >= 0.0


def hock_schittkowski_71() -> Oracle:
    """min x1 x4 (x1 + x2 + x3) + x3  s.t.  x1 x2 x3 x4 >= 25, |x|^2 = 40, 1 <= x <= 5."""

    def vg(x):
        f = x[0] * x[3] * (x[0] + x[1] + x[2]) + x[2]
        g = np.array([x[3] * (2 * x[0] + x[1] + x[2]), x[0] * x[3], x[0] * x[3] + 1.0,
                      x[0] * (x[0] + x[1] + x[2])])  # fmt: skip
        return f, g

    def hess(x):
        return np.array([[2 * x[3], x[3], x[3], 2 * x[0] + x[1] + x[2]],
                         [x[3], 0.0, 0.0, x[0]], [x[3], 0.0, 0.0, x[0]],
                         [2 * x[0] + x[1] + x[2], x[0], x[0], 0.0]])  # fmt: skip

    def cv(x):
        p = np.prod(x)
        return np.array([25.0 - p, x @ x - 40.0]), np.vstack([-p / x, 2.0 * x])

    cons = Constraints(("product", "sphere"), ("le", "eq"), lambda x: cv(x)[0], cv)
    return Oracle(4, lambda x: vg(x)[0], vg, hessian=hess, lower=np.ones(4),
                  upper=np.full(4, 5.0), constraints=cons)  # fmt: skip


@pytest.mark.parametrize("method", ("lbfgs", "bfgs", "newton"))
def test_hock_schittkowski_71(method):
    # Published optimum f* = 17.0140173 at (1, 4.7429994, 3.8211503, 1.3794082); both
    # constraints active, x1 on its lower bound.
    out = minimize(hock_schittkowski_71(), np.array([1.0, 5.0, 5.0, 1.0]), method=method)
    assert out.status == "converged", out.message
    assert out.objective == pytest.approx(17.0140173, abs=1e-6)
    np.testing.assert_allclose(out.x, [1.0, 4.7429994, 3.8211503, 1.3794082], atol=1e-6)
    np.testing.assert_allclose(out.constraint_values, [0.0, 0.0], atol=1e-7)


@pytest.mark.parametrize("method", ("lbfgs", "lm", "nelder-mead"))
def test_infeasible_constraints_are_reported_as_failed(method):
    # x <= 0 and x >= 1 cannot both hold; the least-violating point is x = 1/2.
    cons = linear_constraints([[1.0], [-1.0]], [0.0, -1.0], ["le", "le"], ["x_hi", "x_lo"])
    out = minimize(diagonal([1.0], [0.0], constraints=cons), np.array([3.0]), method=method)
    assert out.status == "failed"
    assert "infeasible" in out.message
    assert out.x[0] == pytest.approx(0.5, abs=1e-3)
    np.testing.assert_allclose(out.constraint_violations, [0.5, 0.5], atol=1e-3)
    assert out.max_violation == pytest.approx(0.5, abs=1e-3)


def test_events_continue_across_augmented_lagrangian_rounds():
    cons = linear_constraints([[1.0, 1.0]], [1.0], ["eq"])
    events: list[IterationInfo] = []
    out = minimize(diagonal([1.0, 1.0], [0.0, 0.0], constraints=cons), np.array([3.0, -1.0]),
                   method="lbfgs", callback=events.append)  # fmt: skip
    assert [e.iteration for e in events] == list(range(1, out.iterations + 1))
    assert events[0].max_violation > 0.1  # the start is far from x + y = 1
    assert events[-1].max_violation <= 1e-8
    # Events show f itself, not the round's merit function (which adds a penalty).
    assert events[-1].objective == pytest.approx(out.objective, abs=1e-12)
    assert events[-1].objective == pytest.approx(0.5, abs=1e-7)


# ---------------------------------------------------------------- statuses


def test_max_iter_returns_the_best_point_so_far():
    events = []
    out = minimize(rosenbrock(), np.array([-1.2, 1.0]), method="lbfgs", max_iter=5,
                   callback=events.append)  # fmt: skip
    assert out.status == "max_iter"
    assert out.iterations == 5 and len(events) == 5
    assert "iteration limit (5)" in out.message
    assert out.objective == pytest.approx(min(e.objective for e in events))
    assert out.objective < 24.2  # f(x0)


def test_max_iter_zero_evaluates_only_the_start():
    out = minimize(rosenbrock(), np.array([-1.2, 1.0]), method="bfgs", max_iter=0)
    assert out.status == "max_iter" and out.iterations == 0
    np.testing.assert_array_equal(out.x, [-1.2, 1.0])
    assert out.objective == pytest.approx(24.2)
    assert out.evaluations == {"objective": 1, "gradient": 1, "hessian": 0}


@pytest.mark.parametrize("method", ("gd", "lbfgs", "newton", "nelder-mead"))
def test_ctrl_c_in_the_callback_returns_the_best_point(method):
    seen = []

    def callback(info):
        seen.append((info.objective, info.x))
        if info.iteration == 5:
            raise KeyboardInterrupt

    out = minimize(rosenbrock(), np.array([-1.2, 1.0]), method=method, lr=1e-3,
                   callback=callback)  # fmt: skip
    assert out.status == "interrupted"
    assert out.iterations == 5
    assert "best point" in out.message
    best_f, best_x = min(seen, key=lambda p: p[0])
    assert out.objective == pytest.approx(min(best_f, 24.2))
    if best_f < 24.2:
        np.testing.assert_array_equal(out.x, best_x)


def test_ctrl_c_inside_an_evaluation_returns_the_best_point():
    plain = rosenbrock()
    calls = {"n": 0}

    def vg(x):
        calls["n"] += 1
        if calls["n"] == 12:
            raise KeyboardInterrupt
        return plain.value_and_grad(x)

    out = minimize(dataclasses.replace(plain, value_and_grad=vg), np.array([-1.2, 1.0]),
                   method="bfgs")  # fmt: skip
    assert out.status == "interrupted"
    assert out.objective < 24.2
    assert out.objective == pytest.approx(plain.value(out.x))


def test_ctrl_c_under_constraints():
    cons = linear_constraints([[1.0, 1.0]], [1.0], ["eq"])

    def callback(info):
        if info.iteration == 3:
            raise KeyboardInterrupt

    out = minimize(diagonal([1.0, 1.0], [0.0, 0.0], constraints=cons), np.array([3.0, -1.0]),
                   method="lbfgs", callback=callback)  # fmt: skip
    assert out.status == "interrupted"
    assert out.iterations == 3
    assert out.constraint_values is not None


def test_ctrl_c_between_augmented_lagrangian_rounds():
    plain = linear_constraints([[1.0, 1.0]], [1.0], ["eq"])
    calls = {"n": 0}

    def value(x):  # the driver calls c(x) alone at the start and after each round
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return plain.value(x)

    cons = dataclasses.replace(plain, value=value)
    out = minimize(diagonal([1.0, 1.0], [0.0, 0.0], constraints=cons), np.array([3.0, -1.0]),
                   method="lbfgs")  # fmt: skip
    assert out.status == "interrupted"
    assert out.iterations > 0
    assert np.isfinite(out.objective) and out.objective == pytest.approx(out.x @ out.x)


# ---------------------------------------------------------------- counting, events, selection


@pytest.mark.parametrize("method", ALL)
def test_evaluation_counts_match_the_calls_made(method):
    calls: dict[str, int] = {}
    oracle = counted(rosenbrock(), calls)
    out = minimize(oracle, np.array([-1.2, 1.0]), method=method, lr=1e-3, max_iter=50)
    ev = out.evaluations
    assert ev["objective"] == (calls.get("value", 0) + calls.get("value_and_grad", 0)
                               + calls.get("residuals", 0) + calls.get("jacobian", 0))  # fmt: skip
    assert ev["gradient"] == calls.get("value_and_grad", 0) + calls.get("jacobian", 0)
    assert ev["hessian"] == calls.get("hessian", 0)
    assert ev["objective"] >= out.iterations + (method != "nelder-mead")
    if method == "nelder-mead":
        assert ev["gradient"] == 0 and ev["hessian"] == 0
    if method in ("gd", "momentum", "adam"):
        # One evaluation per iteration when no NaN forces a back-off.
        assert ev["objective"] == ev["gradient"] == out.iterations + 1
    if method == "newton":
        assert 0 < ev["hessian"] <= out.iterations + 1


def test_callback_gets_one_event_per_iteration():
    events: list[IterationInfo] = []
    out = minimize(rosenbrock(), np.array([-1.2, 1.0]), method="newton", callback=events.append)
    assert [e.iteration for e in events] == list(range(1, out.iterations + 1))
    assert all(b.elapsed >= a.elapsed for a, b in zip(events, events[1:], strict=False))
    assert events[-1].gradient_norm == pytest.approx(out.gradient_norm)
    assert all(e.step >= 0.0 and np.isfinite(e.objective) for e in events)
    events[0].x[0] = 99.0  # events carry copies: the solver's state is unaffected
    assert out.x[0] != 99.0


def test_auto_picks_lm_for_least_squares_and_lbfgs_otherwise():
    lsq = rosenbrock()
    assert minimize(lsq, np.array([-1.2, 1.0])).method == "lm"
    plain = dataclasses.replace(lsq, residuals=None, jacobian=None)
    assert minimize(plain, np.array([-1.2, 1.0])).method == "lbfgs"
    boxed = dataclasses.replace(plain, lower=np.array([-2.0, -2.0]), upper=np.array([2.0, 2.0]))
    assert minimize(boxed, np.array([-1.2, 1.0])).method == "lbfgs"
    cons = linear_constraints([[1.0, 1.0]], [5.0], ["le"])
    constrained = dataclasses.replace(lsq, constraints=cons)
    out = minimize(constrained, np.array([-1.2, 1.0]))
    assert out.method == "lbfgs" and out.status == "converged"
    np.testing.assert_allclose(out.x, [1.0, 1.0], atol=1e-6)


def test_option_errors():
    with pytest.raises(OptionError) as err:
        minimize(rosenbrock(), np.zeros(2), method="lbgfs")
    assert err.value.hint == "did you mean 'lbfgs'?"
    plain = dataclasses.replace(rosenbrock(), residuals=None, jacobian=None)
    with pytest.raises(OptionError, match="least-squares"):
        minimize(plain, np.zeros(2), method="lm")
    for bad in (dict(lr=-1.0), dict(tol=0.0), dict(max_iter=-3), dict(lr=math.nan)):
        with pytest.raises(OptionError):
            minimize(rosenbrock(), np.zeros(2), method="gd", **bad)


def test_tol_controls_the_gradient_rule():
    loose = minimize(rosenbrock(), np.array([-1.2, 1.0]), method="lbfgs", tol=1e-3)
    tight = minimize(rosenbrock(), np.array([-1.2, 1.0]), method="lbfgs")
    assert loose.status == tight.status == "converged"
    assert loose.gradient_norm <= 1e-3 and tight.gradient_norm <= 1e-8
    assert loose.iterations < tight.iterations
    assert "below tol 0.001" in loose.message


def test_outcome_is_frozen_and_complete():
    out = minimize(rosenbrock(), np.array([-1.2, 1.0]), method="lbfgs")
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.status = "failed"
    assert out.constraint_values is None and out.constraint_violations is None
    assert out.max_violation == 0.0
    assert out.time_s > 0.0
    assert out.converged


def test_no_parameters():
    oracle = Oracle(0, lambda x: 3.0, lambda x: (3.0, np.zeros(0)))
    out = minimize(oracle, np.zeros(0))
    assert out.status == "converged" and out.objective == 3.0 and out.iterations == 0


# ---------------------------------------------------------------- building blocks


def test_strong_wolfe_conditions_hold():
    # f(x) = x^4 - 3x along d = 1 from 0: phi'(0) = -3.
    def fg(x):
        return float(x[0] ** 4 - 3 * x[0]), np.array([4 * x[0] ** 3 - 3])

    x0, d = np.array([0.0]), np.array([1.0])
    f0, g0 = fg(x0)
    for alpha0 in (0.01, 1.0, 50.0):
        ls = strong_wolfe(fg, x0, f0, g0, d, alpha0=alpha0)
        assert ls.ok and ls.wolfe
        assert ls.f <= f0 + 1e-4 * ls.alpha * (g0 @ d)
        assert abs(ls.g @ d) <= 0.9 * abs(g0 @ d)
        np.testing.assert_allclose(ls.x, x0 + ls.alpha * d)


def test_strong_wolfe_backs_off_from_nan():
    # f = (x - 1)^2 for x < 1.2, NaN beyond: a first trial at 100 must come back.
    def fg(x):
        if x[0] >= 1.2:
            return math.nan, np.array([math.nan])
        return float((x[0] - 1.0) ** 2), np.array([2.0 * (x[0] - 1.0)])

    x0, d = np.array([0.0]), np.array([1.0])
    ls = strong_wolfe(fg, x0, *fg(x0), d, alpha0=100.0)
    assert ls.ok and np.isfinite(ls.f)
    assert ls.x[0] < 1.2 and ls.f < 1.0


def test_strong_wolfe_reports_failure_when_nothing_is_finite():
    def fg(x):
        if x[0] > 0.0:
            return math.nan, np.array([math.nan])
        return 1.0 - x[0], np.array([-1.0])

    x0 = np.array([0.0])
    ls = strong_wolfe(fg, x0, *fg(x0), np.array([1.0]), max_evals=10)
    assert not ls.ok
    assert ls.f == 1.0 and ls.x is x0 and ls.message


def test_projected_backtracking_respects_the_box():
    def fg(x):
        return float(x @ x - 4 * x.sum()), 2 * x - 4

    x0 = np.zeros(2)
    lower, upper = np.array([-1.0, -1.0]), np.array([1.0, 0.5])
    ls = projected_backtracking(fg, x0, *fg(x0), np.array([4.0, 4.0]), lower, upper)
    assert ls.ok
    np.testing.assert_allclose(ls.x, [1.0, 0.5])


def test_trust_region_step_cases():
    # Positive definite, Newton step inside: the Newton step.
    h, g = np.diag([2.0, 4.0]), np.array([2.0, 4.0])
    np.testing.assert_allclose(trust_region_step(h, g, 10.0), [-1.0, -1.0])
    # Positive definite, Newton step outside: a boundary step that still descends.
    p = trust_region_step(h, g, 0.5)
    assert np.linalg.norm(p) == pytest.approx(0.5, rel=1e-8) and g @ p < 0
    # Indefinite with g along the positive eigenvector (hard case): move along e1.
    h = np.diag([-1.0, 2.0])
    p = trust_region_step(h, np.array([0.0, 1.0]), 2.0)
    assert np.linalg.norm(p) == pytest.approx(2.0, rel=1e-8) and abs(p[0]) > 1.0
    # Indefinite, ordinary case: boundary step with model value below zero.
    g = np.array([0.5, 1.0])
    p = trust_region_step(h, g, 1.0)
    assert np.linalg.norm(p) == pytest.approx(1.0, rel=1e-8)
    assert g @ p + 0.5 * p @ h @ p < 0


def test_lbfgs_reduced_inverse_matches_the_dense_formula():
    # With variables held on their bounds, the step uses (B_FF)^-1 for the L-BFGS
    # Hessian B = H^-1, not the submatrix H_FF: check the compact form against dense algebra.
    rng = np.random.default_rng(3)
    n = 6
    a = rng.standard_normal((n, n))
    a = a @ a.T + n * np.eye(n)
    s_hist = [rng.standard_normal(n) for _ in range(4)]
    y_hist = [a @ sk for sk in s_hist]
    v = rng.standard_normal(n)
    everything = np.ones(n, dtype=bool)
    np.testing.assert_allclose(lbfgs_reduced_apply(v, s_hist, y_hist, everything),
                               lbfgs_apply(v, s_hist, y_hist))  # fmt: skip
    h = np.column_stack([lbfgs_apply(e, s_hist, y_hist) for e in np.eye(n)])
    b = np.linalg.inv(h)
    free = np.array([True, False, True, True, False, True])
    expected = np.zeros(n)
    expected[free] = np.linalg.solve(b[np.ix_(free, free)], v[free])
    np.testing.assert_allclose(lbfgs_reduced_apply(v, s_hist, y_hist, free), expected)
