"""diffopt.vocab is the one table of methods, modes, file options and exit statuses.

The checker, the API, the solver dispatch and the CLI help all read it;
these tests pin that they agree with it.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from diffopt import api, vocab
from diffopt.check import declarations
from diffopt.cli import app
from diffopt.errors import OptionError
from diffopt.solve import methods as solve_methods
from diffopt.solve.loop import minimize
from diffopt.solve.oracle import Oracle
from diffopt.status import ExitStatus

runner = CliRunner()


def test_the_checker_reads_the_file_options_from_vocab():
    assert declarations.OPTIONS is vocab.OPTIONS


def test_api_modes_are_vocab_modes():
    assert api.GRADIENT_MODES is vocab.GRADIENT_MODES


def test_today_shapes_the_core_imports():
    # The core imports these three names with these shapes.
    assert isinstance(vocab.METHODS, tuple) and all(isinstance(m, str) for m in vocab.METHODS)
    assert vocab.METHODS[0] == "auto"
    assert vocab.MODES == ("auto", "forward", "reverse")
    assert vocab.OPTIONS["method"] == ("string", vocab.METHODS)
    assert vocab.OPTIONS["mode"] == ("string", vocab.MODES)
    assert vocab.OPTIONS["max_iter"] == ("integer", None)
    assert vocab.OPTIONS["tol"] == ("positive", None)
    assert vocab.OPTIONS["lr"] == ("positive", None)


def test_every_method_but_auto_has_an_implementation_in_vocab_order():
    assert tuple(solve_methods.METHODS) == vocab.METHODS[1:]


def test_least_squares_methods_are_the_ones_that_need_residuals():
    for name, method in solve_methods.METHODS.items():
        least_squares = vocab.method_info(name).applies_to == "least-squares"
        assert least_squares == (method.needs == "residuals"), name


def test_method_summaries_come_from_vocab():
    assert solve_methods.METHODS["lm"].summary == "Levenberg-Marquardt for least squares"


def test_method_info_rejects_unknown_names():
    with pytest.raises(KeyError):
        vocab.method_info("rmsprop")


def scalar_oracle() -> Oracle:
    return Oracle(n=1, value=lambda x: float(x[0] ** 2),
                  value_and_grad=lambda x: (float(x[0] ** 2), 2 * x))


def test_solver_rejects_a_name_vocab_does_not_know():
    with pytest.raises(OptionError) as caught:
        minimize(scalar_oracle(), [1.0], method="bfsg")
    assert caught.value.message == ("unknown method 'bfsg'; choose one of "
                                 "auto, gd, momentum, adam, sgd, adamw, bfgs, lbfgs, newton, lm, "
                                 "nelder-mead")


def test_solver_refuses_a_least_squares_method_without_residuals():
    with pytest.raises(OptionError) as caught:
        minimize(scalar_oracle(), [1.0], method="lm")
    assert caught.value.message == (
        "method 'lm' needs a least-squares objective (a sum of squares of residuals)")


def test_choices_text():
    assert vocab.choices_text(("a",)) == "a"
    assert vocab.choices_text(("a", "b", "c"), default="a") == "a, b or c (default a)"


def help_of(command: str) -> str:
    result = runner.invoke(app, [command, "--help"], terminal_width=200,
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0
    return " ".join(result.stdout.split())


def test_solve_help_lists_the_methods_and_modes_from_vocab():
    text = help_of("solve")
    assert "--method <str> auto, gd, momentum, adam, sgd, adamw, bfgs, lbfgs, newton, lm or " \
           "nelder-mead " \
           "(default auto)." in text
    assert "--mode <str> Gradient mode: auto, forward or reverse (default auto)." in text


def test_grad_help_lists_the_gradient_modes_from_vocab():
    assert "--mode <str> auto, forward or reverse (default auto)." in help_of("grad")


def test_solve_rejects_a_mode_outside_vocab():
    result = runner.invoke(app, ["solve", "problems/rosenbrock.dop", "--mode", "sideways"])
    assert result.exit_code == ExitStatus.BAD_INPUT
    assert result.stderr.splitlines()[0] == (
        "diffopt: error: --mode must be auto, forward or reverse, not 'sideways'")


def test_exit_statuses_are_re_exported_by_vocab():
    assert vocab.ExitStatus is ExitStatus
    assert [int(s) for s in ExitStatus] == [0, 1, 2, 70, 129, 130, 141, 143]
