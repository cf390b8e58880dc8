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
    rows, hidden = capped(list(range(len(result.wrt))))
    columns = [["const"] + [result.wrt[j] for j in rows],
               ["value"] + [fmt(result.values[j]) for j in rows],
               ["d objective"] + [fmt(result.objective[j]) for j in rows]]
    if result.params is not None:
        columns += [[f"d {label}"] + [fmt(result.params[i, j]) for j in rows]
                    for i, label in enumerate(labels[:MAX_COLUMNS])]
    columns = columns[:_fitting(console, columns, keep=3)]
    table = plain_table(*[column[0] for column in columns])
    for k in range(len(rows)):
        table.add_row(Text(columns[0][k + 1]), *[column[k + 1] for column in columns[1:]])
    more_row(table, hidden)
    if result.wrt:
        console.print(table)
    elif not result.skipped:
        console.print(Text("  the problem has no consts", style="dim"))
    shown_params = len(columns) - 3
    if result.params is not None and len(labels) > shown_params and result.wrt:
        console.print(Text(f"  … derivatives of {len(labels) - shown_params} more parameters "
                           f"in --json", style="dim"))
    if result.params is None and result.wrt:
        console.print(Text("  the parameters' derivatives do not exist here (see the warning)",
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
        shown, hidden = capped(list(range(len(rows))))
        cells = [[result.of] + [rows[i] for i in shown]]
        cells += [[label] + [f"{result.matrix[i, j]:.6g}" for i in shown]
                  for j, label in enumerate(columns[:MAX_COLUMNS])]
        cells = cells[:_fitting(console, cells, keep=1)]
        shown_columns = cells[1:]
        table = plain_table(*[column[0] for column in cells])
        for k in range(len(shown)):
            table.add_row(Text(cells[0][k + 1]), *[column[k + 1] for column in cells[1:]])
    more_row(table, hidden)
    console.print(table)
    if not scalar and len(columns) > len(shown_columns):
        console.print(Text(f"  … {len(columns) - len(shown_columns)} more columns (see --json)",
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


def _fitting(console: Console, columns: list, keep: int) -> int:
    """How many of ``columns`` (lists of cell strings, header first) fit the console's
    width side by side; the first ``keep`` always stay."""
    used, count = 0, 0
    for column in columns:
        width = max(len(cell) for cell in column) + 2  # one space of padding each side
        if count >= keep and used + width > console.width:
            break
        used += width
        count += 1
    return count
