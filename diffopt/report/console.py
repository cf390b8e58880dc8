"""Human-readable output: Rich tables for results and a live progress line.

This module owns what ``diffopt solve|eval|grad|check`` print without
``--json``. Renderers take plain result objects (duck-typed on the attribute
names of ``diffopt.results``) and a ``rich.console.Console``; they format and
print, and compute nothing beyond formatting. It must not import the parser,
the engine or the solvers, and it is imported only by CLI commands.

Colour and animation are left to Rich: a ``Console`` whose file is not a
terminal writes no ANSI codes, and ``ProgressDisplay`` draws nothing there.
Nothing here forces a terminal. User-supplied names are always wrapped in
``Text`` so that brackets in them are never read as Rich markup.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

MAX_ELEMENTS = 40  # rows shown per vector before "… N more (see --json)"
MAX_CHECK_ROWS = 60  # gradient-check rows per point; failing rows are always shown
MAX_CORRELATION = 12  # names in the printed correlation matrix
REFRESH_PER_SECOND = 8  # progress redraws per second (at most 10, per the contract)

_STATUS_STYLE = {
    "converged": "bold green",
    "max_iter": "bold yellow",
    "failed": "bold red",
    "interrupted": "bold yellow",
}
_STATUS_TEXT = {
    "converged": "converged",
    "max_iter": "stopped at the iteration limit",
    "failed": "failed",
    "interrupted": "interrupted; showing the best point so far",
}


# ------------------------------------------------------------ number format


def fmt(x: Any) -> str:
    """A number for people: 10 significant digits, nan/inf spelled out, None as "—"."""
    if x is None:
        return "—"
    if isinstance(x, (bool, np.bool_)):
        return "true" if x else "false"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    try:
        return format(float(x), ".10g")
    except (TypeError, ValueError):
        return str(x)


def fmt_seconds(seconds: float | None) -> str:
    """A duration with a unit that keeps 3 significant digits readable (20 µs, 1.5 s)."""
    if seconds is None or not np.isfinite(seconds):
        return fmt(seconds)
    for scale, unit in ((1e6, "µs"), (1e3, "ms")):
        if abs(float(f"{seconds * scale:.3g}")) < 1000:
            return f"{seconds * scale:.3g} {unit}"
    return f"{seconds:.3g} s" if seconds < 100 else f"{seconds:.0f} s"


def elements(name: str, value: Any) -> list[tuple[str, Any]]:
    """(label, number) pairs: ``x`` for a scalar, ``w[0]``, ``W[1, 2]`` for arrays."""
    if value is None:
        return [(name, None)]
    array = np.asarray(value)
    if array.ndim == 0:
        return [(name, array.item())]
    return [
        (f"{name}[{', '.join(map(str, index))}]", array[index].item())
        for index in np.ndindex(array.shape)
    ]


def _capped(rows: list, limit: int = MAX_ELEMENTS) -> tuple[list, int]:
    return (rows, 0) if len(rows) <= limit else (rows[:limit], len(rows) - limit)


def _more_row(table: Table, hidden: int) -> None:
    if hidden:
        table.add_row(Text(f"… {hidden} more (see --json)", style="dim"))


def _unicode(console: Console) -> bool:
    return (console.encoding or "").lower().replace("-", "").startswith("utf")


# Spellings for a console that cannot encode Unicode (PYTHONIOENCODING=ascii, say).
_ASCII = str.maketrans({"—": "-", "…": "...", "χ": "chi", "²": "^2", "µ": "u", "×": "x"})


def _encodable(render: Callable[..., None]) -> Callable[..., None]:
    """Run a renderer; on a non-Unicode console, spell its output in that encoding.

    Rich already draws ASCII boxes there; this replaces our own symbols and,
    as a last resort, any character of a user's name the encoding lacks, so a
    report never dies of UnicodeEncodeError.
    """

    @functools.wraps(render)
    def wrapper(console: Console, result: Any, **options: Any) -> None:
        if _unicode(console):
            render(console, result, **options)
            return
        with console.capture() as captured:
            render(console, result, **options)
        encoding = console.encoding or "ascii"
        text = captured.get().translate(_ASCII)
        console.file.write(text.encode(encoding, "replace").decode(encoding))
        console.file.flush()

    return wrapper


def _tick(console: Console, ok: bool | None) -> Text:
    if ok is None:
        return Text("—")
    if _unicode(console):
        return Text("✓", style="green") if ok else Text("✗", style="bold red")
    return Text("ok", style="green") if ok else Text("FAIL", style="bold red")


def _table(*headers: str, wrap_values: bool = False) -> Table:
    """A plain table; names (first column) never wrap or shrink away.

    ``wrap_values``: long values may wrap onto more lines instead of
    squeezing the name column (one-row summaries of long vectors).
    """
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for i, header in enumerate(headers):
        if i == 0:
            table.add_column(header, justify="left", no_wrap=True)
        else:
            table.add_column(header, justify="right", no_wrap=not wrap_values,
                             overflow="fold")
    return table


def _label(key: str, value: Any, style: str = "bold") -> Text:
    """``key value`` with the key styled; used for one-line facts."""
    return Text.assemble((key, style), " ", value if isinstance(value, Text) else str(value))


# --------------------------------------------------------------- live progress


class ProgressDisplay:
    """A solver callback that redraws one progress line on a terminal.

    Use it as a context manager and pass it as the solver's callback::

        with ProgressDisplay(console, quiet=quiet) as progress:
            result = api.solve(problem, config, callback=progress)

    Each call only stores the latest ``IterationInfo``; Rich's ``Live``
    redraws at most ``REFRESH_PER_SECOND`` times a second from its own thread,
    so a fast solver is not slowed down and a log is never flooded. The line
    is transient: the final report replaces it. When the console is not a
    terminal, or ``quiet`` is set, nothing is drawn at all.
    """

    def __init__(
        self,
        console: Console,
        *,
        quiet: bool = False,
        label: str = "solving",
        enabled: bool | None = None,
    ):
        self.console = console
        self.label = label
        self.enabled = (console.is_terminal and not quiet) if enabled is None else enabled
        self._info: Any = None
        self._live: Any = None

    def __enter__(self) -> ProgressDisplay:
        if self.enabled:
            from rich.live import Live

            self._live = Live(
                self,
                console=self.console,
                refresh_per_second=REFRESH_PER_SECOND,
                transient=True,
            )
            self._live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __call__(self, info: Any) -> None:
        """Record one ``IterationInfo`` (iteration, objective, gradient_norm, step, elapsed)."""
        self._info = info

    def __rich__(self) -> Text:
        info = self._info
        if info is None:
            return Text(f"{self.label} …", style="dim")
        parts: list[tuple[str, Any]] = [
            ("iteration", info.iteration),
            ("objective", info.objective),
            ("|grad|", info.gradient_norm),
            ("step", info.step),
        ]
        violation = getattr(info, "max_violation", 0.0)
        if violation:
            parts.append(("violation", violation))
        line = Text.assemble((f"{self.label}  ", "bold"))
        for key, value in parts:
            line.append_text(Text.assemble((key, "dim"), " ", fmt(value), "  "))
        line.append_text(Text.assemble(("elapsed", "dim"), " ", fmt_seconds(info.elapsed)))
        if not _unicode(self.console):
            line.plain = line.plain.translate(_ASCII)  # "µs" → "us"; the spans are cut to fit
        return line


# ------------------------------------------------------------------- solve


@_encodable
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
        _print_fit(console, result.fit, result.params)
    console.print()
    evaluations = ", ".join(f"{fmt(n)} {kind}" for kind, n in result.evaluations.items())
    console.print(
        Text.assemble(
            _label("iterations", fmt(result.iterations)),
            "   ",
            _label("evaluations", evaluations or "—"),
        )
    )
    console.print(
        Text.assemble(
            _label("gradient norm", fmt(result.gradient_norm)),
            "   ",
            _label("time", fmt_seconds(result.time_s)),
        )
    )


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
    table = _table(*headers)
    for name, value in params.items():
        rows = elements(name, value)
        starts = dict(elements(name, start[name])) if start and name in start else {}
        shown, hidden = _capped(rows)
        for label, final in shown:
            cells = [fmt(starts.get(label)), fmt(final)] if start else [fmt(final)]
            table.add_row(Text(label), *cells)
        _more_row(table, hidden)
    console.print()
    console.print(table)


def _print_values(console: Console, heading: str, values: Mapping | None) -> None:
    if not values:
        return
    table = _table(heading, "value", wrap_values=True)
    for name, value in values.items():
        array = np.asarray(value, dtype=float)
        if array.size > SUMMARIZED_LET_SIZE:
            # a long derived vector (per-row predictions, say): one summary row
            table.add_row(Text(name, no_wrap=True), _summary(array))
            continue
        shown, hidden = _capped(elements(name, value))
        for label, number in shown:
            table.add_row(Text(label), fmt(number))
        _more_row(table, hidden)
    console.print()
    console.print(table)


# Lets with more elements than this are summarized in one row (all in --json).
SUMMARIZED_LET_SIZE = 8


def _summary(array: np.ndarray) -> str:
    flat = array.ravel()
    head = ", ".join(f"{v:.4g}" for v in flat[:3])
    shape = "×".join(map(str, array.shape))
    return f"{shape}: {head}, …, {flat[-1]:.4g} (min {flat.min():.4g}, max {flat.max():.4g})"


def _print_constraints(console: Console, constraints: Iterable[Mapping] | None) -> None:
    constraints = list(constraints or ())
    if not constraints:
        return
    table = _table("constraint", "value", "violation")
    shown, hidden = _capped(constraints)
    for c in shown:
        violation = c.get("violation")
        style = "red" if violation not in (None, 0, 0.0) else None
        table.add_row(Text(str(c.get("name"))), fmt(c.get("value")), Text(fmt(violation), style))
    _more_row(table, hidden)
    console.print()
    console.print(table)


def _print_fit(console: Console, fit: Mapping, params: Mapping) -> None:
    console.print()
    console.print(
        Text.assemble(
            ("fit", "bold"),
            f"  {fmt(fit.get('residuals'))} residuals, {fmt(fit.get('dof'))} degrees of freedom,",
            " reduced χ² = ",
            (fmt(fit.get("reduced_chi2")), "bold"),
        )
    )
    stderr = fit.get("stderr") or {}
    if stderr:
        table = _table("parameter", "value", "std. error")
        for name, err in stderr.items():
            values = dict(elements(name, params.get(name)))
            shown, hidden = _capped(elements(name, err))
            for label, e in shown:
                table.add_row(Text(label), fmt(values.get(label)), fmt(e))
            _more_row(table, hidden)
        console.print(table)
    correlation = fit.get("correlation") or {}
    names = list(correlation.get("names") or ())
    matrix = correlation.get("matrix")
    if names and matrix is not None and len(names) > 1:
        _print_correlation(console, names, np.asarray(matrix, dtype=float))


def _print_correlation(console: Console, names: list[str], matrix: np.ndarray) -> None:
    shown = names[:MAX_CORRELATION]
    table = _table("correlation", *shown)
    for i, name in enumerate(shown):
        cells = [_correlation_cell(matrix[i, j], i == j) for j in range(len(shown))]
        table.add_row(Text(name), *cells)
    console.print(table)
    if len(names) > len(shown):
        console.print(Text(f"  … {len(names) - len(shown)} more parameters (see --json)"))


def _correlation_cell(r: float, diagonal: bool) -> Text:
    text = "nan" if not np.isfinite(r) else f"{r:+.3f}"
    style = "dim" if diagonal else ("bold yellow" if np.isfinite(r) and abs(r) > 0.95 else None)
    return Text(text, style=style)


# -------------------------------------------------------------- eval, grad


@_encodable
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


@_encodable
def print_grad(console: Console, result: Any, quiet: bool = False) -> None:
    """``diffopt grad``: the objective, the gradient per element and, if measured, timing.

    ``quiet``: the gradient table alone.
    """
    if not quiet:
        console.print(
            Text.assemble(_objective_line(result.objective), (f"  {result.mode} mode", "dim"))
        )
    if result.gradient:
        table = _table("parameter", "gradient")
        for name, value in result.gradient.items():
            shown, hidden = _capped(elements(name, value))
            for label, number in shown:
                table.add_row(Text(label), fmt(number))
            _more_row(table, hidden)
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
        console.print(line)


# ------------------------------------------------------------------- check


@_encodable
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
    table = _table("entry", "forward", "reverse", "numeric", "abs err", "rel err", "ok")
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
            _tick(console, entry.ok),
        )
    _more_row(table, len(entries) - len(rows))
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
    line.append_text(_tick(console, bool(taylor.get("ok"))))
    order = taylor.get("order")
    if order is None or order != order:
        line.append(" at rounding level along the test direction (the objective is linear there)")
    else:
        steps = taylor.get("steps") or []
        span = f" over h = {fmt(min(steps))} … {fmt(max(steps))}" if steps else ""
        line.append(f" decays with order {order:.2f}{span} (2 for a correct gradient)")
    return line


def _is_numeric(value: Any) -> bool:
    try:
        np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return False
    return True
