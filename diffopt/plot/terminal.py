"""Plot data drawn as text for a terminal (no extra installed): ``render``.

Every kind becomes Rich ``Text`` lines at most 80 columns wide (see
``diffopt.plot.canvas``), coloured on a colour terminal and readable
without colours:

* landscape: one shading character per cell, lowest to highest
  ``SHADES`` (blank is the lowest tenth), the path's iterates ``o``, the
  start ``S``, the optimum ``X``, finite bounds ``┊`` and ``┄`` lines;
* trace: objective (log10 when it spans decades) and gradient norm against
  iteration in braille, one colour and one letter (a, b, ...) per method;
* fit: up to ``FEW_POINTS`` data as ``o`` on the model's braille line;
  more data as braille dots under the model drawn as ``*`` (one per
  column); residuals in a panel below with the zero line;
* slice: one small panel per entry, the objective in braille and the
  quadratic model as ``·``, the optimum's column marked ``|`` on the axis.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text

from diffopt.plot.canvas import (
    PLOT_COLUMNS,
    WIDTH,
    Canvas,
    finite_limits,
    framed,
    log10_or_nan,
    log_tick,
    tick,
)

SHADES = " .:-=+*#%@"
# on a colour terminal each shade also takes a colour of the viridis map (as -o draws it)
SHADE_COLOURS = ("#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779",
                 "#6ece58", "#b5de2b", "#fde725")
COLOURS = ("cyan", "yellow", "green", "magenta", "red", "blue")
LETTERS = "abcdefghijklmnopqrstuvwxyz"
FEW_POINTS = 60  # a fit with at most this many rows draws each datum as "o"


def render(data) -> list[Text]:
    return RENDER[type(data).__name__](data)


def _legend(*items: tuple[str, str | None]) -> Text:
    line = Text()
    for text, style in items:
        if line.plain and len(line.plain) + len(text) + 3 > WIDTH:
            break
        if line.plain:
            line.append("   ")
        line.append(text, style or "")
    return line


# ---------------------------------------------------------------- landscape


def _landscape(data) -> list[Text]:
    rows = 22
    canvas = Canvas(PLOT_COLUMNS, rows, (data.xs[0], data.xs[-1]), (data.ys[0], data.ys[-1]))
    values = log10_or_nan(data.values) if data.log_scale else np.asarray(data.values, float)
    low, high = finite_limits(values)
    span = high - low if high > low else 1.0
    n_y, n_x = values.shape
    for r in range(rows):
        j = round((rows - 1 - r) / (rows - 1) * (n_y - 1))
        for c in range(PLOT_COLUMNS):
            i = round(c / (PLOT_COLUMNS - 1) * (n_x - 1))
            v = values[j, i]
            level = len(SHADES) - 1 if not np.isfinite(v) else \
                min(int((v - low) / span * len(SHADES)), len(SHADES) - 1)
            canvas.put(r, c, SHADES[level], SHADE_COLOURS[level])
    for value in data.bounds["x"].values():
        for r in range(rows):
            canvas.mark(value, data.ys[0] + (data.ys[-1] - data.ys[0]) * r / (rows - 1), "┊",
                        "bold")
    for value in data.bounds["y"].values():
        for c in range(PLOT_COLUMNS):
            canvas.mark(data.xs[0] + (data.xs[-1] - data.xs[0]) * c / (PLOT_COLUMNS - 1),
                        value, "┄", "bold")
    for x, y in data.path:
        canvas.mark(x, y, "o", "bold red")
    canvas.mark(*data.start, "S", "bold white")
    canvas.mark(*data.optimum, "X", "bold yellow")
    scale = " (log10)" if data.log_scale else ""
    title = f"{data.objective} over ({data.labels[0]}, {data.labels[1]}){scale}"
    lines = framed(canvas, title=title, xlabel=data.labels[0], ylabel=data.labels[1])
    shades = f"shades {SHADES[1:]!r} from {_value(low, data.log_scale)} " \
             f"to {_value(high, data.log_scale)}"
    end = "X optimum" if data.run.status == "converged" else f"X final ({data.run.status})"
    lines.append(_legend(("S start", "bold white"), (end, "bold yellow"),
                         (f"o {data.run.method} path, {len(data.path) - 1} iterations",
                          "bold red")))
    bounds = [("┊┄ bounds", "bold")] if data.bounds["x"] or data.bounds["y"] else []
    lines.append(_legend((shades, "dim"), *bounds))
    if data.held:
        held = ", ".join(f"{k} = {v:.4g}" for k, v in data.held.items())
        lines.append(Text(f"others held at {held}"[:WIDTH], "dim"))
    return lines


def _value(v: float, log_scale: bool) -> str:
    return log_tick(v) if log_scale else tick(v)


# ---------------------------------------------------------------- trace


def _trace(data) -> list[Text]:
    runs = data.runs
    last = max(int(r.iterations[-1]) if len(r.iterations) else 0 for r in runs)
    ys = [log10_or_nan(r.objectives) if data.log_scale else r.objectives for r in runs]
    top = Canvas(PLOT_COLUMNS, 14, (0, max(last, 1)), finite_limits(*ys))
    norms = [log10_or_nan(r.gradient_norms) for r in runs]
    bottom = Canvas(PLOT_COLUMNS, 7, (0, max(last, 1)), finite_limits(*norms))
    legend = []
    for k, (run, y, g) in enumerate(zip(runs, ys, norms)):
        colour, letter = COLOURS[k % len(COLOURS)], LETTERS[k % len(LETTERS)]
        top.line(run.iterations, y, colour)
        bottom.line(run.iterations, g, colour)
        if len(runs) > 1:  # letters tell the methods apart without colours
            for index in np.linspace(0, len(y) - 1, min(len(y), 4)).round().astype(int)[1:]:
                top.mark(run.iterations[index], y[index], letter, f"bold {colour}")
        legend.append((f"{letter if len(runs) > 1 else '─'} {run.method} "
                       f"({run.status}, {len(run.iterations) - 1} it.)", colour))
    y_format = log_tick if data.log_scale else tick
    scale = " (log scale)" if data.log_scale else ""
    lines = framed(top, title=f"{data.problem}: {data.objective} per iteration",
                   ylabel=data.objective + scale, y_format=y_format, xticks=False)
    lines += framed(bottom, ylabel="gradient norm (log scale)", xlabel="iteration",
                    y_format=log_tick)
    lines.append(_legend(*legend))
    return lines


# ---------------------------------------------------------------- fit


def _fit(data) -> list[Text]:
    xlim = finite_limits(data.x)
    top = Canvas(PLOT_COLUMNS, 16, xlim, finite_limits(data.observed, data.model))
    few = len(data.x) <= FEW_POINTS  # few data: each an "o"; many: braille dots
    if few:
        if data.as_line:
            top.line(data.x, data.model, "bold red")
        for x, y in zip(data.x, data.observed):
            top.mark(x, y, "o", "cyan")
    else:
        for x, y in zip(data.x, data.observed):
            top.dot(x, y, "cyan")
    if data.as_line and not few:
        columns = np.linspace(top.x0, top.x1, PLOT_COLUMNS)
        inside = (columns >= data.x[0]) & (columns <= data.x[-1])
        for x, y in zip(columns[inside], np.interp(columns[inside], data.x, data.model)):
            top.mark(x, y, "*", "bold red")
    elif not data.as_line:
        for x, y in zip(data.x, data.model):
            top.mark(x, y, "*", "bold red")
    low, high = finite_limits(data.residuals)
    reach = max(abs(low), abs(high), 1e-300)
    bottom = Canvas(PLOT_COLUMNS, 6, xlim, (-reach, reach))
    for x in np.linspace(bottom.x0, bottom.x1, PLOT_COLUMNS):
        bottom.mark(x, 0.0, "-", "dim")
    for x, r in zip(data.x, data.residuals):
        bottom.dot(x, r, "cyan")
    stats = ", ".join(f"{k} = {v:.4g} ± {e:.2g}" for k, (v, e) in data.params.items())
    lines = framed(top, title=f"fit of {data.y_name} against {data.x_name}",
                   ylabel=data.y_name, xticks=False)
    lines += framed(bottom, ylabel="residual (model - data)", xlabel=data.x_name)
    lines.append(_legend(("o data" if few else "⠂ data", "cyan"),
                         ("⠒ model" if few and data.as_line else "* model", "bold red"),
                         (f"RMSE {data.stats['rmse']:.4g}, dof {data.stats['dof']}", None)))
    lines.append(Text(stats[:WIDTH], "dim"))
    return lines


# ---------------------------------------------------------------- slice


def _slice(data) -> list[Text]:
    lines = [Text(f"{data.objective} along each parameter through the optimum"[:WIDTH], "bold")]
    for k, label in enumerate(data.labels):
        t, values, model = data.ts[k], data.values[k], data.quadratic[k]
        canvas = Canvas(PLOT_COLUMNS, 6, (t[0], t[-1]), finite_limits(values))
        canvas.line(t, values, "cyan")
        columns = np.linspace(canvas.x0, canvas.x1, PLOT_COLUMNS)
        for x, y in zip(columns, np.interp(columns, t, model)):
            if canvas.y0 <= y <= canvas.y1:
                canvas.mark(x, y, "·", "yellow")
        lines += framed(canvas, xlabel=f"{label} (optimum {data.centers[k]:.4g}, "
                        f"H = {data.curvature[k]:.3g})")
    lines.append(_legend((f"⠒ {data.objective}", "cyan"), ("· quadratic model", "yellow")))
    if data.omitted:
        lines.append(Text(f"{data.omitted} more entries not shown (choose with --params)",
                          "dim"))
    return lines


RENDER = {"Landscape": _landscape, "Trace": _trace, "Fit": _fit, "Slice": _slice}
