"""Batched evaluation (diffopt.compile.batched, Session.values_batch) against closed forms.

Every reference here is written out in NumPy from the problem's formula, never
computed by diffopt: the terrain crossing time, Rosenbrock, the polyfit mean
squared error, a matrix-vector model, constraint values, and a program whose
branch depends on the parameter (rows on the other branch are re-traced).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from diffopt import api
from diffopt.compile import batched

PROBLEMS = Path(__file__).resolve().parent.parent / "problems"


def grid(lows, highs, n):
    axes = [np.linspace(lo, hi, n) for lo, hi in zip(lows, highs)]
    return np.stack([a.ravel() for a in np.meshgrid(*axes)], axis=1)


def test_terrain_grid_is_the_closed_form_crossing_time():
    session = api.load(PROBLEMS / "terrain.dop")
    X = grid((0.5, 1.0), (15.0, 18.0), 60)
    f, constraints = session.values_batch(X)
    h, d, v = 20.0, 10.0, (0.7, 0.3, 0.45)
    x1, x2 = X[:, 0], X[:, 1]

    def leg(x, s):
        return np.sqrt(x ** 2 + d ** 2) / s

    np.testing.assert_allclose(f, leg(x1, v[0]) + leg(x2, v[1]) + leg(h - x1 - x2, v[2]),
                               rtol=1e-13)
    assert constraints.shape == (len(X), 0)


def test_rosenbrock_and_polyfit_grids():
    X = grid((-2.0, -1.0), (2.0, 3.0), 40)
    f, _ = api.load(PROBLEMS / "rosenbrock.dop").values_batch(X)
    np.testing.assert_allclose(f, (1 - X[:, 0]) ** 2 + 100 * (X[:, 1] - X[:, 0] ** 2) ** 2,
                               rtol=1e-13)
    xs = np.array([-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    ys = np.array([8.2, 6.14, 4.218, 2.683, 1.864, 1.153, 1.318, 1.952, 2.052, 3.064])
    P = grid((0.0, -2.0, 1.0), (1.0, 0.0, 3.0), 12)
    f, _ = api.load(PROBLEMS / "polyfit.dop").values_batch(P)
    model = P[:, :1] * xs ** 2 + P[:, 1:2] * xs + P[:, 2:3]
    np.testing.assert_allclose(f, np.mean((model - ys) ** 2, axis=1), rtol=1e-12)


def test_constraint_values_are_batched_too():
    X = grid((-1.0, -1.0), (3.0, 3.0), 25)
    f, constraints = api.load(PROBLEMS / "constrained.dop").values_batch(X)
    np.testing.assert_allclose(f, (X[:, 0] - 2) ** 2 + (X[:, 1] - 1) ** 2, rtol=1e-13)
    # spend: x + y - budget <= 0 ; nonnegative: x >= 0 read as 0 - x <= 0
    np.testing.assert_allclose(constraints[:, 0], X[:, 0] + X[:, 1] - 2.0, atol=1e-14)
    np.testing.assert_allclose(constraints[:, 1], -X[:, 0], atol=1e-14)


def test_matrix_parameters_reductions_and_matmul(tmp_path):
    problem = tmp_path / "m.dop"
    problem.write_text(
        "data A = [[1, 2, 0], [0, 1, -1]]\n"
        "param w[3] = [0.5, -1, 2], s = 1\n"
        "let r = A @ w - [1, 2]\n"
        "minimize sum(r^2) + s * sum(w) + sum(tanh(w) @ A[0])\n")
    session = api.load(problem)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 4))
    f, _ = session.values_batch(X)
    A = np.array([[1.0, 2, 0], [0, 1, -1]])
    w, s = X[:, :3], X[:, 3]
    r = w @ A.T - np.array([1.0, 2.0])
    expected = np.sum(r ** 2, axis=1) + s * np.sum(w, axis=1) + np.tanh(w) @ A[0]
    np.testing.assert_allclose(f, expected, rtol=1e-12)


def test_rows_on_another_branch_are_retraced(tmp_path):
    problem = tmp_path / "b.dop"
    problem.write_text("param x = 1\nminimize if x > 0 then x^2 else 3 * abs(x) + 1\n")
    session = api.load(problem)
    X = np.linspace(-2.0, 2.0, 41)[:, None]
    f, _ = session.values_batch(X)
    np.testing.assert_allclose(f, np.where(X[:, 0] > 0, X[:, 0] ** 2, 3 * np.abs(X[:, 0]) + 1),
                               rtol=1e-14)


def test_an_equation_without_a_batching_rule_is_mapped_over_the_rows(tmp_path):
    problem = tmp_path / "i.dop"
    problem.write_text("param w[3] = [1, 2, 3]\nminimize (w[0] - 1)^2 + w[2] * w[1] + max(w)\n")
    session = api.load(problem)
    X = np.random.default_rng(2).normal(size=(50, 3))
    f, _ = session.values_batch(X)
    np.testing.assert_allclose(f, (X[:, 0] - 1) ** 2 + X[:, 2] * X[:, 1] + X.max(axis=1),
                               rtol=1e-14)


def test_run_batched_reports_where_the_recorded_branch_holds(tmp_path):
    problem = tmp_path / "g.dop"
    problem.write_text("param x = 1\nminimize if x > 0 then x^2 else -x\n")
    recording = api.load(problem).recording
    X = np.array([2.0, -1.0, 0.5])
    values, holds = batched.run_batched(recording.tape, [recording.reported],
                                        recording.tape.guards, [X])
    assert holds.tolist() == [True, False, True]
    np.testing.assert_allclose(values[0][holds], [4.0, 0.25])


@pytest.mark.parametrize("chunk", (1, 7, 1 << 22))
def test_chunks_give_the_same_values(monkeypatch, chunk):
    monkeypatch.setattr(batched, "CHUNK_ELEMENTS", chunk)
    X = grid((-1.0, -1.0), (1.0, 1.0), 9)
    f, _ = api.load(PROBLEMS / "rosenbrock.dop").values_batch(X)
    np.testing.assert_allclose(f, (1 - X[:, 0]) ** 2 + 100 * (X[:, 1] - X[:, 0] ** 2) ** 2,
                               rtol=1e-13)
