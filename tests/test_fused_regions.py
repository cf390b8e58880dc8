"""Fused regions (diffopt.compile.regions/kernel/blocks) on large random tables.

Values and gradients of five ways of writing the taxi fit are checked against
closed-form derivatives computed here with NumPy, and against the same
program compiled without fusion; the escaping arrays of a least-squares fit
(residuals and their Jacobian), the unfused fallback on inf/NaN, the split
over threads, and that no warning is printed from the worker threads.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from diffopt import api
from diffopt.compile import blocks, regions

ROWS = 150_000  # over FUSE_MIN, several blocks, two parts on two cores

FORMULATIONS = {
    "60 * trips.d / speed - trips.m": (lambda d, m, w, s: 60 * d / s - m,
                                       lambda d, m, w, s: -60 * d / s**2),
    "trips.d / speed * 60 - trips.m": (lambda d, m, w, s: 60 * d / s - m,
                                       lambda d, m, w, s: -60 * d / s**2),
    "trips.d * 60 / speed - trips.m": (lambda d, m, w, s: 60 * d / s - m,
                                       lambda d, m, w, s: -60 * d / s**2),
    "(trips.d / speed - trips.m / 60) * 60": (lambda d, m, w, s: 60 * d / s - m,
                                              lambda d, m, w, s: -60 * d / s**2),
    "(60 * trips.d / speed - trips.m) / trips.w": (lambda d, m, w, s: (60 * d / s - m) / w,
                                                   lambda d, m, w, s: -60 * d / s**2 / w),
}


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    rng = np.random.default_rng(11)
    d = rng.uniform(0.5, 20.0, ROWS)
    m = 60.0 * d / rng.normal(30.0, 3.0, ROWS)
    w = rng.uniform(0.5, 2.0, ROWS)
    path = tmp_path_factory.mktemp("fused") / "trips.npz"
    np.savez(path, d=d, m=m, w=w)
    return path, d, m, w


def load(path, expression, tmp_path, objective="mean(({})^2)"):
    program = tmp_path / "fit.dop"
    program.write_text(f'data trips = csv("{path}")\nparam speed in [1, 200] = 20\n'
                       f"minimize {objective.format(expression)}\n")
    return api.load(program)


def fused_source(problem, key="value_and_grad") -> str:
    return problem.recording.programs[key].source


@pytest.mark.parametrize("expression", list(FORMULATIONS))
def test_value_and_gradient_match_closed_form_and_unfused(expression, table, tmp_path,
                                                          monkeypatch):
    path, d, m, w = table
    residual, derivative = FORMULATIONS[expression]
    problem = load(path, expression, tmp_path)
    for s in (20.0, 31.5):
        value, grad = problem.value_and_grad(np.array([s]))
        r = residual(d, m, w, s)
        assert value == pytest.approx(np.mean(r * r), rel=1e-12)
        assert grad[0] == pytest.approx(np.mean(2 * r * derivative(d, m, w, s)), rel=1e-11)
    # the program really is fused: one region returns the value's and the gradient's sums
    assert re.search(r"s\d+, s\d+, = F\[\d+\]\(", fused_source(problem))
    monkeypatch.setattr(regions, "FUSE_MIN", 10**12)
    unfused = load(path, expression, tmp_path)
    unfused.value_and_grad(np.array([20.0]))
    assert not re.search(r"s\d+, s\d+, = F\[", fused_source(unfused))
    for s in (20.0, 31.5):
        got, want = problem.value_and_grad(np.array([s])), unfused.value_and_grad(np.array([s]))
        assert got[0] == pytest.approx(want[0], rel=1e-13)
        assert got[1][0] == pytest.approx(want[1][0], rel=1e-13)


def test_forward_mode_and_least_squares_arrays(table, tmp_path):
    path, d, m, w = table
    expression = "(60 * trips.d / speed - trips.m) / trips.w"
    problem = load(path, expression, tmp_path)
    s = 27.0
    value, grad = problem.gradient_forward(np.array([s]))
    r = (60 * d / s - m) / w
    assert value == pytest.approx(np.mean(r * r), rel=1e-12)
    assert grad[0] == pytest.approx(np.mean(2 * r * (-60 * d / s**2 / w)), rel=1e-11)
    # residuals and their Jacobian leave the region as whole arrays
    residuals, jacobian = problem.residual_jacobian(np.array([s]))
    # (a residual near 0 is a difference of nearly equal numbers: an absolute bound)
    np.testing.assert_allclose(residuals, r, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(jacobian[:, 0], -60 * d / s**2 / w, rtol=1e-12)


def test_inf_and_nan_are_those_of_the_unfused_program(table, tmp_path, monkeypatch, capfd):
    _, d, m, w = table
    d = d.copy()
    d[7] = np.inf
    w = w.copy()
    w[9] = 0.0  # a division by zero in a worker thread prints nothing
    path = tmp_path / "bad.npz"
    np.savez(path, d=d, m=m, w=w)
    expression = "(60 * trips.d / speed - trips.m) / trips.w"
    problem = load(path, expression, tmp_path)
    got = problem.value_and_grad(np.array([20.0]))
    monkeypatch.setattr(regions, "FUSE_MIN", 10**12)
    want = load(path, expression, tmp_path).value_and_grad(np.array([20.0]))
    np.testing.assert_array_equal(np.hstack([got[0], got[1]]), np.hstack([want[0], want[1]]))
    assert not np.isfinite(got[0])
    assert capfd.readouterr().err == ""


def test_one_part_or_two_agree(table, tmp_path, monkeypatch):
    path, d, m, w = table
    problem = load(path, "60 * trips.d / speed - trips.m", tmp_path)
    two = problem.value_and_grad(np.array([25.0]))
    monkeypatch.setattr(blocks, "part_count", lambda rows: 1)
    one = problem.value_and_grad(np.array([25.0]))
    assert one[0] == pytest.approx(two[0], rel=1e-13)
    assert one[1][0] == pytest.approx(two[1][0], rel=1e-13)


def test_sum_of_an_elementwise_chain(table, tmp_path):
    """A plain sum (not a dot product) ending a region, with exp in the chain."""
    path, d, m, w = table
    problem = load(path, "trips.d / speed", tmp_path, objective="sum(exp(-({})) * trips.w)")
    s = 10.0
    value, grad = problem.value_and_grad(np.array([s]))
    assert value == pytest.approx(np.sum(np.exp(-d / s) * w), rel=1e-12)
    assert grad[0] == pytest.approx(np.sum(np.exp(-d / s) * w * d / s**2), rel=1e-11)


def test_small_tables_are_not_fused(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "small.npz"
    np.savez(path, d=rng.uniform(1, 2, 1000), m=rng.uniform(1, 2, 1000), w=np.ones(1000))
    problem = load(path, "60 * trips.d / speed - trips.m", tmp_path)
    problem.value_and_grad(np.array([20.0]))
    assert not re.search(r"s\d+, s\d+, = F\[", fused_source(problem))


def test_a_forked_child_makes_its_own_threads(table, tmp_path):
    """The pool's threads do not survive fork: the child must not wait on them."""
    import os

    path, d, m, w = table
    problem = load(path, "60 * trips.d / speed - trips.m", tmp_path)
    value, _ = problem.value_and_grad(np.array([22.0]))  # the parent's pool exists now
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: evaluate again, report, exit
        try:
            got, _ = problem.value_and_grad(np.array([22.0]))
            os.write(write, repr(float(got)).encode())
        finally:
            os._exit(0)
    os.close(write)
    import select
    import signal

    ready, _, _ = select.select([read], [], [], 60.0)
    if not ready:  # the child hangs: end it, and fail
        os.kill(pid, signal.SIGKILL)
    with os.fdopen(read) as reader:
        reported = reader.read() if ready else ""
    os.waitpid(pid, 0)
    assert reported, "the forked child never finished"
    assert float(reported) == value
