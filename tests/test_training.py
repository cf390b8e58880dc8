"""Mini-batch training: batch gradients, reproducibility, methods, schedules, stopping, errors.

References are computed without diffopt: closed-form least squares
(numpy.linalg.lstsq), the full-batch gradient of the session (already tested
against finite differences elsewhere), and hand-written NumPy loops of the
PyTorch update rules.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from diffopt import api
from diffopt.batching import BatchProgram, row_data, split_rows
from diffopt.cli import app
from diffopt.solve.oracle import IterationInfo
from diffopt.solve.stochastic import Epochs, TrainSettings, learning_rate, train

runner = CliRunner()


def write_rows(path, noise: float, n: int = 128, seed: int = 3):
    """A CSV of y = 1.5 a - 0.5 b + 0.3 + noise; returns the closed-form least squares."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = X @ np.array([1.5, -0.5]) + 0.3 + noise * rng.normal(size=n)
    with open(path, "w") as f:
        f.write("a,b,y\n")
        for i in range(n):
            f.write(f"{float(X[i, 0])!r},{float(X[i, 1])!r},{float(y[i])!r}\n")
    return np.linalg.lstsq(np.c_[X, np.ones(n)], y, rcond=None)[0]


def problem(tmp_path, options: str, objective: str = "mean((w[0] * d.a + w[1] * d.b + c - d.y)^2)",
            noise: float = 0.1, extra: str = ""):
    solution = write_rows(tmp_path / "rows.csv", noise)
    path = tmp_path / "fit.dop"
    path.write_text(f'data d = csv("rows.csv")\nparam w[2] = 0\nparam c = 0\n{extra}'
                    f"minimize loss: {objective}\noption {options}\n")
    return path, solution


# ------------------------------------------------------------------ batch gradients


@pytest.mark.parametrize("objective", [
    "mean((w[0] * d.a + w[1] * d.b + c - d.y)^2)",
    "sum((w[0] * d.a + w[1] * d.b + c - d.y)^2) + 0.5 * c^2",
    "0.5 * mean(log(1 + (w[0] * d.a - d.y)^2)) + sum(abs(w[1] * d.b + c)) / 4",
])
def test_batch_gradients_average_to_the_full_gradient(tmp_path, objective):
    path, _ = problem(tmp_path, 'method = "sgd", batch = 16', objective)
    session = api.load(str(path))
    x = np.array([0.3, -0.2, 0.1])
    f, g = session.value_and_grad(x)  # every row
    data = row_data(session.problem.tables)
    program = BatchProgram(session.problem, data, 16, gradient=True)
    order = np.random.default_rng(5).permutation(data.count)
    batches = [program.run(x, [c[order[k:k + 16]] for c in data.columns])
               for k in range(0, data.count, 16)]
    assert len(batches) == 8
    np.testing.assert_allclose(np.mean([b[1] for b in batches], axis=0), g, rtol=1e-12,
                               atol=1e-13)
    assert np.mean([b[0] for b in batches]) == pytest.approx(f, rel=1e-12)


def test_a_remainder_batch_is_weighted_by_its_rows(tmp_path):
    path, _ = problem(tmp_path, 'method = "sgd", batch = 48')
    session = api.load(str(path))
    x = np.array([0.3, -0.2, 0.1])
    _, g = session.value_and_grad(x)
    data = row_data(session.problem.tables)
    sizes = (48, 48, 32)
    grads, start = [], 0
    for size in sizes:
        grads.append(BatchProgram(session.problem, data, size, gradient=True)
                     .run(x, [c[start:start + size] for c in data.columns])[1])
        start += size
    weighted = sum(size * grad for size, grad in zip(sizes, grads)) / 128
    np.testing.assert_allclose(weighted, g, rtol=1e-12, atol=1e-13)


# ------------------------------------------------------------------ convergence and runs


def test_sgd_with_momentum_reaches_the_least_squares_solution(tmp_path):
    path, solution = problem(
        tmp_path, 'method = "sgd", momentum = 0.9, lr = 0.1, batch = 16, epochs = 300, '
                  'schedule = "step", decay = 0.5, decay_epochs = 10', noise=0.001)
    result = api.solve(api.load(str(path)))
    found = np.r_[result.params["w"], result.params["c"]]
    np.testing.assert_allclose(found, solution, atol=1e-6, rtol=0)
    assert result.status == "max_iter"  # the epochs ran out: no test certifies the point
    assert result.message.startswith("ran all 300 epochs (2400 steps), the budget epochs")
    assert result.training.steps == 300 * 8


def run_with_events(path, seed: int, method=None):
    events: list[IterationInfo] = []
    result = api.solve(api.load(str(path), seed=seed), method=method, callback=events.append)
    return result, [(e.iteration, e.objective, e.validation, e.gradient_norm, e.x.tobytes())
                    for e in events]


def test_a_seeded_run_is_bit_identical_when_repeated(tmp_path):
    path, _ = problem(tmp_path, 'method = "adam", lr = 0.05, batch = 10, epochs = 5, '
                                "validation = 0.25",
                      objective="mean((w[0] * d.a + w[1] * d.b + c - d.y)^2 + "
                                "0.1 * normal(0, 1, 1) * c)")
    first, trace_1 = run_with_events(path, seed=4)
    second, trace_2 = run_with_events(path, seed=4)
    other, trace_3 = run_with_events(path, seed=5)
    assert trace_1 == trace_2 and len(trace_1) == 5
    assert first.params["w"].tobytes() == second.params["w"].tobytes()
    assert trace_3 != trace_1


def test_the_trace_file_is_bit_identical(tmp_path):
    path, _ = problem(tmp_path, 'method = "sgd", momentum = 0.5, batch = 32, epochs = 4, '
                                "validation = 0.25")
    texts = []
    for name in ("one.jsonl", "two.jsonl"):
        result = runner.invoke(app, ["solve", str(path), "--seed", "3", "--trace",
                                     str(tmp_path / name), "--quiet"])
        assert result.exit_code == 1, result.output  # max_iter: the epochs ran out
        lines = (tmp_path / name).read_text().splitlines()
        texts.append([line.split('"elapsed"')[0] + line.split('"params"')[1] for line in lines])
    assert texts[0] == texts[1] and len(texts[0]) == 4
    assert '"validation": ' in (tmp_path / "one.jsonl").read_text()


def test_early_stopping_returns_the_best_validation_point(tmp_path):
    # lr too large for adam to settle: the validation loss wanders, so it stops early
    path, _ = problem(tmp_path, 'method = "adam", lr = 0.3, batch = 8, epochs = 200, '
                                "validation = 0.25, patience = 3", noise=1.0)
    events: list[IterationInfo] = []
    result = api.solve(api.load(str(path)), callback=events.append)
    losses = [e.validation for e in events]
    best = int(np.argmin(losses))
    assert result.training.best_epoch == events[best].iteration
    assert len(events) == best + 1 + 3 < 200  # three epochs without a better loss
    np.testing.assert_array_equal(np.r_[result.params["w"], result.params["c"]],
                                  events[best].x)
    assert result.training.validation_loss == losses[best]
    assert result.message == ("stopped early: no better validation loss in 3 epochs; "
                              f"best at epoch {best + 1}")
    held = split_rows(128, 0.25, 0)[1]
    assert result.training.validation_rows == len(held) == 32


def test_random_draws_are_fresh_at_every_step_under_sgd(tmp_path):
    path = tmp_path / "noise.dop"
    path.write_text("param m = 0\nminimize (m - normal(3, 1))^2\n"
                    'option method = "sgd", lr = 0.05, epochs = 4000, schedule = "inverse_time", '
                    "decay = 0.01\n")
    sgd = api.solve(api.load(str(path)))
    fixed = api.solve(api.load(str(path)), method="lbfgs")
    draw = float(fixed.params["m"])  # the one draw of a deterministic run: m fits it exactly
    assert abs(draw - 3) > 0.05
    assert abs(float(sgd.params["m"]) - 3) < 0.05  # the mean of fresh draws


# ------------------------------------------------------------------ update rules


def quadratic_epochs(A, b, batches=1):
    return Epochs(len(b), batches, lambda x, e, k, t: (0.5 * x @ A @ x - b @ x, A @ x - b),
                  None, np.full(len(b), -np.inf), np.full(len(b), np.inf))


A = np.array([[3.0, 0.5], [0.5, 1.0]])
B = np.array([1.0, -2.0])


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_heavy_ball_matches_the_pytorch_form(nesterov):
    beta, lr = 0.8, 0.1
    out = train(quadratic_epochs(A, B), np.zeros(2),
                TrainSettings(method="sgd", lr=lr, epochs=7, momentum=beta, nesterov=nesterov))
    # PyTorch: buf = mu buf + (1 - dampening) g; step lr' (g + mu buf if nesterov else buf)
    x, buf = np.zeros(2), np.zeros(2)
    for _ in range(7):
        g = A @ x - B
        buf = beta * buf + (1 - beta) * g
        x = x - lr * (beta * buf + (1 - beta) * g if nesterov else buf)
    np.testing.assert_allclose(out.x, x, rtol=1e-14)
    # undampened PyTorch SGD with lr' = lr (1 - beta) takes the same steps
    y, v = np.zeros(2), np.zeros(2)
    for _ in range(7):
        g = A @ y - B
        v = beta * v + g
        y = y - lr * (1 - beta) * (g + beta * v if nesterov else v)
    np.testing.assert_allclose(out.x, y, rtol=1e-12)


def test_adamw_decays_decoupled_like_pytorch():
    lr, wd, b1, b2, eps = 0.05, 0.1, 0.9, 0.99, 1e-8
    out = train(quadratic_epochs(A, B), np.array([1.0, 1.0]),
                TrainSettings(method="adamw", lr=lr, epochs=6, weight_decay=wd, beta1=b1,
                              beta2=b2, eps=eps))
    x, m, v = np.array([1.0, 1.0]), np.zeros(2), np.zeros(2)
    for t in range(1, 7):
        g = A @ x - B
        x = x * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    np.testing.assert_allclose(out.x, x, rtol=1e-13)


def test_gradient_clipping_limits_the_step():
    out = train(quadratic_epochs(np.eye(2), np.array([300.0, 400.0])), np.zeros(2),
                TrainSettings(method="sgd", lr=1.0, epochs=1, clip_norm=5.0))
    np.testing.assert_allclose(out.x, [3.0, 4.0])  # g = (-300, -400) clipped to norm 5


def test_schedules_follow_their_formulas():
    s = TrainSettings(lr=0.1, epochs=10, decay=0.5, decay_epochs=3)
    B4 = 4  # steps per epoch
    assert learning_rate(s, 11, B4) == 0.1
    assert learning_rate(TrainSettings(**{**s.__dict__, "schedule": "step"}), 12, B4) == \
        pytest.approx(0.05)  # epoch 3
    assert learning_rate(TrainSettings(**{**s.__dict__, "schedule": "inverse_time"}), 8, B4) \
        == pytest.approx(0.1 / (1 + 0.5 * 2))
    cosine = TrainSettings(**{**s.__dict__, "schedule": "cosine", "warmup": 4})
    assert learning_rate(cosine, 1, B4) == pytest.approx(0.1 * 2 / 4)
    assert learning_rate(cosine, 4 + 18, B4) == pytest.approx(0.05)  # half way: 18 of 36
    assert learning_rate(cosine, 40, B4) == pytest.approx(0.0)


# ------------------------------------------------------------------ errors


def solve_error(tmp_path, options: str, objective: str | None = None, extra: str = "") -> str:
    path, _ = problem(tmp_path, options, objective or "mean((w[0] * d.a + c - d.y)^2)",
                      extra=extra)
    result = runner.invoke(app, ["solve", str(path), "--quiet"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr
    return result.stderr.splitlines()[0].split("fit.dop:", 1)[1]


# (options, the text the error points at, message): the column is that text's in line 5
@pytest.mark.parametrize("options, at, message", [
    ('method = "sgd", batch = 0', "0", "option 'batch' must be a whole number >= 1, got 0"),
    ('method = "sgd", batch = 2.5', "2.5", "option 'batch' takes a whole number"),
    ('method = "sgd", epochs = -1', "-1", "option 'epochs' takes a whole number"),
    ('method = "sgd", momentum = 1', "1", "option 'momentum' must be a number in [0, 1), got 1"),
    ('method = "sgd", nesterov = 1', "1", "option 'nesterov' takes true or false"),
    ('method = "adam", beta1 = -0.1', "-0.1",
     "option 'beta1' must be a number in [0, 1), got -0.1"),
    ('method = "adam", beta2 = 1', "1", "option 'beta2' must be a number in [0, 1), got 1"),
    ('method = "adam", eps = 0', "0", "option 'eps' must be positive"),
    ('method = "adamw", weight_decay = -1', "-1",
     "option 'weight_decay' must be a number >= 0, got -1"),
    ('method = "sgd", schedule = "linear"', '"linear"',
     "option 'schedule' must be one of constant, step, cosine, inverse_time"),
    ('method = "sgd", decay = 0', "0", "option 'decay' must be a number > 0, got 0"),
    ('method = "sgd", schedule = "step", decay = 2', "2",
     "option 'decay' must be below 1 for schedule \"step\", got 2"),
    ('method = "sgd", warmup = true', "true", "option 'warmup' takes a number, not true"),
    ('method = "sgd", clip_norm = 0', "0", "option 'clip_norm' must be positive"),
    ('method = "sgd", validation = 1', "1",
     "option 'validation' must be a number in (0, 1), got 1"),
    ('method = "sgd", patience = 0', "0", "option 'patience' must be a whole number >= 1, got 0"),
    ('method = "sgd", patience = 3', "3",
     "option 'patience' needs held-out rows: set option validation too"),
    ('method = "sgd", batch = 500', "500",
     "option 'batch' is 500, but there are only 128 training rows"),
    ('method = "lbfgs", batch = 16', "16",
     "option 'batch' is for the stochastic methods sgd, adam and adamw, not lbfgs"),
])
def test_each_bad_option_gives_a_located_error(tmp_path, options, at, message):
    column = len("option ") + options.rindex(at) + 1
    assert solve_error(tmp_path, options) == f"5:{column}: error: {message}"


# (objective, the text the error points at in line 4, reason); "" is option batch's value
@pytest.mark.parametrize("objective, at, reason", [
    ("sqrt(mean((w[0] * d.a + c - d.y)^2))", "sqrt",
     "'sqrt' of a sum over the rows: the batch value is a biased estimate"),
    ("mean((d.y - mean(d.y)) * w[0])", "- mean",
     "'-' combines data rows with a sum over the rows (a batch statistic)"),
    ("max((w[0] * d.a - d.y)^2)", "max",
     "'max' over the data rows: a batch gives a biased estimate of it over all rows"),
    ("(w[0] * d.a[0] - d.y[0])^2 + mean(c * d.b)", "d.a[0]",
     "this picks some of the data rows: a batch holds other rows than the whole table"),
    ("(w[0] - 1)^2 + c^2", "", "option batch: the objective does not read any data rows"),
])
def test_objectives_whose_batch_gradient_is_biased_are_refused(tmp_path, objective, at, reason):
    got = solve_error(tmp_path, 'method = "sgd", batch = 16', objective)
    if at:
        column = len("minimize loss: ") + objective.index(at) + 1
        expected = (f"4:{column}: error: option batch needs an objective that is a mean or sum "
                    f"over data rows: {reason}")
    else:
        expected = f"5:32: error: {reason}"  # at the batch size
    assert got == expected


def test_a_whole_column_beside_a_batch_is_a_shape_error_with_a_hint(tmp_path):
    path, _ = problem(tmp_path, 'method = "sgd", batch = 16', "mean((w[0] * d.a - d.y) * ramp)",
                      extra="const ramp = arange(0, 128)\n")
    result = runner.invoke(app, ["solve", str(path), "--quiet"])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].endswith("fit.dop:5:21: error: operator '*': shapes (16,) and (128,) "
                             "cannot be broadcast together")
    assert lines[-1] == ("help: each step sees 16 of the 128 rows of data d: a value with one "
                         "entry per row must be computed from them (a let), not given whole "
                         "(a const)")


def test_a_const_is_computed_from_all_rows(tmp_path):
    path, _ = problem(tmp_path, 'method = "sgd", batch = 16, epochs = 1, lr = 1e-9',
                      "mean((w[0] * (d.a - center) + c - d.y)^2)",
                      extra="const center = mean(d.a)\n")
    result = api.solve(api.load(str(path)))
    rows = np.loadtxt(tmp_path / "rows.csv", delimiter=",", skiprows=1)
    expected = np.mean((0 * (rows[:, 0] - rows[:, 0].mean()) + 0 - rows[:, 2]) ** 2)
    assert result.training.train_loss == pytest.approx(expected, rel=1e-6)


def test_the_training_report_names_both_losses(tmp_path):
    path, _ = problem(tmp_path, 'method = "sgd", batch = 32, epochs = 3, validation = 0.25')
    result = runner.invoke(app, ["solve", str(path)])
    assert result.exit_code == 1, result.output  # max_iter: the epochs ran out
    assert "batch 32   epochs 3   train loss" in result.stdout
    assert "validation loss" in result.stdout and "best epoch" in result.stdout
    training = api.solve(api.load(str(path))).training
    assert math.isfinite(training.train_loss) and training.validation_rows == 32



def test_the_json_report_has_the_training_and_its_settings(tmp_path):
    path, _ = problem(tmp_path, 'method = "sgd", momentum = 0.5, batch = 32, epochs = 2, '
                                "validation = 0.25")
    result = runner.invoke(app, ["solve", str(path), "--json", "--seed", "2"])
    assert result.exit_code == 1, result.output  # max_iter: the epochs ran out
    document = json.loads(result.stdout)
    assert document["status"] == "max_iter" and document["success"] is False
    assert document["training"]["batch"] == 32 and document["training"]["epochs"] == 2
    assert document["training"]["validation_rows"] == 32
    assert document["iterations"] == 2 * 3  # 96 training rows in batches of 32
    settings = document["settings"]
    assert (settings["method"], settings["momentum"], settings["seed"]) == ("sgd", 0.5, 2)
    assert settings["schedule"] == "constant" and settings["batch"] == 32


def test_stochastic_methods_refuse_option_sigma(tmp_path):
    message = solve_error(tmp_path, 'method = "sgd", sigma = 0.1')
    assert message == ("5:32: error: option 'sigma' weights a least-squares fit; sgd does not "
                       "take it (write the weights into the objective)")
