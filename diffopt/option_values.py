"""The values of the command-line options ``--set``, ``--data`` and ``--at``: one parser each.

Every command passes the option's text through to these functions (``--at``
through diffopt.api.resolve_point), so the same bad value gives the same
message and exit status 2 whichever command it was given to. Every failure
is a ``UsageError`` naming the option and the text. Never prints; imports
nothing from diffopt but the error types.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from diffopt.errors import UsageError

_NUMBER_HELP = (
    "write a number (3, -1.5e-3, inf) or a JSON array of numbers ([1, 2], [[1, 2], [3, 4]])"
)


def parse_assignment(text: str, option: str) -> tuple[str, str]:
    """Split a ``NAME=VALUE`` (or ``NAME=PATH``) option value at its first ``=``.

    Args:
        text: the option's value as typed, e.g. ``"x1=3"`` or ``"trips=other.csv"``.
        option: the option's spelling for messages, e.g. ``"--set"``.

    Returns:
        (name, value), the name stripped of spaces, the value as typed.

    Raises:
        UsageError: no ``=``, an empty name or an empty value.
    """
    form = "NAME=PATH" if option == "--data" else "NAME=VALUE"
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep:
        raise UsageError(f"{option} expects {form}, got '{text}' (no '=')")
    if not name:
        raise UsageError(f"{option} expects {form}, got '{text}' (no name before '=')")
    if not value.strip():
        raise UsageError(f"{option} expects {form}, got '{text}' (nothing after '=')")
    return name, value.strip()


def parse_value(text: str, option: str) -> float | np.ndarray:
    """A ``--set`` value: a number, or a JSON array of numbers (nested for matrices).

    ``inf`` and ``-inf`` are accepted (also as the strings "inf"/"-inf" inside
    arrays, as ``--json`` writes them); ``nan`` is not.

    Args:
        text: the value after ``=``.
        option: the option's spelling for messages (``"--set"``, ``"--set x"``).

    Returns:
        A float, or a float64 array for an array value.

    Raises:
        UsageError: naming the option and the text.
    """
    stripped = text.strip()
    if stripped.startswith("["):
        data = _loads(stripped, option)
        return _numbers(data, option, text)
    return _scalar(stripped, option, text)


def parse_at(text: str) -> str | dict[str, float | np.ndarray]:
    """An ``--at`` value: ``"init"``, ``"random"``, or parameter values.

    Values are a JSON object (``{"x1": 3, "w": [1, 2]}``) or, as a shorthand,
    ``NAME=VALUE`` pairs separated by commas (``x1=3,w=[1,2]``).

    Returns:
        ``"init"``, ``"random"``, or a dict name → float | float64 array.

    Raises:
        UsageError: bad JSON (with the position of the problem), a value that
            is not a number or array of numbers, or a repeated name.
    """
    option = "--at"
    stripped = text.strip()
    if stripped in ("init", "random"):
        return stripped
    if stripped.startswith("{"):
        data = _loads(stripped, option)
        if not isinstance(data, dict):
            raise UsageError(f"{option}: expected a JSON object, got '{text}'")
        return {key: _numbers(value, f"{option} {key}", text) for key, value in data.items()}
    if "=" in stripped:
        values: dict[str, float | np.ndarray] = {}
        for item in _split_top_level(stripped):
            key, value = parse_assignment(item, option)
            if key in values:
                raise UsageError(f"{option}: '{key}' is given twice in '{text}'")
            values[key] = parse_value(value, f"{option} {key}")
        return values
    raise UsageError(
        f"{option} expects init, random, or parameter values, got '{text}'",
        hint='for example --at random or --at \'{"x1": 3, "w": [1, 2]}\'',
    )


def _loads(text: str, option: str) -> Any:
    def constant(word: str) -> float:
        if word == "NaN":
            raise UsageError(f"{option}: NaN is not allowed in '{text}'")
        return float(word.replace("Infinity", "inf"))

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise UsageError(f"{option}: '{key}' is given twice in '{text}'")
            out[key] = value
        return out

    depth = _nesting(text)
    if depth > MAX_JSON_DEPTH:  # the JSON decoder recurses; arrays stop at 32 axes anyway
        raise UsageError(f"{option}: '{_clip(text)}' nests {depth} levels deep; values nest "
                         f"at most {MAX_JSON_DEPTH} (an array has at most 32 axes)")
    try:
        return json.loads(text, parse_constant=constant, object_pairs_hook=unique)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{option}: bad JSON in '{text}': {exc.msg} at character {exc.pos + 1}",
            notes=(text, " " * exc.pos + "^"),
        ) from None


def _scalar(word: str, option: str, text: str) -> float:
    try:
        value = float(word)
    except ValueError:
        raise UsageError(
            f"{option}: '{text}' is not a number or a JSON array of numbers", hint=_NUMBER_HELP
        ) from None
    if math.isnan(value):
        raise UsageError(f"{option}: nan is not allowed (got '{text}')")
    return value


def _numbers(data: Any, option: str, text: str) -> float | np.ndarray:
    """A JSON value (number, "inf" string, nested list) → float or float64 array."""
    if not isinstance(data, list):
        return _leaf(data, option, text)
    try:
        return np.array(_checked(data, option, text), dtype=np.float64)
    except ValueError:
        raise UsageError(
            f"{option}: the rows of '{text}' have different lengths", hint=_NUMBER_HELP
        ) from None


def _checked(node: Any, option: str, text: str) -> Any:
    """Nested lists with every leaf checked and made a float (arrays nest shallowly)."""
    if isinstance(node, list):
        return [_checked(item, option, text) for item in node]
    return _leaf(node, option, text)


def _leaf(value: Any, option: str, text: str) -> float:
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "-inf"):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(
            f"{option}: {json.dumps(value)} in '{text}' is not a number", hint=_NUMBER_HELP
        )
    return float(value)


def _split_top_level(text: str) -> list[str]:
    """Split ``a=1,w=[1,2]`` at commas outside brackets."""
    items, depth, current = [], 0, []
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(ch)
    items.append("".join(current))
    return [item for item in items if item.strip()]


MAX_JSON_DEPTH = 33  # an object of arrays of up to 32 axes


def _nesting(text: str) -> int:
    """How deep ``[``/``{`` nest in ``text`` (outside strings), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
