"""Behaviour of the structural, reduction, relaxation, estimator and random built-ins.

test_ops.py checks every rule against finite differences; this file pins the
values, the error messages and the documented conventions a user relies on.
"""

from __future__ import annotations

import numpy as np
import pytest

from diffopt.ad.forward import forward
from diffopt.ad.reverse import stage_gradient
from diffopt.errors import DopTypeError, ShapeError
from diffopt.ir.tape import Tape
from diffopt.ops import library  # noqa: F401  (fills REGISTRY and BUILTINS)
from diffopt.ops.random import set_seed
from diffopt.ops.registry import BUILTINS, REGISTRY, Abstract, Var


def call(name, *args, **keywords):
    return BUILTINS[name].fn(*args, **keywords)


def value(x):
    return x.value if isinstance(x, Var) else np.asarray(x)


def grad(fn, *xs):
    """Staged reverse-mode gradient of sum(fn(*xs)), one array per argument."""
    tape = Tape()
    with np.errstate(all="ignore"):  # as in the engine: NaN/inf are values, not warnings
        traced = [tape.new_input(np.asarray(x, dtype=np.float64)) for x in xs]
        out = REGISTRY["sum"](fn(*traced))
        return [value(g) for g in stage_gradient(tape, out, [t.id for t in traced])]


def hessian(fn, x):
    """Dense Hessian of the scalar fn at x: forward mode over the staged gradient."""
    x = np.asarray(x, dtype=np.float64)
    tape = Tape()
    v = tape.new_input(x)
    (g,) = stage_gradient(tape, fn(v), [v.id])
    eye = np.eye(x.size).reshape((x.size,) + x.shape)
    _, (dots,) = forward(tape, [x], [eye], [g.id], x.size)
    return dots.reshape(x.size, x.size)


# ------------------------------------------------------------------ indexing

index, scatter, set_index = REGISTRY["index"], REGISTRY["scatter"], REGISTRY["set_index"]
SL = lambda start=None, stop=None, step=None: ("slice", start, stop, step)


def test_index_follows_numpy_basic_indexing():
    a = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(index(a, spec=(-1,)), a[-1])
    np.testing.assert_array_equal(index(a, spec=(SL(), 2)), a[:, 2])
    np.testing.assert_array_equal(index(a, spec=(SL(None, None, -1), SL(1, 3))), a[::-1, 1:3])
    assert index(a, spec=(1, 2)).shape == () and float(index(a, spec=(1, 2))) == 6.0
    assert index(Abstract((3, 4)), spec=(SL(1),)).shape == (2, 4)
    np.testing.assert_array_equal(index(a, spec=(np.int64(2), SL(1.0, None))), a[2, 1:])
    assert float(index(a, spec=(2.0, -1.0))) == 11.0


@pytest.mark.parametrize(
    "shape, spec, message",
    [
        ((3,), (3,), "index 3 is out of range for axis 0 of length 3"),
        ((3,), (-4,), "index -4 is out of range for axis 0 of length 3"),
        ((3, 4), (0, 4), "index 4 is out of range for axis 1 of length 4"),
        ((3,), (0, 0), "too many indices: 2 for a value of shape (3,)"),
        ((3,), (SL(None, None, 0),), "slice step cannot be zero"),
        ((3,), (1.5,), "index 1.5 is not an integer"),
    ],
)
def test_index_errors_name_the_index_and_the_axis(shape, spec, message):
    with pytest.raises(ShapeError) as info:
        index(Abstract(shape), spec=spec)
    assert info.value.message == message


def test_scatter_is_the_adjoint_of_index():
    g = np.array([1.0, 2.0])
    np.testing.assert_array_equal(scatter(g, shape=(5,), spec=(SL(1, None, 2),)),
                                  [0, 1, 0, 2, 0])
    (gx,) = grad(lambda v: 3.0 * index(v, spec=(SL(1, None, 2),)), np.zeros(5))
    np.testing.assert_array_equal(gx, [0, 3, 0, 3, 0])
    with pytest.raises(ShapeError):
        scatter(np.ones(3), shape=(5,), spec=(SL(1, None, 2),))


def test_set_index_is_a_functional_update():
    x = np.array([1.0, 2.0, 3.0])
    out = set_index(x, 9.0, spec=(1,))
    np.testing.assert_array_equal(out, [1, 9, 3])
    np.testing.assert_array_equal(x, [1, 2, 3])  # the input is unchanged
    weights = np.array([1.0, 2.0, 3.0])
    gx, gv = grad(lambda a, b: set_index(a, b * b, spec=(1,)) * weights, x, 4.0)
    np.testing.assert_array_equal(gx, [1, 0, 3])
    assert gv == 2.0 * 4.0 * 2.0
    m = set_index(np.zeros((2, 3)), np.array([1.0, 2.0, 3.0]), spec=(1,))
    np.testing.assert_array_equal(m, [[0, 0, 0], [1, 2, 3]])
    with pytest.raises(ShapeError, match=r"cannot assign a value of shape \(2,\)"):
        set_index(Abstract((2, 3)), Abstract((2,)), spec=(1,))


# ------------------------------------------------------------------ joining


def test_concat_joins_vectors_and_scalars():
    out = call("concat", np.array([1.0, 2.0]), np.array(3.0), np.array([4.0]))
    np.testing.assert_array_equal(out, [1, 2, 3, 4])
    assert call("concat", Abstract(()), Abstract((3,))).shape == (4,)
    gx, gy = grad(lambda a, b: call("concat", a, b) * np.array([1.0, 2.0, 3.0]),
                  np.zeros(2), 0.0)
    np.testing.assert_array_equal(gx, [1, 2])
    assert gy == 3.0
    with pytest.raises(ShapeError, match="concat"):
        call("concat", Abstract((2,)), Abstract((2, 2)))


def test_stack_makes_vectors_and_matrices():
    np.testing.assert_array_equal(call("stack", 1.0, 2.0), [1.0, 2.0])
    m = call("stack", np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.testing.assert_array_equal(m, [[1, 2], [3, 4]])
    with pytest.raises(ShapeError, match=r"same shape, got \(2,\) and \(3,\)"):
        call("stack", Abstract((2,)), Abstract((3,)))


def test_constant_builtins():
    np.testing.assert_array_equal(call("zeros", 3.0), np.zeros(3))
    np.testing.assert_array_equal(call("ones", np.array([2.0, 3.0])), np.ones((2, 3)))
    np.testing.assert_array_equal(call("arange", 4.0), [0, 1, 2, 3])
    np.testing.assert_array_equal(call("arange", 2.0, 5.0), [2, 3, 4])
    assert call("arange", 3.0, 1.0).shape == (0,)
    for name in ("zeros", "ones", "arange", "normal", "uniform"):
        assert BUILTINS[name].constant_args, name
    with pytest.raises(ShapeError, match="zeros: the size must be a non-negative integer"):
        call("zeros", 2.5)
    with pytest.raises(ShapeError):
        call("ones", -1.0)
    with pytest.raises(ShapeError, match="number or \\[rows, cols\\]"):
        call("zeros", np.ones((2, 2)))


def test_len_is_a_constant_even_of_a_parameter():
    assert float(call("len", np.zeros(4))) == 4.0
    assert float(call("len", np.zeros((2, 5)))) == 2.0
    tape = Tape()
    n = call("len", tape.new_input(np.zeros(3)))
    assert isinstance(n, np.ndarray) and float(n) == 3.0
    assert float(call("len", Abstract((7,)))) == 7.0
    with pytest.raises(ShapeError, match="len of a scalar"):
        call("len", np.array(1.0))


# ------------------------------------------------------------------ linear algebra


@pytest.mark.parametrize(
    "a, b, message",
    [
        ((4, 3), (2,), "matrix product of (4, 3) and (2,): inner dimensions 3 and 2 differ"),
        ((3,), (2, 3), "matrix product of (3,) and (2, 3): inner dimensions 3 and 2 differ"),
        ((), (3,), "matrix product of () (a scalar) and (3,): @ needs vectors or matrices, "
                   "not a scalar"),
    ],
)
def test_matmul_errors_show_both_shapes(a, b, message):
    with pytest.raises(ShapeError) as info:
        REGISTRY["matmul"](Abstract(a), Abstract(b))
    assert info.value.message == message


def test_matmul_shapes_follow_numpy():
    matmul = REGISTRY["matmul"]
    for a, b in [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4))]:
        assert matmul(Abstract(a), Abstract(b)).shape == np.matmul(np.ones(a), np.ones(b)).shape


def test_transpose_builtin():
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(call("transpose", a), a.T)
    v = np.arange(3.0)
    np.testing.assert_array_equal(call("transpose", v), v)
    with pytest.raises(ShapeError):
        REGISTRY["transpose"](Abstract((2, 2, 2)))


# ------------------------------------------------------------------ reductions


def test_empty_reductions():
    empty = np.zeros(0)
    assert float(call("sum", empty)) == 0.0
    assert float(call("prod", empty)) == 1.0
    for name in ("mean", "max", "min", "logsumexp"):
        with pytest.raises(ShapeError, match=f"{name} of an empty vector"):
            call(name, empty)
        with pytest.raises(ShapeError, match=f"{name} of an empty vector"):
            call(name, Abstract((0,)))


def test_axis_keyword():
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(call("sum", a, axis=0.0), a.sum(axis=0))
    np.testing.assert_array_equal(call("mean", a, axis=1.0), a.mean(axis=1))
    np.testing.assert_array_equal(call("max", a, axis=-1.0), a.max(axis=1))
    np.testing.assert_allclose(call("norm", a, axis=1.0), np.linalg.norm(a, axis=1))
    assert call("sum", Abstract((2, 3)), axis=1.0).shape == (2,)
    with pytest.raises(ShapeError, match=r"sum: axis 2 is out of range for shape \(2, 3\)"):
        call("sum", a, axis=2.0)
    with pytest.raises(DopTypeError, match="axis must be an integer"):
        call("sum", a, axis=0.5)


def test_max_and_min_of_several_arguments_are_elementwise():
    np.testing.assert_array_equal(call("max", np.array([1.0, 5.0]), 2.0, np.array([0.0, 6.0])),
                                  [2, 6])
    np.testing.assert_array_equal(call("min", 3.0, np.array([1.0, 5.0])), [1, 3])
    with pytest.raises(DopTypeError, match="axis= applies only to max of one argument"):
        call("max", 1.0, 2.0, axis=0.0)


def test_reduction_values():
    v = np.array([3.0, -1.0, 2.0])
    assert float(call("mean", v)) == pytest.approx(4 / 3)
    assert float(call("prod", v)) == -6.0
    assert float(call("sumsq", v)) == 14.0
    assert float(call("norm", v)) == pytest.approx(14**0.5)
    assert float(call("dot", v, v)) == 14.0
    np.testing.assert_array_equal(call("cumsum", v), [3, 2, 4])
    assert float(call("logsumexp", np.array([-np.inf, 0.0]))) == 0.0
    with np.errstate(divide="ignore"):  # log(0) = -inf is the answer
        assert float(call("logsumexp", np.array([-np.inf, -np.inf]))) == -np.inf
    assert float(call("logsumexp", np.array([1000.0, 1000.0]), tau=2.0)) == pytest.approx(
        1000 + 2 * np.log(2))
    with pytest.raises(ShapeError, match=r"dot needs two vectors of the same length"):
        call("dot", Abstract((3,)), Abstract((2,)))
    with pytest.raises(ShapeError, match="cumsum needs a vector"):
        call("cumsum", Abstract((2, 2)))


def test_prod_derivatives_are_exact_at_zeros():
    prod = REGISTRY["prod"]
    (g,) = grad(prod, np.array([0.0, 2.0, 3.0]))
    np.testing.assert_array_equal(g, [6, 0, 0])
    (g,) = grad(prod, np.array([0.0, 2.0, 0.0]))
    np.testing.assert_array_equal(g, [0, 0, 0])
    # Hessian of x0 x1 x2 at (0, 2, 3): off-diagonal products of the third element.
    np.testing.assert_array_equal(hessian(prod, np.array([0.0, 2.0, 3.0])),
                                  [[0, 3, 2], [3, 0, 0], [2, 0, 0]])
    (g,) = grad(lambda a: prod(a, axis=1), np.array([[0.0, 5.0], [2.0, 3.0]]))
    np.testing.assert_array_equal(g, [[5, 0], [3, 2]])


# ------------------------------------------------------------------ relaxations


def test_soft_sort_tends_to_sort():
    v = np.array([0.3, -1.2, 2.5, 0.9, -0.4])
    np.testing.assert_allclose(call("soft_sort", v, tau=1e-3), np.sort(v), atol=1e-9)
    loose = call("soft_sort", v, tau=1.0)
    assert np.all(loose >= v.min() - 1e-12) and np.all(loose <= v.max() + 1e-12)
    np.testing.assert_allclose(call("soft_sort", v, tau=1e6), v.mean(), atol=1e-4)  # uniform rows
    with pytest.raises(ShapeError, match="soft_sort needs a vector"):
        call("soft_sort", Abstract((2, 2)))


def test_soft_rank_tends_to_ranks():
    v = np.array([0.3, -1.2, 2.5, 0.9, -0.4])
    ranks = np.argsort(np.argsort(v)).astype(float)
    np.testing.assert_allclose(call("soft_rank", v, tau=1e-3), ranks, atol=1e-9)
    np.testing.assert_allclose(call("soft_rank", np.array([1.0, 1.0]), tau=1e-3), [0.5, 0.5])


def test_softmax_family():
    v = np.array([1.0, 3.0, 2.0])
    p = call("softmax", v, tau=0.5)
    np.testing.assert_allclose(p, np.exp(v / 0.5) / np.exp(v / 0.5).sum())
    np.testing.assert_array_equal(call("soft_argmax", v, tau=0.5), p)
    np.testing.assert_allclose(call("softmax", np.array([1000.0, 0.0])), [1.0, 0.0])
    assert float(call("soft_max", v, tau=1e-3)) == pytest.approx(3.0)
    assert float(call("soft_step", 0.0)) == 0.5
    assert float(call("soft_step", 1.0, tau=0.01)) == pytest.approx(1.0)
    assert float(call("soft_if", 0.0, 4.0, 2.0)) == 3.0
    assert float(call("soft_if", -5.0, 4.0, 2.0, tau=0.01)) == pytest.approx(2.0)


@pytest.mark.parametrize("name", ["softmax", "soft_argmax", "soft_max", "soft_sort",
                                  "soft_rank", "soft_step", "logsumexp", "gumbel_softmax"])
def test_tau_must_be_positive(name):
    assert BUILTINS[name].keywords["tau"] == 1.0
    for bad in (0.0, -1.0):
        with pytest.raises(DopTypeError, match="tau must be > 0"):
            call(name, np.array([1.0, 2.0]), tau=bad)
    with pytest.raises(DopTypeError, match="tau must be > 0"):
        call("soft_if", 1.0, 2.0, 3.0, tau=0.0)
    with pytest.raises(DopTypeError, match="tau must be a number"):
        call(name, np.array([1.0, 2.0]), tau=np.ones(2))


# ------------------------------------------------------------------ estimators


def test_straight_through_estimators():
    assert grad(REGISTRY["stop_grad"], 2.0) == [0.0]
    assert float(call("stop_grad", 2.0)) == 2.0
    hard, soft = grad(REGISTRY["straight_through"], 5.0, 0.2)
    assert (hard, soft) == (0.0, 1.0)
    assert float(REGISTRY["straight_through"](5.0, 0.2)) == 5.0
    np.testing.assert_array_equal(call("ste_round", np.array([0.4, 0.5, 1.5, -0.6])),
                                  [0, 0, 2, -1])
    assert grad(REGISTRY["ste_round"], 0.4) == [1.0]
    np.testing.assert_array_equal(call("ste_step", np.array([-1.0, 0.0, 0.1])), [0, 0, 1])
    assert grad(REGISTRY["ste_step"], 0.0) == [1.0]


def test_ste_argmax_is_one_hot_with_the_softmax_derivative():
    v = np.array([0.5, 2.0, 2.0, -1.0])
    np.testing.assert_array_equal(call("ste_argmax", v), [0, 1, 0, 0])  # first of a tie
    w = np.array([1.0, -2.0, 0.5, 3.0])
    (g,) = grad(lambda x: w * call("ste_argmax", x), v)
    (g_soft,) = grad(lambda x: w * call("softmax", x), v)
    np.testing.assert_allclose(g, g_soft, rtol=1e-14)
    with pytest.raises(ShapeError, match="non-empty"):
        call("ste_argmax", Abstract((0,)))


# ------------------------------------------------------------------ random


def test_draws_repeat_after_set_seed_and_differ_between_call_sites():
    set_seed(3)
    first = [call("normal", 0.0, 1.0, 4.0), call("uniform", -1.0, 1.0, np.array([2.0, 2.0]))]
    set_seed(3)
    again = [call("normal", 0.0, 1.0, 4.0), call("uniform", -1.0, 1.0, np.array([2.0, 2.0]))]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert first[0].shape == (4,) and first[1].shape == (2, 2)
    assert np.all((first[1] >= -1) & (first[1] < 1))
    set_seed(3)
    a, b = call("normal", 0.0, 1.0, 4.0), call("normal", 0.0, 1.0, 4.0)
    assert not np.array_equal(a, b)
    set_seed(4)
    assert not np.array_equal(call("normal", 0.0, 1.0, 4.0), first[0])
    assert call("normal", 0.0, 1.0).shape == ()


def test_random_argument_errors():
    with pytest.raises(DopTypeError, match="std must be >= 0"):
        call("normal", 0.0, -1.0, 3.0)
    with pytest.raises(ShapeError, match="normal: the size must be a non-negative integer"):
        call("normal", 0.0, 1.0, 1.5)
    with pytest.raises(DopTypeError, match="lo must be <= hi"):
        call("uniform", 1.0, 0.0)


def test_gumbel_softmax_is_softmax_of_fixed_noisy_logits():
    logits = np.array([0.5, -0.2, 1.0])
    set_seed(11)
    p = call("gumbel_softmax", logits, tau=0.5)
    set_seed(11)
    assert np.array_equal(p, call("gumbel_softmax", logits, tau=0.5))
    assert float(np.sum(p)) == pytest.approx(1.0)
    set_seed(11)
    noise = np.random.default_rng([11, 0]).gumbel(size=3)
    np.testing.assert_allclose(p, call("softmax", logits + noise, tau=0.5))


# ------------------------------------------------------------------ the built-in table


def test_builtin_signatures():
    generators = {"sum", "mean", "prod", "max", "min", "norm", "sumsq", "logsumexp"}
    assert {n for n, b in BUILTINS.items() if b.generator} == generators
    assert BUILTINS["atan2"].positional == ("y", "x")
    assert BUILTINS["clip"].positional == ("x", "lo", "hi")
    assert BUILTINS["soft_if"].positional == ("margin", "a", "b")
    assert BUILTINS["concat"].variadic and BUILTINS["stack"].variadic
    assert BUILTINS["arange"].arity == "1 to 2"
    assert BUILTINS["where"].positional == ("c", "a", "b")
    for b in BUILTINS.values():
        assert b.doc, f"built-in {b.name} has no doc line"
