"""Constants and data tables of an exported module.

The equations read constant arrays by identity, so a constant that *is* a
data column (or an inline ``data`` vector, or the value of a ``let`` that does
not depend on the parameters) is recognised with ``is`` and takes that name
(``trips_duration_min``); other constant arrays are ``K0``, ``K1``, ...

Every constant is embedded in the module as an ``np.array([...])`` literal
(floats written with ``repr``, which reads back to the same float64), except
the columns of a CSV table with more than ``EMBED_LIMIT`` cells: those are read
from the original CSV file by the module's ``load_data(path=...)``, run at
import with the path the problem was exported with. A constant *derived* from
a large table (``60 * trips.distance_km`` is folded into one constant array
when the program is traced) is no longer a column and is embedded whatever
its size. Tables read from standard input (``--data NAME=-``) are embedded.

Must not import the CLI or Rich.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diffopt.export.codegen import Names, scalar_literal

EMBED_LIMIT = 10_000  # cells of a CSV table above which the module reads the file
LINE_WIDTH = 96


@dataclass
class Column:
    """One column of a CSV table, as the module names and finds it."""

    name: str  # the module-level variable
    table: str  # the table's name in the .dop file
    index: int  # position in the CSV header
    path: str | None  # where load_data reads it (None: embedded)


def known_constants(problem, lets: dict, names: Names, embed_limit: int = EMBED_LIMIT):
    """Preferred names of constant arrays, by ``id``, and the columns read from files.

    Returns:
        (id -> name for every named constant, id -> Column for CSV columns)
    """
    known: dict[int, str] = {}
    columns: dict[int, Column] = {}
    for table_name, table in problem.tables.items():
        if isinstance(table, np.ndarray):
            known[id(table)] = names.claim(table_name)
            continue
        cells = sum(np.size(c) for c in table.columns.values())
        path = _csv_path(problem, table_name) if cells > embed_limit else None
        for index, (header, array) in enumerate(table.columns.items()):
            name = names.claim(f"{table_name}_{header}")
            known[id(array)] = name
            columns[id(array)] = Column(name, table_name, index, path)
    for let_name, value in lets.items():
        if not isinstance(value, int) and np.ndim(value) > 0 and id(value) not in known:
            known[id(value)] = names.claim(let_name)
    return known, columns


def _csv_path(problem, table_name: str) -> str | None:
    """The CSV file a ``data NAME = csv("...")`` table was read from (None: stdin)."""
    override = problem.settings.data_paths.get(table_name)
    if override == "-":
        return None
    if override is not None:
        return os.path.abspath(override)
    from diffopt.syntax import ast

    for stmt in problem.program.statements:
        if isinstance(stmt, ast.Decl) and stmt.kind == "data":
            for binding in stmt.bindings:
                if binding.name == table_name and isinstance(binding.value, ast.Call):
                    relative = binding.value.args[0].value
                    if problem.source.name == "<stdin>" and not Path(relative).is_absolute():
                        return None
                    base = Path(problem.source.name).parent
                    path = relative if Path(relative).is_absolute() else str(base / relative)
                    return os.path.abspath(path)
    return None


# ------------------------------------------------------------------ module sections


def constants_section(used: dict, columns: dict[int, Column]) -> list[str]:
    """``NAME = np.array([...])`` for every embedded constant the code uses."""
    lines = []
    for key, (name, array, where) in used.items():
        column = columns.get(key)
        if column is not None and column.path is not None:
            continue  # read by load_data
        if column is not None:
            lines.append(f"# column {column.index + 1} of data '{column.table}'")
        elif where and name.startswith("K"):
            lines.append(f"# first used at {where}")
        lines.append(f"{name} = {array_literal(np.asarray(array, dtype=np.float64))}")
    return lines


def load_data_section(used: dict, columns: dict[int, Column], names: Names) -> list[str]:
    """``load_data(...)`` reading the large tables' columns the code uses, and its call."""
    tables: dict[str, list[Column]] = {}
    paths: dict[str, str] = {}
    for key in used:
        column = columns.get(key)
        if column is not None and column.path is not None:
            tables.setdefault(column.table, []).append(column)
            paths[column.table] = column.path
    if not tables:
        return []
    arguments = {table: names.claim(table) for table in tables}
    signature = ", ".join(f"{arguments[t]}={paths[t]!r}" for t in tables)
    variables = [c.name for cs in tables.values() for c in cs]
    lines = [f"def load_data({signature}):",
             '    """Read the large data tables from CSV files (a header row, then numbers).',
             "",
             "    Runs at import with the files the problem was exported with; call it",
             "    again with other files of the same shape to evaluate on other data.",
             '    """',
             f"    global {', '.join(variables)}"]
    for table, cs in tables.items():
        lines.append(f"    table = np.loadtxt({arguments[table]}, delimiter=',', skiprows=1, "
                     "ndmin=2, encoding='utf-8-sig', quotechar='\"')")
        lines.extend(f"    {c.name} = table[:, {c.index}].copy()" for c in cs)
    return lines + ["", "", "load_data()"]


def array_literal(a: np.ndarray) -> str:
    """Source that rebuilds ``a`` exactly: ``np.array([...]).reshape(shape)``."""
    if a.size == 0:
        return f"np.zeros({a.shape!r})"
    items = [scalar_literal(v).replace("xp.", "np.") for v in a.ravel()]
    lines, current = [], ""
    for item in items:
        if current and len(current) + len(item) + 2 > LINE_WIDTH - 4:
            lines.append(current + ",")
            current = item
        else:
            current = f"{current}, {item}" if current else item
    lines.append(current)
    body = lines[0] if len(lines) == 1 else "\n    " + "\n    ".join(lines) + ",\n"
    literal = f"np.array([{body}])"
    return literal if a.ndim == 1 else f"{literal}.reshape({a.shape!r})"
