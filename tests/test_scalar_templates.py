"""Every ``scalar`` template agrees with its primitive's ``impl`` on Python floats.

The compiler inlines a primitive's ``scalar`` template on Python floats when
all operands of an equation are scalars (``tape._scalar_program``). A
template may raise ArithmeticError or ValueError (``math.log(0)``,
``1.0 / 0.0``, overflow): the compiled program then falls back to the NumPy
code, so raising is always allowed. Returning a value is allowed only when it
is the value ``impl`` gives: the same float (NaN for NaN, the same sign of
zero, the same infinity; transcendental functions within a couple of ulps,
since libm and NumPy's kernels may round differently).

Checked at random points of each primitive's domain (the samplers of
tests/test_ops.py) and at edge values (signed zeros, ±1, tiny, huge,
subnormal, ±inf, NaN, the samplers' bounds, the poles and branch points of
the functions that have templates), in every combination for the operands,
with the operands given as variables (as the compiler emits slots) and, on
the random points and a smaller set of edge values, as literals (as it emits
constants).
"""

from __future__ import annotations

import itertools
import math
import sys

import numpy as np
import pytest
from test_ops import SAMPLERS, rng_for

from diffopt.ops import library  # noqa: F401  (fills REGISTRY)
from diffopt.ops.registry import REGISTRY, Prim

TEMPLATED = sorted(name for name, p in REGISTRY.items() if p.scalar)
ULPS = 2  # libm and NumPy's vectorized kernels may round transcendental results differently
RANDOM_POINTS = 200

EDGES = [
    0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5,
    1e-300, -1e-300, 5e-324, -5e-324, 1e300, -1e300, sys.float_info.max, -sys.float_info.max,
    math.inf, -math.inf, math.nan,
    # bounds of the domain samplers (positive, nonzero, unit, low, high)
    2.5, 0.9, -0.9, 1.5, -1.5,
    # branch points and overflow thresholds of the templated functions
    1.0 + 2.0**-52, -1.0 - 2.0**-52, 1.0 - 2.0**-53, math.pi / 2, 709.8, 710.0, -745.2, 3.0,
    -3.0, 0.3,
]
# operands spelled as literals by the compiler (constants): every combination of these
LITERAL_EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -2.0, 5e-324, 1e300, -1e300, math.inf, -math.inf,
                 math.nan]
NAMESPACE = {"_m": math, "_float": float, "_f64": np.float64, "_inf": math.inf,
             "_nan": math.nan}


def literal(value: float) -> str:
    """A float as the compiler writes a constant (tape._scalar_literal)."""
    if value != value:
        return "_nan"
    if value in (math.inf, -math.inf):
        return "_inf" if value > 0 else "(-_inf)"
    return repr(value)


def same(got: float, want: float) -> bool:
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    if want == 0.0 or got == 0.0:
        return got == want and math.copysign(1.0, got) == math.copysign(1.0, want)
    if math.isinf(want) or math.isinf(got):
        return got == want
    return abs(got - want) <= ULPS * math.ulp(want)


def template_function(p: Prim):
    """The template over variables s0, s1, ... (the compiler's slots), as a function."""
    names = ", ".join(f"s{i}" for i in range(p.nargs))
    return eval(f"lambda {names}: {p.scalar.format(*names.split(', '))}", dict(NAMESPACE))


def by_template(p: Prim, args: tuple, fn=None):
    """The template's value on Python floats, or the exception it raised.

    With ``fn`` (from template_function) the operands are variables, else literals.
    """
    try:
        if fn is None:
            return eval(p.scalar.format(*map(literal, args)), dict(NAMESPACE))
        return fn(*args)
    except (ArithmeticError, ValueError) as error:
        return error


def by_impl(p: Prim, args: tuple) -> float:
    with np.errstate(all="ignore"):
        return float(p.impl(*(np.asarray(a, dtype=np.float64) for a in args)))


def disagreements(p: Prim, points, literals: bool) -> list:
    fn = None if literals else template_function(p)
    found = []
    for args in points:
        got = by_template(p, args, fn)
        if isinstance(got, Exception):
            continue  # the compiled program falls back to impl
        want = by_impl(p, args)
        if not isinstance(got, float) or not same(got, want):
            found.append((args, "literals" if literals else "variables", got, want))
    return found


def random_points(p: Prim) -> list:
    rng = rng_for("scalar", p.name)
    columns = [SAMPLERS[d](rng, (RANDOM_POINTS,)) for d in p.domain]
    return [tuple(float(c[i]) for c in columns) for i in range(RANDOM_POINTS)]


# ------------------------------------------------------------------ the templates


def test_every_operand_appears_in_its_template():
    # the compiler formats one operand per {i}: no variadic templated primitive
    for name in TEMPLATED:
        p = REGISTRY[name]
        assert p.nargs >= 1, name
        assert all(f"{{{i}}}" in p.scalar for i in range(p.nargs)), name


@pytest.mark.parametrize("name", TEMPLATED)
def test_template_matches_impl_at_random_points(name):
    p = REGISTRY[name]
    points = random_points(p)
    found = disagreements(p, points, literals=False) + disagreements(p, points, literals=True)
    assert not found, f"{len(found)} disagreements, e.g. {found[:5]}"


@pytest.mark.parametrize("name", TEMPLATED)
def test_template_matches_impl_at_edge_values(name):
    p = REGISTRY[name]
    found = (disagreements(p, itertools.product(EDGES, repeat=p.nargs), literals=False)
             + disagreements(p, itertools.product(LITERAL_EDGES, repeat=p.nargs), literals=True))
    assert not found, f"{len(found)} disagreements, e.g. {found[:5]}"


def test_the_comparison_harness_itself():
    assert same(math.nan, math.nan) and not same(0.0, -0.0) and same(-0.0, -0.0)
    assert not same(math.inf, sys.float_info.max) and same(1.0, 1.0 + 2.0**-52)
    assert not same(1.0, 1.0 + 2.0**-40)
    assert isinstance(by_template(REGISTRY["log"], (0.0,)), ValueError)
    div = REGISTRY["div"]
    assert isinstance(by_template(div, (1.0, 0.0), template_function(div)), ZeroDivisionError)


def test_fixed_disagreements_stay_fixed():
    # dmul kept the sign of a zero product; pow(x, 0.5) is NumPy's sqrt, not C's pow
    dmul, pow = REGISTRY["dmul"], REGISTRY["pow"]
    assert math.copysign(1.0, by_template(dmul, (-0.0, 2.0), template_function(dmul))) == -1.0
    assert by_template(dmul, (0.0, math.inf), template_function(dmul)) == 0.0
    assert math.copysign(1.0, by_template(pow, (-0.0, 0.5), template_function(pow))) == -1.0
    assert isinstance(by_template(pow, (-math.inf, 0.5), template_function(pow)), ValueError)
