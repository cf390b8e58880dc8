"""``diffopt export``: every primitive's export rule, every problem, paths, data, the CLI.

* Registry-wide: every primitive that can appear on a value/gradient tape has
  an ``ExportRule``, and its expression, evaluated with NumPy (and jax.numpy
  when installed), equals ``impl`` at points drawn from its domain (the cases
  of tests/test_ops.py).
* Every file in problems/ (and a vector root and an argmin written here):
  the exported module, imported in a fresh
  interpreter, gives the value and gradient ``api.gradient`` gives, to 1e-12
  relative, at the start and at two random points near it, or raises its
  PathError exactly where the engine's own path differs. One subprocess per
  target runs all problems (a jax import costs a second or two).
* A guard that flips raises; exporting at that point (``--at``) follows it.
* root/argmin: a nested function of the body and a damped Newton solve;
  a solve that fails raises ValueError naming the call.
* Large tables are read from their CSV; the CLI writes stdout or ``-o``.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_ops import cases, instance
from typer.testing import CliRunner

from diffopt import api
from diffopt.cli import app
from diffopt.errors import NumericalError, UsageError
from diffopt.export import export_module
from diffopt.export.codegen import SPECIAL
from diffopt.export.module import PRELUDE
from diffopt.export.traced import traced_program
from diffopt.ops import library  # noqa: F401  (fills REGISTRY)
from diffopt.ops.registry import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
PROBLEMS = sorted((ROOT / "problems").glob("*.dop"))
RTOL = 1e-12

try:
    import jax  # noqa: F401

    HAVE_JAX = True
except ImportError:
    HAVE_JAX = False

# Primitives without an export rule, and why.
NO_RULE = {
    "implicit": "root/argmin: written by the code generator (codegen.SPECIAL), a nested "
                "function of the body and a _newton call, not by a template",
}
UNSUPPORTED: dict[str, str] = {}  # problems/ files export cannot write, and the error

# ------------------------------------------------------------------ the registry


def test_every_primitive_on_a_value_or_gradient_tape_has_an_export_rule():
    missing = sorted(name for name, p in REGISTRY.items()
                     if p.export is None and name not in NO_RULE)
    assert not missing, f"primitives without an export rule: {missing}"
    assert set(NO_RULE) == set(SPECIAL), "every primitive without a rule is written specially"


def _namespace(target: str) -> dict:
    namespace: dict = {}
    exec(PRELUDE[target], namespace)
    for p in REGISTRY.values():
        if p.export is not None and p.export.helper_source(target):
            exec(p.export.helper_source(target), namespace)
    return namespace


# every case of every primitive with NumPy; jax compiles each operation and
# shape on first use (tens of ms each), so there the first case of each
RULE_CASES = [pytest.param(name, case, "numpy", id=f"{name}-{case}-numpy")
              for name in sorted(REGISTRY) if REGISTRY[name].export is not None
              for case in range(len(cases(REGISTRY[name])))]
RULE_CASES += [pytest.param(name, 0, "jax", id=f"{name}-0-jax")
               for name in sorted(REGISTRY) if REGISTRY[name].export is not None
               and cases(REGISTRY[name])]


@pytest.mark.parametrize("name, case, target", RULE_CASES)
def test_export_rule_equals_impl(name, case, target):
    if target == "jax" and not HAVE_JAX:
        pytest.skip("jax is not installed (optional extra 'export')")
    p = REGISTRY[name]
    inputs, params, _ = instance(p, case)
    args = [f"a{i}" for i in range(len(inputs))]
    namespace = _namespace(target)
    namespace.update(zip(args, inputs))
    with np.errstate(all="ignore"):
        expected = np.asarray(p.impl(*inputs, **params), dtype=np.float64)
        got = np.asarray(eval(p.export.source(args, params), namespace), dtype=np.float64)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-15 if target == "numpy" else 1e-13,
                               atol=0.0)


# ------------------------------------------------------------------ every problem

_RUNNER = """
import importlib.util, json, sys
jobs = json.load(sys.stdin)
results = {}
for name, job in jobs.items():
    spec = importlib.util.spec_from_file_location(name, job["module"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = {"start": list(map(float, module.START)), "points": []}
    for x in job["points"]:
        try:
            f, g = module.value_and_grad(x)
            out["points"].append({"value": f, "only_value": module.value(x),
                                  "gradient": [float(v) for v in g]})
        except module.PathError as error:
            out["points"].append({"path_error": str(error)})
    results[name] = out
json.dump(results, sys.stdout)
"""


def _points(problem) -> list[np.ndarray]:
    """The start and two random points near it (a small step: most keep the path)."""
    start = problem.problem.start_point()
    rng = np.random.default_rng(len(problem.problem.params) + problem.problem.n)
    steps = [1e-3 * rng.standard_normal(start.shape) * np.maximum(1.0, np.abs(start))
             for _ in range(2)]
    lower, upper = problem.problem.bounds()
    return [start] + [np.clip(start + s, lower, upper) for s in steps]


class _Run:
    """Every supported problem exported, all run in one fresh interpreter (in the background)."""

    def __init__(self, target: str, folder: Path, paths: list[Path] = PROBLEMS):
        jobs, self.problems = self._jobs(target, folder, paths)
        self.process = subprocess.Popen([sys.executable, "-c", _RUNNER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, cwd=folder)
        self.process.stdin.write(json.dumps(jobs))
        self.process.stdin.close()
        self._results = None

    def results(self) -> dict:
        if self._results is None:
            out, err = self.process.stdout.read(), self.process.stderr.read()
            assert self.process.wait() == 0, err
            self._results = {name: (self.problems[name], result)
                             for name, result in json.loads(out).items()}
        return self._results

    @staticmethod
    def _jobs(target: str, folder: Path, paths: list[Path]):
        jobs, problems = {}, {}
        for path in paths:
            if path.name in UNSUPPORTED:
                continue
            problem = api.load(path)
            module = folder / f"{path.stem}_{target}.py"
            module.write_text(export_module(problem, target))
            points = _points(problem)
            jobs[path.stem] = {"module": str(module), "points": [x.tolist() for x in points]}
            problems[path.stem] = (problem, points)
        return jobs, problems


@pytest.fixture(scope="module", autouse=True)
def _jax_run(tmp_path_factory):
    # started before the other tests of this file: jax's import and first
    # compilations take a while, and run meanwhile
    run = _Run("jax", tmp_path_factory.mktemp("export_jax")) if HAVE_JAX else None
    yield run
    if run is not None and run.process.poll() is None:
        run.process.kill()
        run.process.wait()


@pytest.fixture(scope="module")
def numpy_results(tmp_path_factory):
    return _Run("numpy", tmp_path_factory.mktemp("export_numpy")).results()


@pytest.fixture(scope="module")
def jax_results(_jax_run):
    if _jax_run is None:
        pytest.skip("jax is not installed (optional extra 'export')")
    return _jax_run.results()


def _same_path(problem, x, exported) -> bool:
    return [b.taken for b in traced_program(problem, x).branches] == exported


def _check(results, path):
    if path.name in UNSUPPORTED:
        with pytest.raises(UsageError, match=UNSUPPORTED[path.name]):
            export_module(api.load(path))
        pytest.xfail(UNSUPPORTED[path.name])
    (problem, points), result = results[path.stem]
    np.testing.assert_array_equal(result["start"], problem.problem.start_point())
    exported = [b.taken for b in traced_program(problem, points[0]).branches]
    assert "path_error" not in result["points"][0], "the start point is on the exported path"
    for x, got in zip(points, result["points"], strict=True):
        if "path_error" in got:
            assert not _same_path(problem, x, exported), got["path_error"]
            continue
        reference = api.gradient(problem, at=problem.problem.unflatten(x))
        gradient = np.concatenate([np.ravel(reference.gradient[p.name])
                                   for p in problem.problem.params])
        np.testing.assert_allclose(got["value"], reference.objective.value, rtol=RTOL)
        assert got["only_value"] == got["value"]
        np.testing.assert_allclose(got["gradient"], gradient, rtol=RTOL,
                                   atol=RTOL * float(np.max(np.abs(gradient), initial=0.0)))


@pytest.mark.parametrize("path", PROBLEMS, ids=[p.stem for p in PROBLEMS])
def test_numpy_export_matches_grad(numpy_results, path):
    _check(numpy_results, path)


@pytest.mark.parametrize("path", PROBLEMS, ids=[p.stem for p in PROBLEMS])
def test_jax_export_matches_grad(jax_results, path):
    _check(jax_results, path)


# ------------------------------------------------------------------ root and argmin

IMPLICIT_PROBLEMS = {
    "vector_root": "param p = 1, q = 0.5\n"
                   "let z = root(x: [x[0] + x[1] - p, x[0] - x[1] - q], init=[0, 0])\n"
                   "minimize loss: (z[0] - 2)^2 + p * z[1]^2 + z[0] * z[1]\n",
    "argmin": "param p = 1, q in [0.1, 10] = 0.5\n"
              "let m = argmin(x: (x - p)^2 + q * x^4, init=0)\n"
              "minimize loss: (m - 0.3)^2 + q^2\n",
}


@pytest.mark.parametrize("target", ["numpy", "jax"])
def test_vector_root_and_argmin_export_matches_grad(tmp_path, target):
    if target == "jax" and not HAVE_JAX:
        pytest.skip("jax is not installed (optional extra 'export')")
    paths = []
    for name, text in IMPLICIT_PROBLEMS.items():
        paths.append(tmp_path / f"{name}.dop")
        paths[-1].write_text(text)
    results = _Run(target, tmp_path, paths).results()
    for path in paths:
        _check(results, path)
    source = (tmp_path / f"vector_root_{target}.py").read_text()
    assert "def _root_2(x, p, q, with_jacobian=True):" in source
    assert "z = _newton(_root_2, K0, (p, q), 1e-12, 100, 'vector_root.dop:2:9: root')" in source
    assert "xp.linalg.solve(" in source  # the adjoint of a vector unknown
    assert "def _argmin_2(x, p, q, with_jacobian=True):" in (
        tmp_path / f"argmin_{target}.py").read_text()


def test_a_root_reads_as_a_nested_function_and_a_newton_call():
    source = export_module(api.load(ROOT / "problems" / "cube_root.dop"))
    assert "def _newton(g_and_jacobian, x0, theta, tol, max_iter, call):" in source
    body = source[source.index("def _root_17(x, p, with_jacobian=True):"):]
    assert "    t3 = (t2 - p)" in body and "# cube_root.dop:17, ∂g/∂x" in body
    assert "    return xp.ravel(t3), xp.stack([xp.ravel(t5)], axis=1)" in body
    assert "c = _newton(_root_17, 1.0, (p,), 1e-12, 100, 'cube_root.dop:17:9: root')" in body


def test_a_failed_solve_raises_a_located_value_error(tmp_path):
    dop = tmp_path / "solves.dop"
    dop.write_text("param p = 1\n"
                   "let c = root(x: x^2 - 2*x + p, init=1)\n"
                   "let d = root(x: x^2 - p, init=3, max_iter=20)\n"
                   "minimize loss: (c - 1.5)^2 + d\n")
    problem = api.load(dop)
    module = _import(export_module(problem), tmp_path, "solves")
    np.testing.assert_allclose(module.value(module.START), api.gradient(problem).objective.value,
                               rtol=RTOL)
    with pytest.raises(ValueError, match=r"^solves\.dop:2:9: root: ∂g/∂x is singular at x = 1;"):
        module.value([0.5])
    just_d = tmp_path / "diverges.dop"
    just_d.write_text("param p = 1\nminimize d: root(x: x^2 - p, init=3, max_iter=20)\n")
    problem = api.load(just_d)
    with pytest.raises(NumericalError) as diffopt_error:  # the same iterates as diffopt's
        api.gradient(problem, at={"p": -1.0})
    assert diffopt_error.value.message.startswith("root did not converge in 20 iterations")
    module = _import(export_module(problem), tmp_path, "diverges")
    with pytest.raises(ValueError) as error:
        module.value_and_grad([-1.0])
    assert str(error.value) == (f"diverges.dop:2:13: {diffopt_error.value.message}; try a "
                                "start value closer to the solution with init=")


# ------------------------------------------------------------------ paths, data, text


def _import(source: str, folder: Path, name: str):
    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_flipped_guard_raises_and_exporting_there_follows_it(tmp_path):
    problem = api.load(ROOT / "problems" / "projectile.dop")
    at_start = _import(export_module(problem), tmp_path, "at_start")
    with pytest.raises(ValueError, match=r"projectile\.dop:46:16 was true when exported"):
        at_start.value_and_grad([0.55])
    there = _import(export_module(problem, at={"angle": 0.55}), tmp_path, "there")
    f, g = there.value_and_grad([0.55])
    reference = api.gradient(problem, at={"angle": 0.55})
    np.testing.assert_allclose(f, reference.objective.value, rtol=RTOL)
    np.testing.assert_allclose(g, [reference.gradient["angle"]], rtol=RTOL)
    with pytest.raises(there.PathError, match="was false when exported"):
        there.value([0.4])


def test_a_large_table_is_read_from_its_csv(tmp_path):
    problem = api.load(ROOT / "problems" / "taxi.dop")
    embedded = export_module(problem)
    assert "loadtxt" not in embedded and "trips_duration_min = np.array([" in embedded
    source = export_module(problem, embed_limit=10)
    assert "def load_data(trips=" in source and "taxi_trips.csv" in source
    assert "trips_duration_min = np.array(" not in source
    module = _import(source, tmp_path, "taxi_from_csv")
    f, g = module.value_and_grad(module.START)
    reference = api.gradient(problem)
    np.testing.assert_allclose(f, reference.objective.value, rtol=RTOL)
    np.testing.assert_allclose(g, [reference.gradient["speed"]], rtol=RTOL)


def test_module_text_is_readable_and_imports_only_numpy():
    source = export_module(api.load(ROOT / "problems" / "rosenbrock.dop"))
    assert "    valley = (y - t2)" in source and "# rosenbrock.dop:15" in source
    assert "adjoint of pow" in source
    imported = {alias.name for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.Import) for alias in node.names}
    assert imported == {"numpy"}
    jax_source = export_module(api.load(ROOT / "problems" / "rosenbrock.dop"), "jax")
    assert 'jax.config.update("jax_enable_x64", True)' in jax_source


def test_maximize_and_names_that_clash_with_the_module(tmp_path):
    dop = tmp_path / "clash.dop"
    dop.write_text("param np = 1, flat[2] = 0.5\n"
                   "let t1 = np * sum(flat)\n"
                   "let value = sin(t1)\n"
                   "maximize xp: value - t1^2 / 10\n")
    problem = api.load(dop)
    module = _import(export_module(problem), tmp_path, "clash")
    assert module.PARAMS == [("np", ()), ("flat", (2,))]
    x = np.array([0.3, 0.2, -0.7])
    f, g = module.value_and_grad(x)
    reference = api.gradient(problem, at=problem.problem.unflatten(x))
    np.testing.assert_allclose(f, reference.objective.value, rtol=RTOL)
    np.testing.assert_allclose(g, np.concatenate([[reference.gradient["np"]],
                                                  reference.gradient["flat"]]), rtol=RTOL)
    assert module.unflatten(x)["flat"].tolist() == [0.2, -0.7]


# ------------------------------------------------------------------ the command


def test_cli_writes_stdout_or_a_file(tmp_path):
    runner = CliRunner()
    rosenbrock = str(ROOT / "problems" / "rosenbrock.dop")
    result = runner.invoke(app, ["export", rosenbrock])
    assert result.exit_code == 0, result.output
    compile(result.stdout, "exported", "exec")
    target = tmp_path / "rosen.py"
    result = runner.invoke(app, ["export", rosenbrock, "--to", "jax", "-o", str(target)])
    assert result.exit_code == 0 and result.stdout == ""
    assert "import jax.numpy as xp" in target.read_text()


@pytest.mark.parametrize("arguments, message", [
    (["--to", "torch"], "--to must be numpy or jax"),
    (["-o", "/nonexistent/dir/m.py"], "cannot write"),
])
def test_cli_usage_errors_exit_2(arguments, message):
    result = CliRunner().invoke(app, ["export", str(ROOT / "problems" / "rosenbrock.dop"),
                                      *arguments])
    assert result.exit_code == 2 and message in result.stderr


def test_cli_exports_an_implicit_function():
    result = CliRunner().invoke(app, ["export", str(ROOT / "problems" / "cube_root.dop"),
                                      "--to", "jax"])
    assert result.exit_code == 0, result.output
    compile(result.stdout, "exported", "exec")
    assert "def _solve(a, b):" in result.stdout and "xp.linalg.solve(a, b)" in result.stdout
