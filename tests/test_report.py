"""Tests for diffopt.report: diagnostics text, JSON conversion, console renderers."""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pytest
from rich.console import Console

from diffopt.errors import DopError, DopNameError, UsageError
from diffopt.report import console as rc
from diffopt.report.diagnostics import render, render_rich, render_warning
from diffopt.report.formatting import elements, fmt, fmt_seconds
from diffopt.report.jsonout import dumps, to_jsonable
from diffopt.report.progress import PHASE_DELAY, ProgressDisplay
from diffopt.results import ConstraintRow, FitReport
from diffopt.source import Source, unknown_span

ANSI = "\x1b["


def span_of(text: str, needle: str, name: str = "t.dop", length: int | None = None):
    """The span of the first ``needle`` in ``text`` (or ``length`` characters from it)."""
    source = Source(name, text)
    start = text.index(needle)
    return source.span(start, start + (len(needle) if length is None else length))


# ---------------------------------------------------------------- diagnostics


def test_render_multi_char_span_with_hint():
    text = "param speed = 30\n" * 6 + "let t = d / sped\n"
    err = DopNameError("unknown name 'sped'", span_of(text, "sped", "taxi.dop"))
    err.hint = "did you mean 'speed'?"
    assert render(err) == (
        "taxi.dop:7:13: error: unknown name 'sped'\n"
        "    7 | let t = d / sped\n"
        "      |             ^~~~\n"
        "help: did you mean 'speed'?"
    )


def test_render_single_char_span_and_notes():
    text = "let a = b + c\n"
    err = DopError("bad", span_of(text, "+"), notes=["first note", "second"])
    assert render(err) == (
        "t.dop:1:11: error: bad\n"
        "    1 | let a = b + c\n"
        "      |           ^\n"
        "note: first note\n"
        "note: second"
    )


def test_render_empty_span_gets_one_caret():
    text = "let a = \n"
    source = Source("t.dop", text)
    err = DopError("expected an expression", source.span(8, 8))
    assert render(err).splitlines()[1:] == ["    1 | let a =", "      |         ^"]


def test_render_multi_line_span_underlines_to_end_of_first_line():
    text = "let a = f(x,\n    y)\n"
    err = DopError("bad call", span_of(text, "f(x,\n    y)"))
    assert render(err) == ("t.dop:1:9: error: bad call\n    1 | let a = f(x,\n      |         ^~~~")


def test_render_tab_keeps_caret_aligned():
    text = "\tlet\ta = sped\n"
    err = DopError("unknown name 'sped'", span_of(text, "sped"))
    # the tab expands to 4 columns, the second tab to the next multiple of 4
    assert render(err).splitlines()[1:] == [
        "    1 |     let a = sped",
        "      |             ^~~~",
    ]


def test_render_tab_inside_span_widens_underline():
    text = "x=\t1\n"
    err = DopError("bad", span_of(text, "=\t1"))
    assert render(err).splitlines()[1:] == ["    1 | x=  1", "      |  ^~~~"]


def test_render_span_at_end_of_line():
    text = "param x = \nparam y\n"
    source = Source("t.dop", text)
    err = DopError("expected a start value", source.span(10, 11))  # the line break
    assert render(err).splitlines()[1:] == ["    1 | param x =", "      |           ^"]


def test_render_crlf_and_wide_characters():
    text = "let 速度 = 1\r\nlet b = 速度 + q\r\n"
    err = DopError("unknown name 'q'", span_of(text, "q"))
    assert render(err).splitlines()[1:] == [
        "    2 | let b = 速度 + q",
        "      |                ^",
    ]


def test_render_empty_source_prints_first_line_only():
    err = DopError("the file is empty", unknown_span("empty.dop"), hint="add a minimize line")
    assert render(err) == "empty.dop:1:1: error: the file is empty\nhelp: add a minimize line"


def test_render_without_span_names_the_program():
    err = UsageError("--set expects NAME=VALUE, got 'x'")
    assert render(err) == "diffopt: error: --set expects NAME=VALUE, got 'x'"


def test_render_large_line_number_widens_gutter():
    text = "\n" * 12344 + "bad\n"
    err = DopError("oops", span_of(text, "bad"))
    assert render(err).splitlines()[1:] == [" 12345 | bad", "       | ^~~"]


def test_render_warning():
    text = "let unused = 1\n"
    out = render_warning("'unused' is never used", span_of(text, "unused"))
    assert out == (
        "t.dop:1:5: warning: 'unused' is never used\n    1 | let unused = 1\n      |     ^~~~~~"
    )


def test_render_rich_has_same_text_and_colour():
    text = "let t = d / sped\n"
    err = DopNameError("unknown name 'sped'", span_of(text, "sped"), hint="did you mean 'speed'?")
    rich_text = render_rich(err)
    assert rich_text.plain == render(err)
    assert rich_text.spans  # styled somewhere
    term = Console(file=io.StringIO(), force_terminal=True, color_system="standard", width=200)
    term.print(rich_text, soft_wrap=True)
    assert ANSI in term.file.getvalue()
    plain = Console(file=io.StringIO(), width=200)
    plain.print(rich_text, soft_wrap=True)
    assert plain.file.getvalue() == render(err) + "\n"


def test_render_rich_does_not_read_markup_in_messages():
    err = DopError("bad [bold]x[/bold] name", span_of("[bold]\n", "[bold]"))
    assert render_rich(err).plain == render(err)
    assert "[bold]x[/bold]" in render(err)


# ----------------------------------------------------------------------- JSON


def test_to_jsonable_numpy_and_non_finite():
    value = {
        "a": np.array([[1.0, np.nan], [np.inf, -np.inf]]),
        "b": np.float32(2.5),
        "c": (np.int64(3), float("nan"), -math.inf),
        "d": np.array(4.0),
        "e": np.array([1, 2]),
        "f": np.bool_(True),
        "g": [np.array([np.inf])],
    }
    assert to_jsonable(value) == {
        "a": [[1.0, "nan"], ["inf", "-inf"]],
        "b": 2.5,
        "c": [3, "nan", "-inf"],
        "d": 4.0,
        "e": [1, 2],
        "f": True,
        "g": [["inf"]],
    }


def test_to_jsonable_dataclasses_and_to_json():
    @dataclass(frozen=True)
    class Inner:
        x: np.ndarray

    @dataclass(frozen=True)
    class Outer:
        name: str
        inner: Inner
        values: dict = field(default_factory=dict)

    class HasToJson:
        def to_json(self):
            return {"v": np.float64("inf")}

    out = to_jsonable(Outer("p", Inner(np.array([1.0, np.nan])), {"k": HasToJson()}))
    assert out == {"name": "p", "inner": {"x": [1.0, "nan"]}, "values": {"k": {"v": "inf"}}}


def test_dumps_is_strict_json():
    text = dumps({"x": float("nan"), "w": np.array([1.0, np.inf]), "n": None})
    assert json.loads(text) == {"x": "nan", "w": [1.0, "inf"], "n": None}
    assert "NaN" not in text and "Infinity" not in text


def test_to_jsonable_rejects_unknown_types():
    with pytest.raises(TypeError):
        dumps({"z": 1 + 2j})


# -------------------------------------------------------------------- console


@dataclass(frozen=True)
class ObjectiveInfo:
    name: str
    value: float
    sense: str = "minimize"


@dataclass(frozen=True)
class SolveResult:
    problem: str
    status: str
    message: str
    method: str
    mode: str
    objective: ObjectiveInfo
    params: dict
    start: dict
    lets: dict
    gradient_norm: float
    iterations: int
    evaluations: dict
    constraints: list
    time_s: float
    fit: dict | None = None


@dataclass(frozen=True)
class EvalResult:
    objective: ObjectiveInfo
    lets: dict
    params: dict


@dataclass(frozen=True)
class GradResult:
    objective: ObjectiveInfo
    gradient: dict
    mode: str
    timing: dict | None = None


@dataclass(frozen=True)
class CheckEntry:
    param: str
    index: tuple
    forward: float
    reverse: float
    numeric: float
    abs_error: float
    rel_error: float
    ok: bool


@dataclass(frozen=True)
class CheckPoint:
    at: dict
    entries: list
    taylor: dict | None = None
    notes: list = field(default_factory=list)


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    points: list


def plain_console() -> Console:
    return Console(file=io.StringIO(), width=120)


def solve_result(**changes) -> SolveResult:
    base = dict(
        problem="taxi.dop",
        status="converged",
        message="gradient norm below tolerance",
        method="lm",
        mode="reverse",
        objective=ObjectiveInfo("loss", 0.0123456789012),
        params={"speed": 30.00000012, "w": np.array([0.1, np.nan])},
        start={"speed": 35.0, "w": np.array([0.0, 0.0])},
        lets={"t1": 15.3, "grid": np.array([[1.0, 2.0], [3.0, 4.0]])},
        gradient_norm=1e-9,
        iterations=12,
        evaluations={"objective": 15, "gradient": 14, "hessian": 0},
        constraints=[ConstraintRow("budget", -0.5, 0.0)],
        time_s=0.0123,
        fit=FitReport(
            residuals=10,
            dof=8,
            reduced_chi2=1.0625,
            stderr={"speed": 0.25, "w": np.array([0.01, 0.02])},
            labels=("speed", "w[0]", "w[1]"),
            correlation=np.array([[1.0, -0.5, 0.99], [-0.5, 1.0, 0.0], [0.99, 0.0, 1.0]]),
        ),
    )
    base.update(changes)
    return SolveResult(**base)


def test_solve_report_plain_text():
    console = plain_console()
    rc.print_solve_report(console, solve_result())
    out = console.file.getvalue()
    assert ANSI not in out
    for expected in (
        "taxi.dop: converged  (method lm, reverse mode)",
        "gradient norm below tolerance",
        "objective loss = 0.0123456789",
        "(minimize)",
        "speed",
        "35",
        "30.00000012",
        "w[0]",
        "w[1]",
        "nan",
        "grid[1, 0]",
        "budget",
        "-0.5",
        "reduced χ² = 1.0625",
        "10 residuals, 8 degrees of freedom",
        "0.25",
        "+0.990",
        "iterations 12",
        "15 objective, 14 gradient, 0 hessian",
        "gradient norm 1e-09",
        "time 12.3 ms",
    ):
        assert expected in out, expected


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("max_iter", "stopped at the iteration limit"),
        ("stalled", "stalled: no further progress possible"),
        ("diverged", "diverged"),
        ("failed", "failed"),
        ("interrupted", "interrupted; showing the best point so far"),
    ],
)
def test_solve_report_status_words(status, words):
    console = plain_console()
    rc.print_solve_report(console, solve_result(status=status, fit=None, constraints=[]))
    out = console.file.getvalue()
    assert f"taxi.dop: {words}" in out
    assert "reduced" not in out and "constraint" not in out


def test_solve_report_caps_long_vectors():
    console = plain_console()
    rc.print_solve_report(
        console, solve_result(params={"v": np.arange(100.0)}, start={}, lets={}, fit=None)
    )
    out = console.file.getvalue()
    assert "v[39]" in out and "v[40]" not in out
    assert "… 60 more (see --json)" in out


def test_solve_report_markup_in_names_is_literal():
    console = plain_console()
    rc.print_solve_report(
        console, solve_result(problem="[bold]odd[/bold].dop", lets={"[red]x": 1.0}, fit=None)
    )
    out = console.file.getvalue()
    assert "[bold]odd[/bold].dop" in out and "[red]x" in out


def test_eval_plain_text():
    console = plain_console()
    result = EvalResult(ObjectiveInfo("time", 51.03), {"t1": 15.3}, {"x1": 4.1})
    rc.print_eval(console, result)
    out = console.file.getvalue()
    assert ANSI not in out
    assert "objective time = 51.03" in out
    assert "t1" in out and "15.3" in out and "x1" in out and "4.1" in out


def test_grad_plain_text_with_timing():
    console = plain_console()
    result = GradResult(
        ObjectiveInfo("f", 2.0),
        {"x": -1.5, "w": np.array([0.25, np.inf])},
        "forward",
        {"value_s": 2e-5, "gradient_s": 6e-5},
    )
    rc.print_grad(console, result)
    out = console.file.getvalue()
    assert ANSI not in out
    for expected in ("objective f = 2", "forward mode", "-1.5", "w[0]", "0.25", "inf"):
        assert expected in out, expected
    assert "value 20 µs, gradient 60 µs" in out
    assert "(3× the value)" in out


def test_grad_without_timing_prints_no_timing():
    console = plain_console()
    rc.print_grad(console, GradResult(ObjectiveInfo("f", 1.0), {"x": 1.0}, "reverse"))
    assert "time per evaluation" not in console.file.getvalue()


def test_check_plain_text():
    good = CheckEntry("x", (), 1.0, 1.0, 1.0000001, 1e-7, 1e-7, True)
    bad = CheckEntry("w", (1,), 2.0, 2.5, 2.0, 0.5, 0.2, False)
    point = CheckPoint(
        at={"x": 1.0, "w": np.array([1.0, 2.0])},
        entries=[good, bad],
        taylor={"ok": True, "order": 2.01, "steps": [1e-6, 0.1], "remainders": [1e-12, 1e-2]},
        notes=["the branch at t.dop:3:5 flips within the step"],
    )
    console = plain_console()
    rc.print_check(console, CheckResult(False, [point]))
    out = console.file.getvalue()
    assert ANSI not in out
    for expected in (
        "point 1 of 1: x = 1, w = [1, 2]",
        "entry",
        "w[1]",
        "rel err",
        "1.0000001",
        "2.5",
        "✓",
        "✗",
        "Taylor remainder ✓ decays with order 2.01 over h = 1e-06 … 0.1",
        "note: the branch at t.dop:3:5 flips within the step",
        "FAILED: 1 of 2 entries disagree",
    ):
        assert expected in out, expected


class AsciiFile(io.StringIO):
    encoding = "ascii"


def test_check_passed_and_ascii_console():
    entry = CheckEntry("x", (), 1.0, 1.0, 1.0, 0.0, 0.0, True)
    console = Console(file=AsciiFile(), width=120)
    rc.print_check(console, CheckResult(True, [CheckPoint({"x": 1.0}, [entry])]))
    out = console.file.getvalue()
    assert "passed: all 1 entries agree" in out
    assert " ok" in out and "✓" not in out
    out.encode("ascii")  # nothing an ASCII terminal cannot show


def test_check_shows_failures_first_when_capped():
    entries = [CheckEntry("v", (i,), 1.0, 1.0, 1.0, 0.0, 0.0, True) for i in range(100)]
    entries[90] = CheckEntry("v", (90,), 1.0, 9.0, 1.0, 8.0, 8.0, False)
    console = plain_console()
    rc.print_check(console, CheckResult(False, [CheckPoint({}, entries)]))
    out = console.file.getvalue()
    assert "9" in out and "… 40 more (see --json)" in out
    assert "v[90]" in out


# ------------------------------------------------------------------ progress


@dataclass(frozen=True)
class Info:
    iteration: int
    objective: float
    gradient_norm: float
    step: float
    elapsed: float
    max_violation: float = 0.0


def test_progress_draws_nothing_off_terminal():
    console = plain_console()
    with ProgressDisplay(console) as progress:
        for i in range(1000):
            progress(Info(i, 1.0 / (i + 1), 0.1, 0.5, 0.01))
    assert console.file.getvalue() == ""


def test_progress_quiet_draws_nothing_on_terminal():
    console = Console(file=io.StringIO(), force_terminal=True)
    with ProgressDisplay(console, quiet=True) as progress:
        progress(Info(1, 1.0, 0.1, 0.5, 0.01))
    assert console.file.getvalue() == ""


def test_progress_line_on_terminal():
    console = Console(file=io.StringIO(), force_terminal=True, width=150)
    with ProgressDisplay(console) as progress:
        progress(Info(7, 51.03, 1.5e-3, 0.25, 0.5, max_violation=0.1))
        line = progress.__rich__().plain
        time.sleep(PHASE_DELAY + 0.2)  # drawing starts only after the delay
    assert line == (
        "solving  iteration 7  objective 51.03  |grad| 0.0015  step 0.25  "
        "violation 0.1  elapsed 500 ms"
    )
    assert "51.03" in console.file.getvalue()  # drawn at least once (on stop)


def test_solve_report_on_ascii_console_does_not_crash():
    console = Console(file=AsciiFile(), width=120)
    result = solve_result(params={"θ": 1.0}, start={"θ": 0.0}, time_s=2e-5)
    rc.print_solve_report(console, result)
    out = console.file.getvalue()
    out.encode("ascii")
    assert "reduced chi^2 = 1.0625" in out and "time 20 us" in out and "?" in out


def test_progress_line_on_ascii_terminal():
    console = Console(file=AsciiFile(), force_terminal=True, width=150)
    progress = ProgressDisplay(console)
    progress(Info(1, 2.0, 0.5, 0.1, 2e-5))
    assert progress.__rich__().plain.endswith("elapsed 20 us")


def test_number_formats():
    assert fmt(1 / 3) == "0.3333333333"
    assert fmt(np.float64("nan")) == "nan" and fmt(-np.inf) == "-inf"
    assert fmt(None) == "—" and fmt(np.int64(7)) == "7"
    assert [fmt_seconds(t) for t in (2e-5, 9.996e-4, 0.0123, 1.5, 12345.6)] == [
        "20 µs",
        "1 ms",
        "12.3 ms",
        "1.5 s",
        "12346 s",
    ]
    assert elements("W", np.zeros((2, 2)))[3] == ("W[1, 1]", 0.0)
    assert elements("x", np.array(2.0)) == [("x", 2.0)]


def test_to_jsonable_enums_and_paths(tmp_path):
    from diffopt.status import ExitStatus

    assert dumps({"s": ExitStatus.BAD_INPUT, "p": tmp_path}) == (
        '{"s": 2, "p": ' + json.dumps(str(tmp_path)) + "}"
    )
