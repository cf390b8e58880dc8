"""JSON output: one document of plain numbers, nested lists and strings.

This module owns the conversion of result values to what ``--json`` prints:
NumPy arrays become nested lists, NumPy scalars become Python numbers, and
non-finite floats become the strings ``"nan"``, ``"inf"`` and ``"-inf"`` (the
contract in cli.md). It only converts: it computes nothing, never prints and
does not import Rich.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
from typing import Any

import numpy as np


def to_jsonable(obj: Any) -> Any:
    """``obj`` converted to plain JSON values.

    Dicts (keys become strings), lists, tuples, dataclasses (their fields, in
    order) and objects with a ``to_json()`` method are converted recursively;
    NumPy arrays become nested lists and NumPy scalars Python numbers; NaN and
    ±inf become "nan", "inf" and "-inf". Paths become strings.

    Raises:
        TypeError: for a value with no JSON form (a complex number, a set, ...).
    """
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, float):
        return _float(obj)
    if isinstance(obj, int):
        return int(obj)  # also IntEnum (ExitStatus) → its number
    if isinstance(obj, np.ndarray):
        return _array(obj)
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, dict):
        return {_key(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "to_json") and callable(obj.to_json):
        return to_jsonable(obj.to_json())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot write a {type(obj).__name__} as JSON: {obj!r}")


def dumps(obj: Any, *, indent: int | None = None) -> str:
    """One JSON document for ``obj`` (via ``to_jsonable``), without a trailing newline.

    ``allow_nan=False`` is the last guard: a non-finite float that slipped
    through would raise ``ValueError`` rather than print invalid JSON.
    """
    return json.dumps(to_jsonable(obj), allow_nan=False, indent=indent)


# ------------------------------------------------------------------ helpers


def _float(x: float) -> float | str:
    if math.isfinite(x):
        return x
    if math.isnan(x):
        return "nan"
    return "inf" if x > 0 else "-inf"


def _array(a: np.ndarray) -> Any:
    if a.dtype.kind == "b":
        return a.tolist()
    if a.dtype.kind in "iu":
        return a.tolist()
    if a.dtype.kind == "f":
        values = a.astype(np.float64, copy=False)
        if np.all(np.isfinite(values)):
            return values.tolist()
        return _map_floats(values.tolist())
    if a.dtype.kind == "O":
        return to_jsonable(a.tolist())
    raise TypeError(f"cannot write an array of {a.dtype} as JSON")


def _map_floats(nested: Any) -> Any:
    """Replace non-finite floats in the nested lists of ``ndarray.tolist()``."""
    if isinstance(nested, list):
        return [_map_floats(v) for v in nested]
    return _float(nested)


def _key(k: Any) -> str:
    """A dict key as JSON writes it (json.dumps's own rules, plus NumPy scalars)."""
    if isinstance(k, np.generic):
        k = k.item()
    if isinstance(k, bool) or k is None:
        return {True: "true", False: "false", None: "null"}[k]
    if isinstance(k, float):
        return str(_float(k))
    return str(k)
