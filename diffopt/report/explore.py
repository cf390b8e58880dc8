"""Reports of ``solve --starts`` and ``diffopt sweep``: optima, case tables, a progress bar.

The table of distinct local optima printed after the best solution's usual
report, the summary table at the end of a sweep, and the Rich progress bar
both draw on standard error while they run (cases done, failures, time
to go). Renderers take the result objects of diffopt.explore and compute
nothing beyond formatting.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from diffopt.report.formatting import encodable, fmt, fmt_seconds, plain_table

MAX_OPTIMA_ROWS = 20  # distinct optima listed; --json has every one
MAX_CASE_ROWS = 40  # sweep cases listed; the results file has every one
MAX_PARAM_COLUMNS = 4  # parameters shown per row (scalars first)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _shown_params(params: dict) -> list[str]:
    """The parameters worth a column each: all of them when they are a few scalars."""
    scalar = all(not isinstance(v, list) and getattr(v, "size", 1) == 1
                 for v in params.values())
    return list(params) if scalar and len(params) <= MAX_PARAM_COLUMNS else []


def _scalar(value):
    """A parameter's value from a record (a list of one, a number or missing)."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


@encodable
def print_optima(console: Console, result: Any) -> None:
    """The distinct local optima of a multi-start, best first, with their counts."""
    total = len(result.results)
    optima = result.optima
    console.print()
    console.print(Text.assemble(
        (f"{total} starts", "bold"),
        f" (seed {result.seed}, {result.where}, {fmt_seconds(result.time_s)}): ",
        (_plural(len(optima), "distinct optimum") if len(optima) == 1
         else f"{len(optima)} distinct optima", "bold"),
        f"; best from start {result.best_start}",
    ))
    shown = _shown_params(optima[0].params) if optima else []
    table = plain_table("rank", "objective", "starts", "share", "first start", *shown)
    for rank, optimum in enumerate(optima[:MAX_OPTIMA_ROWS], start=1):
        table.add_row(str(rank), fmt(optimum.objective), str(optimum.count),
                      f"{100 * optimum.count / total:.0f}%", str(optimum.starts[0]),
                      *(fmt(float(optimum.params[name])) for name in shown))
    console.print(table)
    if len(optima) > MAX_OPTIMA_ROWS:
        console.print(Text(f"… {len(optima) - MAX_OPTIMA_ROWS} more optima (see --json)",
                           style="dim"))
    if result.not_converged:
        statuses: dict = {}
        for r in result.results:
            if r.status != "converged":
                statuses[r.status] = statuses.get(r.status, 0) + 1
        listed = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        console.print(Text(f"{_plural(result.not_converged, 'start')} did not converge "
                           f"({listed}); not counted above", style="yellow"))


@encodable
def print_sweep_summary(console: Console, result: Any) -> None:
    """One row per case (settings, status, objective, parameters) and the totals."""
    records = result.records
    swept = list(result.swept)
    shown = next((_shown_params(r["params"]) for r in records if r.get("params")), [])
    table = plain_table("case", *swept, "status", "objective", *shown)
    errors = []
    for record in records[:MAX_CASE_ROWS]:
        settings = record["settings"]
        status = record["status"]
        style = "green" if status == "converged" else "bold red"
        objective = record.get("objective")
        table.add_row(str(record["case"]), *(fmt(settings.get(n)) for n in swept),
                      Text(status, style=style),
                      fmt(objective) if objective is not None else "—",
                      *(fmt(_scalar((record.get("params") or {}).get(name))) for name in shown))
        if status == "error":
            errors.append(f"case {record['case']}: {record.get('error', '')}")
    console.print(table)
    for line in errors[:MAX_OPTIMA_ROWS]:
        console.print(Text(line, style="red"))
    if len(records) > MAX_CASE_ROWS:
        console.print(Text(f"… {len(records) - MAX_CASE_ROWS} more cases (see the results "
                           "file or --json)", style="dim"))
    failures = result.failures
    line = Text.assemble(
        (_plural(len(records), "case"), "bold"),
        f" ({result.resumed} from the results file)" if result.resumed else "",
        ", ", (f"{failures} not converged" if failures else "all converged",
               "bold red" if failures else "bold green"),
        f", {fmt_seconds(result.time_s)} on {result.where}",
    )
    console.print(line)
    if result.interrupted:
        console.print(Text("interrupted: the finished cases are kept; run again with --resume "
                           "to solve the rest", style="bold yellow"))


class CasesProgress:
    """A progress bar on standard error: cases done of all, failures, time to go."""

    def __init__(self, console: Console, label: str = "cases"):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[failures]}"), TimeElapsedColumn(),
            TextColumn("left"), TimeRemainingColumn(),
            console=console, transient=True,
        )
        self.task = None

    def __enter__(self) -> CasesProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def __call__(self, done: int, total: int, failures: int) -> None:
        failed = f"[red]{failures} failed" if failures else "0 failed"
        if self.task is None:
            self.task = self.progress.add_task("", total=total, completed=done, failures=failed)
        else:
            self.progress.update(self.task, completed=done, failures=failed)
