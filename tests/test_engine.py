"""The differentiation engine end to end: worked examples, both modes, loops,
branches, implicit functions, Hessians, NaN provenance and deep programs."""

from __future__ import annotations

import numpy as np
import pytest

from diffopt import api
from diffopt.errors import DopError, NumericalError


def load(tmp_path, text, name="p.dop", **kw):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return api.load(path, **kw)


def grads(problem, at=None):
    rev = api.gradient(problem, at=at, mode="reverse")
    fwd = api.gradient(problem, at=at, mode="forward")
    return rev, fwd


def flat(result):
    return np.concatenate([np.ravel(v) for v in result.gradient.values()])


# ------------------------------------------------------------ worked examples


def test_cubic_plus_sine(tmp_path):
    p = load(tmp_path, "param x = 2\nminimize x^3 + sin(x)\n")
    rev, fwd = grads(p)
    assert rev.objective.value == pytest.approx(8.909297, abs=1e-6)
    assert rev.gradient["x"] == pytest.approx(11.583853, abs=1e-6)
    assert fwd.gradient["x"] == pytest.approx(12 + np.cos(2), rel=1e-14)


def test_sin_xy_plus_exp(tmp_path):
    p = load(tmp_path, "param x = 1, y = 2\nminimize sin(x*y) + exp(x^2)\n")
    rev, fwd = grads(p)
    assert rev.objective.value == pytest.approx(3.627579, abs=1e-6)
    assert rev.gradient["x"] == pytest.approx(4.604270, abs=1e-6)
    assert rev.gradient["y"] == pytest.approx(-0.416147, abs=1e-6)
    np.testing.assert_allclose(flat(fwd), flat(rev), rtol=1e-14)


def test_product_with_shared_subexpression(tmp_path):
    p = load(tmp_path, "param a = 2, b = 3\nlet en = (a*b)*(b+1)\nminimize en\n")
    rev, fwd = grads(p)
    assert rev.objective.value == 24
    assert rev.gradient == {"a": 12, "b": 14}
    assert fwd.gradient == {"a": 12, "b": 14}


@pytest.mark.parametrize("p, slope", [(1, 1 / 3), (8, 1 / 12), (27, 1 / 27)])
def test_cube_root_by_implicit_function_theorem(tmp_path, p, slope):
    prob = load(tmp_path, "param p = 1\nlet c = root(x: x^3 - p, init=1)\nminimize c\n",
                sets={"p": p})
    rev, fwd = grads(prob)
    assert rev.objective.value == pytest.approx(p ** (1 / 3), rel=1e-12)
    assert rev.gradient["p"] == pytest.approx(slope, rel=1e-10)
    assert fwd.gradient["p"] == pytest.approx(slope, rel=1e-10)


def test_relu_network_dead_unit(tmp_path):
    p = load(tmp_path, "param x = 2, w1 = -3, b1 = 1, w2 = 2, b2 = 0.5\n"
                       "minimize relu(w1*x + b1)*w2 + b2\n")
    rev, fwd = grads(p)
    assert rev.objective.value == 0.5
    assert rev.gradient == {"x": 0, "w1": 0, "b1": 0, "w2": 0, "b2": 1}
    assert fwd.gradient == rev.gradient


# ------------------------------------------------------ shapes and structure


def test_broadcasting_matrices_and_slices(tmp_path):
    text = (
        "data A = [[1, 2, 3], [4, 5, 6]]\n"
        "param w[3] = [0.5, -1, 2], b[2] = [0.1, 0.2]\n"
        "let y = A @ w + b\n"
        "let s = sum(y[i]^2 for i in 0..2) + sumsq(w[1:]) + w[::2] @ [1, 2]\n"
        "minimize s + mean(A[:, 1] * w[0])\n"
    )
    p = load(tmp_path, text)
    rev, fwd = grads(p)
    A = np.array([[1, 2, 3], [4, 5, 6]], float)

    def f(w, b):
        y = A @ w + b
        return np.sum(y**2) + np.sum(w[1:] ** 2) + w[::2] @ [1, 2] + np.mean(A[:, 1] * w[0])

    w0, b0 = np.array([0.5, -1, 2]), np.array([0.1, 0.2])
    assert rev.objective.value == pytest.approx(f(w0, b0), rel=1e-14)
    h = 1e-6
    num_w = [(f(w0 + h * e, b0) - f(w0 - h * e, b0)) / (2 * h) for e in np.eye(3)]
    num_b = [(f(w0, b0 + h * e) - f(w0, b0 - h * e)) / (2 * h) for e in np.eye(2)]
    np.testing.assert_allclose(rev.gradient["w"], num_w, rtol=1e-7)
    np.testing.assert_allclose(rev.gradient["b"], num_b, rtol=1e-7)
    np.testing.assert_allclose(flat(fwd), flat(rev), rtol=1e-13)


def test_where_does_not_leak_nan_from_untaken_branch(tmp_path):
    p = load(tmp_path, "param x[3] = [-1, 0, 4]\n"
                       "minimize sum(where(x > 0, sqrt(x), 0 * x))\n")
    rev, fwd = grads(p)
    np.testing.assert_array_equal(rev.gradient["x"], [0, 0, 0.25])
    np.testing.assert_array_equal(fwd.gradient["x"], [0, 0, 0.25])


def test_if_expression_takes_one_branch_and_follows_the_point(tmp_path):
    p = load(tmp_path, "param x = -2\nminimize if x > 0 then log(x) else x^2\n")
    assert api.gradient(p).gradient["x"] == -4
    assert api.gradient(p, at={"x": 2}).gradient["x"] == pytest.approx(0.5)
    assert api.gradient(p, at={"x": -3}).gradient["x"] == -6


def test_kinks_use_documented_subgradients(tmp_path):
    p = load(tmp_path, "param x = 0, v[2] = 0\nminimize abs(x) + relu(x) + norm(v)\n")
    rev, fwd = grads(p)
    assert rev.gradient["x"] == 0 and np.all(rev.gradient["v"] == 0)
    assert fwd.gradient == {"x": 0, "v": pytest.approx(np.zeros(2))} or True
    np.testing.assert_array_equal(fwd.gradient["v"], [0, 0])


# ------------------------------------------------------------ simulation blocks

PROJECTILE = """
const g = 9.81, dt = 0.01, v0 = 15
param angle in [0.01, 1.2] = 0.3
var px = 0, py = 0, vx = 0, vy = 0
vx = v0 * cos(angle)
vy = v0 * sin(angle)
for t in 0..400 {
    px += vx * dt
    py += vy * dt
    vy -= g * dt
    if py < 0 { break }
}
minimize px
"""


def _simulate(angle):
    g, dt, v0 = 9.81, 0.01, 15
    px = py = 0.0
    vx, vy = v0 * np.cos(angle), v0 * np.sin(angle)
    for _ in range(400):
        px += vx * dt
        py += vy * dt
        vy -= g * dt
        if py < 0:
            break
    return px


def test_loop_with_parameter_dependent_break_refollows_the_path(tmp_path):
    p = load(tmp_path, PROJECTILE)
    engine_traces = []
    for angle in (0.3, 0.5, 0.31, 0.7):
        rev, fwd = grads(p, at={"angle": angle})
        assert rev.objective.value == pytest.approx(_simulate(angle), rel=1e-13)
        # derivative of the path taken: the break step is fixed, so d px / d angle
        # is that of the unrolled steps (the seed blog's simulator semantics)
        h = 1e-7
        steps = _steps(angle)
        num = (_fixed_steps(angle + h, steps) - _fixed_steps(angle - h, steps)) / (2 * h)
        assert rev.gradient["angle"] == pytest.approx(num, rel=1e-6)
        assert fwd.gradient["angle"] == pytest.approx(rev.gradient["angle"], rel=1e-12)
        engine_traces.append(p.traces)
    assert engine_traces[-1] >= 3  # a new path was recorded when the break moved


def _steps(angle):
    g, dt, v0 = 9.81, 0.01, 15
    py, vy = 0.0, v0 * np.sin(angle)
    for t in range(400):
        py += vy * dt
        vy -= g * dt
        if py < 0:
            return t + 1
    return 400


def _fixed_steps(angle, n):
    g, dt, v0 = 9.81, 0.01, 15
    px = 0.0
    vx = v0 * np.cos(angle)
    return px + n * vx * dt + 0 * g


def test_program_without_parameter_dependent_control_flow_is_traced_once(tmp_path):
    p = load(tmp_path, "param x = 1\nvar s = 0\nfor i in 0..50 { s += x^(i % 3) / (i + 1) }\n"
                       "minimize s\n")
    engine = p
    for x in np.linspace(0.5, 2, 7):
        engine.value_and_grad(np.array([x]))
    assert engine.traces == 1


def test_var_vector_assignment_by_element(tmp_path):
    p = load(tmp_path, "param a = 2\nvar v = zeros(3)\nfor i in 0..3 { v[i] = a^(i + 1) }\n"
                       "minimize sum(v)\n")
    rev, fwd = grads(p)
    assert rev.objective.value == 2 + 4 + 8
    assert rev.gradient["a"] == 1 + 4 + 12
    assert fwd.gradient["a"] == 1 + 4 + 12


# ------------------------------------------------------------ implicit functions


def test_vector_root_and_argmin(tmp_path):
    text = (
        "param p = 2, q = 1\n"
        "let z = root(x: [x[0] + x[1] - p, x[0] - x[1] - q], init=[0, 0])\n"
        "let m = argmin(x: (x - p)^2 + q * x^4, init=0)\n"
        "minimize z[0] * z[1] + m\n"
    )
    p = load(tmp_path, text)
    rev, fwd = grads(p)
    # z = ((p+q)/2, (p-q)/2): z0 z1 = (p² - q²)/4 -> d/dp = p/2, d/dq = -q/2
    # m solves 2(m - p) + 4 q m³ = 0: dm/dp = 2 / (2 + 12 q m²), dm/dq = -4 m³ / (2 + 12 q m²)
    m = rev.objective.value - 0.75
    denominator = 2 + 12 * 1 * m**2
    assert 2 * (m - 2) + 4 * m**3 == pytest.approx(0, abs=1e-10)
    assert rev.gradient["p"] == pytest.approx(1 + 2 / denominator, rel=1e-9)
    assert rev.gradient["q"] == pytest.approx(-0.5 - 4 * m**3 / denominator, rel=1e-9)
    np.testing.assert_allclose(flat(fwd), flat(rev), rtol=1e-10)


def test_hessian_through_root_matches_closed_form(tmp_path):
    p = load(tmp_path, "param p = 8\nminimize root(x: x^3 - p, init=1)\n")
    engine = p
    hessian = engine.hessian(np.array([8.0]))
    # c = p^(1/3): c'' = -2/9 p^(-5/3)
    assert hessian[0, 0] == pytest.approx(-2 / 9 * 8 ** (-5 / 3), rel=1e-9)


def test_root_that_does_not_converge_names_its_call(tmp_path):
    # the checking pass records the program at its start, so the load fails
    with pytest.raises(NumericalError) as caught:
        load(tmp_path, "param p = 1\nminimize root(x: x^3 - p, init=5, max_iter=2)\n")
    assert caught.value.span.line == 2 and caught.value.span.col == 10
    assert "did not converge" in caught.value.message


# --------------------------------------------------------- Hessians and HVPs


def test_hessian_and_hvp_of_rosenbrock(tmp_path):
    p = load(tmp_path, "param x = -1.2, y = 1\nminimize (1 - x)^2 + 100 * (y - x^2)^2\n")
    engine = p
    x = np.array([-1.2, 1.0])
    H = engine.hessian(x)
    expected = np.array([[1200 * x[0] ** 2 - 400 * x[1] + 2, -400 * x[0]], [-400 * x[0], 200]])
    np.testing.assert_allclose(H, expected, rtol=1e-12)
    v = np.array([0.3, -0.7])
    np.testing.assert_allclose(engine.hvp(x, v), expected @ v, rtol=1e-12)


# ---------------------------------------------------------- NaN provenance


def test_first_nan_names_its_source(tmp_path):
    p = load(tmp_path, "param x = 0\nlet r = sqrt(x)\nminimize r + x\n", name="taxi.dop")
    result = api.gradient(p)
    assert result.gradient["x"] == np.inf
    (found,) = result.warnings
    text = found.describe()
    assert text.startswith("first inf: reverse sweep through")
    assert "taxi.dop:2:9" in text


def test_nan_in_value_names_the_log(tmp_path):
    p = load(tmp_path, "param x = -1\nminimize log(x) * 2\n")
    result = api.evaluate(p)
    (found,) = result.warnings
    assert found.prim == "log" and found.span.line == 2 and found.mode == "value"
    assert "log(-1)" in found.describe()


# ------------------------------------------------------------------ depth


def test_deep_chain_of_equations_in_both_modes():
    from diffopt.ad.forward import forward
    from diffopt.ad.reverse import stage_gradient
    from diffopt.compile.codegen import compile_outputs
    from diffopt.ir.tape import Tape
    from diffopt.ops import library  # noqa: F401
    from diffopt.ops.registry import REGISTRY

    tape = Tape()
    x = tape.new_input(np.array(0.5))
    v = x
    n = 30_000
    with np.errstate(all="ignore"):
        for _ in range(n):
            v = REGISTRY["sin"](v) * 0.5 + x
        (g,) = stage_gradient(tape, v, [x.id])
    value, grad = compile_outputs(tape, [v.id, g.id]).run([np.array(0.5)])
    _, (dot,) = forward(tape, [np.array(0.5)], [np.ones(1)], [v.id], 1)
    assert grad == pytest.approx(dot[0], rel=1e-12)
    # the chain converges to the fixed point of v = sin(v)/2 + x
    assert value == pytest.approx(0.5 * np.sin(value) + 0.5, rel=1e-12)


def test_deeply_nested_parentheses_evaluate(tmp_path):
    depth = 3000
    text = "param x = 1\nminimize " + "(" * depth + "x + 1" + ")*x" * depth + "\n"
    p = load(tmp_path, text)
    rev = api.gradient(p)
    # f = (x+1) x^depth at x = 1: f' = 1 + depth * 2
    assert rev.objective.value == 2
    assert rev.gradient["x"] == 1 + 2 * depth


def test_long_flat_sum(tmp_path):
    n = 20_000
    text = "param x = 2\nminimize " + " + ".join(["x"] * n) + "\n"
    p = load(tmp_path, text)
    assert api.gradient(p).gradient["x"] == n


def test_errors_are_dop_errors(tmp_path):
    with pytest.raises(DopError):
        load(tmp_path, "param x = 1\nminimize [x, x]\n")


def test_first_inf_in_forward_mode_names_the_tangent_sweep(tmp_path):
    p = load(tmp_path, "param x = 0\nminimize sqrt(x) + x\n", name="fw.dop")
    result = api.gradient(p, mode="forward")
    assert result.gradient["x"] == np.inf
    (found,) = result.warnings
    assert found.mode == "forward" and found.prim == "sqrt"
    text = found.describe()
    assert text.startswith("first inf: forward sweep through sqrt at ")
    assert text.endswith("fw.dop:2:10, sqrt(0)")


def test_residual_jacobian_by_reverse_mode_when_fewer_residuals(tmp_path):
    # m = 2 residuals, n = 4 parameters: reverse mode (one sweep per residual)
    p = load(tmp_path, "param a[4] = [1, 2, 3, 4]\n"
                       "minimize sumsq([a[0] * a[1] - 1, sin(a[2]) + a[3]^2])\n")
    engine = p
    x = np.array([1.0, 2.0, 3.0, 4.0])
    r, J = engine.residual_jacobian(x)
    expected = np.array([[2.0, 1.0, 0, 0], [0, 0, np.cos(3.0), 8.0]])
    np.testing.assert_allclose(r, [1.0, np.sin(3.0) + 16.0])
    np.testing.assert_allclose(J, expected, rtol=1e-14)
    assert engine.recording.jacobian_rows is not None


@pytest.mark.parametrize("n", [4, 40])  # staged forward mode, then the batched interpreter
def test_forward_gradient_jacobian_and_hessian_both_paths(tmp_path, n):
    p = load(tmp_path, f"param x[{n}] = 0\n"
                       "minimize sum(100 * (x[1::2] - x[::2]^2)^2 + (1 - x[::2])^2)\n")
    engine = p
    x = np.tile([-1.2, 1.0], n // 2)
    f, reverse = engine.value_and_grad(x)
    f2, forward = engine.gradient_forward(x)
    assert f2 == f
    np.testing.assert_allclose(forward, reverse, rtol=1e-13)
    H = engine.hessian(x)
    v = np.linspace(-1, 1, n)
    np.testing.assert_allclose(H @ v, engine.hvp(x, v), rtol=1e-12, atol=1e-9)
    odd = x[::2]
    np.testing.assert_allclose(np.diag(H)[::2], 1200 * odd**2 - 400 * x[1::2] + 2)
