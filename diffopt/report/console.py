"""Human-readable final reports: the Rich tables of solve, eval, grad and check.

This module owns what ``diffopt solve|eval|grad|check`` print without
``--json`` once the work is done (the live progress line is
diffopt.report.progress; number formats and table pieces are
diffopt.report.formatting). Renderers take plain result objects
(duck-typed on the attribute names of ``diffopt.results``) and a
``rich.console.Console``; they format and print, and compute nothing beyond
formatting. It must not import the parser, the engine or the solvers, and it
is imported only by CLI commands.

Colour is left to Rich: a ``Console`` whose file is not a terminal writes no
ANSI codes. Nothing here forces a terminal. User-supplied names are always wrapped in
``Text`` so that brackets in them are never read as Rich markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from diffopt.report.formatting import (
    capped,
    elements,
    encodable,
    fmt,
    fmt_seconds,
    key_value,
    more_row,
    plain_table,
    tick,
)

MAX_CHECK_ROWS = 60  # gradient-check rows per point; failing rows are always shown

_STATUS_STYLE = {
    "converged": "bold green",
    "stalled": "bold red",
    "diverged": "bold red",
    "max_iter": "bold yellow",
    "failed": "bold red",
    "interrupted": "bold yellow",
}
_STATUS_TEXT = {
    "converged": "converged",
    "stalled": "stalled: no further progress possible",
    "diverged": "diverged",
    "max_iter": "stopped at the iteration limit",
    "failed": "failed",
    "interrupted": "interrupted; showing the best point so far",
}


# ------------------------------------------------------------------- solve


@encodable
def print_solve_report(console: Console, result: Any) -> None:
    """The final report of ``diffopt solve``.

    Shows the status and its reason, the objective, parameters from start to
    final, lets, constraints (value and violation), the fit statistics of a
    least-squares objective, and the cost (iterations, evaluations, time).
    """
    status = result.status
    heading = Text.assemble(
        (str(result.problem), "bold"),
        ": ",
        (_STATUS_TEXT.get(status, status), _STATUS_STYLE.get(status, "bold")),
        f"  (method {result.method}, {result.mode} mode)",
    )
    console.print(heading)
    if result.message:
        console.print(Text(f"  {result.message}"))
    console.print(_objective_line(result.objective))
    _print_params(console, result.params, getattr(result, "start", None))
    _print_values(console, "let", result.lets)
    _print_constraints(console, result.constraints)
    if getattr(result, "fit", None):
        from diffopt.report.fit_report import print_fit

        print_fit(console, result.fit, result.params)
    if getattr(result, "training", None):
        _print_training(console, result.training)
    console.print()
    evaluations = ", ".join(f"{fmt(n)} {kind}" for kind, n in result.evaluations.items())
    console.print(
        Text.assemble(
            key_value("iterations", fmt(result.iterations)),
            "   ",
            key_value("evaluations", evaluations or "—"),
        )
    )
    console.print(
        Text.assemble(
            key_value("gradient norm", fmt(result.gradient_norm)),
            "   ",
            key_value("time", fmt_seconds(result.time_s)),
        )
    )


def _print_training(console: Console, training: Any) -> None:
    """Batches, epochs and the final training and validation losses of a stochastic run."""
    console.print()
    batch = fmt(training.batch) if training.batch else "—"
    console.print(Text.assemble(key_value("batch", batch), "   ",
                                key_value("epochs", fmt(training.epochs)), "   ",
                                key_value("train loss", fmt(training.train_loss))))
    if training.validation_loss is not None:
        console.print(Text.assemble(
            key_value("validation loss", fmt(training.validation_loss)), "   ",
            key_value("best epoch", fmt(training.best_epoch)), "   ",
            key_value("validation rows", fmt(training.validation_rows))))


def _objective_line(objective: Any) -> Text:
    sense = getattr(objective, "sense", None)
    name = getattr(objective, "name", None) or "objective"
    line = Text.assemble(("objective", "bold"), " ", (name, "bold cyan"), " = ")
    line.append(fmt(objective.value), style="bold")
    if sense:
        line.append(f"  ({sense})", style="dim")
    return line


def _print_params(console: Console, params: Mapping, start: Mapping | None) -> None:
    if not params:
        return
    headers = ("parameter", "start", "final") if start else ("parameter", "value")
    table = plain_table(*headers)
    for name, value in params.items():
        rows = elements(name, value)
        starts = dict(elements(name, start[name])) if start and name in start else {}
        shown, hidden = capped(rows)
        for label, final in shown:
            cells = [fmt(starts.get(label)), fmt(final)] if start else [fmt(final)]
            table.add_row(Text(label), *cells)
        more_row(table, hidden)
    console.print()
    console.print(table)


def _print_values(console: Console, heading: str, values: Mapping | None) -> None:
    if not values:
        return
    table = plain_table(heading, "value", wrap_values=True)
    for name, value in values.items():
        array = np.asarray(value, dtype=float)
        if array.size > SUMMARIZED_LET_SIZE:
            # a long derived vector (per-row predictions, say): one summary row
            table.add_row(Text(name, no_wrap=True), _summary(array))
            continue
        shown, hidden = capped(elements(name, value))
        for label, number in shown:
            table.add_row(Text(label), fmt(number))
        more_row(table, hidden)
    console.print()
    console.print(table)


# Lets with more elements than this are summarized in one row (all in --json).
SUMMARIZED_LET_SIZE = 8


def _summary(array: np.ndarray) -> str:
    flat = array.ravel()
    head = ", ".join(f"{v:.4g}" for v in flat[:3])
    shape = "×".join(map(str, array.shape))
    return f"{shape}: {head}, …, {flat[-1]:.4g} (min {flat.min():.4g}, max {flat.max():.4g})"


def _print_constraints(console: Console, constraints: Iterable | None) -> None:
    constraints = list(constraints or ())
    if not constraints:
        return
    table = plain_table("constraint", "value", "violation")
    shown, hidden = capped(constraints)
    for c in shown:
        style = "red" if c.violation not in (None, 0, 0.0) else None
        table.add_row(Text(str(c.name)), fmt(c.value), Text(fmt(c.violation), style))
    more_row(table, hidden)
    console.print()
    console.print(table)


# -------------------------------------------------------------- eval, grad


@encodable
def print_eval(console: Console, result: Any, quiet: bool = False) -> None:
    """``diffopt eval``: the objective, the parameters, every let and constraint.

    ``quiet``: the objective line only.
    """
    console.print(_objective_line(result.objective))
    if quiet:
        return
    _print_params(console, result.params, None)
    _print_values(console, "let", result.lets)
    _print_constraints(console, getattr(result, "constraints", None))


@encodable
def print_grad(console: Console, result: Any, quiet: bool = False) -> None:
    """``diffopt grad``: the objective, the gradient per element and, if measured, timing.

    ``quiet``: the gradient table alone.
    """
    if not quiet:
        console.print(
            Text.assemble(_objective_line(result.objective), (f"  {result.mode} mode", "dim"))
        )
    if result.gradient:
        table = plain_table("parameter", "gradient")
        for name, value in result.gradient.items():
            shown, hidden = capped(elements(name, value))
            for label, number in shown:
                table.add_row(Text(label), fmt(number))
            more_row(table, hidden)
        if not quiet:
            console.print()
        console.print(table)
    timing = getattr(result, "timing", None)
    if timing:
        value_s, gradient_s = timing.get("value_s"), timing.get("gradient_s")
        line = Text.assemble(
            ("time per evaluation", "bold"),
            f"  value {fmt_seconds(value_s)}, gradient {fmt_seconds(gradient_s)}",
        )
        if value_s and gradient_s and np.isfinite(value_s) and np.isfinite(gradient_s):
            line.append(f"  ({gradient_s / value_s:.3g}× the value)", style="dim")
        if "forward_s" in timing and "reverse_s" in timing:  # --mode auto timed both
            line.append(f"  forward {fmt_seconds(timing['forward_s'])}, "
                        f"reverse {fmt_seconds(timing['reverse_s'])}", style="dim")
        console.print(line)


# ------------------------------------------------------------------- check


@encodable
def print_check(console: Console, result: Any, quiet: bool = False) -> None:
    """``diffopt check``: per point, forward vs reverse vs finite differences.

    One table per point (entry, forward, reverse, numeric, abs err, rel err,
    ok), then the Taylor-remainder verdict and any notes (e.g. a branch that
    flipped inside the finite-difference step), then the overall verdict.
    ``quiet``: the overall verdict only.
    """
    points = list(result.points)
    failed = sum(1 for point in points for e in point.entries if not e.ok)
    total = sum(len(point.entries) for point in points)
    for number, point in enumerate([] if quiet else points, start=1):
        if number > 1:
            console.print()
        console.print(_point_heading(number, len(points), point.at))
        console.print(_check_table(console, list(point.entries)))
        taylor = getattr(point, "taylor", None)
        if taylor:
            console.print(_taylor_line(console, taylor))
        for note in getattr(point, "notes", None) or ():
            console.print(Text.assemble(("note:", "bold cyan"), " ", str(note)))
    if result.passed and failed:
        # passed on the Taylor rule: the FD step, not the gradient, was off
        verdict = Text.assemble(
            ("passed", "bold green"),
            f": forward and reverse agree and the Taylor test confirms the gradient "
            f"({failed} of {total} entries outside the finite-difference tolerance)",
        )
    elif result.passed:
        verdict = Text.assemble(("passed", "bold green"), f": all {total} entries agree")
    elif any(getattr(point, "staircase", None) for point in result.points):
        verdict = Text.assemble(("FAILED", "bold red"), ": the objective is a staircase the "
                                "derivative does not see (see the note)")
    else:
        verdict = Text.assemble(("FAILED", "bold red"), f": {failed} of {total} entries disagree")
    console.print(verdict)


def _point_heading(number: int, count: int, at: Mapping | None) -> Text:
    values = ", ".join(f"{name} = {_compact(value)}" for name, value in (at or {}).items())
    heading = Text(f"point {number} of {count}", style="bold")
    if values:
        heading.append(f": {values}")
    return heading


def _compact(value: Any, limit: int = 6) -> str:
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return fmt(array.item())
    flat = [fmt(v) for v in array.ravel()[:limit]]
    more = ", …" if array.size > limit else ""
    shape = "" if array.ndim == 1 else f" (shape {'×'.join(map(str, array.shape))})"
    return f"[{', '.join(flat)}{more}]{shape}"


def _check_table(console: Console, entries: list) -> Table:
    table = plain_table("entry", "forward", "reverse", "numeric", "abs err", "rel err", "ok")
    rows = list(_check_rows(entries))
    for entry in rows:
        index = f"[{', '.join(map(str, entry.index))}]" if entry.index else ""
        table.add_row(
            Text(f"{entry.param}{index}"),
            fmt(entry.forward),
            fmt(entry.reverse),
            fmt(entry.numeric),
            _short(entry.abs_error),
            _short(entry.rel_error),
            tick(console, entry.ok),
        )
    more_row(table, len(entries) - len(rows))
    return table


def _check_rows(entries: list) -> Iterator:
    """Every failing entry, then passing ones, up to MAX_CHECK_ROWS, in original order."""
    if len(entries) <= MAX_CHECK_ROWS:
        yield from entries
        return
    failing = sum(1 for e in entries if not e.ok)
    room = max(MAX_CHECK_ROWS - failing, 0)
    for e in entries:
        if not e.ok:
            yield e
        elif room:
            room -= 1
            yield e


def _short(x: Any) -> str:
    """Errors need few digits: 3 significant ones."""
    if x is None:
        return "—"
    return format(float(x), ".3g")


def _taylor_line(console: Console, taylor: Mapping) -> Text:
    """The Taylor-remainder verdict: the fitted order of the remainder (2 expected).

    The sweep itself (steps and remainders) is in ``--json``.
    """
    line = Text.assemble(("Taylor remainder", "bold"), " ")
    line.append_text(tick(console, bool(taylor.get("ok"))))
    order = taylor.get("order")
    if order is None or order != order:
        line.append(" at rounding level along the test direction (the objective is linear there)")
    else:
        steps = taylor.get("steps") or []
        span = f" over h = {fmt(min(steps))} … {fmt(max(steps))}" if steps else ""
        line.append(f" decays with order {order:.2f}{span} (2 for a correct gradient)")
    return line
