"""The cases of a sweep, from ``--set`` values and ``--grid``/``--zip``.

``NAME=LO:HI:N`` is N evenly spaced values from LO to HI (both included),
``NAME=v1,v2,...`` a list; any other ``--set`` (one number, a JSON array)
fixes that const for every case, as it does for ``solve``. ``--grid`` (the
default) solves every combination, the last ``--set`` varying fastest;
``--zip`` pairs the lists element by element (they must be equally long).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from diffopt.errors import UsageError

MAX_CASES = 1_000_000  # a grid this large is a typo, not a sweep


@dataclass(frozen=True)
class Case:
    """One sweep case: its position in the sweep and its constants' values."""

    index: int
    settings: tuple  # ((name, float), ...) in --set order

    def as_dict(self) -> dict:
        return dict(self.settings)


def split_sets(items: dict) -> tuple[dict, dict]:
    """(swept name -> values, fixed name -> text) from ``--set`` name -> text."""
    swept, fixed = {}, {}
    for name, text in items.items():
        values = sweep_values(name, text)
        if values is None:
            fixed[name] = text
        else:
            swept[name] = values
    return swept, fixed


def sweep_values(name: str, text: str) -> list[float] | None:
    """The values of ``LO:HI:N`` or ``v1,v2,...``; None for a single value or an array."""
    text = text.strip()
    if text.startswith("["):
        return None
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise UsageError(f"--set {name}={text}: a range is LO:HI:N, for example 0.1:0.5:20")
        lo, hi = (_number(name, text, part) for part in parts[:2])
        count = _number(name, text, parts[2])
        if count != int(count) or count < 1:
            raise UsageError(f"--set {name}={text}: N must be a whole number >= 1, "
                             f"not {parts[2].strip()}")
        if count == 1:
            return [lo]
        return [float(v) for v in np.linspace(lo, hi, int(count))]
    if "," in text:
        return [_number(name, text, part) for part in text.split(",")]
    return None


def _number(name: str, text: str, part: str) -> float:
    try:
        value = float(part)
    except ValueError:
        raise UsageError(f"--set {name}={text}: '{part.strip()}' is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"--set {name}={text}: values must be finite, not {part.strip()}")
    return value


def make_cases(swept: dict, layout: str = "grid") -> list[Case]:
    """Every case of the sweep, numbered from 0."""
    if not swept:
        raise UsageError("sweep needs at least one --set NAME=LO:HI:N or NAME=v1,v2,...",
                         hint="for example: diffopt sweep problem.dop --set v2=0.1:0.5:20")
    names = list(swept)
    if layout == "zip":
        lengths = {name: len(values) for name, values in swept.items()}
        if len(set(lengths.values())) > 1:
            described = ", ".join(f"{name} has {n}" for name, n in lengths.items())
            raise UsageError(f"--zip pairs values one to one, but {described}")
        rows = list(zip(*swept.values()))
    else:
        total = math.prod(len(values) for values in swept.values())
        if total > MAX_CASES:
            raise UsageError(f"the grid has {total} cases, more than {MAX_CASES}")
        rows = list(itertools.product(*swept.values()))
    return [Case(i, tuple(zip(names, map(float, row)))) for i, row in enumerate(rows)]


def nearest(case: Case, finished: list[Case], spans: dict) -> Case | None:
    """The finished case closest to ``case``, each constant measured on its swept range."""
    best, best_distance = None, math.inf
    here = case.as_dict()
    for other in finished:
        there = other.as_dict()
        distance = sum(((here[n] - there[n]) / spans[n]) ** 2 for n in here)
        if distance < best_distance or (distance == best_distance and other.index < best.index):
            best, best_distance = other, distance
    return best


def ranges(swept: dict) -> dict:
    """Each swept constant's range (1 where it takes a single value): distances' units."""
    spans = {}
    for name, values in swept.items():
        span = max(values) - min(values)
        spans[name] = span if span > 0 else 1.0
    return spans
