"""Every example of the language contract parses, checks and evaluates.

The snippets are those of ../shared/dop-language.md, assembled into whole
programs (with the data files they name), plus the clarifications' corner
cases: precedence, ranges, numbers, line breaks, BOM/CRLF, Unicode names.
"""

from __future__ import annotations

import numpy as np
import pytest
from lark import Lark

from diffopt import api
from diffopt.errors import DopError
from diffopt.resources import resource_path

DECLARATIONS = '''
const h = 20, d = 10            # constants: numbers, arrays or expressions of constants/data
data trips = csv("trips.csv")   # table; columns are vectors: trips.distance_km
data ys = [1.5, 2.0, 3.1]       # inline vector (2-D: [[1,2],[3,4]])
const n = 3
param x1 = 2                    # scalar parameter with its start value
param speed in [1, 200] = 35    # bounds; inf / -inf allowed
param w[3] = 0                  # vector parameter, start broadcast
param x[3] = [-1.2, 1, 0.5]     # array literal start; sizes may be constants: x[n]
param W[4, 3] ~ normal(0, 0.1)  # random start (uniform(lo, hi) too); reproducible with --seed
param x2 = 3, v1 = 1, v2 = 2
let t1 = sqrt(x1^2 + d^2) / v1  # named intermediate value; reported by eval/solve
def leg(x, v) = sqrt(x^2 + d^2) / v   # pure function, inlined; no recursion
minimize time: t1 + leg(x2, v2) + sum(W @ x) + sum(w) + mean(trips.distance_km) / speed
subject to x1 + x2 <= h               # constraints: <=, >=, ==; optional label
subject to budget: x1 >= -inf
option method = "lbfgs", max_iter = 200   # solver options; command-line flags override them
'''

SIMULATION = '''
const g = 9.81, dt = 0.01, v0 = 15, target = 10
param angle = 0.5
var px = 0, py = 0, vy = v0 * sin(angle), vx = v0 * cos(angle)
for t in 0..200 {
    px = px + vx * dt
    py = py + vy * dt
    vy = vy - g * dt
    if py < 0 and t > 5 { break }
}
minimize (px - target)^2
'''

EXPRESSIONS = '''
const n = 4
data table = csv("table.csv")
param x[4] = [1, 2, 3, 4], v[4] = [0.1, 0.2, 0.3, 0.4], p = 8, θ = 0.5
data A = [[1, 2], [3, 4]]
let s1 = sum(x[i]^2 for i in 0..n)
let s2 = [i * x[i] for i in 0..n]
let s3 = sum(x[i] * x[j] for i in 0..n for j in 0..n if i != j)
let s4 = softmax(v, tau=0.5)
let s5 = logsumexp(v[i] for i in 0..n, tau=2)
let s6 = table["distance (km)"]
let s7 = p^-1 + 2^-0.5 + +p
let s8 = [x[i] for i in 0..n - 1]
let s9 = A[:, 1] + A[1, :] + x[::2] + x[1:3]
let s10 = len(v) + sum(concat(x, v)) + sum(stack(x, v)) + sum(zeros(n)) + sum(ones(n))
let s11 = sum(arange(0, 3)) + root(x: x^3 - p, init=1) + argmin(x: (x - θ)^2, init=0)
let s12 = where(x > 2 and not x > 3 or x < 0, x, -x)
let s13 = if p > 1 then 1 else 2
let s14 = 2 * (if p > 1 then 1 else 2)
let s15 = 2_000 + .5 + 1e-3 + pi + e + 1.5e2
let s16 = [
    1,
    2,   # newlines inside brackets are fine
]
let s17 = soft_sort(v) @ soft_rank(v, tau=0.1) + soft_max(v) + sum(soft_argmax(v))
let s18 = soft_step(θ) + soft_if(θ, 1, 2, tau=0.5) + ste_round(θ) + ste_step(θ)
let s19 = sum(ste_argmax(v)) + straight_through(θ, θ^2) + stop_grad(θ) + sum(cumsum(v))
let s20 = dot(x, v) + sumsq(v) + norm(v) + prod(v) + max(v) + min(v) + mean(x)
minimize -θ^2 + s1 + sum(s2) + s3 + sum(s4) + s5 + sum(s6) + s7 + sum(s8) + sum(s9) + (
    s10 + s11 + sum(s12) + s13 + s14 + s19 + s20 + s17 + s18); subject to 0 <= θ <= 1
'''


def test_grammar_builds_strictly():
    Lark(resource_path("grammars", "dop.lark").read_text(), parser="lalr", lexer="basic",
         strict=True)


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "trips.csv").write_text("distance_km,duration_min\n6,12\n3,7\n")
    (tmp_path / "table.csv").write_text('"distance (km)",x\n1,2\n3,4\n')
    return tmp_path


@pytest.mark.parametrize("text", [DECLARATIONS, SIMULATION, EXPRESSIONS],
                         ids=["declarations", "simulation", "expressions"])
def test_contract_example_checks_and_evaluates(folder, text):
    path = folder / "example.dop"
    path.write_text(text, encoding="utf-8")
    problem = api.load(path, seed=3)
    result = api.evaluate(problem)
    assert np.isfinite(result.objective.value)
    grad = api.gradient(problem)
    fwd = api.gradient(problem, mode="forward")
    for name in grad.gradient:
        np.testing.assert_allclose(fwd.gradient[name], grad.gradient[name], rtol=1e-9,
                                   atol=1e-12)


def test_random_start_is_reproducible_with_seed(folder):
    path = folder / "example.dop"
    path.write_text(DECLARATIONS)
    w1 = api.load(path, seed=3).problem.params[-4].start
    w2 = api.load(path, seed=3).problem.params[-4].start
    w3 = api.load(path, seed=4).problem.params[-4].start
    assert np.array_equal(w1, w2) and not np.array_equal(w1, w3)
    assert w1.shape == (4, 3) and abs(w1.std() - 0.1) < 0.06


@pytest.mark.parametrize("expr, value", [
    ("-x^2", -4.0),
    ("-(x^2)", -4.0),
    ("(-x)^2", 4.0),
    ("2^3^2", 512.0),
    ("2**3**2", 512.0),
    ("x^-1", 0.5),
    ("7 // 2 + 7 % 2", 4.0),
    ("-7 // 2", -4.0),
    ("1 + 2 * 3 - 4 / 2", 5.0),
    ("sum(i for i in 0..1 + 2)", 3.0),
])
def test_precedence(tmp_path, expr, value):
    path = tmp_path / "p.dop"
    path.write_text(f"param x = 2\nminimize {expr}\n")
    assert api.evaluate(api.load(path)).objective.value == value


def test_bom_crlf_semicolons_and_unicode(tmp_path):
    path = tmp_path / "p.dop"
    path.write_bytes("\ufeffparam θ = 1; param λ = 2\r\nminimize (θ - λ)^2\r\n".encode())
    problem = api.load(path)
    assert api.evaluate(problem).objective.value == 1


def test_range_bounds_bind_looser_than_arithmetic(tmp_path):
    path = tmp_path / "p.dop"
    path.write_text("const n = 4\nparam x = 1\nvar s = 0\nfor i in 0..n - 1 { s += x }\n"
                    "minimize s\n")
    assert api.evaluate(api.load(path)).objective.value == 3


def test_empty_range_sums_and_products(tmp_path):
    path = tmp_path / "p.dop"
    path.write_text("param x = 1\nminimize x + sum(x for i in 0..0) + prod(x for i in 0..0)\n")
    assert api.evaluate(api.load(path)).objective.value == 2


def test_maximize_reports_f_and_minimizes_minus_f(tmp_path):
    path = tmp_path / "p.dop"
    path.write_text("param x = 0\nmaximize gain: 4 - (x - 1)^2\n")
    problem = api.load(path)
    result = api.solve(problem)
    assert result.objective.sense == "maximize" and result.objective.name == "gain"
    assert result.objective.value == pytest.approx(4)
    assert result.params["x"] == pytest.approx(1)
    assert api.gradient(problem).gradient["x"] == pytest.approx(2)


def test_options_accept_negative_numbers_strings_and_booleans(tmp_path):
    path = tmp_path / "p.dop"
    path.write_text('param x = 0\noption method = "bfgs", tol = 1e-10\nminimize (x + 1)^2\n')
    assert api.load(path).problem.options.given == {"method": "bfgs", "tol": 1e-10}
    path.write_text("param x = 0\noption max_iter = true\nminimize x^2\n")
    with pytest.raises(DopError, match="option 'max_iter' takes a number, not true"):
        api.load(path)
