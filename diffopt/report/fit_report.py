"""The fit section of ``diffopt solve``'s report, for a least-squares objective.

Owns how a fit's statistics read in the terminal, at lmfit's level: χ²,
reduced χ², degrees of freedom, AIC, BIC and R²; a table of each
parameter's value, standard error, relative error and confidence interval;
the correlation matrix with |ρ| > 0.9 flagged; and the notes that say why a
statistic is missing (no degrees of freedom, parameters the data do not
determine, surrogate derivatives). Renders plain result objects (duck-typed
on ``diffopt.results.FitReport``); computes nothing beyond formatting.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from rich.console import Console
from rich.text import Text

from diffopt.report.formatting import capped, elements, fmt, more_row, plain_table

MAX_CORRELATION = 12  # names in the printed correlation matrix
STRONG = 0.9  # |ρ| above this is flagged (as in diffopt.solve.statistics)


def print_fit(console: Console, fit, params: Mapping) -> None:
    """The fit section: goodness of fit, the parameter table, correlations, notes."""
    console.print()
    weighted = " (residuals weighted by option sigma)" if fit.absolute_sigma else ""
    console.print(Text.assemble(
        ("fit", "bold"),
        f"  {fmt(fit.residuals)} residuals, {fmt(fit.dof)} degrees of freedom{weighted}"))
    for line in _goodness_lines(fit):
        console.print(line)
    if fit.applies and fit.stderr:
        _print_parameters(console, fit, params)
        names, matrix = list(fit.labels), fit.correlation
        if matrix is not None and len(names) > 1:
            _print_correlation(console, names, np.asarray(matrix, dtype=float))
        for a, b, rho in fit.strong_correlations[:MAX_CORRELATION]:
            console.print(Text(f"  strongly correlated: {a} and {b} (ρ = {rho:+.3f})",
                               style="yellow"))
    intervals = fit.intervals
    for note in (*fit.notes, *(intervals.notes if intervals is not None else ())):
        console.print(Text.assemble(("  note: ", "bold cyan"), str(note)))


def _goodness_lines(fit) -> list[Text]:
    criteria = [("AIC", fit.aic), ("BIC", fit.bic)]
    if fit.r_squared is not None:
        criteria.append(("R²", fit.r_squared))
    return [_facts([("χ²", fit.chi2), ("reduced χ²", fit.reduced_chi2)]), _facts(criteria)]


def _facts(facts: list) -> Text:
    line = Text("  ")
    for i, (name, value) in enumerate(facts):
        if i:
            line.append("   ")
        line.append(f"{name} = ")
        line.append(fmt(value) if value is not None else "undefined", style="bold")
    return line


def _print_parameters(console: Console, fit, params: Mapping) -> None:
    intervals = fit.intervals
    heading = ()
    bounds = {}
    if intervals is not None:
        heading = (f"{100 * intervals.confidence:.4g}% interval",)
        labels = list(fit.labels)
        bounds = {label: (intervals.lower[i], intervals.upper[i])
                  for i, label in enumerate(labels)}
    table = plain_table("parameter", "value", "std. error", "relative", *heading)
    for name, err in fit.stderr.items():
        values = dict(elements(name, params.get(name)))
        relative = dict(elements(name, fit.relative_error.get(name)))
        shown, hidden = capped(elements(name, err))
        for label, e in shown:
            cells = [fmt(values.get(label)), _error(e), _percent(relative.get(label))]
            if heading:
                lo, hi = bounds.get(label, (None, None))
                cells.append(_interval(lo, hi))
            table.add_row(Text(label), *cells)
        more_row(table, hidden)
    console.print(table)
    if intervals is not None:
        z = intervals.delta_chi2 ** 0.5
        how = (f"profile likelihood, where χ² has risen by {intervals.delta_chi2:.4g}"
               if intervals.method == "profile" else f"asymptotic, value ± {z:.4g} × std. error")
        console.print(Text(f"  intervals: {how}", style="dim"))


def _error(e) -> str:
    if e is not None and np.isinf(e):
        return "not identifiable"
    return fmt(e)


def _percent(r) -> str:
    if r is None or not np.isfinite(r):
        return "—"
    return f"{100 * r:.3g}%"


def _interval(lo, hi) -> str:
    if lo is None or not (np.isfinite(lo) or np.isinf(lo)) or np.isnan(hi):
        return "—"
    return f"[{_bound(lo)}, {_bound(hi)}]"


def _bound(v) -> str:
    return format(float(v), ".6g") if np.isfinite(v) else ("-inf" if v < 0 else "inf")


def _print_correlation(console: Console, names: list[str], matrix: np.ndarray) -> None:
    shown = names[:MAX_CORRELATION]
    table = plain_table("correlation", *shown)
    for i, name in enumerate(shown):
        cells = [_correlation_cell(matrix[i, j], i == j) for j in range(len(shown))]
        table.add_row(Text(name), *cells)
    console.print(table)
    if len(names) > len(shown):
        console.print(Text(f"  … {len(names) - len(shown)} more parameters (see --json)"))


def _correlation_cell(r: float, diagonal: bool) -> Text:
    if not np.isfinite(r):
        return Text("—", style="dim")
    strong = not diagonal and abs(r) > STRONG
    text = f"{r:+.3f}" + ("*" if strong else "")
    return Text(text, style="dim" if diagonal else ("bold yellow" if strong else None))
