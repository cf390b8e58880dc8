"""Tables from .npy/.npz (NumPy) and Parquet/Arrow/Feather (the arrow extra) files."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from diffopt.data import load_csv
from diffopt.data_binary import MISSING_ARROW
from diffopt.errors import DataError
from diffopt.source import Source

SPAN = Source("fit.dop", 'data t = csv("t.npz")\n').span(9, 21)


def load(path):
    return load_csv(str(path), name="t", span=SPAN)


def message(path) -> str:
    with pytest.raises(DataError) as info:
        load(path)
    assert info.value.span == SPAN
    return info.value.message


def test_npz_columns_in_order_as_float64(tmp_path):
    path = tmp_path / "t.npz"
    x = np.linspace(0, 1, 7)
    np.savez(path, b=x, a=np.arange(7), flag=np.arange(7) % 2 == 0)
    table = load(path)
    assert list(table) == ["b", "a", "flag"]
    np.testing.assert_array_equal(table["b"], x)
    np.testing.assert_array_equal(table["a"], np.arange(7.0))
    np.testing.assert_array_equal(table["flag"], [1, 0, 1, 0, 1, 0, 1])
    assert all(column.dtype == np.float64 for column in table.values())


def test_npy_structured_array(tmp_path):
    path = tmp_path / "t.npy"
    array = np.zeros(3, dtype=[("x", "f8"), ("y", "i4")])
    array["x"], array["y"] = [1.5, 2.5, 3.5], [1, 2, 3]
    np.save(path, array)
    table = load(path)
    np.testing.assert_array_equal(table["x"], [1.5, 2.5, 3.5])
    np.testing.assert_array_equal(table["y"], [1.0, 2.0, 3.0])


def test_npy_without_names_is_an_error(tmp_path):
    path = tmp_path / "t.npy"
    np.save(path, np.ones((4, 2)))
    assert message(path) == f"{path}: the .npy array has shape (4, 2) and no column names"


def test_npz_errors(tmp_path):
    path = tmp_path / "t.npz"
    np.savez(path, x=np.ones(3), y=np.ones(4))
    assert message(path) == f"{path}: column 'y' has 4 rows, but column 'x' has 3"
    np.savez(path, x=np.array([1.0, np.nan, 2.0]))
    assert message(path) == (f"{path}: row 2, column 'x': NaN is not allowed "
                             "(missing values are not supported)")
    np.savez(path, x=np.ones((2, 2)))
    assert message(path) == f"{path}: column 'x' has shape (2, 2); every column must be " \
                            "one-dimensional"
    np.savez(path, x=np.array(["a", "b"]))
    assert message(path) == f"{path}: column 'x' holds <U1 values, not numbers"
    np.savez(path, x=np.zeros(0))
    assert message(path) == f"{path}: the table has no rows"
    path.write_bytes(b"not a zip file")
    assert message(path).startswith(f"{path}: not a NumPy .npz archive (")


def test_missing_file(tmp_path):
    path = tmp_path / "none.npz"
    assert message(path) == f"cannot read data file '{path}': no such file"


@pytest.mark.parametrize("suffix", [".parquet", ".feather", ".arrow"])
def test_arrow_formats(tmp_path, suffix):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.feather
    import pyarrow.parquet

    x = np.random.default_rng(2).normal(size=50)
    table = pa.table({"x": x, "n": np.arange(50, dtype=np.int64)})
    path = tmp_path / f"t{suffix}"
    if suffix == ".parquet":
        pyarrow.parquet.write_table(table, path)
    else:
        pyarrow.feather.write_feather(table, path)
    got = load(path)
    np.testing.assert_array_equal(got["x"], x)
    np.testing.assert_array_equal(got["n"], np.arange(50.0))
    with_null = pa.table({"x": pa.array([1.0, None, 3.0])})
    pyarrow.parquet.write_table(with_null, tmp_path / "null.parquet")
    assert message(tmp_path / "null.parquet") == (
        f"{tmp_path / 'null.parquet'}: column 'x' has 1 missing values (nulls); "
        "missing values are not supported")


def test_missing_arrow_extra_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now fails
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1")
    assert message(path) == MISSING_ARROW
    assert "pip install 'diffopt-cli[arrow]'" in MISSING_ARROW and "\n" not in MISSING_ARROW
