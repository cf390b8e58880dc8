"""Properties of the two AD modes on generated programs, and the checker itself.

* forward mode == reverse mode on random .dop programs (hypothesis builds
  expression trees over scalars, vectors, broadcasting, reductions and
  branches), and both agree with central differences;
* ``diffopt check`` catches a wrong derivative rule (exit 1) and does not cry
  wolf when a branch flips between x - h and x + h.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from diffopt import api
from diffopt.cli import app

# --------------------------------------------------------- program generator

UNARY_SAFE = ["sin", "cos", "tanh", "sigmoid", "softplus", "atan", "exp"]
UNARY_POSITIVE = ["sqrt", "log", "cbrt"]  # applied to softplus(e) + 0.5 to stay in domain


def expressions(depth: int):
    """Source text of a random expression in a (scalar) and v (vector of 3)."""
    leaves = st.sampled_from(["a", "b", "v", "v[1]", "w @ v", "2.5", "0.5", "sum(v)"])
    if depth == 0:
        return leaves

    sub = expressions(depth - 1)

    def unary(pair):
        name, e = pair
        return f"{name}({e})"

    def positive(pair):
        name, e = pair
        return f"{name}(softplus({e}) + 0.5)"

    def binary(triple):
        op, l, r = triple
        return f"({l} {op} {r})"

    return st.one_of(
        leaves,
        st.tuples(st.sampled_from(UNARY_SAFE), sub).map(unary),
        st.tuples(st.sampled_from(UNARY_POSITIVE), sub).map(positive),
        st.tuples(st.sampled_from(["+", "-", "*"]), sub, sub).map(binary),
        st.tuples(sub, sub).map(lambda p: f"({p[0]}) / (1.5 + ({p[1]})^2)"),
        st.tuples(sub, st.integers(2, 3)).map(lambda p: f"({p[0]})^{p[1]}"),
        st.tuples(sub, sub).map(lambda p: f"where({p[0]} > 0, {p[1]}, -{p[1]})"),
        st.tuples(sub, sub).map(lambda p: f"maximum({p[0]}, {p[1]})"),
        sub.map(lambda e: f"logsumexp({e} * v)"),
        sub.map(lambda e: f"norm({e} * v + 1)"),
    )


def program(expr: str) -> str:
    return (
        "const w = [0.3, -0.2, 0.1]\n"
        "param a = 0.7, b = -0.4, v[3] = [0.2, -0.5, 0.9]\n"
        f"minimize sum({expr})\n"
    )


def fd_gradient(engine, x, h=1e-6):
    g = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h * max(1.0, abs(x[i]))
        g[i] = (engine.value(x + e) - engine.value(x - e)) / (2 * e[i])
    return g


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(3), st.integers(0, 2**16))
def test_forward_equals_reverse_on_random_programs(tmp_path_factory, expr, seed):
    path = tmp_path_factory.mktemp("gen") / "g.dop"
    path.write_text(program(expr))
    problem = api.load(path)
    engine = problem
    rng = np.random.default_rng(seed)
    x = problem.problem.start_point() + rng.normal(scale=0.3, size=problem.problem.n)
    f, reverse = engine.value_and_grad(x)
    _, forward = engine.gradient_forward(x)
    if not (np.isfinite(f) and np.all(np.isfinite(reverse))):
        return
    np.testing.assert_allclose(forward, reverse, rtol=1e-9, atol=1e-11)
    # a where() threshold within the FD step makes the difference quotient jump
    if any(np.any(np.abs(v) < 1e-4) for v in _conditions(engine)):
        return
    np.testing.assert_allclose(reverse, fd_gradient(engine, x), rtol=2e-4, atol=2e-5)


def _conditions(engine):
    tape = engine.recording.tape
    return [tape.values[e.args[0]] for e in tape.eqns
            if e.prim.name == "gt" and isinstance(e.args[0], int)]


# ------------------------------------------------------------------ the checker


def test_check_fails_on_a_wrong_derivative_rule(tmp_path, monkeypatch):
    import dataclasses
    import functools

    from diffopt.ops import registry

    path = tmp_path / "p.dop"
    path.write_text("param x = 0.3\nminimize sin(x) * x\n")
    right = registry.REGISTRY["sin"]
    # cos(x) + 0.01: a small, plausible-looking mistake
    wrong_d = (lambda x, out: registry.REGISTRY["cos"](x) + 0.01,)
    wrong = dataclasses.replace(
        right,
        d=wrong_d,
        jvp=functools.partial(registry._elementwise_jvp, wrong_d),
        vjp=functools.partial(registry._elementwise_vjp, wrong_d),
    )
    monkeypatch.setitem(registry.REGISTRY, "sin", wrong)
    monkeypatch.setitem(registry.BUILTINS, "sin",
                        dataclasses.replace(registry.BUILTINS["sin"], fn=wrong))
    result = CliRunner().invoke(app, ["check", str(path), "--json"])
    assert result.exit_code == 1
    entry = json.loads(result.stdout)["points"][0]["entries"][0]
    assert entry["ok"] is False
    assert entry["numeric"] == pytest.approx(np.sin(0.3) + 0.3 * np.cos(0.3), rel=1e-8)
    assert entry["reverse"] == pytest.approx(entry["numeric"] + 0.003, rel=1e-8)


def test_check_notes_a_branch_flip_instead_of_failing(tmp_path):
    path = tmp_path / "p.dop"
    # a jump at x = 1: the FD quotient straddles it when x is within h of 1
    path.write_text("param x = 1\nminimize if x < 1 then x^2 else x^2 + 1\n")
    result = CliRunner().invoke(app, ["check", str(path), "--json", "--at", "x=0.999999999"])
    document = json.loads(result.stdout)
    assert result.exit_code == 0, document
    (point,) = document["points"]
    assert any("p.dop:2:13 differs between x - h and x + h" in note for note in point["notes"])


def test_check_at_random_points_on_a_loop_with_break():
    result = CliRunner().invoke(app, ["check", "problems/projectile.dop", "--points", "3",
                                      "--json"])
    document = json.loads(result.stdout)
    assert result.exit_code == 0, document
    assert len(document["points"]) == 3


@pytest.mark.parametrize("path", sorted((Path(__file__).parent.parent / "problems").glob("*.dop")),
                         ids=lambda p: p.name)
def test_check_passes_on_every_problem(path):
    problem = api.load(path)
    result = api.check(problem, points=2)
    assert result.passed, [e for p in result.points for e in p.entries if not e.ok]
    for point in result.points:
        for entry in point.entries:
            assert entry.forward == pytest.approx(entry.reverse, rel=1e-9, abs=1e-12)


def test_straight_through_program_is_checked_on_modes_only():
    result = api.check(api.load(Path(__file__).parent.parent / "problems" / "ste.dop"))
    assert result.passed
    (point,) = result.points
    assert any("surrogate derivatives by design (ste_round at " in note
               for note in point.notes)
    assert point.taylor is None
