"""Data tables from binary files: NumPy ``.npy``/``.npz``, Parquet, Arrow/Feather.

``csv("...")`` and ``--data NAME=FILE`` read a file by its extension
(``binary_kind``); this module reads the binary ones into the same thing
the CSV reader returns: column name → float64 vector, all of one length.
Every failure is a DataError naming the file (and the column); it never
prints. The rules (mirrored in man/dop.5):

- ``.npz``: each array in the archive is a column, named by its key, in the
  archive's order; every array one-dimensional, of one length, of a real
  numeric or boolean type (converted to float64). Pickled objects are
  never loaded.
- ``.npy``: a one-dimensional structured array whose fields are the columns
  (a plain array has no column names: an error that says to save an .npz).
- ``.parquet``, ``.feather``, ``.arrow``, ``.ipc``: the table's columns, read
  with pyarrow (the optional extra ``arrow``); a column of another type, or
  with missing values (nulls), is an error naming it.
- As in CSV files, NaN is refused (missing values are not supported), and
  a table needs at least one column and one row.

Memory: a float64 column is used as read (no copy); other types are
converted once.
"""

from __future__ import annotations

import math
import os

import numpy as np

__all__ = ["BINARY_KINDS", "MISSING_ARROW", "binary_kind", "load_binary"]

BINARY_KINDS = {".npz": "npz", ".npy": "npy", ".parquet": "parquet", ".feather": "arrow",
                ".arrow": "arrow", ".ipc": "arrow"}
MISSING_ARROW = ("reading Parquet and Arrow files needs the optional extra: "
                 "pip install 'diffopt-cli[arrow]'")


def binary_kind(file: str) -> str | None:
    """"npz", "npy", "parquet" or "arrow" by the file's extension; None for CSV."""
    return BINARY_KINDS.get(os.path.splitext(file)[1].lower())


def load_binary(file: str, kind: str, errs) -> dict[str, np.ndarray]:
    """The table in binary ``file``; ``errs(message)`` makes the DataError to raise.

    Raises OSError when the file cannot be read (the caller words it).
    """
    if kind == "npz":
        columns = _npz(file, errs)
    elif kind == "npy":
        columns = _npy(file, errs)
    else:
        columns = _arrow(file, kind, errs)
    if not columns:
        raise errs("the table has no columns")
    lengths = {name: column.shape[0] for name, column in columns.items()}
    first = next(iter(columns))
    for name, length in lengths.items():
        if length != lengths[first]:
            raise errs(f"column '{name}' has {length} rows, but column '{first}' has "
                       f"{lengths[first]}")
    if lengths[first] == 0:
        raise errs("the table has no rows")
    for name, column in columns.items():
        if math.isnan(np.add.reduce(column)) and np.isnan(column).any():
            row = int(np.flatnonzero(np.isnan(column))[0])
            raise errs(f"row {row + 1}, column '{name}': NaN is not allowed "
                       "(missing values are not supported)")
    return columns


def _float_column(name: str, array, errs) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 1:
        raise errs(f"column '{name}' has shape {array.shape}; every column must be "
                   "one-dimensional")
    if array.dtype.kind not in "biuf":
        raise errs(f"column '{name}' holds {array.dtype} values, not numbers")
    with np.errstate(all="ignore"):
        return array if array.dtype == np.float64 else array.astype(np.float64)


def _npz(file: str, errs) -> dict[str, np.ndarray]:
    try:
        archive = np.load(file, allow_pickle=False)
    except ValueError as exc:
        raise errs(f"not a NumPy .npz archive ({exc})") from None
    if not hasattr(archive, "files"):
        raise errs("not a NumPy .npz archive (an .npy array); rename it to .npy")
    with archive:
        columns = {}
        for name in archive.files:
            try:
                array = archive[name]
            except ValueError:
                raise errs(f"column '{name}' holds Python objects, not numbers") from None
            columns[name] = _float_column(name, array, errs)
    return columns


def _npy(file: str, errs) -> dict[str, np.ndarray]:
    try:
        array = np.load(file, allow_pickle=False, mmap_mode=None)
    except ValueError as exc:
        raise errs(f"not a NumPy .npy array ({exc})") from None
    if not isinstance(array, np.ndarray):
        raise errs("not a NumPy .npy array (an .npz archive); rename it to .npz")
    if array.dtype.names is None:
        raise errs(f"the .npy array has shape {array.shape} and no column names",
                   hint="save named columns: np.savez(FILE, x=x, y=y), or a structured array")
    if array.ndim != 1:
        raise errs(f"the .npy array has shape {array.shape}; a table is one-dimensional")
    return {name: _float_column(name, array[name], errs) for name in array.dtype.names}


def _arrow(file: str, kind: str, errs) -> dict[str, np.ndarray]:
    try:
        import pyarrow  # noqa: F401  (the optional extra)
    except ImportError:
        raise errs(MISSING_ARROW, prefix=False) from None
    import pyarrow.feather
    import pyarrow.lib
    import pyarrow.parquet

    try:
        if kind == "parquet":
            table = pyarrow.parquet.read_table(file)
        else:
            table = pyarrow.feather.read_table(file)
    except pyarrow.lib.ArrowException as exc:
        what = "a Parquet file" if kind == "parquet" else "an Arrow/Feather file"
        raise errs(f"not {what} ({str(exc).splitlines()[0]})") from None
    columns = {}
    for name, column in zip(table.column_names, table.columns):
        if name in columns:
            raise errs(f"column name '{name}' appears twice")
        if column.null_count:
            raise errs(f"column '{name}' has {column.null_count} missing values (nulls); "
                       "missing values are not supported")
        try:
            array = column.to_numpy()
        except pyarrow.lib.ArrowException:
            raise errs(f"column '{name}' holds {column.type} values, not numbers") from None
        columns[name] = _float_column(name, array, errs)
    return columns
