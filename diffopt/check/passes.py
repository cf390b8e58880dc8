"""The two ways into a program run: ``check`` (the one pass) and ``trace`` (again).

``check`` runs the program once at its start point, checking and recording
it (diffopt.check.runner does the running), and freezes what it found into a
``CheckedProblem``; ``trace`` records the same program again at another
point, when a guard fails there, or with some consts as inputs of their own
(sensitivities). Both apply ``option sigma`` (diffopt.check.weights) to the
objective they return.
"""

from __future__ import annotations

from diffopt.check.problem import CheckedProblem, Options, RunSettings
from diffopt.check.runner import Runner, Trace
from diffopt.check.weights import weighted_objective
from diffopt.errors import DopNameError
from diffopt.ir.tape import Tape
from diffopt.ops import random as dop_random
from diffopt.source import Source
from diffopt.syntax import ast

__all__ = ["Trace", "check", "trace"]


def check(source: Source, program: ast.Program,
          settings: RunSettings) -> tuple[CheckedProblem, Trace]:
    """The one pass: check ``program`` and record it at its start point."""
    tape = Tape()
    dop_random.set_seed(settings.seed)
    runner = Runner(source, program, settings, tape, None, {})
    result = runner.run()
    options = runner.collected.options
    if options.get("sigma") is not None and result.objective is not None:
        result.objective = weighted_objective(tape, result.objective, runner.collected.objective[1],
                                              options["sigma"],
                                              runner.collected.option_spans.get("sigma"))
    if result.objective is None:
        raise DopNameError("the problem has no objective",
                           source.span(len(source.text)),
                           hint="add 'minimize <expression>' or 'maximize <expression>'")
    collected = runner.collected
    name, sense, span = collected.objective
    problem = CheckedProblem(
        source=source, program=program, params=tuple(collected.params),
        objective_name=name, sense=sense, objective_span=span,
        options=Options(dict(collected.options), dict(collected.option_spans)),
        settings=settings, tables=dict(collected.tables),
    )
    return problem, Trace(tape, result)


def trace(problem: CheckedProblem, values: list,
          const_inputs: frozenset = frozenset(), tape: Tape | None = None,
          tables: dict | None = None) -> Trace:
    """Record the program again with parameters at ``values`` (one array each).

    ``const_inputs``: consts recorded as slots of their own (not parameters),
    so that derivatives with respect to them can be staged; their slots are
    in ``result.const_inputs``. A const used where a constant is needed (a
    range bound, a shape) then raises DopError.

    ``tape`` and ``tables``: a tape of another kind (diffopt.batching's, which
    follows data rows) and data tables whose columns are slots of it (a batch
    of rows as inputs of the compiled program) instead of the loaded ones.
    """
    tape = Tape() if tape is None else tape
    dop_random.set_seed(problem.seed)
    runner = Runner(problem.source, problem.program, problem.settings, tape, values,
                    problem.tables if tables is None else tables, const_inputs)
    result = runner.run()
    sigma = problem.options.get("sigma")
    if sigma is not None and result.objective is not None:
        result.objective = weighted_objective(tape, result.objective, problem.sense, sigma, None)
    return Trace(tape, result)
