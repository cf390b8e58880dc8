"""Declarations read once, by the checking pass: parameters, options, data tables.

A parameter's size, bounds and start value, an ``option`` line's value and a
``csv(...)`` table are constants: they are worked out the first time the
program runs and kept in the checked problem, so re-traces skip them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from diffopt.check.problem import ParamSpec, RunSettings
from diffopt.check.values import Table, is_constant
from diffopt.errors import DopTypeError, OptionError, ShapeError, did_you_mean
from diffopt.ops.registry import format_shape
from diffopt.ops.shapes import check_size
from diffopt.source import Source
from diffopt.syntax import ast
from diffopt.vocab import FILE_OPTION, OPTIONS

RANDOM_START_STREAM = 0x5EED  # key of the random-start streams (see _random_start)


def param_spec(machine, scope, item: ast.ParamItem, settings: RunSettings, index: int,
               offset: int) -> ParamSpec:
    """Shape, bounds and start of one declared parameter (constants only)."""
    shape = ()
    if item.dims is not None:
        shape = tuple(_dimension(machine, machine.eval(d, scope), d.span) for d in item.dims)
        try:
            check_size(shape, f"parameter '{item.name}'")
        except ShapeError as exc:
            raise exc.located(item.span) from None
    lower = _bound(machine, scope, item.lower, shape, -np.inf)
    upper = _bound(machine, scope, item.upper, shape, np.inf)
    if np.any(lower > upper) or np.any((lower == upper) & np.isinf(lower)):
        raise ShapeError(f"the bounds of '{item.name}' are empty or inverted",
                         item.lower.span.to(item.upper.span))
    draw = None
    if item.name in settings.sets:
        start, start_span = settings.sets[item.name], item.name_span
    elif item.start is None:
        mid = np.where(np.isfinite(lower) & np.isfinite(upper), (lower + upper) / 2, 0.0)
        start, start_span = np.clip(mid, lower, upper), item.span
    elif item.random_start:
        draw = _random_start(machine, scope, item, index)
        start, start_span = draw_start(draw, shape, settings.seed), item.start.span
    else:
        start, start_span = machine.eval(item.start, scope), item.start.span
        if not is_constant(start):
            raise DopTypeError("a start value must be a constant", start_span)
    try:
        start = np.array(np.broadcast_to(start, shape), dtype=np.float64)
    except ValueError:
        raise ShapeError(
            f"the start value of '{item.name}' has shape {format_shape(np.shape(start))}, "
            f"which does not fit the parameter's shape {format_shape(shape)}",
            start_span,
        ) from None
    if not np.all(np.isfinite(start)):
        bad = start[~np.isfinite(start)].flat[0]
        raise ShapeError(f"the start value of '{item.name}' is {bad:g}; a start must be a "
                         "finite number", start_span)
    if np.any(start < lower) or np.any(start > upper):
        raise ShapeError(f"the start value of '{item.name}' lies outside its bounds",
                         start_span)
    return ParamSpec(item.name, shape, start, lower, upper, offset, item.span, draw)


def _dimension(machine, value, span) -> int:
    n = machine.integer(value, span, "a parameter size")
    if n < 0:
        raise ShapeError(f"a parameter size must not be negative, not {n}", span)
    return n


def _bound(machine, scope, node, shape, default) -> np.ndarray:
    if node is None:
        return np.full(shape, default)
    value = machine.constant(machine.eval(node, scope), node.span, "a bound")
    try:
        return np.array(np.broadcast_to(value, shape), dtype=np.float64)
    except ValueError:
        raise ShapeError(
            f"a bound of shape {format_shape(value.shape)} does not fit shape "
            f"{format_shape(shape)}",
            node.span,
        ) from None


def _random_start(machine, scope, item: ast.ParamItem, index: int) -> tuple:
    """The checked distribution of a ``~`` start: (kind, a, b, stream index)."""
    call = item.start
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id in ("normal", "uniform")):
        raise DopTypeError("'~' takes normal(mean, std) or uniform(lo, hi)", call.span)
    if len(call.args) != 2 or call.keywords:
        raise DopTypeError(
            f"'~ {call.func.id}' takes two arguments; the shape comes from the parameter",
            call.span,
        )
    a, b = (machine.constant(machine.eval(arg, scope), arg.span,
                             "a random start's argument") for arg in call.args)
    for value, arg in ((a, call.args[0]), (b, call.args[1])):
        if np.ndim(value) != 0 or not np.isfinite(value):
            raise DopTypeError(f"'~ {call.func.id}' takes finite numbers", arg.span)
    if call.func.id == "normal" and b < 0:
        raise DopTypeError(f"'~ normal': the standard deviation must be >= 0, not {float(b):g}",
                           call.args[1].span)
    if call.func.id == "uniform" and b < a:
        raise DopTypeError(f"'~ uniform': lo must be <= hi, not {float(a):g} and {float(b):g}",
                           call.span)
    return (call.func.id, float(a), float(b), index)


def draw_start(draw: tuple, shape, seed: int) -> np.ndarray:
    """The start a ``~`` parameter gets under ``seed`` (multi-start draws more this way)."""
    kind, a, b, index = draw
    # Its own stream (keyed apart from random functions' draws, which use
    # [seed, draw]), so `~ normal` and `normal(...)` never repeat each other.
    rng = np.random.default_rng([seed, RANDOM_START_STREAM, index])
    if kind == "normal":
        return rng.normal(a, b, size=shape)
    return rng.uniform(a, b, size=shape)


def option_value(machine, scope, binding: ast.Binding):
    """The value of ``option name = value``, checked against the options table."""
    name = binding.name
    if name not in OPTIONS:
        raise OptionError(f"unknown option '{name}'", binding.name_span,
                          notes=[f"options: {', '.join(OPTIONS)}"],
                          hint=did_you_mean(name, OPTIONS))
    node = binding.value
    kind, choices = OPTIONS[name]
    if kind == "string":
        if not isinstance(node, ast.String):
            raise OptionError(f"option '{name}' takes a string", node.span)
        if node.value not in choices:
            raise OptionError(f"option '{name}' must be one of {', '.join(choices)}",
                              node.span, hint=did_you_mean(node.value, choices))
        return node.value
    if kind == "boolean":
        if not (isinstance(node, ast.Name) and node.id in ("true", "false")):
            raise OptionError(f"option '{name}' takes true or false", node.span)
        return node.id == "true"
    if isinstance(node, ast.Name) and node.id in ("true", "false"):
        raise OptionError(f"option '{name}' takes a number, not {node.id}", node.span)
    raw = machine.eval(node, scope) if not isinstance(node, ast.String) else None
    if kind == "uncertainty":
        return _uncertainty(name, raw, node.span)
    if raw is None or not is_constant(raw) or raw.shape != ():
        raise OptionError(f"option '{name}' takes a number", node.span)
    value = float(raw)
    if not np.isfinite(value):
        raise OptionError(f"option '{name}' takes a finite number, not {value:g}", node.span)
    row = FILE_OPTION[name]
    if kind == "integer":
        if value != int(value) or value < 0:
            raise OptionError(f"option '{name}' takes a whole number", node.span)
        if value < (row.low or 0):
            raise OptionError(f"option '{name}' must be {row.range_text()}, got {value:g}",
                              node.span)
        return int(value)
    if kind == "number":
        low, high = row.low, row.high
        if (value < low or (row.open_low and value == low)
                or (high is not None and (value > high or (row.open_high and value == high)))):
            raise OptionError(f"option '{name}' must be {row.range_text()}, got {value:g}",
                              node.span)
        return value
    if kind == "fraction" and not 0.0 < value < 1.0:
        raise OptionError(f"option '{name}' must be between 0 and 1, not {value:g}", node.span)
    if value <= 0:
        raise OptionError(f"option '{name}' must be positive", node.span)
    return value


def _uncertainty(name: str, raw, span) -> np.ndarray:
    """A constant scalar or array of finite, positive uncertainties (``option sigma``)."""
    if raw is None or isinstance(raw, (str, Table)) or not is_constant(raw):
        raise OptionError(f"option '{name}' takes a number or an array of numbers that does "
                          "not depend on a parameter (a data column, say)", span)
    value = np.asarray(raw, dtype=np.float64)
    bad = np.flatnonzero(~(np.isfinite(value) & (value > 0)))
    if bad.size:
        index = np.unravel_index(bad[0], value.shape)
        label = name if value.ndim == 0 else f"{name}[{', '.join(map(str, index))}]"
        what = "not finite" if not np.isfinite(value[index]) else "not positive"
        raise OptionError(f"option '{name}': {label} = {float(value[index]):g} is {what}; "
                          "an uncertainty must be a finite number > 0", span)
    return value


def load_table(node, name: str, source: Source, settings: RunSettings) -> Table:
    """A ``csv(...)`` table, or the ``--data`` file (or standard input) replacing it."""
    from diffopt import data  # the CSV reader: only programs with data pay its import

    override = settings.data_paths.get(name)
    span = node.span
    report = settings.progress
    phase = f"reading data '{name}'"
    rows = None if report is None else (lambda done, total: report(phase, done=done,
                                                                    total=total))
    if override == "-":
        columns = data.load_csv("<stdin>", name=name, span=span,
                                from_stdin_text=settings.stdin_text or "", progress=rows)
    else:
        if override is not None:
            path = override
        else:
            relative = node.args[0].value
            base = Path(source.name).parent
            path = relative if Path(relative).is_absolute() else str(base / relative)
        if report is not None:
            report(phase, size=_size(path))
        columns = data.load_csv(path, name=name, span=span, progress=rows)
    if report is not None:
        report("checking and recording")
    return Table(name, columns)


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None  # the reader reports it


def inline_override(node, name: str, source: Source, settings: RunSettings) -> np.ndarray:
    """--data for inline data: the CSV's columns side by side (one column: a vector)."""
    table = load_table(node, name, source, settings)
    columns = list(table.columns.values())
    value = columns[0] if len(columns) == 1 else np.column_stack(columns)
    return np.asarray(value, dtype=np.float64)
