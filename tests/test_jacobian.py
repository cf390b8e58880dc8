"""``grad --of NAME``: gradients of scalar lets and Jacobians of vector and matrix lets.

References: the volume rendering weights written out in NumPy and
differenced centrally (independent of diffopt), and hand-derived Jacobians
of small programs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from diffopt import api
from diffopt.cli import app
from diffopt.jacobian import differentiate

ROOT = Path(__file__).resolve().parent.parent
VOLUME = ROOT / "problems" / "volume_render.dop"
runner = CliRunner()
DELTA = 0.25  # volume_render.dop's sample spacing


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def weights(sigma: np.ndarray) -> np.ndarray:
    """w_i = T_i alpha_i of volume_render.dop, in NumPy."""
    optical = sigma * DELTA
    return np.exp(-(np.cumsum(optical) - optical)) * (1 - np.exp(-optical))


def central_jacobian(fn, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    columns = []
    for j in range(x.size):
        step = np.zeros_like(x)
        step[j] = h
        columns.append((fn(x + step) - fn(x - step)) / (2 * h))
    return np.array(columns).T


@pytest.mark.parametrize("at", [None, "random"])
def test_volume_render_weights_jacobian_equals_central_differences_in_both_modes(at):
    session = api.load(VOLUME, seed=3)
    forward = differentiate(session, "w", at=at, mode="forward")
    reverse = differentiate(session, "w", at=at, mode="reverse")
    sigma = np.asarray(forward.params["sigma"], dtype=float)
    np.testing.assert_allclose(forward.value, weights(sigma), rtol=1e-12)
    assert forward.matrix.shape == (16, 16)
    np.testing.assert_allclose(forward.matrix, reverse.matrix, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(forward.matrix, central_jacobian(weights, sigma),
                               rtol=1e-6, atol=1e-9)
    assert forward.rows[:2] == ("w[0]", "w[1]") and forward.columns[15] == "sigma[15]"


def test_cli_jacobian_json_is_the_same_in_both_modes():
    documents = [json.loads(run("grad", VOLUME, "--of", "rendered", "--json", "--mode",
                                mode).stdout) for mode in ("forward", "reverse")]
    assert [d["mode"] for d in documents] == ["forward", "reverse"]
    jacobians = [d["jacobian"] for d in documents]
    assert jacobians[0]["of"] == "rendered"
    assert jacobians[0]["rows"] == [f"rendered[{i}]" for i in range(16)]
    assert jacobians[0]["columns"] == [f"sigma[{j}]" for j in range(16)]
    np.testing.assert_allclose(jacobians[0]["matrix"], jacobians[1]["matrix"], rtol=1e-12,
                               atol=1e-15)
    # rendered = pattern @ w: its Jacobian is pattern @ dw/dsigma
    n = np.arange(16)
    pattern = 0.5 + 0.5 * np.cos(np.pi * n[:, None] * (n[None, :] + 0.5) / 16)
    expected = pattern @ central_jacobian(weights, np.ones(16))
    np.testing.assert_allclose(jacobians[0]["matrix"], expected, rtol=1e-6, atol=1e-9)


def test_a_matrix_let_and_the_automatic_mode(tmp_path):
    path = tmp_path / "outer.dop"
    path.write_text("param x = 2, y = 3\nlet M = [[x * y, x^2], [sin(y), 1]]\n"
                    "let pair = [x * y, y]\nminimize x^2 + y^2\n")
    session = api.load(path)
    result = differentiate(session, "M")
    assert result.mode == "forward"  # 2 parameters, 4 outputs
    assert result.rows == ("M[0, 0]", "M[0, 1]", "M[1, 0]", "M[1, 1]")
    np.testing.assert_allclose(result.matrix, [[3, 2], [4, 0], [0, np.cos(3)], [0, 0]])
    assert differentiate(session, "pair").mode == "reverse"  # 2 parameters, 2 outputs
    np.testing.assert_allclose(differentiate(session, "M", mode="reverse").matrix,
                               result.matrix, rtol=1e-15)


def test_a_scalar_let_gets_a_gradient(tmp_path):
    path = tmp_path / "scalar.dop"
    path.write_text("param x = 2, w[2] = 1\nlet energy = x^3 * sum(w)\nlet fixed = [1, 2]\n"
                    "minimize time: x^2\n")
    document = json.loads(run("grad", path, "--of", "energy", "--json").stdout)
    assert document == {"of": "energy", "value": 16.0,
                        "gradient": {"x": 24.0, "w": [8.0, 8.0]}, "mode": "reverse"}
    # a let that does not depend on the parameters has a zero Jacobian in both modes
    for mode in ("forward", "reverse"):
        fixed = json.loads(run("grad", path, "--of", "fixed", "--json", "--mode",
                               mode).stdout)
        assert fixed["jacobian"]["matrix"] == [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    # the objective's label is the objective
    labelled = json.loads(run("grad", path, "--of", "time", "--json").stdout)
    assert labelled == json.loads(run("grad", path, "--json").stdout)
    table = run("grad", path, "--of", "energy").stdout.splitlines()
    assert table[0] == "gradient of energy = 16  reverse mode"
    assert [line.split() for line in table[4:7]] == [["x", "24"], ["w[0]", "8"], ["w[1]", "8"]]


def test_repeat_reports_both_modes_and_keeps_the_faster():
    document = json.loads(run("grad", VOLUME, "--of", "w", "--repeat", "5", "--json").stdout)
    timing = document["timing"]
    assert set(timing) == {"value_s", "jacobian_s", "forward_s", "reverse_s"}
    faster = min(("forward", "reverse"), key=lambda m: timing[f"{m}_s"])
    assert document["mode"] == faster and timing["jacobian_s"] == timing[f"{faster}_s"]
    chosen = json.loads(run("grad", VOLUME, "--of", "w", "--repeat", "3", "--mode", "forward",
                            "--json").stdout)
    assert chosen["mode"] == "forward" and set(chosen["timing"]) == {"value_s", "jacobian_s"}


def test_table_of_a_jacobian():
    lines = run("grad", VOLUME, "--of", "w", "--mode", "forward").stdout.splitlines()
    assert lines[0] == "jacobian of w  16×16, forward mode"
    assert lines[2].split() == ["w"] + [f"sigma[{j}]" for j in range(5)]
    assert lines[4].split() == ["w[0]", "0.1947", "0", "0", "0", "0"]
    assert lines[-1].strip() == "… 11 more columns (see --json)"


def test_an_unknown_name_is_a_usage_error():
    result = run("grad", ROOT / "problems" / "terrain.dop", "--of", "snel")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["diffopt: error: --of snel: no let or var named 'snel'",
                                          "help: did you mean 'snell3'?"]
    bad = run("grad", VOLUME, "--of", "w", "--mode", "sideways")
    assert bad.exit_code == 2
    assert bad.stderr.splitlines()[0] == (
        "diffopt: error: --mode must be auto, forward or reverse, not 'sideways'")


def test_the_objective_timed_in_mode_auto_keeps_the_faster_mode():
    document = json.loads(run("grad", ROOT / "problems" / "terrain.dop", "--repeat", "5",
                              "--json").stdout)
    timing = document["timing"]
    faster = min(("forward", "reverse"), key=lambda m: timing[f"{m}_s"])
    assert document["mode"] == faster and timing["gradient_s"] == timing[f"{faster}_s"]
    # d time / d x1 at (2, 17): x1 / (|leg1| v1) - x3 / (|leg3| v3), x3 = 20 - 2 - 17
    expected = 2 / (np.sqrt(2**2 + 100) * 0.7) - 1 / (np.sqrt(1 + 100) * 0.45)
    assert document["gradient"]["x1"] == pytest.approx(expected, rel=1e-12)
    untimed = json.loads(run("grad", ROOT / "problems" / "terrain.dop", "--json").stdout)
    assert untimed["mode"] == "reverse" and "timing" not in untimed
