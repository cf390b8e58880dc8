"""The command line: exit statuses, stdout/stderr separation, JSON, terminals."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from diffopt.cli import app

ROOT = Path(__file__).resolve().parent.parent
PROBLEMS = ROOT / "problems"
runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.startswith("diffopt ")


def test_solve_json_is_one_document_with_the_contract_fields():
    result = run("solve", PROBLEMS / "terrain.dop", "--json")
    assert result.exit_code == 0
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert set(document) >= {"problem", "status", "message", "method", "mode", "objective",
                             "params", "lets", "gradient_norm", "iterations", "evaluations",
                             "constraints", "time_s"}
    assert document["problem"] == "terrain.dop"
    assert document["status"] == "converged"
    assert document["objective"]["sense"] == "minimize"
    assert document["objective"]["name"] == "time"
    assert set(document["evaluations"]) == {"objective", "gradient", "hessian"}


def test_least_squares_json_has_a_fit_section():
    document = json.loads(run("solve", PROBLEMS / "polyfit.dop", "--json").stdout)
    fit = document["fit"]
    assert fit["dof"] == fit["residuals"] - 3
    assert set(fit["stderr"]) == {"a", "b", "c"}
    assert len(fit["correlation"]["matrix"]) == 3


def test_solve_not_converged_exits_1_and_still_reports():
    result = run("solve", PROBLEMS / "rosenbrock.dop", "--max-iter", "2", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["status"] == "max_iter"


def test_grad_and_eval_json():
    grad = json.loads(run("grad", PROBLEMS / "rosenbrock.dop", "--json").stdout)
    assert grad["mode"] == "reverse"
    assert grad["gradient"]["x"] == pytest.approx(-215.6)
    assert grad["gradient"]["y"] == pytest.approx(-88.0)
    fwd = json.loads(run("grad", PROBLEMS / "rosenbrock.dop", "--json", "--mode",
                         "forward").stdout)
    assert fwd["gradient"] == grad["gradient"]
    ev = json.loads(run("eval", PROBLEMS / "rosenbrock.dop", "--json", "--at",
                        '{"x": 1, "y": 1}').stdout)
    assert ev["objective"] == 0 and ev["params"] == {"x": 1.0, "y": 1.0}


def test_grad_repeat_reports_timing():
    document = json.loads(run("grad", PROBLEMS / "terrain.dop", "--json", "--repeat",
                              "5").stdout)
    assert document["timing"]["value_s"] > 0 and document["timing"]["gradient_s"] > 0


def test_check_passes_and_json_shape():
    result = run("check", PROBLEMS / "terrain.dop", "--json", "--points", "2")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["passed"] is True
    assert len(document["points"]) == 2
    entry = document["points"][0]["entries"][0]
    assert set(entry) == {"param", "index", "forward", "reverse", "numeric", "abs_error",
                          "rel_error", "ok"}


def test_nan_is_written_as_a_string_and_warned_about(tmp_path):
    path = tmp_path / "nan.dop"
    path.write_text("param x = -1\nminimize log(x)\n")
    result = run("eval", path, "--json")
    assert json.loads(result.stdout)["objective"] == "nan"
    assert "nan.dop:2:10: warning: first NaN: evaluation through log" in result.stderr


def test_problem_from_standard_input():
    text = (PROBLEMS / "rosenbrock.dop").read_text()
    result = run("eval", "-", "--json", input=text)
    assert result.exit_code == 0 and json.loads(result.stdout)["objective"] == pytest.approx(24.2)


def test_data_from_standard_input_and_set():
    result = run("solve", PROBLEMS / "taxi.dop", "--data", "trips=-", "--json",
                 input="distance_km,duration_min\n6,12\n")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["params"]["speed"] == pytest.approx(30, rel=1e-9)
    result = run("eval", PROBLEMS / "rosenbrock.dop", "--set", "x=1", "--set", "y=1", "--json")
    assert json.loads(result.stdout)["objective"] == 0


@pytest.mark.parametrize("args, message", [
    (["solve", "nowhere.dop"], "cannot read 'nowhere.dop'"),
    (["eval", PROBLEMS / "rosenbrock.dop", "--set", "z=1"], "--set z: no const or param"),
    (["eval", PROBLEMS / "rosenbrock.dop", "--set", "x"], "--set"),
    (["eval", PROBLEMS / "rosenbrock.dop", "--at", "{bad json"], "--at"),
    (["solve", PROBLEMS / "rosenbrock.dop", "--method", "newtons"], "newton"),
    (["graph", PROBLEMS / "rosenbrock.dop", "--format", "svg"], "--format must be text or dot"),
])
def test_usage_errors_exit_2(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_click_usage_error_exits_2():
    assert run("solve").exit_code == 2
    assert run("frobnicate").exit_code == 2


def test_trace_writes_json_lines_and_refuses_inputs(tmp_path):
    trace = tmp_path / "t.jsonl"
    result = run("solve", PROBLEMS / "rosenbrock.dop", "--quiet", "--trace", trace)
    assert result.exit_code == 0
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    assert records and records[0]["iteration"] >= 0 and "x" in records[-1]["params"]
    result = run("solve", PROBLEMS / "rosenbrock.dop", "--trace", PROBLEMS / "rosenbrock.dop")
    assert result.exit_code == 2 and "input file" in result.stderr


def test_interrupt_reports_best_point_and_exits_130(monkeypatch):
    from diffopt import api

    calls = []
    solve = api.solve

    def interrupted_solve(problem, *, callback, **options):
        def interrupting(info):  # Ctrl-C during the third iteration
            calls.append(info)
            if len(calls) == 3:
                raise KeyboardInterrupt
            callback(info)

        return solve(problem, callback=interrupting, **options)

    monkeypatch.setattr(api, "solve", interrupted_solve)
    result = run("solve", PROBLEMS / "rosenbrock.dop", "--json")
    assert result.exit_code == 130
    document = json.loads(result.stdout)
    assert document["status"] == "interrupted"
    assert document["objective"]["value"] < 24.2


def test_fmt_check_and_print(tmp_path):
    messy = tmp_path / "m.dop"
    messy.write_text("param x=1 # start\nminimize  (x-2)^2\n")
    result = run("fmt", messy)
    assert result.stdout == "param x = 1  # start\nminimize (x - 2)^2\n"
    assert run("fmt", messy, "--check").exit_code == 1
    assert messy.read_text() == "param x=1 # start\nminimize  (x-2)^2\n"
    clean = tmp_path / "c.dop"
    clean.write_text(result.stdout)
    assert run("fmt", clean, "--check").exit_code == 0


@pytest.mark.parametrize("path", sorted(PROBLEMS.glob("*.dop")), ids=lambda p: p.name)
def test_fmt_and_graph_work_on_every_problem(path):
    assert run("fmt", path, "--check").exit_code in (0, 1)
    text = run("graph", path)
    assert text.exit_code == 0 and "param" in text.stdout
    dot = run("graph", path, "--format", "dot")
    assert dot.stdout.startswith("digraph diffopt {")


def test_piped_output_has_no_ansi_codes():
    command = [sys.executable, "-m", "diffopt", "solve", str(PROBLEMS / "terrain.dop")]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "\x1b[" not in result.stdout and "\x1b[" not in result.stderr
    assert "converged" in result.stdout


def test_internal_errors_are_one_line_without_traceback(monkeypatch):
    from diffopt import api

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(api, "evaluate", broken)
    result = run("eval", PROBLEMS / "rosenbrock.dop")
    assert result.exit_code == 70
    assert "internal error: ZeroDivisionError: boom" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_modules_import_no_lark_numpy_or_ast():
    for path in (ROOT / "diffopt" / "cli").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(("lark", "numpy", "diffopt.syntax")), (path, name)


# ------------------------------------------------------- regressions


def test_vector_constraint_reported_per_element(tmp_path):
    path = tmp_path / "vc.dop"
    path.write_text("param x = 1, y = 2\nsubject to v: [x, y] >= [2, 0]\nsubject to x <= 9\n"
                    "minimize x^2 + y^2\n")
    result = run("solve", path, "--json")
    constraints = json.loads(result.stdout)["constraints"]
    assert [c["name"] for c in constraints] == ["v[0]", "v[1]", "constraint 2"]
    assert constraints[0]["value"] == pytest.approx(0, abs=1e-6)
    terminal = run("solve", path)
    assert terminal.exit_code == 0 and "v[1]" in terminal.stdout
    evaluated = json.loads(run("eval", path, "--json").stdout)
    assert evaluated["constraints"][0] == {"name": "v[0]", "value": 1.0, "violation": 1.0}


def test_quiet_means_only_the_result():
    assert run("eval", PROBLEMS / "terrain.dop", "--quiet").stdout.count("\n") == 1
    assert run("check", PROBLEMS / "terrain.dop", "--quiet").stdout == \
        "passed: all 2 entries agree\n"
    assert "objective" not in run("grad", PROBLEMS / "terrain.dop", "--quiet").stdout


def test_data_override_of_inline_data(tmp_path):
    path = tmp_path / "inline.dop"
    path.write_text("data ys = [1, 2, 3]\nparam m = 0\nminimize sumsq(ys - m)\n")
    csv = tmp_path / "ys.csv"
    csv.write_text("y\n10\n20\n")
    result = run("solve", path, "--data", f"ys={csv}", "--json")
    assert json.loads(result.stdout)["params"]["m"] == pytest.approx(15)


def test_random_streams_do_not_repeat_each_other(tmp_path):
    path = tmp_path / "r.dop"
    path.write_text("param w[2] ~ normal(0, 1)\nlet r = normal(0, 1, 2)\nminimize sum(w * r)\n")
    document = json.loads(run("eval", path, "--json", "--seed", "7").stdout)
    assert document["params"]["w"] != document["lets"]["r"]
    again = json.loads(run("eval", path, "--json", "--seed", "7").stdout)
    assert again == document


def test_solve_json_does_not_import_rich():
    # --json prints one document and nothing else: no console, no Rich import
    code = (
        "import sys\n"
        "from diffopt.cli import main\n"
        f"sys.argv = ['diffopt', 'solve', {str(PROBLEMS / 'terrain.dop')!r}, '--json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
        "sys.stderr.write(' '.join(m for m in sys.modules if m.split('.')[0] == 'rich'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "converged"
    assert done.stderr == ""
