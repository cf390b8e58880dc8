"""Every primitive against finite differences, its own JVP/VJP pair, and its shape rule.

Parametrized over REGISTRY (JAX's grad_test_spec, autograd's check_grads):
inputs are drawn from each entry's ``domain``; elementwise primitives are
tried on several shapes with broadcasting, structural ones on the cases in
``STRUCTURAL``. A new structural primitive without cases fails
``test_every_primitive_has_cases``. Composite built-ins are checked through
the tape in ``test_builtin_gradients``. Conventions at kinks are pinned at
the end.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffopt.ad.forward import forward
from diffopt.ad.reverse import stage_gradient
from diffopt.ir.tape import Tape
from diffopt.ops import library  # noqa: F401  (fills REGISTRY and BUILTINS)
from diffopt.ops.random import set_seed
from diffopt.ops.registry import BUILTINS, REGISTRY, Abstract, Prim, Var

K = 3  # tangent directions per JVP call
H = 1e-6  # finite-difference step

# ------------------------------------------------------------------ sampling


def _distinct(rng, shape):
    # Entries at least 0.2 apart: no tie is crossed by a finite-difference step.
    n = int(np.prod(shape, dtype=np.int64))
    values = (rng.permutation(n) - (n - 1) / 2) * 0.3 + rng.uniform(-0.05, 0.05, n)
    return values.reshape(shape)


SAMPLERS = {
    "real": lambda rng, s: rng.uniform(-2.0, 2.0, s),
    "positive": lambda rng, s: rng.uniform(0.5, 2.5, s),
    "nonzero": lambda rng, s: rng.uniform(0.5, 2.0, s) * rng.choice([-1.0, 1.0], s),
    "unit": lambda rng, s: rng.uniform(-0.9, 0.9, s),
    "low": lambda rng, s: rng.uniform(-1.5, -0.5, s),
    "high": lambda rng, s: rng.uniform(0.5, 1.5, s),
    "distinct": _distinct,
    "condition": lambda rng, s: rng.integers(0, 2, s).astype(np.float64),
    # a well-conditioned square matrix (diagonally dominant)
    "invertible": lambda rng, s: rng.uniform(-0.5, 0.5, s) + 3.0 * np.eye(s[0]),
}
NOT_DIFFERENTIATED = {"condition"}

ELEMENTWISE_SHAPES = {
    1: [((),), ((3,),), ((2, 3),)],
    2: [((), ()), ((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 2))],
    3: [((4,), (), ()), ((2, 3), (3,), (2, 1)), ((), (), ())],
}

SL = lambda start=None, stop=None, step=None: ("slice", start, stop, step)

# name -> [(input shapes, params)]; inputs are drawn from the primitive's domain.
STRUCTURAL = {
    "sum_to": [(((2, 3),), {"shape": (3,)}), (((2, 3),), {"shape": (2, 1)}),
               (((3,),), {"shape": ()})],
    "broadcast_to": [(((3,),), {"shape": (2, 3)}), (((),), {"shape": (4,)}),
                     (((2, 1),), {"shape": (2, 3)})],
    "reshape": [(((6,),), {"shape": (2, 3)}), (((2, 3),), {"shape": (3, 2)}),
                (((),), {"shape": (1, 1)})],
    "select": [(((4,), (4,), (4,)), {}), (((2, 3), (3,), ()), {}), (((), (3,), (3,)), {})],
    "sum": [(((5,),), {}), (((2, 3),), {}), (((2, 3),), {"axis": 0}),
            (((2, 3),), {"axis": 1}), (((),), {}), (((0,),), {})],
    "prod": [(((5,),), {}), (((2, 3),), {"axis": 1}), (((3, 2),), {"axis": 0}), (((1,),), {}),
             (((0,),), {}), (((2, 0),), {"axis": 1})],
    "max": [(((5,),), {}), (((2, 3),), {}), (((2, 3),), {"axis": 1})],
    "min": [(((5,),), {}), (((3, 2),), {"axis": 0})],
    "norm": [(((4,),), {}), (((2, 3),), {"axis": 1}), (((),), {})],
    "cumsum": [(((5,),), {}), (((1,),), {})],
    "rcumsum": [(((5,),), {})],
    "logsumexp": [(((5,),), {"tau": 1.0}), (((2, 3),), {"tau": 0.5, "axis": 1}),
                  (((4,),), {"tau": 2.0})],
    "matmul": [(((3,), (3,)), {}), (((2, 3), (3,)), {}), (((3,), (3, 2)), {}),
               (((2, 3), (3, 4)), {})],
    "transpose": [(((2, 3),), {}), (((3,),), {}), (((),), {})],
    "index": [(((5,),), {"spec": (2,)}), (((5,),), {"spec": (SL(1, None, 2),)}),
              (((3, 4),), {"spec": (-1,)}), (((3, 4),), {"spec": (SL(), 1)}),
              (((3, 4),), {"spec": (SL(2, 0, -1), SL(1, 3))})],
    "scatter": [(((2,),), {"shape": (5,), "spec": (SL(1, 5, 2),)}),
                (((),), {"shape": (3, 4), "spec": (1, 2)}),
                (((3,),), {"shape": (3, 4), "spec": (SL(), -1)})],
    "set_index": [(((5,), ()), {"spec": (2,)}), (((3, 4), (4,)), {"spec": (1,)}),
                  (((3, 4), ()), {"spec": (SL(), 0)}),
                  (((6,), (3,)), {"spec": (SL(None, None, 2),)})],
    "concat": [(((2,), (3,)), {}), (((1,),), {}), (((2, 2), (1, 2)), {}),
               (((2, 3), (2, 1)), {"axis": 1}), (((2,), (0,), (1,)), {})],
    "stack": [(((), (), ()), {}), (((3,), (3,)), {}), (((2, 2),), {})],
    "one_hot_argmax": [(((4,),), {}), (((2, 3),), {})],
    "linsolve": [(((3, 3), (3,)), {}), (((1, 1), (1,)), {})],
}

# Primitives whose rules need a sub-program as a parameter: tested end to end.
TESTED_ELSEWHERE = {
    "implicit": "root/argmin by the implicit function theorem: tests/test_engine.py",
    "jvp_call": "staged forward mode's call of a numeric JVP: forward == reverse in "
                "tests/test_ad_properties.py and tests/test_engine.py",
}

# Primitives whose derivative is deliberately not that of their value.
FD_EXEMPT = {
    "stop_grad": "value x, derivative 0 by design",
    "straight_through": "value of hard, derivative of soft by design",
    "ste_round": "value round(x), derivative 1 by design",
    "ste_step": "value [x > 0], derivative 1 by design",
}


def rng_for(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def cases(p: Prim):
    """(input shapes, params) pairs to try ``p`` on."""
    if p.name in TESTED_ELSEWHERE:
        return []
    if p.name in STRUCTURAL:
        return STRUCTURAL[p.name]
    if p.elementwise:
        return [(shapes, {}) for shapes in ELEMENTWISE_SHAPES[p.nargs]]
    raise LookupError(f"no test cases for structural primitive {p.name!r}: add them to STRUCTURAL")


def domains(p: Prim, n: int) -> tuple[str, ...]:
    return p.domain * n if p.nargs == -1 else p.domain


def instance(p: Prim, case: int):
    """(inputs, params, indices of differentiated inputs) of case ``case`` of ``p``."""
    shapes, params = cases(p)[case]
    rng = rng_for(p.name, case)
    doms = domains(p, len(shapes))
    inputs = [SAMPLERS[d](rng, s) for d, s in zip(doms, shapes, strict=True)]
    diff = [i for i, d in enumerate(doms) if d not in NOT_DIFFERENTIATED]
    return [np.asarray(x, dtype=np.float64) for x in inputs], params, diff


def _case_count(p: Prim) -> int:
    try:
        return len(cases(p))
    except LookupError:
        return 0  # reported by test_every_primitive_has_cases


CASES = [pytest.param(name, case, id=f"{name}-{case}")
         for name in sorted(REGISTRY) for case in range(_case_count(REGISTRY[name]))]


def value_of(x) -> np.ndarray:
    return x.value if isinstance(x, Var) else np.asarray(x, dtype=np.float64)


def directional_fd(f, inputs, direction, diff):
    """Central difference of f along ``direction`` (one array per differentiated input)."""
    def moved(sign):
        args = list(inputs)
        for i, d in zip(diff, direction, strict=True):
            args[i] = inputs[i] + sign * H * d
        return f(*args)

    return (moved(1.0) - moved(-1.0)) / (2 * H)


def staged_vjp(p: Prim, inputs, params, diff, cotangent):
    """Input cotangents from the staged VJP rule, traced on a tape (arrays out)."""
    tape = Tape()
    args = [tape.new_input(x) if i in diff else x for i, x in enumerate(inputs)]
    out = p(*args, **params)
    grads = p.vjp(cotangent, args, out, **params)
    assert len(grads) == len(inputs), f"{p.name}: one cotangent per input"
    return [np.zeros_like(inputs[i]) if grads[i] is None else value_of(grads[i]) for i in diff]


# ------------------------------------------------------------------ registry-wide


def test_every_primitive_has_cases():
    for p in REGISTRY.values():
        assert list(cases(p)) or p.name in TESTED_ELSEWHERE, p.name


@pytest.mark.parametrize("name, case", CASES)
def test_jvp_matches_finite_differences(name, case):
    p = REGISTRY[name]
    inputs, params, diff = instance(p, case)
    out = p(*inputs, **params)
    rng = rng_for("jvp", name, case)
    tangents = [rng.normal(size=(K,) + x.shape) if i in diff else None
                for i, x in enumerate(inputs)]
    f = lambda *a: p(*a, **params)
    fd = np.stack([directional_fd(f, inputs, [tangents[i][j] for i in diff], diff)
                   for j in range(K)])
    if p.nondiff:
        if name not in FD_EXEMPT:
            np.testing.assert_allclose(fd, 0.0, atol=1e-9)
        return
    jv = p.jvp(tangents, inputs, out, **params)
    assert jv is not None
    assert np.shape(jv) == (K,) + out.shape
    if name not in FD_EXEMPT:
        np.testing.assert_allclose(jv, fd, rtol=1e-5, atol=1e-6)


def fd_gradient(phi, args, i):
    """Central-difference gradient of the scalar phi(*args) in argument i."""
    fd = np.zeros(args[i].shape)
    for idx in np.ndindex(args[i].shape):
        e = np.zeros(args[i].shape)
        e[idx] = 1.0
        fd[idx] = directional_fd(phi, args, [e], [i])
    return fd


@pytest.mark.parametrize("name, case", CASES)
def test_staged_vjp_matches_finite_differences(name, case):
    p = REGISTRY[name]
    if p.nondiff or name in FD_EXEMPT:
        pytest.skip(FD_EXEMPT.get(name, "zero derivative"))
    inputs, params, diff = instance(p, case)
    w = rng_for("vjp", name, case).normal(size=p(*inputs, **params).shape)
    grads = staged_vjp(p, inputs, params, diff, w)
    phi = lambda *a: float(np.sum(w * p(*a, **params)))
    for i, g in zip(diff, grads, strict=True):
        assert g.shape == inputs[i].shape
        np.testing.assert_allclose(g, fd_gradient(phi, inputs, i), rtol=1e-5, atol=1e-6,
                                   err_msg=f"argument {i}")


@pytest.mark.parametrize("name, case", CASES)
def test_jvp_and_vjp_are_adjoint(name, case):
    # ⟨J v, w⟩ = ⟨v, Jᵀ w⟩: the two rules of one stanza cannot disagree silently.
    p = REGISTRY[name]
    if p.nondiff:
        pytest.skip("zero derivative: no rules")
    inputs, params, diff = instance(p, case)
    out = p(*inputs, **params)
    rng = rng_for("adjoint", name, case)
    v = [rng.normal(size=(1,) + x.shape) if i in diff else None for i, x in enumerate(inputs)]
    w = rng.normal(size=out.shape)
    jv = p.jvp(v, inputs, out, **params)
    lhs = 0.0 if jv is None else float(np.sum(np.asarray(jv)[0] * w))
    grads = staged_vjp(p, inputs, params, diff, w)
    rhs = sum(float(np.sum(v[i][0] * g)) for i, g in zip(diff, grads, strict=True))
    assert math.isclose(lhs, rhs, rel_tol=1e-9, abs_tol=1e-9), (lhs, rhs)


@pytest.mark.parametrize("name, case", CASES)
def test_shape_rule_and_recording_agree_with_values(name, case):
    p = REGISTRY[name]
    inputs, params, _ = instance(p, case)
    out = p(*inputs, **params)
    assert out.dtype == np.float64
    abstract = p(*(Abstract(x.shape) for x in inputs), **params)
    assert isinstance(abstract, Abstract) and abstract.shape == out.shape
    tape = Tape()
    recorded = p(*(tape.new_input(x) for x in inputs), **params)
    np.testing.assert_array_equal(recorded.value, out)


OUT_CASES = [c for c in CASES if REGISTRY[c.values[0]].writes_out]


@pytest.mark.parametrize("name, case", OUT_CASES)
def test_writing_into_a_buffer_gives_the_same_values(name, case):
    # the compiler hands writes_out primitives a reused buffer (out=)
    p = REGISTRY[name]
    inputs, params, _ = instance(p, case)
    expected = np.asarray(p.impl(*inputs, **params))
    buffer = np.full(expected.shape, np.nan)
    result = p.impl(*inputs, out=buffer, **params)
    assert result is buffer
    np.testing.assert_array_equal(buffer, expected)


def test_every_writes_out_primitive_is_fresh():
    assert all(p.fresh for p in REGISTRY.values() if p.writes_out)


@pytest.mark.parametrize("name, case", CASES)
def test_staged_vjp_is_differentiable(name, case):
    # Forward mode over the staged gradient (a Hessian-vector product) against
    # finite differences of the gradient: catches rules that leave the tape.
    p = REGISTRY[name]
    if p.nondiff:
        pytest.skip("zero derivative: no rules")
    inputs, params, diff = instance(p, case)
    w = rng_for("hvp", name, case).normal(size=p(*inputs, **params).shape)
    direction = [rng_for("hvp-dir", name, case, i).normal(size=inputs[i].shape) for i in diff]

    def gradient(args, tangents=None):
        tape = Tape()
        traced = [tape.new_input(x) if i in diff else x for i, x in enumerate(args)]
        phi = REGISTRY["sum"](w * p(*traced, **params))
        grads = stage_gradient(tape, phi, [traced[i].id for i in diff])
        if tangents is None:
            return [value_of(g) for g in grads]
        outputs = [g.id if isinstance(g, Var) else g for g in grads]
        _, dots = forward(tape, [args[i] for i in diff], tangents, outputs, 1)
        return [d[0] for d in dots]

    hv = gradient(inputs, [d[None] for d in direction])
    plus, minus = list(inputs), list(inputs)
    for i, d in zip(diff, direction, strict=True):
        plus[i] = inputs[i] + 1e-5 * d
        minus[i] = inputs[i] - 1e-5 * d
    fd = [(a - b) / 2e-5 for a, b in zip(gradient(plus), gradient(minus), strict=True)]
    for got, want in zip(hv, fd, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ built-ins


def _arg(rng, spec):
    domain, shape = spec
    return np.asarray(SAMPLERS[domain](rng, shape), dtype=np.float64)


R = lambda *shape: ("real", shape)
D = lambda *shape: ("distinct", shape)
P = lambda *shape: ("positive", shape)

# Composite built-ins: name -> [(argument specs, keywords)].
BUILTIN_CASES = {
    "sum": [([R(4)], {}), ([R(2, 3)], {"axis": 1.0}), ([R(2, 3)], {"axis": -2.0})],
    "mean": [([R(4)], {}), ([R(2, 3)], {"axis": 0.0})],
    "prod": [([R(4)], {}), ([R(2, 3)], {"axis": 1.0})],
    "max": [([D(4)], {}), ([D(2, 3)], {"axis": 0.0}), ([R(3), R(3), R()], {})],
    "min": [([D(4)], {}), ([R(3), R(3)], {})],
    "norm": [([R(4)], {}), ([R(2, 3)], {"axis": 1.0})],
    "sumsq": [([R(4)], {}), ([R(2, 3)], {"axis": 0.0})],
    "dot": [([R(3), R(3)], {})],
    "logsumexp": [([R(4)], {}), ([R(4)], {"tau": 0.3}), ([R(2, 3)], {"axis": 1.0})],
    "softmax": [([R(4)], {}), ([R(4)], {"tau": 0.5})],
    "soft_argmax": [([R(4)], {"tau": 2.0})],
    "soft_max": [([R(4)], {"tau": 0.5})],
    "soft_sort": [([R(4)], {}), ([D(5)], {"tau": 0.1}), ([R(1)], {})],
    "soft_rank": [([R(4)], {}), ([R(3)], {"tau": 0.2})],
    "soft_step": [([R(3)], {}), ([R()], {"tau": 0.5})],
    "soft_if": [([R(3), R(3), R()], {}), ([R(), R(), R()], {"tau": 0.2})],
    "ste_argmax": [([D(4)], {})],
    "gumbel_softmax": [([R(4)], {}), ([R(3)], {"tau": 0.5})],
    "concat": [([R(2), R(), R(3)], {}), ([R()], {})],
    "stack": [([R(), R(), R()], {}), ([R(2), R(2)], {})],
    "transpose": [([R(2, 3)], {}), ([R(3)], {})],
    "where": [([("condition", (3,)), R(3), R(3)], {})],
}
CONSTANT_BUILTINS = {"zeros", "ones", "arange", "len", "normal", "uniform"}
BUILTIN_FD_EXEMPT = {"ste_argmax"}  # one-hot value, softmax derivative: see test_ops_structure


def test_every_builtin_is_covered():
    for name, b in BUILTINS.items():
        covered = isinstance(b.fn, Prim) or name in BUILTIN_CASES or name in CONSTANT_BUILTINS
        assert covered, f"built-in {name!r} has no test case"


BUILTIN_INSTANCES = [pytest.param(name, case, id=f"{name}-{case}")
                     for name in sorted(BUILTIN_CASES) for case in range(len(BUILTIN_CASES[name]))]


@pytest.mark.parametrize("name, case", BUILTIN_INSTANCES)
def test_builtin_gradients(name, case):
    fn = BUILTINS[name].fn
    specs, keywords = BUILTIN_CASES[name][case]
    rng = rng_for("builtin", name, case)
    args = [_arg(rng, s) for s in specs]
    diff = [i for i, s in enumerate(specs) if s[0] not in NOT_DIFFERENTIATED]

    def call(*a):
        set_seed(7)  # random built-ins repeat their draws, as in one run
        return fn(*a, **keywords)

    value = value_of(call(*args))
    assert call(*(Abstract(x.shape) for x in args)).shape == value.shape
    tape = Tape()
    traced = [tape.new_input(x) if i in diff else x for i, x in enumerate(args)]
    out = call(*traced)
    np.testing.assert_allclose(value_of(out), value, rtol=1e-12, atol=1e-12)
    if name in BUILTIN_FD_EXEMPT:
        return
    w = rng.normal(size=value.shape)
    grads = stage_gradient(tape, REGISTRY["sum"](w * out), [traced[i].id for i in diff])
    phi = lambda *a: float(np.sum(w * value_of(call(*a))))
    for i, g in zip(diff, grads, strict=True):
        np.testing.assert_allclose(value_of(g), fd_gradient(phi, args, i), rtol=1e-5, atol=1e-6,
                                   err_msg=f"argument {i}")


# ------------------------------------------------------------------ conventions at kinks


def grad(fn, *xs):
    """Staged reverse-mode gradient of sum(fn(*xs)) on a tape, as arrays."""
    tape = Tape()
    with np.errstate(all="ignore"):  # as in the engine: NaN/inf are values, not warnings
        traced = [tape.new_input(np.asarray(x, dtype=np.float64)) for x in xs]
        out = REGISTRY["sum"](fn(*traced))
        return [value_of(g) for g in stage_gradient(tape, out, [t.id for t in traced])]


def jvp1(name, *xs, **params):
    """Forward-mode derivative of a primitive along all-ones tangents (k = 1)."""
    p = REGISTRY[name]
    xs = [np.asarray(x, dtype=np.float64) for x in xs]
    out = p(*xs, **params)
    with np.errstate(all="ignore"):  # as in the engine: inf is the answer, not a warning
        return p.jvp([np.ones((1,) + x.shape) for x in xs], xs, out, **params)[0]


def test_abs_and_relu_have_zero_derivative_at_zero():
    assert grad(REGISTRY["abs"], 0.0) == [0.0]
    assert grad(REGISTRY["relu"], 0.0) == [0.0]
    assert jvp1("abs", 0.0) == 0.0 and jvp1("relu", 0.0) == 0.0
    assert grad(REGISTRY["abs"], -2.0) == [-1.0]


def test_norm_gradient_at_zero_is_zero():
    (g,) = grad(REGISTRY["norm"], np.zeros(3))
    np.testing.assert_array_equal(g, 0.0)
    np.testing.assert_array_equal(jvp1("norm", np.zeros(3)), 0.0)
    (g,) = grad(lambda v: REGISTRY["norm"](v, axis=1), np.array([[0.0, 0.0], [3.0, 4.0]]))
    np.testing.assert_allclose(g, [[0.0, 0.0], [0.6, 0.8]])


def test_max_and_min_ties_split_evenly():
    (g,) = grad(REGISTRY["max"], np.array([1.0, 3.0, 3.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.5, 0.5, 0.0])
    (g,) = grad(REGISTRY["min"], np.array([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(g, [1 / 3] * 3)
    assert jvp1("max", np.array([2.0, 2.0])) == 1.0
    gx, gy = grad(REGISTRY["maximum"], 1.0, 1.0)
    assert (gx, gy) == (0.5, 0.5)
    gx, gy = grad(REGISTRY["minimum"], np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    np.testing.assert_array_equal(gx, [0.5, 0.0])
    np.testing.assert_array_equal(gy, [0.5, 1.0])


def test_clip_edges_belong_to_x():
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    gx, glo, ghi = grad(REGISTRY["clip"], x, -1.0, 1.0)
    np.testing.assert_array_equal(gx, [0.0, 1.0, 1.0, 1.0, 0.0])
    assert (glo, ghi) == (1.0, 1.0)  # each bound is returned once, at -2 and at 2
    gx, glo, ghi = grad(REGISTRY["clip"], 0.0, 1.0, -1.0)  # lo > hi: the value is hi
    assert (gx, glo, ghi) == (0.0, 0.0, 1.0)


def test_sqrt_and_cbrt_have_infinite_derivative_at_zero():
    assert grad(REGISTRY["sqrt"], 0.0) == [np.inf]
    assert jvp1("sqrt", 0.0) == np.inf
    assert grad(REGISTRY["cbrt"], 0.0) == [np.inf]


def test_hypot_and_atan2_are_zero_at_origin():
    assert grad(REGISTRY["hypot"], 0.0, 0.0) == [0.0, 0.0]
    assert grad(REGISTRY["atan2"], 0.0, 0.0) == [0.0, 0.0]


def test_piecewise_constant_functions_have_zero_derivative():
    for name in ("floor", "ceil", "round", "sign"):
        p = REGISTRY[name]
        assert p.nondiff
        assert grad(lambda x, p=p: x + p(x), 0.3) == [1.0]


def test_branches_never_leak():
    # The untaken side of a select gets exactly 0, even where it is inf or NaN.
    select, sqrt, log = REGISTRY["select"], REGISTRY["sqrt"], REGISTRY["log"]
    assert grad(lambda x: select(0.0, sqrt(x), 0.0), 0.0) == [0.0]
    (g,) = grad(lambda x: select(REGISTRY["gt"](x, 0.0), log(x), x), np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(g, [1.0, 1.0, 0.5])
    tape = Tape()
    x = tape.new_input(np.array(0.0))
    y = select(0.0, sqrt(x), 2.0 * x)
    _, (dot,) = forward(tape, [np.array(0.0)], [np.ones((1,))], [y.id], 1)
    assert dot[0] == 2.0


# ------------------------------------------------------------------ numerical stability


@settings(max_examples=25, deadline=None)
@given(st.floats(-800.0, 800.0))
def test_sigmoid_and_softplus_are_stable(x):
    s = float(REGISTRY["sigmoid"](x))
    assert 0.0 <= s <= 1.0
    assert math.isclose(s + float(REGISTRY["sigmoid"](-x)), 1.0, rel_tol=1e-12)
    sp = float(REGISTRY["softplus"](x))
    assert math.isfinite(sp) and sp >= max(x, 0.0)
    assert math.isclose(sp, max(x, 0.0) + math.log1p(math.exp(-abs(x))), rel_tol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=6),
       st.sampled_from([0.1, 1.0, 10.0]))
def test_logsumexp_is_a_stable_soft_max(values, tau):
    v = np.array(values)
    lse = float(REGISTRY["logsumexp"](v, tau=tau))
    assert max(values) <= lse + 1e-9 <= max(values) + tau * math.log(len(values)) + 1e-6


def test_erf_matches_math_erf():
    x = np.linspace(-4, 4, 17)
    np.testing.assert_allclose(REGISTRY["erf"](x), [math.erf(t) for t in x], rtol=1e-15)


# ------------------------------------------------------------------ documentation


def test_every_builtin_is_in_the_man_page():
    page = Path(__file__).resolve().parent.parent / "man" / "dop.5"
    if not page.exists():
        pytest.skip("man/dop.5 is not written yet")
    text = page.read_text(encoding="utf-8")
    missing = [name for name in BUILTINS if name not in text]
    assert not missing, f"built-ins missing from man/dop.5: {missing}"
