"""``diffopt plot``: every kind for the four example problems, as PNG, SVG and JSON.

The content is checked, not only the files' existence: the SVG's solver path
has one vertex per iterate of the solver's own ``--trace`` (an affine image of
them: the axes transform), the landscape's lowest grid cell is next to the
reported optimum, the fit's model line passes through the model values
computed here in NumPy from the fitted parameters, and the slice's quadratic
model uses the closed-form curvature.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from diffopt.cli import app

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parent.parent
PROBLEMS = ROOT / "problems"
runner = CliRunner()

# the kinds that apply to each example (fit: least-squares objectives only;
# landscape: two parameter entries or more)
APPLIES = {
    "terrain": ("landscape", "trace", "slice"),
    "rosenbrock": ("landscape", "trace", "slice"),
    "polyfit": ("landscape", "trace", "fit", "slice"),
    "taxi": ("trace", "fit", "slice"),
}


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def plot_json(*args) -> dict:
    result = run("plot", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def solver_trace(tmp_path, problem, *options) -> list[dict]:
    """The solver's iterates as ``solve --trace`` records them (iteration 0 first)."""
    trace = tmp_path / f"{problem}.jsonl"
    result = run("solve", PROBLEMS / f"{problem}.dop", "--quiet", "--trace", trace, *options)
    assert result.exit_code in (0, 1), result.output
    return [json.loads(line) for line in trace.read_text().splitlines()]


def svg_vertices(svg: str, gid: str) -> np.ndarray:
    """The (x, y) vertices of the first path inside the group with this id."""
    group = svg[svg.index(f'<g id="{gid}">'):]
    d = re.search(r'<path d="([^"]*)"', group).group(1)
    numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", d)]
    return np.array(numbers).reshape(-1, 2)


def assert_affine_image(pixels: np.ndarray, data: np.ndarray, y_up: bool = True):
    """pixels = a * data + b per axis (the axes transform), to SVG's 6 decimals."""
    assert pixels.shape == data.shape
    for axis in (0, 1):
        design = np.column_stack([data[:, axis], np.ones(len(data))])
        (slope, offset), *_ = np.linalg.lstsq(design, pixels[:, axis], rcond=None)
        np.testing.assert_allclose(slope * data[:, axis] + offset, pixels[:, axis], atol=2e-3)
        if axis == 1 and y_up and np.ptp(data[:, 1]) > 0:
            assert slope < 0  # SVG's y grows downwards


@pytest.mark.parametrize("problem,kind", [(p, k) for p, kinds in APPLIES.items()
                                          for k in kinds])
@pytest.mark.parametrize("extension", ("png", "svg"))
def test_every_kind_renders_for_the_examples(tmp_path, problem, kind, extension):
    out = tmp_path / f"{problem}-{kind}.{extension}"
    result = run("plot", kind, PROBLEMS / f"{problem}.dop", "-o", out)
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    if extension == "png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width >= 600 and height >= 500
    else:
        text = data.decode()
        assert text.lstrip().startswith("<?xml") and "</svg>" in text
        if kind == "landscape":
            assert 'id="solver-path"' in text
        if kind == "fit":
            assert 'id="model-line"' in text


@pytest.mark.parametrize("problem", ("terrain", "rosenbrock", "polyfit"))
def test_landscape_path_is_the_solvers_iterates(tmp_path, problem):
    iterates = solver_trace(tmp_path, problem)
    names = list(iterates[0]["params"])[:2]
    expected = np.array([[r["params"][n] for n in names] for r in iterates])
    assert iterates[0]["iteration"] == 0
    document = plot_json("landscape", PROBLEMS / f"{problem}.dop")
    assert document["params"] == names
    np.testing.assert_allclose(np.array(document["path"]), expected, rtol=1e-12)
    svg = tmp_path / "l.svg"
    assert run("plot", "landscape", PROBLEMS / f"{problem}.dop", "-o", svg).exit_code == 0
    assert_affine_image(svg_vertices(svg.read_text(), "solver-path"), expected)


@pytest.mark.parametrize("problem", ("terrain", "rosenbrock", "polyfit"))
def test_landscape_minimum_cell_is_next_to_the_optimum(problem):
    document = plot_json("landscape", PROBLEMS / f"{problem}.dop", "--grid", "80")
    xs, ys = np.array(document["x"]), np.array(document["y"])
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    values = np.array(document["values"], dtype=float)
    j, i = np.unravel_index(np.argmin(values), values.shape)
    found = np.array(document["optimum"])
    assert abs(xs[i] - found[0]) <= 1.01 * dx
    if problem == "rosenbrock":
        # the known optimum (1, 1); the valley y = x^2 is far narrower than a cell
        # across and flat along, so the lowest cell lies on its floor next to x = 1
        np.testing.assert_allclose(found, [1.0, 1.0], atol=1e-5)
        assert abs(ys[j] - xs[i] ** 2) <= 1.01 * dy
    else:
        assert abs(ys[j] - found[1]) <= 1.01 * dy


def test_terrain_landscape_values_are_the_crossing_time():
    document = plot_json("landscape", PROBLEMS / "terrain.dop", "--grid", "30",
                         "--range", "x1=1:12,x2=2:16")
    x1, x2 = np.meshgrid(document["x"], document["y"])
    assert (x1.min(), x1.max(), x2.min(), x2.max()) == (1, 12, 2, 16)
    time = np.hypot(x1, 10) / 0.7 + np.hypot(x2, 10) / 0.3 + np.hypot(20 - x1 - x2, 10) / 0.45
    np.testing.assert_allclose(document["values"], time, rtol=1e-13)


@pytest.mark.parametrize("problem", ("polyfit", "taxi"))
def test_fit_line_passes_through_the_model_values(tmp_path, problem):
    document = plot_json("fit", PROBLEMS / f"{problem}.dop")
    params = document["params"]
    x = np.array(document["x"])
    if problem == "polyfit":
        a, b, c = (params[k]["value"] for k in "abc")
        model = a * x ** 2 + b * x + c
        assert document["x_name"] == "xs" and document["y_name"] == "ys"
    else:
        model = 60 * x / params["speed"]["value"]
        assert document["x_name"] == "trips.distance_km"
        assert document["y_name"] == "trips.duration_min"
    np.testing.assert_allclose(document["model"], model, rtol=1e-12)
    np.testing.assert_allclose(document["residuals"],
                               model - np.array(document["observed"]), atol=1e-10)
    assert document["as_line"] is True
    svg = tmp_path / "fit.svg"
    assert run("plot", "fit", PROBLEMS / f"{problem}.dop", "-o", svg).exit_code == 0
    assert_affine_image(svg_vertices(svg.read_text(), "model-line"), np.column_stack([x, model]),
                        y_up=True)


def test_trace_compares_methods_and_starts_at_iteration_0(tmp_path):
    document = plot_json("trace", PROBLEMS / "rosenbrock.dop", "--method", "gd,lbfgs",
                         "--lr", "0.001", "--max-iter", "300")
    gd, lbfgs = document["runs"]
    assert (gd["method"], lbfgs["method"]) == ("gd", "lbfgs")
    for run_ in (gd, lbfgs):
        assert run_["iterations"][0] == 0
        assert run_["objectives"][0] == pytest.approx(24.2)  # f(-1.2, 1)
    assert gd["iterations"] == list(range(301)) and gd["status"] == "max_iter"
    assert lbfgs["status"] == "converged" and lbfgs["objective"] < 1e-12
    assert document["log_scale"] is True
    expected = [r["objective"] for r in solver_trace(tmp_path, "rosenbrock")]
    np.testing.assert_allclose(lbfgs["objectives"], expected, rtol=1e-12)


def test_slice_curvature_is_the_exact_second_derivative():
    document = plot_json("slice", PROBLEMS / "rosenbrock.dop")
    assert document["params"] == ["x", "y"]
    np.testing.assert_allclose(document["centers"], [1.0, 1.0], atol=1e-6)
    # d2f/dx2 = 2 + 1200 x^2 - 400 y = 802 and d2f/dy2 = 200 at (1, 1)
    np.testing.assert_allclose(document["curvature"], [802.0, 200.0], rtol=1e-5)
    t = np.array(document["t"][1])
    np.testing.assert_allclose(document["values"][1], 100 * (t - 1) ** 2, atol=1e-9)
    np.testing.assert_allclose(document["quadratic"][1], 100 * (t - 1) ** 2, atol=1e-6)


# ---------------------------------------------------------------- kinds that do not apply


def test_fit_of_a_problem_without_residuals_is_a_located_error():
    result = run("plot", "fit", PROBLEMS / "terrain.dop")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"{PROBLEMS / 'terrain.dop'}:38:16: error: a fit plot needs a least-squares objective "
        "(a sum or mean of squared residuals)")


def test_landscape_of_one_parameter_is_a_located_error():
    result = run("plot", "landscape", PROBLEMS / "taxi.dop")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"{PROBLEMS / 'taxi.dop'}:20:7: error: a landscape plot needs 2 parameter entries; "
        "this problem has 1 (speed)")


@pytest.mark.parametrize("args,message", [
    (("frobnicate",), "error: unknown plot kind 'frobnicate'; choose one of landscape, trace, "
                      "fit, slice"),
    (("landscape", "-o", "x.jpg"), "error: -o x.jpg: the picture's format is chosen by its "
                                   "extension; use .png, .svg or .pdf"),
    (("landscape", "--range", "x1=3"), "error: --range: 'x1=3' is not NAME=LOW:HIGH"),
    (("landscape", "--range", "x1=3:1"), "error: --range x1: LOW must be below HIGH, got 3:1"),
    (("landscape", "--range", "z=0:1"), "error: --range: 'z' is not a plotted parameter "
                                        "(x1, x2)"),
    (("landscape", "--params", "x1,q"), "error: --params: no parameter named 'q'"),
    (("landscape", "--grid", "1"), "error: --grid must be between 2 and 2000, got 1"),
    (("slice", "--at", "x1=3"), "error: --at does not apply to a slice plot (only to "
                                "landscape)"),
    (("trace", "--params", "x1"), "error: --params does not apply to a trace plot (only to "
                                  "landscape, slice)"),
])
def test_bad_plot_options_are_usage_errors(args, message):
    kind, *rest = args
    result = run("plot", kind, PROBLEMS / "terrain.dop", *rest)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "diffopt: " + message


def test_without_matplotlib_the_error_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    out = tmp_path / "l.png"
    result = run("plot", "landscape", PROBLEMS / "terrain.dop", "-o", out)
    assert result.exit_code == 2
    assert result.stderr == ("diffopt: error: writing a picture needs matplotlib: "
                             "pip install 'diffopt-cli[plot]'\n")
    assert not out.exists()
    assert run("solve", PROBLEMS / "terrain.dop", "--plot", out).exit_code == 2
    # the terminal plot and --json need nothing extra
    assert run("plot", "landscape", PROBLEMS / "terrain.dop").exit_code == 0


def test_landscape_constraints_bounds_and_maximize_as_written(tmp_path):
    document = plot_json("landscape", PROBLEMS / "constrained.dop", "--grid", "21",
                         "--range", "x=-1:3,y=-1:3")
    x, y = np.meshgrid(document["x"], document["y"])
    np.testing.assert_allclose(document["values"], (x - 2) ** 2 + (y - 1) ** 2, rtol=1e-13)
    (spend, nonnegative) = document["constraints"]
    assert (spend["name"], spend["kind"]) == ("spend", "le")
    np.testing.assert_allclose(spend["values"], x + y - 2, atol=1e-14)
    np.testing.assert_allclose(nonnegative["values"], -x, atol=1e-14)
    problem = tmp_path / "b.dop"
    problem.write_text("param x in [0, 2] = 1, y in [-1, 1] = 0.5\n"
                       "maximize top: -(x - 3)^2 - (y - 2)^2\n")
    document = plot_json("landscape", problem, "--range", "x=-1:3,y=-2:2", "--grid", "5")
    assert document["bounds"] == {"x": {"lower": 0.0, "upper": 2.0},
                                  "y": {"lower": -1.0, "upper": 1.0}}
    x, y = np.meshgrid(document["x"], document["y"])
    np.testing.assert_allclose(document["values"], -(x - 3) ** 2 - (y - 2) ** 2, rtol=1e-14)
    np.testing.assert_allclose(document["optimum"], [2.0, 1.0])  # the corner of the box
    assert document["run"]["objectives"][0] == pytest.approx(-(4 + 2.25))
    out = tmp_path / "b.png"
    assert run("plot", "landscape", problem, "-o", out).exit_code == 0


def test_landscape_of_chosen_entries_holds_the_others_at_at():
    document = plot_json("landscape", PROBLEMS / "polyfit.dop", "--params", "a,c",
                         "--at", "b=-1.5", "--grid", "7")
    assert document["params"] == ["a", "c"] and document["held"] == {"b": -1.5}
    xs = np.array([-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    ys = np.array([8.2, 6.14, 4.218, 2.683, 1.864, 1.153, 1.318, 1.952, 2.052, 3.064])
    a, c = np.meshgrid(document["x"], document["y"])
    model = a[..., None] * xs ** 2 - 1.5 * xs + c[..., None]
    np.testing.assert_allclose(document["values"], np.mean((model - ys) ** 2, axis=-1),
                               rtol=1e-12)


def test_fit_against_a_named_column_and_a_bad_one():
    document = plot_json("fit", PROBLEMS / "taxi.dop", "--x", "trips.duration_min")
    assert document["x_name"] == "trips.duration_min"
    assert np.all(np.diff(document["x"]) >= 0)
    assert document["as_line"] is False  # the model is not a function of the durations
    result = run("plot", "fit", PROBLEMS / "taxi.dop", "--x", "trips.distance")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == \
        "diffopt: error: --x: no data column named 'trips.distance'"
