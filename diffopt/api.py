"""The only surface the CLI uses (and the public Python API).

Functions here tie the stages together: load (parse → check → data) and then
evaluate, differentiate, check derivatives, solve, format or draw a graph.
They return plain result dataclasses (diffopt.results) and raise DopError for
anything the user wrote wrong; they never print.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from diffopt import budget
from diffopt.errors import DopError, OptionError, UsageError, did_you_mean
from diffopt.gcpause import gc_paused
from diffopt.notices import unique
from diffopt.points import RANDOM_POINT_STREAM, random_point, resolve_point
from diffopt.results import (
    ConstraintRow,
    EvalResult,
    GradResult,
    ObjectiveInfo,
    SolveResult,
)
from diffopt.source import Source
from diffopt.standard_input import standard_input_bytes, standard_input_text
from diffopt.timing import median_time
from diffopt.vocab import GRADIENT_MODES

# ------------------------------------------------------------------- loading


def read_source(path: str, stdin_text: str | None = None) -> Source:
    """Read a .dop file (or standard input for "-") into a Source."""
    from diffopt.syntax.parser import decode

    if path == "-":
        if stdin_text is not None:
            return decode(stdin_text.encode("utf-8"), "<stdin>")
        return decode(standard_input_bytes(), "<stdin>")
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(f"cannot read '{path}': {reason.lower()}") from None
    return decode(data, path)


def parse_source(source: Source):
    """Parse and statically check a Source; returns the AST Program."""
    from diffopt.sema import check_names
    from diffopt.syntax.parser import parse

    if not source.text.strip():
        raise DopError("the file is empty: a problem needs at least an objective",
                       source.span(0),
                       hint="for example: param x = 1; minimize (x - 2)^2")
    program = parse(source)
    check_names(program)
    return program


def load(
    path: str | Path,
    *,
    sets: Mapping[str, object] | None = None,
    data: Mapping[str, str] | None = None,
    seed: int = 0,
    stdin_text: str | None = None,
    progress: Callable[..., None] | None = None,
    max_memory: str | int | None = None,
):
    """Read, parse and check a problem: the one pass that also records it.

    Args:
        path: the .dop file, or "-" for standard input (``stdin_text`` if given).
        sets: ``--set`` overrides: name -> number, array or the option's text.
        data: ``--data`` overrides: data name -> CSV path, or "-" for stdin.
        seed: the random seed (``~ normal(...)`` starts, random functions).
        progress: called with each phase's name as it starts ("reading and
            parsing", "checking and recording"); the CLI draws them.
        max_memory: the memory budget (bytes, or text like "2G" or "25%"); None:
            half of physical memory. It holds for the rest of this context
            (the run's re-recordings too); see diffopt.budget.

    Returns:
        A ``diffopt.session.Session``: the checked problem (``.problem``) with
        its recorded program.
    """
    if int(seed) != seed or seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {seed}")
    budget.set_limit(budget.parse_size(max_memory) if isinstance(max_memory, str)
                     else max_memory)
    with gc_paused():
        return _load(str(path), sets, data, seed, stdin_text, progress or _no_progress)


def _no_progress(phase: str, **details) -> None:
    """The default phase callback: nothing to draw."""


def _load(path: str, sets, data, seed, stdin_text, progress):
    from diffopt.check.passes import check as check_program
    from diffopt.check.problem import RunSettings
    from diffopt.option_values import parse_value
    from diffopt.session import Session

    progress("reading and parsing")
    source = read_source(path, stdin_text if path == "-" else None)
    ast_program = parse_source(source)
    parsed_sets = {}
    for name, value in (sets or {}).items():
        parsed_sets[name] = np.asarray(
            parse_value(value, f"--set {name}") if isinstance(value, str) else value,
            dtype=np.float64
        )
    data_paths = dict(data or {})
    if path == "-" and "-" in data_paths.values():
        raise UsageError("the problem and a data table cannot both come from standard input")
    table_stdin = stdin_text if path != "-" else None
    if "-" in data_paths.values() and table_stdin is None:
        table_stdin = standard_input_text()
    _check_overrides(ast_program, parsed_sets, data_paths)
    settings = RunSettings(int(seed), parsed_sets, data_paths, table_stdin, progress)
    progress("checking and recording")
    with np.errstate(all="ignore"):
        problem, first = check_program(source, ast_program, settings)
    return Session(problem, first)


def _check_overrides(program, sets, data_paths) -> None:
    from diffopt.sema import declarations_of

    settable = declarations_of(program, ("const", "param"))
    for name in sets:
        if name not in settable:
            raise UsageError(f"--set {name}: no const or param named '{name}'",
                             hint=did_you_mean(name, settable))
    tables = declarations_of(program, ("data",))
    for name in data_paths:
        if name not in tables:
            raise UsageError(f"--data {name}: no data named '{name}'",
                             hint=did_you_mean(name, tables))


# ------------------------------------------------------------------- helpers


def _objective(problem, value: float) -> ObjectiveInfo:
    return ObjectiveInfo(problem.objective_name, float(value), problem.sense)


def _warnings(engine, x, values, mode: str = "reverse") -> tuple:
    """The program's warnings at x (loop exits, doubtful root/argmin solutions),
    then the first NaN/inf's origin when any of ``values`` is not finite."""
    notices = engine.notices(x)
    if all(np.all(np.isfinite(v)) for v in values):
        return notices
    found = engine.diagnose(x, "value")
    if found is None:
        found = engine.diagnose(x, "forward" if mode == "forward" else "gradient")
    return notices + ((found,) if found is not None else ())


# --------------------------------------------------------------- evaluation


def evaluate(session, at=None) -> EvalResult:
    """The objective, every let and var, and the constraints at a point."""
    engine, problem = session, session.problem
    x = resolve_point(problem, at)
    report = engine.report(x)
    constraints = _constraint_rows(report.constraints)
    return EvalResult(
        objective=_objective(problem, report.objective),
        lets=report.lets,
        params=problem.unflatten(x),
        constraints=constraints,
        warnings=_warnings(engine, x, [report.objective]),
    )


def gradient(session, at=None, mode: str = "reverse", repeat: int = 0) -> GradResult:
    """Objective and gradient at a point by forward or reverse mode.

    With ``repeat`` > 0 the value and the gradient are each evaluated that
    many times and the medians (seconds per evaluation) are reported.
    """
    if mode not in GRADIENT_MODES:
        raise UsageError(f"--mode must be forward or reverse, not '{mode}'")
    engine, problem = session, session.problem
    x = resolve_point(problem, at)
    sign = -1.0 if problem.sense == "maximize" else 1.0
    compute = engine.gradient_forward if mode == "forward" else engine.value_and_grad
    f, g = compute(x)
    timing = None
    if repeat and repeat > 0:
        timing = {
            "value_s": median_time(lambda: engine.value(x), repeat),
            "gradient_s": median_time(lambda: compute(x), repeat),
        }
    return GradResult(
        objective=_objective(problem, sign * f),
        gradient=problem.unflatten(sign * g),
        mode=mode,
        params=problem.unflatten(x),
        timing=timing,
        warnings=_warnings(engine, x, [f, g], mode),
    )


def check(session, at="init", points: int = 1, rtol: float = 1e-5, atol: float = 1e-6,
          eps: float | None = None):
    """Forward vs reverse vs central differences (see diffopt.ad.check): at
    ``at`` first, then at random points."""
    from diffopt.ad.check import check_points

    if points < 1:
        raise UsageError("--points must be at least 1")
    problem = session.problem
    rng = np.random.default_rng([problem.seed, RANDOM_POINT_STREAM, 1])
    xs = [resolve_point(problem, at)]
    while len(xs) < points:
        xs.append(random_point(problem, rng))
    result = check_points(session, xs, rng, rtol=rtol, atol=atol, eps=eps)
    with np.errstate(all="ignore"):
        notices = unique(n for x in xs for n in session.notices(x))
    return replace(result, warnings=notices)


# -------------------------------------------------------------------- solving


def solve(session, *, method: str | None = None, max_iter: int | None = None,
          tol: float | None = None, lr: float | None = None, mode: str | None = None,
          intervals: str | None = None, confidence: float | None = None,
          callback: Callable | None = None,
          progress: Callable[..., None] | None = None, start=None) -> SolveResult:
    """Minimize (or maximize) the problem from its start point (or ``start``:
    a flat point or an ``--at`` value).

    Options given here override the file's ``option`` lines. ``intervals``
    ("asymptotic" or "profile") and ``confidence`` shape a fit's confidence
    intervals (see diffopt.fitting). ``progress`` is told the phase
    "compiling" (with ``limit``, the iteration limit, when the method is
    known) before the first evaluation compiles the program.
    """
    from diffopt.fitting import interval_settings
    from diffopt.solve.loop import minimize
    from diffopt.solve.result import SolveOutcome
    from diffopt.training import stochastic_solve

    problem = session.problem
    options = problem.options
    from_file = {name for name, flag in (("method", method), ("max_iter", max_iter),
                                         ("tol", tol), ("lr", lr)) if flag is None}
    asked = method = method or options.get("method", "auto")
    max_iter = max_iter if max_iter is not None else options.get("max_iter")
    tol = tol if tol is not None else options.get("tol")
    lr = lr if lr is not None else options.get("lr")
    mode = mode or options.get("mode", "auto")
    intervals, confidence = interval_settings(options, intervals, confidence)
    engine, x0 = session, resolve_point(problem, start)
    if (trained := stochastic_solve(session, method, lr, max_iter, callback, progress,
                                    strict="method" in from_file, start=x0)) is not None:
        return trained  # sgd, adam(w) over mini-batches: diffopt.training
    started = time.perf_counter()
    oracle = engine.oracle()
    if mode == "forward":
        oracle = replace(oracle, value_and_grad=engine.gradient_forward)
    if progress is not None:
        progress("compiling", limit=_limit(oracle, method, max_iter))
    try:
        outcome = minimize(oracle, x0, method=method, max_iter=max_iter, tol=tol, lr=lr,
                           callback=callback)
    except OptionError as exc:
        raise _option_line(exc, options, from_file) from None
    except (np.linalg.LinAlgError, FloatingPointError) as exc:
        # LAPACK or NumPy refused the numbers (non-finite or degenerate
        # matrices): a failed solve with the reason, not an internal error
        outcome = SolveOutcome(x0, math.nan, math.nan, "failed",
                               f"the linear algebra failed ({exc}); the start point is shown", 0,
                               method=method or "auto")
    elapsed = time.perf_counter() - started
    report = engine.report(outcome.x)
    constraints = _constraint_rows(report.constraints)
    from diffopt.solution import solution_details

    details = solution_details(engine, oracle, outcome, asked=asked, mode=mode, tol=tol,
                               max_iter=max_iter, lr=lr, intervals=intervals,
                               confidence=confidence)
    return SolveResult(
        problem=Path(problem.source.name).name if problem.source.name != "<stdin>" else "<stdin>",
        status=outcome.status,
        message=_in_sense(outcome.message, problem.sense),
        method=outcome.method,
        mode="forward" if mode == "forward" else "reverse",
        objective=_objective(problem, report.objective),
        params=problem.unflatten(outcome.x),
        start=problem.unflatten(x0),
        lets=report.lets,
        gradient_norm=float(outcome.gradient_norm),
        iterations=int(outcome.iterations),
        evaluations=dict(outcome.evaluations),
        constraints=constraints,
        time_s=elapsed,
        warnings=_warnings(engine, outcome.x, [outcome.objective]),
        **details,
    )


def _limit(oracle, method: str, max_iter) -> int | None:
    """The iteration limit minimize will use (None when the method is unknown)."""
    from diffopt.solve.methods import METHODS, choose_auto

    if max_iter is not None:
        return max_iter
    spec = METHODS.get(choose_auto(oracle) if method == "auto" else method)
    return spec.max_iter(oracle.n) if spec is not None else None


def _in_sense(message: str, sense: str) -> str:
    """The solver's words about the minimized function, said of the objective
    as written: maximizing f minimizes -f, so -f falling is f rising."""
    if sense != "maximize":
        return message
    match = re.search(r"the objective fell to (\S+): it looks unbounded below", message)
    if match:
        value = match.group(1)
        shown = value[1:] if value.startswith("-") else f"-{value}"
        return message.replace(match.group(0),
                               f"the objective rose to {shown}: it looks unbounded above")
    return (message.replace("kept decreasing", "kept increasing")
            .replace("unbounded below", "unbounded above"))


def _option_line(exc: OptionError, options, from_file: set) -> OptionError:
    """An error about a setting the file's ``option`` line gave: located there,
    in the file's words (``option 'tol'``, not a ``--tol`` the user never passed)."""
    name = exc.option
    if name is None or name not in from_file or name not in options.spans:
        return exc
    flag = "--" + name.replace("_", "-")
    if exc.message.startswith(flag):
        exc.message = f"option '{name}'" + exc.message[len(flag):]
    return exc.located(options.spans[name])


def _constraint_rows(constraints) -> list[ConstraintRow]:
    """One row per scalar constraint: a vector constraint is reported per
    element, ``name[i]``, as the solver sees it."""
    rows = []
    for name, _, value, violation in constraints:
        value, violation = np.asarray(value, dtype=float), np.asarray(violation, dtype=float)
        if value.ndim == 0:
            rows.append(ConstraintRow(name, float(value), float(violation)))
            continue
        for index in np.ndindex(*value.shape):
            label = f"{name}[{', '.join(map(str, index))}]"
            rows.append(ConstraintRow(label, float(value[index]), float(violation[index])))
    return rows


# --------------------------------------------------------------- fmt / graph


def format_source(path: str, stdin_text: str | None = None) -> tuple[str, str]:
    """(original text, canonical text) of a .dop file; see diffopt.syntax.fmt."""
    from diffopt.syntax.fmt import format_program

    source = read_source(path, stdin_text)
    from diffopt.syntax.parser import parse

    program = parse(source)
    return source.text, format_program(program, source)


def graph(session, fmt: str = "text") -> str:
    """The expression graph of the objective at the start point (text or dot)."""
    from diffopt.graphview import render_graph

    recording = session.trace(session.problem.start_point())
    return render_graph(session.problem, recording, fmt)
