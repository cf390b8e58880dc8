"""The fast path of CSV loading: NumPy's C reader on files it reads as diffopt.data does.

``fast_table`` reads a CSV file with ``np.loadtxt`` (NumPy's C tokenizer and
number parser, no Python object per cell) but only when it can guarantee the
result is the one the careful reader in diffopt.data would return; in every
other case, and on any failure, it returns None and the caller runs the
careful reader, which also produces the located error messages.

Why the two agree (each point is tested in tests/test_data_fast.py):

- The header is parsed here with the careful reader's own csv settings and
  checked by its own function, and must end on the first physical line
  (a quoted name spanning lines falls back). Decoding is UTF-8 with an
  optional BOM, as in the careful reader.
- ``np.loadtxt`` opens the file in universal-newline text mode, so CRLF, LF
  and CR line ends split lines as the ``csv`` module does; it skips empty
  lines, which the careful reader refuses between rows, so its row count
  must equal the number of lines before the trailing empty ones. Lines of spaces, ragged rows, empty
  cells, quotes, underscores (``1_000``), non-ASCII digits and text that is
  not UTF-8 all make ``np.loadtxt`` fail, and fall back.
- Its number parser strips the same whitespace as ``float`` and parses ASCII
  numbers with the same correctly rounded conversion, ``inf``/``infinity``
  in any case included; a NaN anywhere in the result falls back (the
  careful reader refuses ``nan``).
- A NUL byte anywhere, or a run of bytes without a comma or line end long
  enough to be a field over the ``csv`` module's size limit, falls back.
- The file's size and modification time must be unchanged after the read.

The table comes back as float64 columns that are rows of one C-ordered
``(columns, rows)`` array: each column is C-contiguous and the table is
stored once.
"""

from __future__ import annotations

import csv
import math
import mmap
import os
import warnings
from collections.abc import Callable

import numpy as np

__all__ = ["fast_table"]

_LF, _CR = 10, 13
_BLOCK = 1 << 22  # bytes per block when counting line ends


def fast_table(file: str, header: Callable[[list[str]], list[str]]) -> dict[str, np.ndarray] | None:
    """The table in CSV ``file`` read by ``np.loadtxt``, or None to fall back.

    ``header`` turns the header row's cells into column names, raising on a
    bad header (the caller's own check, so both paths accept the same names).
    """
    try:
        before = os.stat(file)
        checked = _checked_names(file, header)
        if checked is None:
            return None
        names, lines = checked
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            array = np.loadtxt(
                file,
                dtype=np.float64,
                delimiter=",",
                comments=None,
                skiprows=1,
                ndmin=2,
                encoding="utf-8",
                quotechar=None,
            )
        after = os.stat(file)
    except Exception:  # any failure: the careful reader decides and explains
        return None
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        return None
    # np.loadtxt skips empty lines, which the careful reader refuses between
    # rows: one row per line means there were none.
    if array.shape != (lines, len(names)):
        return None
    # a NaN makes the sum NaN (so does inf - inf: then look closer)
    with np.errstate(all="ignore"):
        total = np.add.reduce(array, axis=None)
    if math.isnan(total) and np.isnan(array).any():
        return None
    # One transposing copy: each column contiguous (a strided column makes
    # every later pass over it slower, in the fused kernels by half), and the
    # parsed array freed at once, so the table is stored once.
    columns = np.ascontiguousarray(array.T)
    del array
    return {col_name: columns[j] for j, col_name in enumerate(names)}


def _checked_names(
    file: str, header: Callable[[list[str]], list[str]]
) -> tuple[list[str], int] | None:
    """The column names and the number of data lines, when ``file`` is one
    np.loadtxt reads exactly (its row count is checked against the lines)."""
    with open(file, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return None
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            size = len(view)
            if view.find(b"\x00") >= 0:
                return None
            line_end = [i for i in (view.find(b"\n"), view.find(b"\r")) if i >= 0]
            if not line_end:
                return None
            stop = min(line_end)
            start = stop + (2 if view[stop : stop + 2] == b"\r\n" else 1)
            names = _names(view[:stop], view[stop:start], header)
            end = size
            while end > start and view[end - 1] in (_LF, _CR):
                end -= 1
            if names is None or end == start or not _fields_short(view, start, end):
                return None
            lines = _line_ends(view, start, end) + 1
    return names, lines


def _line_ends(view: mmap.mmap, start: int, end: int) -> int:
    """Line ends (LF, CR or CRLF) in ``view[start:end]``, counted in blocks."""
    has_cr = view.find(b"\r", start, end) >= 0
    data = np.frombuffer(view, dtype=np.uint8)
    count = 0
    try:
        for at in range(start, end, _BLOCK):
            stop = min(at + _BLOCK, end)
            block = data[at:stop]
            count += int(np.count_nonzero(block == _LF))
            if has_cr:
                count += int(np.count_nonzero(block == _CR))
                pairs = data[at : min(stop + 1, end)]
                count -= int(np.count_nonzero((pairs[:-1] == _CR) & (pairs[1:] == _LF)))
                del pairs
            del block
    finally:
        del data  # the mmap cannot close while NumPy holds its buffer
    return count


def _names(
    line: bytes, line_end: bytes, header: Callable[[list[str]], list[str]]
) -> list[str] | None:
    text = line.decode("utf-8-sig").removeprefix("\ufeff")
    # A second line, so that a quoted field running past the first line is seen.
    reader = csv.reader(iter([text + line_end.decode(), "\n"]), skipinitialspace=True)
    row = next(reader)
    if reader.line_num != 1:
        return None
    return header(row)


def _fields_short(view: mmap.mmap, start: int, end: int) -> bool:
    """No field can reach the csv module's size limit: every aligned block of
    half the limit holds a comma or a line end (a run without one as long as
    the limit would cover a whole block)."""
    block = max(csv.field_size_limit() // 2, 1)
    for at in range(start, end, block):
        stop = min(at + block, end)
        if stop - at < block:
            break
        if view.find(b",", at, stop) < 0 and view.find(b"\n", at, stop) < 0:
            if view.find(b"\r", at, stop) < 0:
                return False
    return True
