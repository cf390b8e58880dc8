"""The memory budget (``--max-memory``): programs too big for it are refused first.

A run's memory is mostly the arrays its program computes, the recording
(tape) of every primitive applied to a parameter-dependent value, and its
data tables. All three are charged against one budget as the checking pass
goes, so a program that would exhaust memory is refused with a located
error stating the estimate, before the allocation that would fail:

* an array (a parameter, ``zeros(n)``, ``arange``, any primitive's result)
  larger than the whole budget is refused when its shape is known, before
  it is allocated;
* every recorded equation charges its result's bytes plus a fixed overhead
  for the equation itself (``EQUATION_BYTES``); the running total may not
  pass the budget;
* a loop is estimated after its first step: the steps still to go times
  what that step recorded; a loop that would pass the budget is refused at
  its ``for``, instead of being run until memory runs out;
* a data file larger than the budget is refused before it is read.

The default budget is half of this machine's physical memory; ``--max-memory``
takes a size (``512M``, ``2G``, ``1.5GiB``, plain bytes) or a percentage of
physical memory (``25%``). The budget of the current run lives in a context
variable, set by ``api.load`` for the command's whole run.
"""

from __future__ import annotations

import math
import os
import re
from contextvars import ContextVar

from diffopt.errors import ShapeError, UsageError

# A recorded equation's own cost besides its result: the Eqn object, its
# argument tuple, the slot lists and the CSE key (measured: 250-400 bytes).
EQUATION_BYTES = 400
DEFAULT_FRACTION = 0.5


def physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: assume 8 GiB
        return 8 << 30


DEFAULT_LIMIT = int(physical_memory() * DEFAULT_FRACTION)
_LIMIT: ContextVar[int] = ContextVar("diffopt_memory_budget", default=DEFAULT_LIMIT)

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1 << 10, "m": 1000**2, "mb": 1000**2,
          "mib": 1 << 20, "g": 1000**3, "gb": 1000**3, "gib": 1 << 30, "t": 1000**4,
          "tb": 1000**4, "tib": 1 << 40}


def parse_size(text: str, option: str = "--max-memory") -> int:
    """Bytes from ``512M``, ``2G``, ``1.5GiB``, ``100000000`` or ``25%`` (of physical memory)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*|%)\s*", text)
    unit = match.group(2).lower() if match else None
    if match is None or (unit != "%" and unit not in _UNITS):
        raise UsageError(f"{option} takes a size such as 512M, 2G or 25%, not '{text}'")
    number = float(match.group(1))
    size = number / 100 * physical_memory() if unit == "%" else number * _UNITS[unit]
    if not math.isfinite(size) or size < 1 << 20:
        raise UsageError(f"{option} must be at least 1M, not '{text}'")
    return int(size)


def set_limit(limit: int | None) -> None:
    """The budget of this run (None: the default, half of physical memory)."""
    _LIMIT.set(DEFAULT_LIMIT if limit is None else int(limit))


def limit() -> int:
    return _LIMIT.get()


def count_text(count: int) -> str:
    """An element count like ``1e+12``, also past the largest float (``1e+309``)."""
    try:
        return f"{float(count):.3g}"
    except OverflowError:  # as .3g would write it
        digits = str(int(count))
        mantissa = f"{digits[0]}.{digits[1:3]}".rstrip("0").rstrip(".")
        return f"{mantissa}e+{len(digits) - 1}"


def show(size: float) -> str:
    """Bytes in words: ``1.5 GiB``, ``640 MiB``, ``12 KiB``."""
    if size >= 1 << 60:  # past exbibytes the words no longer help (and floats overflow)
        return f"{count_text(size)} bytes"
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{int(size)} bytes"


def _limit_words() -> str:
    default = " (half of this machine's memory)" if limit() == DEFAULT_LIMIT else ""
    return f"the memory budget is {show(limit())}{default}; raise it with --max-memory"


def check_array(count: int, what: str) -> None:
    """Refuse an array of ``count`` float64 elements that alone exceeds the budget."""
    if count * 8 > limit():
        raise ShapeError(f"{what} would have {count_text(count)} elements ({show(count * 8)}); "
                         + _limit_words())


def refuse_recording(used: int) -> ShapeError:
    return ShapeError(f"the program's arrays and recording need more than {show(used)}; "
                      + _limit_words())


def check_loop(steps_left: int, step_bytes: int, used: int, what: str = "this loop") -> None:
    """Refuse a loop whose remaining steps, each like its first, would pass the budget."""
    estimate = used + steps_left * step_bytes
    if estimate > limit():
        raise ShapeError(f"{what} would record about {show(estimate)} "
                         f"({steps_left + 1:,} steps of {show(step_bytes)} each, judged by "
                         f"its first); " + _limit_words())


def check_file(size: int, file: str) -> str | None:
    """The reason a data file of ``size`` bytes is refused, or None."""
    if size > limit():
        return (f"cannot read data file '{file}': it is {show(size)}, more than the memory "
                f"budget of {show(limit())}; raise it with --max-memory")
    return None
