"""Drawing plot data with matplotlib (the optional ``plot`` extra) into a file.

``require`` checks that matplotlib can be imported (a one-line UsageError
naming the extra if not) and ``save`` draws one or more plot data objects
(``diffopt.plot.data`` / ``curves``) side by side and writes PNG, SVG or
PDF by the file's extension. Only matplotlib's object-oriented API is used
(``matplotlib.figure.Figure``; no pyplot, no global state). The solver's
path is drawn with the SVG id ``solver-path``, the fit's model line with
``model-line``, so that a reader of the SVG can find them.
"""

from __future__ import annotations

import os

import numpy as np

from diffopt.errors import UsageError

FORMATS = (".png", ".svg", ".pdf")
INSTALL = "pip install 'diffopt-cli[plot]'"
DPI = 120
OUTSIDE = {"facecolor": "none", "edgecolor": "white", "hatch": "\\\\", "linewidth": 0,
           "alpha": 0.6}
CONSTRAINT_COLOURS = ("tab:orange", "magenta", "cyan", "white")
METHOD_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def check_output(path: str, flag: str = "-o") -> None:
    """Refuse an extension that is not PNG, SVG or PDF, before anything is computed."""
    extension = os.path.splitext(path)[1].lower()
    if extension not in FORMATS:
        raise UsageError(f"{flag} {path}: the picture's format is chosen by its extension; "
                         f"use .png, .svg or .pdf")


def require() -> None:
    """A one-line error naming the extra when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(f"writing a picture needs matplotlib: {INSTALL}") from None


def save(plots: list, path: str, title: str = "") -> None:
    """Draw each plot in its own panel (side by side) and write the file."""
    require()
    from matplotlib import rc_context

    # every vertex kept (no path simplification): the path shows each iterate
    with rc_context({"path.simplify": False}):
        _save(plots, path, title)


def _save(plots: list, path: str, title: str) -> None:
    from matplotlib.figure import Figure

    widths = [_width(p) for p in plots]
    fig = Figure(figsize=(sum(widths), 5.0), dpi=DPI, layout="constrained")
    if title:
        fig.suptitle(title)
    cells = fig.subfigures(1, len(plots), width_ratios=widths) if len(plots) > 1 else [fig]
    for cell, plot in zip(np.ravel(cells), plots):
        DRAW[type(plot).__name__](cell, plot)
    try:
        fig.savefig(path, metadata=_metadata(path))
    except OSError as exc:
        raise UsageError(f"-o {path}: {exc.strerror or exc}") from None


def _metadata(path: str) -> dict:
    # reproducible files: no creation date in SVG/PDF (the README picture is committed)
    extension = os.path.splitext(path)[1].lower()
    return {".svg": {"Date": None}, ".pdf": {"CreationDate": None}}.get(extension, {})


def _width(plot) -> float:
    name = type(plot).__name__
    if name == "Slice":
        return max(5.6, 3.2 * min(len(plot.labels), 3) + 0.8)
    return 6.4 if name == "Landscape" else 6.0


# ---------------------------------------------------------------- landscape


def _landscape(fig, data) -> None:
    from matplotlib.colors import LogNorm
    from matplotlib.patheffects import withStroke
    from matplotlib.ticker import LogFormatterSciNotation, NullFormatter

    ax = fig.subplots()
    values = np.ma.masked_invalid(data.values)
    if data.log_scale:
        # whole decades, 4 levels each, ticked at each decade
        low = int(np.floor(np.log10(values.min())))
        high = max(int(np.ceil(np.log10(values.max()))), low + 1)
        levels = np.logspace(low, high, 4 * (high - low) + 1)
        filled = ax.contourf(data.xs, data.ys, values, levels=levels,
                             norm=LogNorm(10.0 ** low, 10.0 ** high), cmap="viridis")
    else:
        filled = ax.contourf(data.xs, data.ys, values, levels=24, cmap="viridis")
    ax.contour(filled, colors="white", linewidths=0.3, alpha=0.5)
    bar = fig.colorbar(filled, ax=ax)
    if data.log_scale:
        step = max(1, (high - low) // 8)
        bar.set_ticks(10.0 ** np.arange(low, high + 1, step))
        bar.ax.yaxis.set_major_formatter(LogFormatterSciNotation())
        bar.ax.yaxis.set_minor_formatter(NullFormatter())
    bar.set_label(data.objective + (" (log scale)" if data.log_scale else ""))
    for i, (name, kind, grid) in enumerate(data.constraints):
        colour = CONSTRAINT_COLOURS[i % len(CONSTRAINT_COLOURS)]
        style = "solid" if kind == "eq" else "dashed"
        if np.nanmin(grid) < 0 < np.nanmax(grid):
            ax.contour(data.xs, data.ys, grid, levels=[0.0], colors=colour, linewidths=1.6,
                       linestyles=style)
        if kind != "eq" and np.nanmax(grid) > 0:  # the side where it is violated, hatched
            ax.contourf(data.xs, data.ys, np.ma.masked_invalid(grid), levels=[0.0, np.inf],
                        colors="none", hatches=["//"])
        ax.plot([], [], color=colour, linestyle=style,
                label=f"constraint {name}" + ("" if kind == "eq" else " (hatched: violated)")
                if i < 4 else None)
    # white dots on a black stroke: visible on every colour and in the legend
    bound_style = {"color": "white", "linestyle": ":", "linewidth": 1.4,
                   "path_effects": [withStroke(linewidth=3, foreground="black")]}
    for axis, line, span, (low, high) in (
            ("x", ax.axvline, ax.axvspan, (data.xs[0], data.xs[-1])),
            ("y", ax.axhline, ax.axhspan, (data.ys[0], data.ys[-1]))):
        for side, value in data.bounds[axis].items():
            line(value, **bound_style)
            # the side outside the bounds, hatched
            span(*((low, value) if side == "lower" else (value, high)), **OUTSIDE)
    if data.bounds["x"] or data.bounds["y"]:
        ax.plot([], [], label="bound (hatched: outside)", **bound_style)
    path = data.path
    (line,) = ax.plot(path[:, 0], path[:, 1], "-o", color="tab:red", markersize=3.5,
                      markeredgecolor="white", markeredgewidth=0.5, linewidth=1.2,
                      label=f"{data.run.method} path ({len(path) - 1} iterations)")
    line.set_gid("solver-path")
    ax.plot(*data.start, "s", color="white", markeredgecolor="black", markersize=8,
            label="start", zorder=5)
    # a solve that stopped short ends at its best point, not at an optimum
    end = "optimum" if data.run.status == "converged" else f"final point ({data.run.status})"
    ax.plot(*data.optimum, "*", color="gold", markeredgecolor="black", markersize=14,
            label=end, zorder=6)
    for text, point in (("start", data.start), (end.split(" (")[0], data.optimum)):
        _label_inward(ax, text, point, data)
    ax.set_xlim(data.xs[0], data.xs[-1])
    ax.set_ylim(data.ys[0], data.ys[-1])
    ax.set_xlabel(data.labels[0])
    ax.set_ylabel(data.labels[1])
    held = ", ".join(f"{k} = {v:.4g}" for k, v in list(data.held.items())[:3])
    more = ", ..." if len(data.held) > 3 else ""
    ax.set_title(f"{data.objective} over ({data.labels[0]}, {data.labels[1]})"
                 + (f"\nheld at {held}{more}" if held else ""), fontsize=11)
    ax.legend(loc="best", fontsize=8, framealpha=0.8)


def _label_inward(ax, text: str, point, data) -> None:
    """A label beside a point, on the side facing the box's centre (never cut off)."""
    right = point[0] > (data.xs[0] + data.xs[-1]) / 2
    above = point[1] < (data.ys[0] + data.ys[-1]) / 2
    ax.annotate(text, point, textcoords="offset points", xytext=(-9 if right else 9,
                7 if above else -9), ha="right" if right else "left",
                va="bottom" if above else "top", color="white", fontweight="bold",
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "black", "alpha": 0.35,
                      "linewidth": 0})


# ---------------------------------------------------------------- trace


def _trace(fig, data) -> None:
    from matplotlib.ticker import MaxNLocator

    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    for colour, run in zip(METHOD_COLOURS * 4, data.runs):
        label = f"{run.method} ({run.status}, {len(run.iterations) - 1} it.)"
        top.plot(run.iterations, run.objectives, "-", color=colour, label=label,
                 marker="o" if len(run.iterations) <= 60 else None, markersize=3)
        norms = np.where(run.gradient_norms > 0, run.gradient_norms, np.nan)
        if np.any(np.isfinite(norms)):
            bottom.plot(run.iterations, norms, "-", color=colour, label=run.method)
    if data.log_scale:
        top.set_yscale("log")
    bottom.set_yscale("log")
    top.set_ylabel(data.objective + (" (log scale)" if data.log_scale else ""))
    bottom.set_ylabel("gradient norm (max |g_i|)")
    bottom.set_xlabel("iteration")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    top.set_title(f"{os.path.basename(data.problem)}: {data.objective} per iteration",
                  fontsize=11)
    top.legend(loc="best", fontsize=8)
    for ax in (top, bottom):
        ax.grid(True, which="major", alpha=0.3)


# ---------------------------------------------------------------- fit


def _fit(fig, data) -> None:
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    top.plot(data.x, data.observed, "o", color="tab:blue", markersize=3.5, alpha=0.7,
             label=f"data {data.y_name} ({data.stats['residuals']} points)")
    shown = [f"{k} = {v:.4g} ± {e:.2g}" for k, (v, e) in list(data.params.items())[:6]]
    stats = "\n".join(", ".join(shown[i: i + 2]) for i in range(0, len(shown), 2))
    r_squared = data.stats.get("r_squared", float("nan"))
    label = f"model\n{stats}\nRMSE {data.stats['rmse']:.4g}, dof {data.stats['dof']}" + \
        (f", R² {r_squared:.4f}" if r_squared == r_squared else "")
    if data.as_line:  # through the model's values at the data (marked when few)
        (line,) = top.plot(data.x, data.model, "-", color="tab:red", linewidth=2, label=label,
                           marker="." if len(data.x) <= 60 else None)
    else:
        (line,) = top.plot(data.x, data.model, "x", color="tab:red", markersize=4, label=label)
    line.set_gid("model-line")
    top.set_ylabel(data.y_name)
    top.legend(loc="best", fontsize=8)
    top.set_title(f"fit of {data.y_name} against {data.x_name}", fontsize=11)
    bottom.axhline(0.0, color="black", linewidth=0.8)
    bottom.plot(data.x, data.residuals, "o", color="tab:blue", markersize=3, alpha=0.7)
    bottom.set_ylabel("residual\n(model - data)")
    bottom.set_xlabel(data.x_name)
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)


# ---------------------------------------------------------------- slice


def _slice(fig, data) -> None:
    count = len(data.labels)
    columns = min(count, 3)
    rows = -(-count // columns)
    axes = np.ravel(fig.subplots(rows, columns, squeeze=False))
    for k, ax in enumerate(axes):
        if k >= count:
            ax.set_visible(False)
            continue
        ax.plot(data.ts[k], data.values[k], "-", color="tab:blue", label=data.objective)
        ax.plot(data.ts[k], data.quadratic[k], "--", color="tab:orange",
                label="quadratic model (Hessian)")
        ax.axvline(data.centers[k], color="gray", linewidth=0.8, linestyle=":")
        finite = data.values[k][np.isfinite(data.values[k])]
        if finite.size:  # the model may shoot far off: keep the objective in view
            low, high = finite.min(), finite.max()
            pad = 0.1 * (high - low) if high > low else max(1.0, abs(high)) * 0.1
            ax.set_ylim(low - pad, high + pad)
        ax.set_xlabel(data.labels[k])
        ax.set_title(f"curvature d²{data.objective}/d{data.labels[k]}² = "
                     f"{data.curvature[k]:.3g}", fontsize=9)
        ax.grid(True, alpha=0.3)
        if k % columns == 0:
            ax.set_ylabel(data.objective)
    axes[0].legend(loc="best", fontsize=8)
    note = f" ({data.omitted} more not shown)" if data.omitted else ""
    fig.suptitle(f"{data.objective} along each parameter through the optimum{note}",
                 fontsize=11)


DRAW = {"Landscape": _landscape, "Trace": _trace, "Fit": _fit, "Slice": _slice}
