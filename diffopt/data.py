"""Data tables from outside the .dop file: CSV files read into column vectors.

A file whose extension names a binary format (``.npy``, ``.npz``,
``.parquet``, ``.feather``, ``.arrow``) is read by diffopt.data_binary instead.

This module owns reading ``csv("...")`` tables (and their ``--data``
replacements) into float64 column vectors. Every failure is a ``DataError``
with a message that names the file, row and column. It never prints and
imports neither Rich nor the parser or the engine. The parsers of the
``--set``, ``--data`` and ``--at`` option values live in
diffopt.option_values.

CSV rules (mirrored in man/dop.5):

- UTF-8, with or without a BOM; CRLF, LF or CR line ends; comma-separated,
  double-quoted fields as the ``csv`` module reads them; spaces around a
  field are ignored.
- The first row is a header naming the columns. Names are kept as written
  (spaces around them dropped), so ``distance (km)`` is reached as
  ``table["distance (km)"]``. Empty and repeated names are errors; a header
  whose names all read as numbers is taken for a missing header, an error.
- Every cell is a number as Python's ``float`` reads it; ``inf`` and ``-inf``
  are accepted, ``nan`` is not (missing values are not supported), nor is
  an empty cell.
- Rows are numbered as a spreadsheet shows them: the header is row 1, the
  first data row is row 2 (for files without line breaks inside quoted
  fields this is also the line number). Blank lines at the end of the file
  are ignored; a blank line between rows is an error.

Files are first offered to the fast path in diffopt.data_fast (NumPy's C
reader, used only where it gives the same table bit for bit); whatever it
declines, including every file with an error, is read by the careful reader
below, which names the file, row and column.
"""

from __future__ import annotations

import csv
import errno
import io
import math
import os
import re
import stat
from collections.abc import Callable

import numpy as np

from diffopt import budget
from diffopt.data_binary import binary_kind, load_binary
from diffopt.data_fast import fast_table
from diffopt.errors import DataError
from diffopt.source import Span

__all__ = ["STDIN_NAME", "load_csv", "parse_csv"]

STDIN_NAME = "<stdin>"


# ---------------------------------------------------------------------- CSV


def load_csv(
    path_or_text: str | os.PathLike,
    *,
    name: str,
    span: Span,
    from_stdin_text: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Read a CSV table into named float64 column vectors.

    Args:
        path_or_text: the file to read (already resolved by the caller: relative
            to the .dop file for ``csv("...")``, to the working directory for
            ``--data``). When ``from_stdin_text`` is given it only names the
            source; ``"-"`` is shown as ``<stdin>``.
        name: the data table's name in the .dop file (``trips``); errors carry
            the note "while reading data 'trips'".
        span: the span of the ``csv("...")`` call (or of the data declaration);
            every error points there.
        from_stdin_text: the CSV text read from standard input, for ``--data NAME=-``.
        progress: called now and then as ``progress(rows_done, rows_total)``
            while the careful reader converts the cells (the fast path and
            the binary readers are one call each: they report nothing).

    Returns:
        Column name → float64 vector, in header order, all of one length (≥ 1).

    Raises:
        DataError: unreadable or empty file, bad header, ragged row, or a cell
            that is not a number; the message names the file, row and column.
    """
    if from_stdin_text is not None:
        shown = os.fspath(path_or_text)
        file = STDIN_NAME if shown in ("-", "") else shown
        text = from_stdin_text
    else:
        file = os.fspath(path_or_text)
        errs = _Errors(file, name, span)
        _refuse_special_files(file, errs)
        kind = binary_kind(file)
        if kind is not None:  # .npy, .npz, Parquet, Arrow/Feather: by the extension
            try:
                return load_binary(file, kind, errs)
            except OSError as exc:
                raise errs(f"cannot read data file '{file}': {_os_reason(exc)}",
                           prefix=False) from None
        table = fast_table(file, lambda row: _header(row, errs))
        if table is not None:
            return table
        text = _read_text(file, name, span)
    return parse_csv(text, file=file, name=name, span=span, progress=progress)


# the careful reader reports its progress every this many rows
PROGRESS_ROWS = 1 << 16


def parse_csv(text: str, *, file: str, name: str, span: Span,
              progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
    """The table in CSV ``text`` (see ``load_csv``); ``file`` names it in messages."""
    errs = _Errors(file, name, span)
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise errs("the file contains a NUL byte; is it a binary file?")
    rows = _records(text, errs)
    while rows and _is_blank(rows[-1]):
        rows.pop()
    if not rows:
        raise errs("the file is empty; a header row naming the columns is required")
    header = _header(rows[0], errs)
    if len(rows) == 1:
        raise errs("the header is not followed by any data rows")
    hint = _separator_hint(rows[0])
    columns: list[list[float]] = [[] for _ in header]
    for row_number, row in enumerate(rows[1:], start=2):
        if progress is not None and row_number % PROGRESS_ROWS == 0:
            progress(row_number - 1, len(rows) - 1)
        if _is_blank(row) and len(header) > 1:
            raise errs(f"row {row_number} is empty", hint=hint)
        if len(row) != len(header) and not (_is_blank(row) and len(header) == 1):
            raise errs(
                f"row {row_number} has {len(row)} fields, but the header has {len(header)} columns",
                hint=hint,
            )
        cells = row if row else [""]
        for column, (col_name, cell) in enumerate(zip(header, cells, strict=True)):
            columns[column].append(_cell(cell, row_number, col_name, errs, hint))
    return {
        col_name: np.array(values, dtype=np.float64)
        for col_name, values in zip(header, columns, strict=True)
    }


class _Errors:
    """Builds the DataErrors of one file: ``file: message``, at the csv() span."""

    def __init__(self, file: str, name: str, span: Span):
        self.file, self.name, self.span = file, name, span

    def __call__(self, message: str, hint: str | None = None, prefix: bool = True) -> DataError:
        notes = (f"while reading data '{self.name}'",) if self.name else ()
        text = f"{self.file}: {message}" if prefix else message
        return DataError(text, self.span, notes=notes, hint=hint)


def _refuse_special_files(file: str, errs) -> None:
    """Only regular files are read: a device (``/dev/zero``), a pipe or a socket
    could block or never end, and reading one is not what a data table means.
    A file larger than the memory budget is refused too, before it is read."""
    try:
        status = os.stat(file)
    except OSError:
        return  # the read reports it, in its words
    if not stat.S_ISREG(status.st_mode) and not stat.S_ISDIR(status.st_mode):
        raise errs(f"cannot read data file '{file}': it is not a regular file "
                   "(a device, pipe or socket)", prefix=False)
    too_big = budget.check_file(status.st_size, file)  # refused before reading a byte
    if too_big:
        raise errs(too_big, prefix=False)


def _read_text(file: str, name: str, span: Span) -> str:
    errs = _Errors(file, name, span)
    try:
        with open(file, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise errs(f"cannot read data file '{file}': {_os_reason(exc)}", prefix=False) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise errs(
            f"the file is not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start}",
            hint='save it as UTF-8 ("CSV UTF-8" in spreadsheet programs)',
        ) from None


def _os_reason(exc: OSError) -> str:
    """An OSError in plain words, without the errno number and file name."""
    plain = {
        errno.ENOENT: "no such file",
        errno.EACCES: "permission denied",
        errno.EISDIR: "it is a directory, not a file",
    }
    if exc.errno in plain:
        return plain[exc.errno]
    reason = exc.strerror or str(exc)
    return reason[:1].lower() + reason[1:]


def _records(text: str, errs: _Errors) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    rows: list[list[str]] = []
    try:
        for row in reader:
            rows.append(row)
    except csv.Error as exc:
        raise errs(f"row {len(rows) + 1}: {_csv_reason(exc)}") from None
    return rows


def _csv_reason(exc: csv.Error) -> str:
    reason = str(exc)
    if "field larger than field limit" in reason:
        return f"a field is longer than {csv.field_size_limit()} characters"
    return reason


def _is_blank(row: list[str]) -> bool:
    return all(not cell.strip() for cell in row) and len(row) <= 1


def _header(row: list[str], errs: _Errors) -> list[str]:
    names = [cell.strip() for cell in row]
    seen: dict[str, int] = {}
    for column, col_name in enumerate(names, start=1):
        if not col_name:
            raise errs(f"column {column} of the header row has no name")
        if col_name in seen:
            raise errs(
                f"column name '{col_name}' appears twice in the header "
                f"(columns {seen[col_name]} and {column})"
            )
        seen[col_name] = column
    if all(_is_number(col_name) for col_name in names):
        raise errs(
            "the first row holds numbers, not column names; a header row is required",
            hint="add a first line naming the columns, e.g. x,y",
        )
    return names


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _separator_hint(header: list[str]) -> str | None:
    if len(header) == 1:
        for sep, label in ((";", "';'"), ("\t", "tabs")):
            if sep in header[0]:
                return f"the header seems to use {label} between columns; diffopt reads commas"
    return None


def _cell(cell: str, row: int, column: str, errs: _Errors, hint: str | None) -> float:
    where = f"row {row}, column '{column}'"
    text = cell.strip()
    if "\n" in cell or "\r" in cell:
        raise errs(f"{where}: a quoted field runs over several lines; is a closing quote missing?")
    if not text:
        raise errs(f"{where}: the cell is empty", hint="every cell must hold a number")
    try:
        value = float(text)
    except ValueError:
        if re.fullmatch(r"[-+]?\d+,\d+", text):
            hint = "use '.' as the decimal point (1.5, not 1,5)"
        raise errs(f"{where}: '{_short(text)}' is not a number", hint=hint) from None
    if math.isnan(value):
        raise errs(f"{where}: 'nan' is not allowed (missing values are not supported)")
    return value


def _short(text: str, limit: int = 40) -> str:
    """``text`` for a message: control characters escaped, long text cut."""
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text if len(text) <= limit else text[: limit - 1] + "…"
