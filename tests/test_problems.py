"""Every example in problems/ reaches its known optimum.

Each test loads one problems/*.dop through the public API, solves it and
compares the answer with tests/reference.py, which gets the optimum on its
own (closed forms or small NumPy solvers, never diffopt). A guard test makes
sure no .dop file in problems/ is left without a test, and two tests drive
the command line (`python -m diffopt solve ... --json`) end to end.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import reference as ref

from diffopt import api

REPO = Path(__file__).resolve().parents[1]
PROBLEMS = REPO / "problems"

# problems/*.dop files with a test, filled in by @covers
COVERED: set[str] = set()


def covers(*names: str) -> Callable:
    """Mark a test as the one that checks problems/NAME."""
    COVERED.update(names)
    return lambda test: test


def load(name: str):
    return api.load(str(PROBLEMS / name), sets=None, data=None, seed=0)


def solve(name: str, method: str = "auto", max_iter=None, tol=None, lr=None):
    return api.solve(load(name), method=method, max_iter=max_iter, tol=tol, lr=lr)


def param(result, name: str) -> np.ndarray:
    return np.asarray(result.params[name], dtype=float)


def let(result, name: str) -> np.ndarray:
    return np.asarray(result.lets[name], dtype=float)


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "diffopt", *args],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


# ---------------------------------------------------------------- coverage


def test_every_problem_file_has_a_test():
    on_disk = {path.name for path in PROBLEMS.glob("*.dop")}
    assert on_disk, "problems/ holds no .dop files"
    assert on_disk - COVERED == set(), "untested problems: add a test with @covers(...)"
    assert COVERED - on_disk == set(), "tests name problems that do not exist"


# ---------------------------------------------------------------- terrain.dop


@covers("terrain.dop")
def test_terrain_obeys_snells_law():
    result = solve("terrain.dop")
    assert result.status == "converged"
    x1, x2 = float(param(result, "x1")), float(param(result, "x2"))
    ratios = ref.terrain_snell_ratios(x1, x2)
    assert np.ptp(ratios) <= 1e-8 * np.mean(ratios), ratios
    np.testing.assert_allclose([x1, x2], ref.terrain_optimum(), rtol=1e-6)
    assert result.objective.name == "time"
    assert result.objective.value == pytest.approx(
        ref.terrain_time(ref.terrain_optimum()), rel=1e-10
    )
    # the lets show the same three ratios, and the time of each leg
    np.testing.assert_allclose([let(result, f"snell{i}") for i in (1, 2, 3)], ratios, rtol=1e-10)
    legs = [let(result, f"t{i}") for i in (1, 2, 3)]
    assert sum(legs) == pytest.approx(result.objective.value, rel=1e-12)


def test_terrain_gradient_descent_reproduces_the_blog():
    """--method gd --lr 1.5 --max-iter 20: 20 plain steps x <- x - 1.5 grad from (2, 17).

    The expected point comes from a separate NumPy gradient descent with the
    gradient written out by hand. Plain gradient descent improves at every
    step here, so the best point the solver reports is the last one.
    """
    expected, history = ref.terrain_gradient_descent(start=(2.0, 17.0), lr=1.5, steps=20)
    assert np.all(np.diff(history) < 0)
    result = solve("terrain.dop", method="gd", lr=1.5, max_iter=20)
    assert result.status in ("max_iter", "converged")
    got = [float(param(result, "x1")), float(param(result, "x2"))]
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert result.objective.value == pytest.approx(history[-1], rel=1e-12)


def test_terrain_from_the_command_line():
    proc = run_cli("solve", "problems/terrain.dop", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["status"] == "converged"
    assert report["objective"]["name"] == "time"
    assert report["objective"]["sense"] == "minimize"
    np.testing.assert_allclose(
        [report["params"]["x1"], report["params"]["x2"]], ref.terrain_optimum(), rtol=1e-6
    )
    assert {"t1", "t2", "t3", "snell1", "snell2", "snell3"} <= set(report["lets"])


# ---------------------------------------------------------------- taxi.dop


@covers("taxi.dop")
def test_taxi_fits_the_least_squares_speed():
    distance, duration = ref.read_trips(PROBLEMS / "taxi_trips.csv")
    result = solve("taxi.dop")
    assert result.status == "converged"
    speed = float(param(result, "speed"))
    assert speed == pytest.approx(ref.taxi_best_speed(distance, duration), rel=1e-7)
    assert 25 < speed < 35
    # recognised as least squares: the fit section, one residual per trip
    assert result.fit is not None
    assert result.fit.residuals == len(distance)
    assert result.fit.dof == len(distance) - 1
    stderr = result.fit.stderr["speed"]
    assert stderr == pytest.approx(ref.taxi_speed_stderr(distance, duration), rel=1e-4)


def test_taxi_one_trip_is_exactly_30_kmh(tmp_path):
    trips = tmp_path / "one_trip.csv"
    trips.write_text("distance_km,duration_min\n6,12\n", encoding="utf-8")
    distance, duration = ref.read_trips(trips)
    assert ref.taxi_best_speed(distance, duration) == 30.0
    proc = run_cli("solve", "problems/taxi.dop", "--data", f"trips={trips}", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["status"] == "converged"
    assert report["params"]["speed"] == pytest.approx(30.0, abs=1e-6)


def test_taxi_trips_csv_is_reproducible():
    spec = importlib.util.spec_from_file_location(
        "make_taxi_trips", PROBLEMS / "make_taxi_trips.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    distance, duration = module.make_trips()
    on_disk = ref.read_trips(PROBLEMS / "taxi_trips.csv")
    np.testing.assert_array_equal(np.round(distance, 2), on_disk[0])
    np.testing.assert_array_equal(np.round(duration, 1), on_disk[1])
    assert len(distance) == 500


# ---------------------------------------------------------------- projectile.dop


@covers("projectile.dop")
def test_projectile_lands_on_the_target():
    expected = ref.projectile_angle()
    # the reference's bisection needs a single root: landing x increases on the bounds
    flights = [ref.projectile_landing(a) for a in np.linspace(*ref.PROJECTILE_BOUNDS, 50)]
    assert all(landed for _, landed in flights)
    assert np.all(np.diff([x for x, _ in flights]) > 0)

    result = solve("projectile.dop")
    assert result.status == "converged"
    angle = float(param(result, "angle"))
    assert angle == pytest.approx(expected, abs=1e-6)
    assert float(let(result, "miss")) == pytest.approx(0.0, abs=1e-6)
    landed_x, landed = ref.projectile_landing(angle)
    assert landed and landed_x == pytest.approx(ref.PROJECTILE_TARGET, abs=1e-5)
    # loose sanity check against the drag-free, continuous-time formula
    assert abs(angle - ref.projectile_angle_drag_free()) < 0.01


# ---------------------------------------------------------------- cube_root.dop


@covers("cube_root.dop")
def test_cube_root_through_the_implicit_function():
    result = solve("cube_root.dop")
    assert result.status == "converged"
    p = float(param(result, "p"))
    assert p == pytest.approx(ref.cube_root_optimum(), rel=1e-6)
    c = float(let(result, "c"))
    assert c == pytest.approx(np.cbrt(p), rel=1e-10)
    assert c == pytest.approx(ref.CUBE_ROOT_WANTED, rel=1e-7)


# ---------------------------------------------------------------- soft_argmax.dop


@covers("soft_argmax.dop")
def test_soft_argmax_temperature():
    ratings = ref.inline_data("soft_argmax.dop", "ratings")
    result = solve("soft_argmax.dop")
    assert result.status == "converged"
    log_tau = float(param(result, "log_tau"))
    assert log_tau == pytest.approx(ref.soft_argmax_log_tau(), abs=1e-6)
    assert float(let(result, "expected_rating")) == pytest.approx(ref.SOFT_ARGMAX_WANTED, abs=1e-8)
    show = ref.softmax(ratings / np.exp(log_tau))
    np.testing.assert_allclose(let(result, "show"), show, rtol=1e-10)
    np.testing.assert_allclose(let(result, "greedy"), ref.softmax(ratings / 0.01), atol=1e-12)
    assert float(let(result, "entropy")) == pytest.approx(-np.sum(show * np.log(show)), rel=1e-10)


# ---------------------------------------------------------------- ste.dop


@covers("ste.dop")
def test_straight_through_round_lands_on_the_grid():
    truth = ref.ste_true_gains()
    np.testing.assert_allclose(truth / ref.STE_STEP, np.round(truth / ref.STE_STEP), atol=1e-12)
    expected_w, steps = ref.ste_gradient_descent(lr=0.6, max_iter=200)
    assert steps < 200

    # the file asks for gd with lr 0.6; pass the same explicitly
    result = solve("ste.dop", method="gd", lr=0.6, max_iter=200)
    assert result.status == "converged"
    q = let(result, "q")
    np.testing.assert_allclose(q, truth, atol=1e-12)
    w = param(result, "w")
    assert np.all(np.abs(w - q) < ref.STE_STEP / 2), "w must sit inside q's rounding cells"
    np.testing.assert_allclose(w, expected_w, rtol=1e-12)
    assert result.objective.value == pytest.approx(0.0, abs=1e-20)


# ---------------------------------------------------------------- polyfit.dop


@covers("polyfit.dop")
def test_polyfit_matches_numpy():
    xs, ys = ref.inline_data("polyfit.dop", "xs"), ref.inline_data("polyfit.dop", "ys")
    expected = np.polyfit(xs, ys, 2)
    result = solve("polyfit.dop")
    assert result.status == "converged"
    got = [float(param(result, name)) for name in ("a", "b", "c")]
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9)
    mse = np.mean((np.polyval(expected, xs) - ys) ** 2)
    assert result.objective.value == pytest.approx(mse, rel=1e-9)
    assert result.fit is not None and result.fit.dof == len(xs) - 3


# ---------------------------------------------------------------- decay.dop


@covers("decay.dop")
def test_decay_weighted_fit_matches_curve_fit_with_absolute_sigma():
    optimize = pytest.importorskip("scipy.optimize")
    t, counts = ref.inline_data("decay.dop", "t"), ref.inline_data("decay.dop", "N")
    sigma = ref.inline_data("decay.dop", "dN")

    def model(t, n0, tau):
        return n0 * np.exp(-t / tau)

    def jacobian(t, n0, tau):
        return np.column_stack([np.exp(-t / tau), n0 * t / tau**2 * np.exp(-t / tau)])

    popt, pcov = optimize.curve_fit(model, t, counts, p0=[1000, 5], sigma=sigma,
                                    absolute_sigma=True, jac=jacobian, ftol=1e-15,
                                    xtol=1e-15, gtol=1e-15)
    result = solve("decay.dop")
    assert result.status == "converged"
    np.testing.assert_allclose([float(param(result, "N0")), float(param(result, "tau"))],
                               popt, rtol=1e-8)
    np.testing.assert_allclose(result.fit.covariance, pcov, rtol=1e-7)
    assert result.objective.value == pytest.approx(
        np.sum(((model(t, *popt) - counts) / sigma) ** 2), rel=1e-9)


# ---------------------------------------------------------------- tiny_mlp.dop

# A 1-8-1 tanh network has 25 weights for 20 points of sin on [-3, 3]: with
# L-BFGS, 50 random starts drawn like the file's all ended below 6e-6 within
# 200 iterations. 1e-3 (an RMS error of 0.03, 0.2% of the variance of y,
# about 0.5) leaves a wide margin for the optimizer and the seed while still
# failing any fit that has not learned the curve (predicting the mean scores 0.5).
MLP_MSE_THRESHOLD = 1e-3


@covers("tiny_mlp.dop")
def test_tiny_mlp_fits_sin():
    xs, ys = ref.mlp_data()
    assert MLP_MSE_THRESHOLD < 0.01 * np.var(ys)
    result = solve("tiny_mlp.dop")
    assert result.status in ("converged", "max_iter")
    W1, b1, w2 = param(result, "W1"), param(result, "b1"), param(result, "w2")
    assert W1.shape == (8, 1) and b1.shape == (8, 1) and w2.shape == (8,)
    b2 = float(param(result, "b2"))
    mse = ref.mlp_mse(W1, b1, w2, b2)
    assert result.objective.value == pytest.approx(mse, rel=1e-9, abs=1e-15)
    assert mse < MLP_MSE_THRESHOLD
    np.testing.assert_allclose(let(result, "prediction"), ys, atol=0.1)


# ---------------------------------------------------------------- relu_net.dop


def relu_net_fit(W, b, a, c):
    """(hidden activations 3 x 25, mean squared error) of relu_net.dop, in NumPy."""
    xs = np.linspace(-2, 2, 25)
    hidden = np.maximum(W @ xs[None, :] + b, 0.0)
    return hidden, float(np.mean((a @ hidden + c - np.sin(2 * xs)) ** 2))


@covers("relu_net.dop")
def test_relu_net_ends_at_a_local_minimum_that_depends_on_the_start():
    mse_by_seed = []
    for seed in range(12):
        result = api.solve(api.load(str(PROBLEMS / "relu_net.dop"), seed=seed))
        W, b, a = param(result, "W"), param(result, "b"), param(result, "a")
        c = float(param(result, "c"))
        hidden, mse = relu_net_fit(W, b, a, c)
        assert result.objective.value == pytest.approx(mse, rel=1e-10)
        if result.status != "converged" or result.gradient_norm > 1e-6:
            continue  # stopped on a kink (precision exhausted there), not at a minimum
        # a minimum: with the units' kinks where they are, the output layer is
        # linear least squares, and (a, c) must be its solution (NumPy's lstsq)
        design = np.vstack([hidden, np.ones(25)]).T
        xs = np.linspace(-2, 2, 25)
        coef, *_ = np.linalg.lstsq(design, np.sin(2 * xs), rcond=None)
        best = float(np.mean((design @ coef - np.sin(2 * xs)) ** 2))
        assert mse == pytest.approx(best, rel=1e-6, abs=1e-12)
        mse_by_seed.append(mse)
    levels = sorted(set(np.round(mse_by_seed, 6)))
    assert len(mse_by_seed) >= 8 and len(levels) >= 3, mse_by_seed  # several local minima
    assert levels[0] < 0.5 * levels[-1]


# ---------------------------------------------------------------- rosenbrock.dop


@covers("rosenbrock.dop")
def test_rosenbrock():
    result = solve("rosenbrock.dop")
    assert result.status == "converged"
    got = [float(param(result, "x")), float(param(result, "y"))]
    np.testing.assert_allclose(got, ref.rosenbrock_optimum(), atol=1e-5)
    assert result.objective.value < 1e-10


# ---------------------------------------------------------------- constrained.dop


@covers("constrained.dop")
def test_constrained_kkt_point():
    result = solve("constrained.dop")
    assert result.status == "converged"
    got = [float(param(result, "x")), float(param(result, "y"))]
    np.testing.assert_allclose(got, ref.constrained_optimum(), atol=1e-5)
    by_name = {c.name: c for c in result.constraints}
    assert set(by_name) == {"spend", "nonnegative"}
    for c in by_name.values():
        assert c.violation <= 1e-6


# ---------------------------------------------------------------- volume_render.dop


@covers("volume_render.dop")
def test_volume_render_recovers_densities():
    sigma_true, pattern, observed = ref.volume_setup()
    # the reference inversion is exact on exact data: the problem is identifiable
    np.testing.assert_allclose(ref.volume_invert(pattern, observed), sigma_true, atol=1e-10)

    result = solve("volume_render.dop")
    assert result.status == "converged"
    sigma = param(result, "sigma")
    assert sigma.shape == (ref.VOLUME_N,)
    rendered = pattern @ ref.volume_weights(sigma)
    np.testing.assert_allclose(rendered, observed, atol=1e-7)
    np.testing.assert_allclose(let(result, "rendered"), rendered, atol=1e-12)
    np.testing.assert_allclose(sigma, sigma_true, atol=1e-4)


# ---------------------------------------------------------------- arm_ik.dop


@covers("arm_ik.dop")
def test_arm_reaches_the_target():
    result = solve("arm_ik.dop")
    assert result.status == "converged"
    angles = np.array([float(param(result, "θ1")), float(param(result, "θ2"))])
    hand = ref.arm_forward(*angles)
    assert np.linalg.norm(hand - ref.ARM_TARGET) < 1e-6
    np.testing.assert_allclose([let(result, "ex"), let(result, "ey")], hand, atol=1e-12)
    # the start (θ2 = 1) leads to the θ2 > 0 branch of the analytic solution
    expected = ref.arm_inverse(elbow_sign=+1.0)
    np.testing.assert_allclose(ref.wrap_angle(angles - expected), 0.0, atol=1e-5)


# ---------------------------------------------------------------- mini-batch training


def train(name: str, method: str | None = None, seed: int = 0, lr=None):
    """Solve with the file's own method (or ``method``), as `diffopt solve` does."""
    return api.solve(api.load(str(PROBLEMS / name), seed=seed), method=method, lr=lr)


@covers("iris_logistic.dop")
@pytest.mark.parametrize("method, lr", [(None, None), ("adam", 0.02)])
def test_iris_logistic_matches_the_reference_accuracy(method, lr):
    from diffopt.batching import split_rows  # the split is an input of the reference

    result = train("iris_logistic.dop", method=method, lr=lr)
    assert result.status == "max_iter"  # trained for all its epochs (no early stop)
    assert result.method == (method or "sgd")
    training_rows, held_out = split_rows(150, 0.2, 0)
    assert result.training.validation_rows == len(held_out) == 30
    reference = ref.iris_logistic_accuracy(training_rows, ridge=0.5 / 120, steps=4000)
    # within one misclassified flower of the full-batch reference
    assert abs(float(let(result, "accuracy")) - reference) <= 1 / 150 + 1e-12
    assert reference > 0.9


def test_iris_logistic_matches_scikit_learn():
    linear_model = pytest.importorskip("sklearn.linear_model")
    from diffopt.batching import split_rows

    X, y = ref.iris_table()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    training_rows, _ = split_rows(150, 0.2, 0)
    model = linear_model.LogisticRegression(C=1.0, max_iter=10000, tol=1e-10)
    model.fit(X[training_rows], y[training_rows])
    expected = float(np.mean(model.predict(X) == y))
    result = train("iris_logistic.dop")
    assert abs(float(let(result, "accuracy")) - expected) <= 1 / 150 + 1e-12


@covers("iris_mlp.dop")
@pytest.mark.parametrize("method, lr", [(None, None), ("sgd", 0.2)])
def test_iris_mlp_classifies_the_flowers(method, lr):
    result = train("iris_mlp.dop", method=method, lr=lr)
    assert result.status == "converged"
    assert float(let(result, "accuracy")) >= 0.95
    assert result.training.best_epoch is not None
    assert result.training.validation_loss < 0.3  # log 3 = 1.1 for a uniform guess


@covers("gumbel_choice.dop")
def test_gumbel_choice_learns_the_fastest_route_from_fresh_samples():
    minutes = ref.inline_data("gumbel_choice.dop", "minutes")
    fastest = int(np.argmin(minutes))
    result = train("gumbel_choice.dop")
    assert result.method == "sgd"
    chosen = let(result, "chosen")
    assert int(np.argmax(chosen)) == fastest and chosen[fastest] > 0.9
    # the same seed: the same run, bit for bit
    again = train("gumbel_choice.dop")
    assert again.params["logits"].tobytes() == result.params["logits"].tobytes()
    # deterministic: the noise is one fixed draw, and the fit is to that sample
    fixed = train("gumbel_choice.dop", method="lbfgs")
    assert not np.allclose(let(fixed, "chosen"), chosen, atol=0.05)
