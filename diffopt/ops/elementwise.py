"""Elementwise functions of the language: one stanza each (value, partials, expansion).

Each primitive gives its local partial(s) ``d`` written with primitives, so
forward mode (``t_out = Σ d_i · t_i``) and the staged reverse mode
(``x̄_i = sum_to(ḡ · d_i, shape_i)``) both derive from one formula, and the
reverse rules can themselves be differentiated (Hessians). Binary and ternary
functions broadcast as in NumPy.

Decisions at singular points (mirrored in man/dop.5):

* ``abs'(0) = 0``, ``relu'(0) = 0``, ``sign``/``floor``/``ceil``/``round``: 0 everywhere.
* ``sqrt'(0) = +inf`` and ``cbrt'(0) = +inf`` (reported by the engine with a span);
  ``sqrt``/``log`` of a negative number are NaN, ``log(0) = -inf``.
* ``asin``/``acos`` at ±1: infinite derivative (±inf), as the formula gives.
* ``hypot`` at (0, 0) and ``atan2`` at (0, 0): zero partials (no finite
  gradient exists; 0 is the minimum-norm subgradient of hypot).
* ``maximum``/``minimum`` at a tie ``x == y``: each argument gets half (0.5/0.5).
* ``clip(x, lo, hi)``: derivative 1 with respect to ``x`` on ``[lo, hi]``
  including both edges, else 1 with respect to the bound that is returned.
  If ``lo > hi`` the value is ``hi`` (as ``minimum(maximum(x, lo), hi)``).
* ``round`` rounds half to even (0.5 → 0, 1.5 → 2), as NumPy does.

Must not import the front end, the CLI or Rich.
"""

from __future__ import annotations

import math

import numpy as np

from diffopt.ops.core import _quiet, eq, ge, gt, le, lt, select
from diffopt.ops.registry import ExportRule, builtin, prim

# ------------------------------------------------------------ absolute value, roots

# |a + h| ≈ |a| + sign(a) h ; at a = 0 the derivative is taken as 0
abs = prim("abs", np.abs, d=lambda x, out: sign(x), doc="absolute value; abs'(0) = 0",
           scalar="abs({0})", export="xp.abs({0})")

# sqrt(a + h) ≈ sqrt(a) + h / (2 sqrt(a)) ; at a = 0 the derivative is +inf
sqrt = prim("sqrt", _quiet(np.sqrt), d=lambda x, out: 0.5 / out, domain="positive",
            doc="square root; sqrt'(0) = +inf, sqrt(x < 0) = NaN", scalar="_m.sqrt({0})",
            export="xp.sqrt({0})")

# cbrt(a + h) ≈ cbrt(a) + h / (3 cbrt(a)²) ; at a = 0 the derivative is +inf
cbrt = prim("cbrt", np.cbrt, d=lambda x, out: (1.0 / 3.0) / (out * out), domain="nonzero",
            doc="cube root (real, also of negative numbers); cbrt'(0) = +inf",
            export="xp.cbrt({0})")

# ------------------------------------------------------------ exponentials and logarithms

# exp(a + h) ≈ exp(a) + exp(a) h
exp = prim("exp", _quiet(np.exp), d=lambda x, out: out, doc="e to the power x",
           scalar="_m.exp({0})", export="xp.exp({0})")

# log(a + h) ≈ log(a) + h / a ; log(0) = -inf with derivative +inf, log(a < 0) = NaN
log = prim("log", _quiet(np.log), d=lambda x, out: 1.0 / x, domain="positive",
           doc="natural logarithm", scalar="_m.log({0})", export="xp.log({0})")

# log1p(a + h) ≈ log1p(a) + h / (1 + a)
log1p = prim("log1p", _quiet(np.log1p), d=lambda x, out: 1.0 / (1.0 + x), domain="positive",
             doc="log(1 + x), accurate for small x", scalar="_m.log1p({0})",
             export="xp.log1p({0})")

# expm1(a + h) ≈ expm1(a) + exp(a) h
expm1 = prim("expm1", _quiet(np.expm1), d=lambda x, out: exp(x),
             doc="exp(x) - 1, accurate for small x", scalar="_m.expm1({0})",
             export="xp.expm1({0})")

# ------------------------------------------------------------ trigonometric

# sin(a + h) ≈ sin(a) + cos(a) h
sin = prim("sin", np.sin, d=lambda x, out: cos(x), doc="sine (radians)", scalar="_m.sin({0})",
           export="xp.sin({0})")

# cos(a + h) ≈ cos(a) - sin(a) h
cos = prim("cos", np.cos, d=lambda x, out: -sin(x), doc="cosine (radians)", scalar="_m.cos({0})",
           export="xp.cos({0})")

# tan(a + h) ≈ tan(a) + (1 + tan(a)²) h
tan = prim("tan", np.tan, d=lambda x, out: 1.0 + out * out, domain="unit", doc="tangent (radians)",
           scalar="_m.tan({0})", export="xp.tan({0})")

# asin(a + h) ≈ asin(a) + h / sqrt(1 - a²) ; ±inf at a = ±1
asin = prim("asin", _quiet(np.arcsin), d=lambda x, out: 1.0 / sqrt(1.0 - x * x), domain="unit",
            doc="arcsine; infinite derivative at ±1", scalar="_m.asin({0})",
            export="xp.arcsin({0})")

# acos(a + h) ≈ acos(a) - h / sqrt(1 - a²) ; ∓inf at a = ±1
acos = prim("acos", _quiet(np.arccos), d=lambda x, out: -1.0 / sqrt(1.0 - x * x), domain="unit",
            doc="arccosine; infinite derivative at ±1", scalar="_m.acos({0})",
            export="xp.arccos({0})")

# atan(a + h) ≈ atan(a) + h / (1 + a²)
atan = prim("atan", np.arctan, d=lambda x, out: 1.0 / (1.0 + x * x), doc="arctangent",
            scalar="_m.atan({0})", export="xp.arctan({0})")


def _atan2_partial(numerator):
    # ∂atan2(y, x) = (x dy - y dx) / (x² + y²); 0 at the origin, where atan2 jumps.
    def partial(y, x, out):
        r2 = x * x + y * y
        return select(gt(r2, 0.0), numerator(y, x) / r2, 0.0)

    return partial


# atan2(b + k, a + h) ≈ atan2(b, a) + (a k - b h) / (a² + b²)
atan2 = prim("atan2", np.arctan2, nargs=2,
             d=(_atan2_partial(lambda y, x: x), _atan2_partial(lambda y, x: -y)),
             domain=("real", "nonzero"),
             doc="atan2(y, x): the angle of the point (x, y); zero partials at (0, 0)",
             scalar="_m.atan2({0}, {1})", export="xp.arctan2({0}, {1})")

# ------------------------------------------------------------ hyperbolic

# sinh(a + h) ≈ sinh(a) + cosh(a) h
sinh = prim("sinh", _quiet(np.sinh), d=lambda x, out: cosh(x), doc="hyperbolic sine",
            scalar="_m.sinh({0})", export="xp.sinh({0})")

# cosh(a + h) ≈ cosh(a) + sinh(a) h
cosh = prim("cosh", _quiet(np.cosh), d=lambda x, out: sinh(x), doc="hyperbolic cosine",
            scalar="_m.cosh({0})", export="xp.cosh({0})")

# tanh(a + h) ≈ tanh(a) + (1 - tanh(a)²) h
tanh = prim("tanh", np.tanh, d=lambda x, out: 1.0 - out * out, doc="hyperbolic tangent",
            scalar="_m.tanh({0})", export="xp.tanh({0})")

# ------------------------------------------------------------ activations


def _sigmoid(x):
    # 1 / (1 + exp(-x)) without overflow: exp of a non-positive number only.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(x):
    # log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), stable for any x.
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


# _sigmoid for the export back ends (diffopt.export), over xp
_SIGMOID_SOURCE = """\
def _sigmoid(x):
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
"""

# σ(a + h) ≈ σ(a) + σ(a)(1 - σ(a)) h
sigmoid = prim("sigmoid", _sigmoid, d=lambda x, out: out * (1.0 - out),
               doc="logistic function 1 / (1 + exp(-x))",
               export=ExportRule("_sigmoid({0})", helpers=_SIGMOID_SOURCE))

# relu(a + h) ≈ relu(a) + [a > 0] h ; relu'(0) = 0
relu = prim("relu", lambda x: np.maximum(x, 0.0), d=lambda x, out: gt(x, 0.0),
            doc="max(x, 0); relu'(0) = 0", export="xp.maximum({0}, 0.0)")

# softplus(a + h) ≈ softplus(a) + σ(a) h
softplus = prim("softplus", _softplus, d=lambda x, out: sigmoid(x), doc="log(1 + exp(x)), stable",
                export="(xp.maximum({0}, 0.0) + xp.log1p(xp.exp(-xp.abs({0}))))")

_erf_kernel = np.vectorize(math.erf, otypes=[np.float64])
# NumPy has no erf: the exported NumPy module uses math.erf as above, jax its own
_ERF_SOURCES = {
    "numpy": "import math as _math\n\n_erf = np.vectorize(_math.erf, otypes=[np.float64])\n",
    "jax": "from jax.scipy.special import erf as _erf\n",
}

# erf(a + h) ≈ erf(a) + (2/√π) exp(-a²) h
erf = prim("erf", _erf_kernel, d=lambda x, out: (2.0 / math.sqrt(math.pi)) * exp(-(x * x)),
           doc="error function", scalar="_m.erf({0})",
           export=ExportRule("_erf({0})", helpers=_ERF_SOURCES))

# ------------------------------------------------------------ two-argument functions


def _over_hypot(numerator, out):
    # ∂hypot/∂x = x / hypot; 0 at the origin (the minimum-norm subgradient).
    return select(gt(out, 0.0), numerator / out, 0.0)


# hypot(a + h, b + k) ≈ hypot(a, b) + (a h + b k) / hypot(a, b)
hypot = prim("hypot", np.hypot, nargs=2,
             d=(lambda x, y, out: _over_hypot(x, out), lambda x, y, out: _over_hypot(y, out)),
             doc="sqrt(x² + y²) without overflow; zero partials at (0, 0)",
             scalar="_m.hypot({0}, {1})", export="xp.hypot({0}, {1})")

# max(a + h, b + k) ≈ max(a, b) + h if a > b, k if a < b, (h + k)/2 at a tie
maximum = prim("maximum", np.maximum, nargs=2,
               d=(lambda x, y, out: gt(x, y) + 0.5 * eq(x, y),
                  lambda x, y, out: lt(x, y) + 0.5 * eq(x, y)),
               doc="elementwise larger of x and y; a tie splits the derivative 0.5/0.5",
               export="xp.maximum({0}, {1})")

# min(a + h, b + k) ≈ min(a, b) + h if a < b, k if a > b, (h + k)/2 at a tie
minimum = prim("minimum", np.minimum, nargs=2,
               d=(lambda x, y, out: lt(x, y) + 0.5 * eq(x, y),
                  lambda x, y, out: gt(x, y) + 0.5 * eq(x, y)),
               doc="elementwise smaller of x and y; a tie splits the derivative 0.5/0.5",
               export="xp.minimum({0}, {1})")

# clip(a + h, lo, hi) ≈ clip(a, lo, hi) + h on [lo, hi] (edges included); the
# returned bound carries the derivative outside. Exactly one partial is 1.
clip = prim("clip", lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), nargs=3,
            d=(lambda x, lo, hi, out: ge(x, lo) * le(x, hi),
               lambda x, lo, hi, out: lt(x, lo) * le(lo, hi),
               lambda x, lo, hi, out: gt(maximum(x, lo), hi)),
            domain=("real", "low", "high"),
            doc="x limited to [lo, hi]; derivative 1 in x on [lo, hi] including the edges",
            export="xp.minimum(xp.maximum({0}, {1}), {2})")

# ------------------------------------------------------------ piecewise constant

floor = prim("floor", np.floor, nondiff=True, doc="largest integer <= x (zero derivative)",
             export="xp.floor({0})")
ceil = prim("ceil", np.ceil, nondiff=True, doc="smallest integer >= x (zero derivative)",
            export="xp.ceil({0})")
round = prim("round", np.round, nondiff=True,
             doc="nearest integer, halves to even (zero derivative)", export="xp.round({0})")
sign = prim("sign", np.sign, nondiff=True, doc="-1, 0 or 1 (zero derivative)",
            export="xp.sign({0})")

# ------------------------------------------------------------ built-ins

for _name in ("abs sqrt cbrt exp log log1p expm1 sin cos tan asin acos atan sinh cosh tanh "
              "sigmoid relu softplus erf floor ceil round sign").split():
    builtin(_name)
builtin("atan2", positional=("y", "x"))
builtin("hypot", positional=("x", "y"))
builtin("maximum", positional=("x", "y"))
builtin("minimum", positional=("x", "y"))
builtin("clip", positional=("x", "lo", "hi"))
