"""The tape compiler's memory plan and fusions: reused buffers, released
temporaries and dot-product reductions must never change a result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from diffopt import api
from diffopt.ad import reverse as reverse_module
from diffopt.ad.reverse import stage_gradient
from diffopt.compile import buffers as buffers_module
from diffopt.compile.buffers import BufferPool, with_buffers
from diffopt.compile.codegen import compile_outputs
from diffopt.ir.tape import Tape
from diffopt.ops.registry import REGISTRY

PROBLEMS = sorted((Path(__file__).parent.parent / "problems").glob("*.dop"))


def load(tmp_path, text, **kw):
    path = tmp_path / "p.dop"
    path.write_text(text, encoding="utf-8")
    return api.load(path, **kw)


def value_and_grad_at(problem, points, pool_min):
    """(value, gradient) at each point with buffers used from ``pool_min`` elements."""
    saved = buffers_module.POOL_MIN
    buffers_module.POOL_MIN = pool_min
    try:
        engine = problem
        return [engine.value_and_grad(x) for x in points]
    finally:
        buffers_module.POOL_MIN = saved


def points_near_start(problem, count=3):
    rng = np.random.default_rng(7)
    x0 = problem.problem.start_point()
    return [x0] + [x0 + 0.01 * rng.standard_normal(x0.shape) for _ in range(count - 1)]


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.name)
def test_buffers_everywhere_give_bit_identical_results(path):
    # with every array result pooled, runs at successive points must agree
    # exactly with fresh allocation: no buffer is reused while still read
    problem = api.load(path)
    points = points_near_start(problem)
    pooled = value_and_grad_at(problem, points, pool_min=1)
    fresh = value_and_grad_at(problem, points, pool_min=10**12)
    for (f1, g1), (f2, g2) in zip(pooled, fresh, strict=True):
        assert f1 == f2 or (f1 != f1 and f2 != f2)
        np.testing.assert_array_equal(g1, g2)


VIEWS = """\
param x[8] = 0.5
param y[2, 3] = 0.25
let a = x * 2
let b = a[::2]
let c = x * 3
let t = transpose(y * 2)
let u = y * 3
minimize sum(b * c[::2]) + sum(t[0] * transpose(u)[0])
"""


def test_views_of_a_buffer_keep_it_busy(tmp_path):
    # a is read only through its view b (2y only through t): c and u are
    # pooled after the last direct read and must not land in those buffers
    # while the views are still read
    problem = load(tmp_path, VIEWS)
    points = points_near_start(problem, 4)
    pooled = value_and_grad_at(problem, points, pool_min=1)
    fresh = value_and_grad_at(problem, points, pool_min=10**12)
    for (f1, g1), (f2, g2) in zip(pooled, fresh, strict=True):
        assert f1 == f2
        np.testing.assert_array_equal(g1, g2)
    x, y = points[1][:8], points[1][8:].reshape(2, 3)
    a, c = 2 * x, 3 * x
    t, u = (2 * y).T, 3 * y
    expected = np.sum(a[::2] * c[::2]) + np.sum(t[0] * u.T[0])
    assert pooled[1][0] == pytest.approx(expected, rel=1e-13)


def test_returned_arrays_are_never_buffers():
    # the caller owns what a run returns: a second run must not change it
    tape = Tape()
    x = tape.new_input(np.linspace(0.0, 1.0, 5))
    y = REGISTRY["exp"](x)
    z = REGISTRY["mul"](y, 3.0)
    saved = buffers_module.POOL_MIN
    buffers_module.POOL_MIN = 1
    try:
        program = compile_outputs(tape, [z.id, y.id])
    finally:
        buffers_module.POOL_MIN = saved
    first = program.run([np.zeros(5)])
    kept = [np.array(v) for v in first]
    program.run([np.ones(5)])
    for before, now in zip(kept, first, strict=True):
        np.testing.assert_array_equal(before, now)


def test_a_pooled_program_run_inside_itself_gets_private_buffers():
    pool = BufferPool()
    seen = []

    def core(inputs, buffers):
        seen.append([id(b) for b in buffers])
        if len(seen) == 1:
            run(inputs)
        return ()

    run = with_buffers(core, ((4,), (4,)), pool)
    run([])
    outer, inner = seen
    assert not set(outer) & set(inner)
    assert pool.busy is False
    run([])
    assert seen[2] == outer  # the pool's arrays are reused by the next run


def test_pool_shares_arrays_by_shape():
    pool = BufferPool()
    first = pool.take(((3,), (3,), (2, 2)))
    second = pool.take(((3,), (2, 2)))
    assert second[0] is first[0] and second[1] is first[2]


# ------------------------------------------------------------- dot fusion


def test_sum_of_squares_and_products_become_one_dot(tmp_path):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(1000), rng.standard_normal(1000)
    text = (f"data a = {_literal(a)}\ndata b = {_literal(b)}\nparam s = 1.5\n"
            "minimize sum((a * s - b)^2) + sum(a * (s * b))\n")
    problem = load(tmp_path, text)
    engine = problem
    value, grad = engine.value_and_grad(np.array([1.5]))
    assert value == pytest.approx(np.sum((1.5 * a - b) ** 2) + 1.5 * np.dot(a, b), rel=1e-12)
    assert grad[0] == pytest.approx(2 * np.dot(1.5 * a - b, a) + np.dot(a, b), rel=1e-12)
    source = engine.recording.programs["value_and_grad"].source
    assert "sum_of" not in source  # kernels are called through F, not named
    program = engine.recording.programs["value_and_grad"]
    names = {getattr(f, "__name__", "") for f in _functions(program)}
    assert {"_sum_of_squares", "_sum_of_products"} <= names


def _literal(values) -> str:
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


def _functions(program):
    import inspect

    run = program.run
    for cell in inspect.getclosurevars(run).nonlocals.values():
        if callable(cell):
            for inner in inspect.getclosurevars(cell).nonlocals.values():
                if isinstance(inner, tuple) and inner and callable(inner[0]):
                    return inner
    raise AssertionError("no function table found")


@pytest.mark.parametrize("pool_min", [1, 10**12])
def test_fused_reverse_sum_keeps_untaken_branches_at_zero(tmp_path, pool_min):
    # d/ds sqrt(d - s) is infinite at the first element, but that element's
    # branch is not taken: its cotangent is 0, and 0·inf must stay 0 in the
    # fused dot product too
    text = ("data d = [0, 1, 4]\nparam s = 0\n"
            "minimize sum(where(d - s > 0, sqrt(d - s), 0))\n")
    problem = load(tmp_path, text)
    ((value, grad),) = value_and_grad_at(problem, [np.array([0.0])], pool_min)
    assert value == 3.0
    assert grad[0] == -0.75


def test_reverse_mode_folds_scalar_chain_factors():
    # mean(x^2): the gradient is (2/n)·x, one product instead of two
    tape = Tape()
    x = tape.new_input(np.arange(4.0))
    objective = REGISTRY["mul"](REGISTRY["sum"](REGISTRY["pow"](x, 2.0)), 0.25)
    (g,) = stage_gradient(tape, objective, [x.id])
    np.testing.assert_array_equal(g.value, 0.5 * np.arange(4.0))
    producer = tape.eqns[tape.producer[g.id]]
    assert producer.prim.name == "mul"
    assert producer.args[0] == 0.5 and producer.args[1] == x.id


def test_least_squares_fit_makes_four_passes_over_the_data(tmp_path):
    # taxi-style fit: predictions, residuals, then one dot each for the value
    # and the gradient; no other array-sized work
    rng = np.random.default_rng(1)
    rows = 20000
    distance = rng.uniform(0.5, 20, rows)
    minutes = 60 * distance / rng.normal(30, 3, rows)
    csv = tmp_path / "trips.csv"
    np.savetxt(csv, np.column_stack([distance, minutes]), delimiter=",",
               header="distance_km,duration_min", comments="", fmt="%.6f")
    taxi = Path(__file__).parent.parent / "problems" / "taxi.dop"
    problem = api.load(taxi, data={"trips": str(csv)})
    engine = problem
    engine.value_and_grad(np.array([20.0]))
    source = engine.recording.programs["value_and_grad"].source
    array_calls = [line for line in source.splitlines() if "F[" in line]
    assert len(array_calls) == 4, source
    assert sum("out=B[" in line for line in array_calls) == 2, source


def test_equal_adjoint_contributions_are_counted_not_chained(tmp_path):
    # px += vx·dt every step: one slot (vx·dt) feeds the sum 40 times, so its
    # adjoint is 40·ḡ, one product, where a chain of 40 additions was staged
    problem = load(tmp_path, "param v = 1.5\nvar px = 0\n"
                             "for i in 0..40 { px = px + v * 0.25 }\n"
                             "minimize px^2\n")
    engine = problem
    value, grad = engine.value_and_grad(np.array([1.5]))
    px = 40 * 1.5 * 0.25
    assert value == px**2
    np.testing.assert_allclose(grad, [2 * px * 40 * 0.25], rtol=1e-15)
    staged = [e for e in engine.recording.tape.eqns if e.mode == "reverse"]
    assert sum(e.prim.name == "add" for e in staged) == 0, staged
    assert len(staged) <= 3, staged


def test_adjoint_total_keeps_distinct_contributions_in_order():
    # ḡ₁ + ḡ₂ + ḡ₁ → 2·ḡ₁ + ḡ₂; distinct terms are added as they came
    tape = Tape()
    x = tape.new_input(np.array(2.0))
    a = REGISTRY["sin"](x)
    b = REGISTRY["cos"](x)
    total = reverse_module._total_adjoint([a, b, a])
    assert total.value == 2 * np.sin(2.0) + np.cos(2.0)
    last = tape.eqns[tape.producer[total.id]]
    assert last.prim.name == "add"
    doubled = tape.eqns[tape.producer[last.args[0]]]
    assert doubled.prim.name == "mul" and doubled.args == (np.float64(2.0), a.id)
    assert last.args[1] == b.id
    assert reverse_module._total_adjoint([b]) is b


@pytest.mark.parametrize("start", [1.0, -1.0])
def test_guard_only_conditions_compile_to_bools_and_still_guard(tmp_path, start):
    # `if` on a traced scalar: the comparison is kept as a Python bool (no
    # 1.0/0.0 float), and crossing the branch still re-traces
    problem = load(tmp_path, f"param x = {start}\nvar y = 0\n"
                             "if x > 0 { y = x^2 } else { y = -3 * x }\nminimize y\n")
    engine = problem
    for point in (start, -start):
        got_value, got_grad = engine.value_and_grad(np.array([point]))
        assert got_value == (point**2 if point > 0 else -3 * point)
        np.testing.assert_array_equal(got_grad, [2 * point if point > 0 else -3.0])
    assert engine.traces == 2
    source = engine.recording.programs["value_and_grad"].source
    assert "1.0 if" not in source, source
    assert "(s" in source.splitlines()[-1] and "== 0.0" not in source.splitlines()[-1], source
