"""Staged forward mode of every primitive: finite differences, the numeric rule, the VJP.

The one-IR goal is one forward rule per primitive, staged: local partials
``d``, ``linear=True`` or an ``fjvp`` written with primitives. Here each
differentiable primitive is recorded on a tape, its tangent is staged with
``stage_jvp`` and the compiled tangent is compared with

* the central finite difference of ``impl`` along the same direction;
* the numeric batched ``jvp`` while the registry still has one (skipped once
  those rules are deleted);
* the staged VJP through the inner-product identity ⟨J t, c⟩ = ⟨t, Jᵀ c⟩
  (structural primitives; elementwise ones derive both modes from ``d``).

Inputs and cases are those of tests/test_ops.py. The documented decisions at
singular points (ties of max/min, zeros in prod, norm at 0) are pinned at the
end, forward against numeric.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_ops import (
    CASES,
    FD_EXEMPT,
    TESTED_ELSEWHERE,
    directional_fd,
    instance,
    rng_for,
    staged_vjp,
)

from diffopt.ad.forward import stage_jvp
from diffopt.compile.codegen import compile_outputs
from diffopt.ir.tape import Tape
from diffopt.ops import library  # noqa: F401  (fills REGISTRY)
from diffopt.ops.registry import REGISTRY, Prim, Var

DIFFERENTIABLE = [c for c in CASES
                  if not REGISTRY[c.values[0]].nondiff and c.values[0] not in TESTED_ELSEWHERE]
STRUCTURAL = [c for c in DIFFERENTIABLE if not REGISTRY[c.values[0]].elementwise]


def staged_tangent(p: Prim, inputs, params, seeds: dict) -> np.ndarray:
    """The tangent of p(*inputs) staged on a tape and run compiled.

    ``seeds`` maps input positions to directions (inputs without one get none).
    """
    tape = Tape()
    with np.errstate(all="ignore"):  # as in the engine: NaN/inf are values, not warnings
        traced = [tape.new_input(x) for x in inputs]
        out = p(*traced, **params)
        (tangent,) = stage_jvp(tape, {traced[i].id: t for i, t in seeds.items()}, [out.id])
        assert all(e.prim.name != "jvp_call" for e in tape.eqns), "numeric fallback staged"
        if not isinstance(tangent, Var):
            return np.asarray(tangent, dtype=np.float64)
        (value,) = compile_outputs(tape, [tangent.id]).run(list(inputs))
    # compiled == traced, up to the compiler's fused reductions (dot products)
    np.testing.assert_allclose(value, tangent.value, rtol=1e-14, atol=1e-15)
    return np.asarray(value, dtype=np.float64)


def directions(name, case, inputs, diff):
    rng = rng_for("forward", name, case)
    return {i: rng.normal(size=inputs[i].shape) for i in diff}


def numeric_tangent(p: Prim, inputs, params, seeds: dict) -> np.ndarray:
    out = p(*inputs, **params)
    tangents = [seeds[i][None] if i in seeds else None for i in range(len(inputs))]
    with np.errstate(all="ignore"):
        t = p.jvp(tangents, inputs, out, **params)
    return np.zeros(out.shape) if t is None else np.asarray(t, dtype=np.float64)[0]


# ------------------------------------------------------------------ registry-wide


def test_every_differentiable_primitive_has_a_staged_forward_rule():
    # the numeric jvp and jvp_call are going away: nothing may depend on them
    missing = [p.name for p in REGISTRY.values()
               if not (p.nondiff or p.d is not None or p.linear or p.fjvp is not None)
               and p.name != "jvp_call"]
    assert not missing, f"no staged forward rule (d, linear or fjvp): {missing}"


@pytest.mark.parametrize("name, case", DIFFERENTIABLE)
def test_staged_jvp_matches_finite_differences(name, case):
    p = REGISTRY[name]
    if p.surrogate or name in FD_EXEMPT:
        pytest.skip(FD_EXEMPT.get(name, "surrogate derivative"))
    inputs, params, diff = instance(p, case)
    seeds = directions(name, case, inputs, diff)
    got = staged_tangent(p, inputs, params, seeds)
    fd = directional_fd(lambda *a: p(*a, **params), inputs, [seeds[i] for i in diff], diff)
    assert got.shape == fd.shape
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name, case", DIFFERENTIABLE)
def test_staged_jvp_matches_numeric_jvp(name, case):
    p = REGISTRY[name]
    if p.jvp is None:
        pytest.skip("no numeric forward rule any more")
    inputs, params, diff = instance(p, case)
    seeds = directions(name, case, inputs, diff)
    np.testing.assert_allclose(staged_tangent(p, inputs, params, seeds),
                               numeric_tangent(p, inputs, params, seeds),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, case", STRUCTURAL)
def test_staged_jvp_and_staged_vjp_are_adjoint(name, case):
    # ⟨J t, c⟩ = ⟨t, Jᵀ c⟩ with both sides staged
    p = REGISTRY[name]
    inputs, params, diff = instance(p, case)
    seeds = directions(name, case, inputs, diff)
    jt = staged_tangent(p, inputs, params, seeds)
    c = rng_for("cotangent", name, case).normal(size=jt.shape)
    grads = staged_vjp(p, inputs, params, diff, c)
    lhs = float(np.sum(jt * c))
    rhs = sum(float(np.sum(seeds[i] * g)) for i, g in zip(diff, grads, strict=True))
    assert math.isclose(lhs, rhs, rel_tol=1e-9, abs_tol=1e-9), (lhs, rhs)


# ------------------------------------------------------------------ singular points

# name, inputs, params: points where the documented decisions apply
SINGULAR = [
    ("max", [[1.0, 3.0, 3.0, 2.0]], {}),
    ("max", [[[2.0, 2.0, 1.0], [0.0, 5.0, 5.0]]], {"axis": 1}),
    ("max", [[[2.0, 2.0], [2.0, 1.0]]], {}),
    ("min", [[1.0, 1.0, 1.0]], {}),
    ("min", [[[1.0, 0.0], [1.0, 0.0], [3.0, 4.0]]], {"axis": 0}),
    ("prod", [[2.0, 0.0, 3.0, 4.0]], {}),
    ("prod", [[0.0, 5.0, 0.0]], {}),
    ("prod", [[[0.0, 2.0, 3.0], [1.0, 0.0, 0.0]]], {"axis": 1}),
    ("prod", [[[0.0, 2.0], [3.0, 0.0]]], {"axis": 0}),
    ("prod", [[[0.0, 2.0], [3.0, 0.0]]], {}),
    ("norm", [[0.0, 0.0, 0.0]], {}),
    ("norm", [0.0], {}),
    ("norm", [[[0.0, 0.0], [3.0, 4.0]]], {"axis": 1}),
    ("norm", [[[0.0, 3.0], [0.0, 4.0]]], {"axis": 0}),
    ("logsumexp", [[1e3, 1e3, -1e3]], {"tau": 1.0}),
    ("logsumexp", [[-np.inf, 0.0, 1.0]], {"tau": 0.5}),
    ("linsolve", [[[2.0, 1.0], [1.0, 3.0]], [0.0, 0.0]], {}),
]


@pytest.mark.parametrize("name, inputs, params", SINGULAR,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(SINGULAR)])
def test_staged_jvp_keeps_the_decisions_at_singular_points(name, inputs, params):
    p = REGISTRY[name]
    inputs = [np.asarray(x, dtype=np.float64) for x in inputs]
    rng = rng_for("singular", name, repr(inputs))
    seeds = {i: rng.normal(size=x.shape) for i, x in enumerate(inputs)}
    got = staged_tangent(p, inputs, params, seeds)
    assert np.all(np.isfinite(got))
    if p.jvp is not None:
        np.testing.assert_allclose(got, numeric_tangent(p, inputs, params, seeds),
                                   rtol=1e-12, atol=1e-12)


def test_ties_split_the_tangent_evenly():
    ones = {0: np.ones(4)}
    x = np.array([1.0, 3.0, 3.0, 2.0])
    assert staged_tangent(REGISTRY["max"], [x], {}, ones) == 1.0
    assert staged_tangent(REGISTRY["max"], [x], {}, {0: np.array([0.0, 1.0, 0.0, 0.0])}) == 0.5
    assert staged_tangent(REGISTRY["min"], [np.ones(3)], {}, {0: np.eye(3)[2]}) == 1 / 3


def test_norm_tangent_at_zero_is_zero():
    assert staged_tangent(REGISTRY["norm"], [np.zeros(3)], {}, {0: np.ones(3)}) == 0.0


def test_prod_tangent_is_exact_at_zeros():
    # d prod at [0, 5, 0] is 0 in every direction; at [2, 0, 3, 4] only h_1 counts
    assert staged_tangent(REGISTRY["prod"], [np.array([0.0, 5.0, 0.0])], {},
                          {0: np.ones(3)}) == 0.0
    got = staged_tangent(REGISTRY["prod"], [np.array([2.0, 0.0, 3.0, 4.0])], {},
                         {0: np.array([1.0, 2.0, 1.0, 1.0])})
    assert got == 48.0
