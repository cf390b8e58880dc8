"""The terminal form of ``diffopt plot`` (read as text), ``solve --plot`` and ``--trace -``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from diffopt.cli import app

ROOT = Path(__file__).resolve().parent.parent
PROBLEMS = ROOT / "problems"
runner = CliRunner()

APPLIES = [("terrain", "landscape"), ("terrain", "trace"), ("terrain", "slice"),
           ("rosenbrock", "landscape"), ("rosenbrock", "trace"), ("rosenbrock", "slice"),
           ("polyfit", "landscape"), ("polyfit", "fit"), ("polyfit", "slice"),
           ("taxi", "trace"), ("taxi", "fit"), ("taxi", "slice")]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def text_plot(*args) -> list[str]:
    result = run("plot", *args)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout.splitlines()


@pytest.mark.parametrize("problem,kind", APPLIES)
def test_terminal_plot_fits_80_columns(problem, kind):
    lines = text_plot(kind, PROBLEMS / f"{problem}.dop")
    assert len(lines) >= 8
    assert max(len(line) for line in lines) <= 80
    assert "\x1b[" not in "\n".join(lines)  # no colour codes outside a terminal


def cell_of(value, low, high, cells, dots):
    """The cell a value falls in, as the canvas maps it (dots per cell across)."""
    return round((value - low) / (high - low) * (cells * dots - 1)) // dots


def test_landscape_text_marks_start_and_optimum_where_they_are():
    document = json.loads(run("plot", "landscape", PROBLEMS / "terrain.dop", "--json").stdout)
    lines = text_plot("landscape", PROBLEMS / "terrain.dop")
    assert lines[0] == "time over (x1, x2)"
    body = [line[10:] for line in lines if line[9:10] in ("┤", "│")]
    assert len(body) == 22 and all(len(row) == 64 for row in body)
    x0, x1 = document["x"][0], document["x"][-1]
    y0, y1 = document["y"][0], document["y"][-1]
    for char, (x, y) in (("X", document["optimum"]), ("S", document["start"])):
        row = cell_of(y1 - y + y0, y0, y1, 22, 4)
        col = cell_of(x, x0, x1, 64, 2)
        assert body[row][col] == char, (char, row, col)
    # the lowest shade (blank) surrounds the optimum: time is lowest there
    row, col = cell_of(y1 - document["optimum"][1] + y0, y0, y1, 22, 4), \
        cell_of(document["optimum"][0], x0, x1, 64, 2)
    assert body[row][col - 1] == " " or body[row][col + 1] == " "
    assert "S start   X optimum   o lbfgs path, 8 iterations" in lines
    assert lines[-1].startswith("shades '.:-=+*#%@' from 81.91 to ")


def test_trace_text_names_each_method_and_spans_the_objective():
    lines = text_plot("trace", PROBLEMS / "rosenbrock.dop", "--method", "gd,lbfgs",
                      "--lr", "0.001", "--max-iter", "300")
    assert lines[0] == "rosenbrock.dop: f per iteration" or lines[0].endswith(
        "rosenbrock.dop: f per iteration")
    assert lines[1] == "f (log scale)"
    assert lines[2].lstrip().startswith("24.2 ┤")  # f at the start (-1.2, 1), the top
    legend = lines[-1]
    assert legend.startswith("a gd (max_iter, 300 it.)   b lbfgs (converged, ")
    plot = "\n".join(lines[2:16])
    assert "a" in plot and "b" in plot  # each curve carries its letter


def test_fit_text_draws_each_datum_and_the_statistics():
    lines = text_plot("fit", PROBLEMS / "polyfit.dop")
    assert lines[0] == "fit of ys against xs"
    top = "\n".join(lines[2:18])
    assert top.count("o") == 10  # the ten data points
    assert lines[-2].startswith("o data   ⠒ model   RMSE 0.1918, dof 7")
    assert lines[-1] == "a = 0.814 ± 0.04, b = -1.51 ± 0.054, c = 1.912 ± 0.11"


def test_slice_text_labels_each_parameter_with_its_curvature():
    lines = text_plot("slice", PROBLEMS / "rosenbrock.dop")
    labels = [line.strip() for line in lines if "(optimum" in line]
    assert labels == ["x (optimum 1, H = 802)", "y (optimum 1, H = 200)"]


# ---------------------------------------------------------------- solve --plot, --trace -


def test_solve_plot_saves_trace_and_landscape_without_a_second_solve(monkeypatch, tmp_path):
    pytest.importorskip("matplotlib")
    from diffopt import api

    calls = []
    solve = api.solve

    def counted(*args, **kwargs):
        calls.append(1)
        return solve(*args, **kwargs)

    monkeypatch.setattr(api, "solve", counted)
    out = tmp_path / "terrain.svg"
    result = run("solve", PROBLEMS / "terrain.dop", "--plot", out, "--quiet")
    assert result.exit_code == 0 and len(calls) == 1
    svg = out.read_text()
    assert 'id="solver-path"' in svg and "iteration" in svg and "x1" in svg
    one = tmp_path / "taxi.png"
    assert run("solve", PROBLEMS / "taxi.dop", "--plot", one, "--quiet").exit_code == 0
    assert one.read_bytes().startswith(b"\x89PNG")
    refused = run("solve", PROBLEMS / "taxi.dop", "--plot", PROBLEMS / "taxi.dop")
    assert refused.exit_code == 2
    assert refused.stderr == (f"diffopt: error: --plot {PROBLEMS / 'taxi.dop'}: the picture's "
                              "format is chosen by its extension; use .png, .svg or .pdf\n")


def test_trace_to_stdout_starts_at_the_start_point_and_moves_the_report():
    result = run("solve", PROBLEMS / "terrain.dop", "--trace", "-")
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["iteration"] == 0 and records[0]["step"] == 0.0
    assert records[0]["params"] == {"x1": 2.0, "x2": 17.0}
    h, d, v = 20.0, 10.0, (0.7, 0.3, 0.45)
    start = np.hypot(2, d) / v[0] + np.hypot(17, d) / v[1] + np.hypot(h - 19, d) / v[2]
    assert records[0]["objective"] == pytest.approx(start, rel=1e-14)
    assert [r["iteration"] for r in records] == list(range(len(records)))
    assert "converged" in result.stderr and "objective time" in result.stderr
    with_json = run("solve", PROBLEMS / "terrain.dop", "--trace", "-", "--json")
    assert json.loads(with_json.stderr)["status"] == "converged"
    assert all("iteration" in json.loads(line) for line in with_json.stdout.splitlines())


def test_solve_plot_records_one_solve_not_many_starts(tmp_path):
    result = run("solve", PROBLEMS / "terrain.dop", "--plot", tmp_path / "t.png", "--starts", "3")
    assert result.exit_code == 2
    assert result.stderr == ("diffopt: error: --plot draws one solve; it cannot be combined "
                             "with --starts\n")
