"""Small formatting helpers the console renderers share (numbers, labels, tables).

Owns how a number, a duration or an array element is spelt for people
(``fmt``, ``fmt_seconds``, ``elements``), the plain Rich table every report
uses, the cap on rows per vector, and the fallback to ASCII spellings on a
console that cannot encode Unicode (``encodable``). Prints nothing itself;
imports neither the parser, the engine nor the solvers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

MAX_ELEMENTS = 40  # rows shown per vector before "… N more (see --json)"


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


def capped(rows: list, limit: int = MAX_ELEMENTS) -> tuple[list, int]:
    return (rows, 0) if len(rows) <= limit else (rows[:limit], len(rows) - limit)


def more_row(table: Table, hidden: int) -> None:
    if hidden:
        table.add_row(Text(f"… {hidden} more (see --json)", style="dim"))


def is_unicode(console: Console) -> bool:
    return (console.encoding or "").lower().replace("-", "").startswith("utf")


# Spellings for a console that cannot encode Unicode (PYTHONIOENCODING=ascii, say).
ASCII_SPELLINGS = str.maketrans({"—": "-", "…": "...", "χ": "chi", "²": "^2", "µ": "u", "×": "x"})


def encodable(render: Callable[..., None]) -> Callable[..., None]:
    """Run a renderer; on a non-Unicode console, spell its output in that encoding.

    Rich already draws ASCII boxes there; this replaces our own symbols and,
    as a last resort, any character of a user's name the encoding lacks, so a
    report never dies of UnicodeEncodeError.
    """

    @functools.wraps(render)
    def wrapper(console: Console, result: Any, **options: Any) -> None:
        if is_unicode(console):
            render(console, result, **options)
            return
        with console.capture() as captured:
            render(console, result, **options)
        encoding = console.encoding or "ascii"
        text = captured.get().translate(ASCII_SPELLINGS)
        console.file.write(text.encode(encoding, "replace").decode(encoding))
        console.file.flush()

    return wrapper


def tick(console: Console, ok: bool | None) -> Text:
    if ok is None:
        return Text("—")
    if is_unicode(console):
        return Text("✓", style="green") if ok else Text("✗", style="bold red")
    return Text("ok", style="green") if ok else Text("FAIL", style="bold red")


def plain_table(*headers: str, wrap_values: bool = False) -> Table:
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


def key_value(key: str, value: Any, style: str = "bold") -> Text:
    """``key value`` with the key styled; used for one-line facts."""
    return Text.assemble((key, style), " ", value if isinstance(value, Text) else str(value))
