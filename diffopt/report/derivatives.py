"""Human-readable tables of derivative results: sensitivities and Jacobians.

``print_sensitivity`` draws what ``solve --sensitivity`` adds after the solve
report (d objective and d parameters per constant, the multipliers);
``print_jacobian`` draws ``grad --of`` of a vector or matrix let. Renderers
only format (duck-typed on ``diffopt.sensitivity.Sensitivity`` and
``diffopt.jacobian.JacobianResult``); they compute nothing. Long tables are
capped with "… N more (see --json)".
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from diffopt.report.formatting import (
    capped,
    encodable,
    fmt,
    fmt_seconds,
    key_value,
    more_row,
    plain_table,
)

MAX_COLUMNS = 5  # columns of derivatives shown side by side before "see --json"


@encodable
def print_sensitivity(console: Console, result: Any) -> None:
    """Per constant entry: its value, d objective/d c and d x*/d c; then the multipliers."""
    console.print()
    console.print(Text("sensitivity of the optimum", style="bold"))
    labels = list(result.param_labels)
    shown_params = labels[:MAX_COLUMNS] if result.params is not None else []
    headers = ["const", "value", "d objective"] + [f"d {label}" for label in shown_params]
    table = plain_table(*headers)
    rows, hidden = capped(list(range(len(result.wrt))))
    for j in rows:
        cells = [Text(result.wrt[j]), fmt(result.values[j]), fmt(result.objective[j])]
        cells += [fmt(result.params[i, j]) for i in range(len(shown_params))]
        table.add_row(*cells)
    more_row(table, hidden)
    if result.wrt:
        console.print(table)
    elif not result.skipped:
        console.print(Text("  the problem has no consts", style="dim"))
    if result.params is not None and len(labels) > MAX_COLUMNS:
        console.print(Text(f"  … derivatives of {len(labels) - MAX_COLUMNS} more parameters "
                           f"in --json", style="dim"))
    if result.params is None and result.wrt:
        console.print(Text("  the parameters' derivatives do not exist here (singular Hessian)",
                           style="yellow"))
    for name, reason in result.skipped:
        console.print(Text(f"  skipped {name}: {reason}", style="dim"))
    if result.multipliers:
        table = plain_table("constraint", "multiplier")
        shown, hidden = capped(list(result.multipliers.items()))
        for name, value in shown:
            table.add_row(Text(name), fmt(value))
        more_row(table, hidden)
        console.print()
        console.print(table)
    if result.active_bounds:
        console.print(key_value("held at a bound", ", ".join(result.active_bounds)))


@encodable
def print_jacobian(console: Console, result: Any, quiet: bool = False) -> None:
    """The Jacobian of a let: one row per output entry, one column per parameter entry
    (at most MAX_COLUMNS shown, 6 significant digits); a scalar's gradient as a column."""
    rows, columns = list(result.rows), list(result.columns)
    scalar = result.gradient is not None
    if not quiet:
        what = "gradient of " if scalar else "jacobian of "
        shape = "" if scalar else "×".join(map(str, result.matrix.shape)) + ", "
        console.print(Text.assemble((what, "bold"), (result.of, "bold"),
                                    f" = {fmt(result.value)}" if scalar else "",
                                    (f"  {shape}{result.mode} mode", "dim")))
        console.print()
    if scalar:
        table = plain_table("parameter", "gradient")
        shown, hidden = capped(list(range(len(columns))))
        for j in shown:
            table.add_row(Text(columns[j]), fmt(result.matrix[0, j]))
    else:
        shown_columns = columns[:MAX_COLUMNS]
        table = plain_table(result.of, *shown_columns)
        shown, hidden = capped(list(range(len(rows))))
        for i in shown:
            table.add_row(Text(rows[i]), *[f"{result.matrix[i, j]:.6g}"
                                           for j in range(len(shown_columns))])
    more_row(table, hidden)
    console.print(table)
    if not scalar and len(columns) > MAX_COLUMNS:
        console.print(Text(f"  … {len(columns) - MAX_COLUMNS} more columns (see --json)",
                           style="dim"))
    timing = getattr(result, "timing", None)
    if timing:
        parts = [f"{mode} {fmt_seconds(timing[f'{mode}_s'])}" for mode in ("forward", "reverse")
                 if f"{mode}_s" in timing]
        line = Text.assemble(("time per evaluation", "bold"),
                             f"  value {fmt_seconds(timing['value_s'])}, "
                             f"{'gradient' if scalar else 'jacobian'} "
                             f"{fmt_seconds(timing['jacobian_s'])}")
        if parts:
            line.append(f"  ({', '.join(parts)})", style="dim")
        console.print(line)
