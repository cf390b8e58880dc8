"""Checks of a call or a column access before it is evaluated: arity, keywords, names.

Pure functions of AST nodes and registry entries; they raise located
DopErrors and compute nothing.
"""

from __future__ import annotations

from diffopt.errors import DopNameError, DopTypeError, did_you_mean
from diffopt.syntax import ast


def check_def_arity(definition: ast.Def, call: ast.Call) -> None:
    if call.keywords:
        raise DopTypeError(
            f"'{definition.name}' takes no keyword arguments", call.keywords[0].span
        )
    expected, given = len(definition.params), len(call.args)
    if expected != given:
        raise DopTypeError(
            f"'{definition.name}' takes {expected} argument{'s' * (expected != 1)} "
            f"but {given} {'was' if given == 1 else 'were'} given",
            call.span,
            notes=[f"'{definition.name}' is defined at {definition.span.location}"],
        )


def check_builtin_arity(entry, call: ast.Call) -> None:
    given = len(call.args)
    has_generator = any(isinstance(a, ast.Comprehension) for a in call.args)
    if has_generator and not entry.generator:
        raise DopTypeError(f"'{entry.name}' does not take a comprehension", call.span)
    hi = len(entry.positional)
    lo = hi - entry.optional
    ok = given >= 1 if entry.variadic else lo <= given <= hi
    if not ok:
        raise DopTypeError(
            f"'{entry.name}' takes {entry.arity} argument{'s' * (entry.arity != '1')} "
            f"but {given} {'was' if given == 1 else 'were'} given",
            call.span,
            hint=f"{entry.name}({', '.join(entry.positional)}"
            + "".join(f", {k}={v}" for k, v in entry.keywords.items())
            + ")",
        )
    for keyword in call.keywords:
        if keyword.name not in entry.keywords:
            allowed = ", ".join(entry.keywords) or "none"
            raise DopTypeError(
                f"'{entry.name}' has no keyword argument '{keyword.name}' "
                f"(keywords: {allowed})",
                keyword.span,
            )


def lookup_column(table, column: str, span):
    if column not in table.columns:
        raise DopNameError(
            f"data '{table.name}' has no column '{column}'",
            span,
            notes=[f"its columns: {', '.join(table.columns)}"],
            hint=did_you_mean(column, table.columns),
        )
    return table.columns[column]
