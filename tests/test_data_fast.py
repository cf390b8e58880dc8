"""The CSV fast path (diffopt.data_fast) against the careful reader (diffopt.data).

On every file both accept the tables are bit-identical; on every file the
careful reader refuses, load_csv (fast path first) raises the careful reader's
exact error. Files come from a seeded generator of number spellings, layouts
and line ends, from hypothesis, and from every CSV in problems/ and tests/.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffopt.data import _Errors, _header, _read_text, load_csv, parse_csv
from diffopt.data_fast import fast_table
from diffopt.errors import DataError
from diffopt.source import Source

ROOT = Path(__file__).resolve().parent.parent
SPAN = Source("taxi.dop", 'data trips = csv("trips.csv")\n').span(13, 29)


def careful(file: str):
    """The careful reader's table or error message for the file."""
    try:
        text = _read_text(file, "trips", SPAN)
        return parse_csv(text, file=file, name="trips", span=SPAN)
    except DataError as exc:
        return exc.message


def loaded(path: Path):
    try:
        return load_csv(path, name="trips", span=SPAN)
    except DataError as exc:
        return exc.message


def fast(path: Path):
    errs = _Errors(str(path), "trips", SPAN)
    return fast_table(str(path), lambda row: _header(row, errs))


def assert_same(got, want):
    if isinstance(want, str) or isinstance(got, str):
        assert got == want
        return
    assert list(got) == list(want)
    for name in want:
        assert got[name].dtype == np.float64 and got[name].shape == want[name].shape
        # Bits, so that -0.0 and 0.0 differ.
        assert np.array_equal(got[name].view(np.uint64), want[name].view(np.uint64)), name


def check_file(path: Path, raw: bytes):
    """Both paths agree on ``raw``; returns whether the fast path took it."""
    path.write_bytes(raw)
    want = careful(str(path))
    assert_same(loaded(path), want)
    table = fast(path)
    if table is not None:
        assert not isinstance(want, str), f"fast path took a refused file: {raw!r}"
        assert_same(table, want)
        assert_stored_once(table)
    return table is not None


# ----------------------------------------------------------- generated files


def spelling(rng: random.Random) -> str:
    """A number in one of the spellings people and programs write."""
    kind = rng.randrange(12)
    value = rng.choice(
        [rng.uniform(-1e3, 1e3), rng.gauss(0, 1), 10 ** rng.uniform(-320, 308)]
    ) * rng.choice([1, -1])
    if kind == 0:
        return repr(value)
    if kind == 1:
        return f"{value:.{rng.randrange(0, 20)}e}"
    if kind == 2:
        return f"{rng.uniform(-1e6, 1e6):.{rng.randrange(0, 12)}f}"
    if kind == 3:
        return str(rng.randrange(-(10 ** rng.randrange(1, 25)), 10 ** rng.randrange(1, 25)))
    if kind == 4:
        return (
            "+" + "0" * rng.randrange(4) + str(rng.randrange(1000)) + "." + str(rng.randrange(1000))
        )
    if kind == 5:
        return rng.choice(["", "-", "+"]) + "." + str(rng.randrange(10**6))
    if kind == 6:
        return rng.choice(["", "-", "+"]) + str(rng.randrange(10**6)) + "."
    if kind == 7:
        return rng.choice(["-0", "0", "+0", "-0.0", "0e0", "-0e-5", "00", "000.000"])
    if kind == 8:
        return rng.choice(["inf", "-inf", "+Inf", "INF", "Infinity", "-infinity", "iNfInItY"])
    if kind == 9:
        return rng.choice(
            [
                "1e308",
                "1.7976931348623157e308",
                "1e309",
                "-1e400",
                "5e-324",
                "2.4703282292062328e-324",
                "1e-400",
                "2.2250738585072014e-308",
            ]
        )
    if kind == 10:
        return "".join(rng.choice("0123456789") for _ in range(rng.randrange(15, 40))) + (
            "e" + str(rng.randrange(-330, 300)) if rng.random() < 0.5 else ""
        )
    return f"{value:{rng.choice(['g', '.17g', '.3G', 'E'])}}"


def generated_csv(rng: random.Random) -> bytes:
    columns = rng.randrange(1, 7)
    rows = rng.randrange(1, 30)
    newline = rng.choice(["\n", "\r\n", "\r"])
    pad = rng.random() < 0.3
    header = ",".join(
        rng.choice(["x", "y", "distance (km)", "é", " t "]) + str(i) for i in range(columns)
    )

    def cell():
        text = spelling(rng)
        if pad and rng.random() < 0.5:
            text = " " * rng.randrange(3) + text + " " * rng.randrange(3)
        return text

    lines = [header] + [",".join(cell() for _ in range(columns)) for _ in range(rows)]
    text = newline.join(lines)
    if rng.random() < 0.7:
        text += newline
    text += newline * rng.choice([0, 0, 1, 3])
    if rng.random() < 0.1:
        text = "\ufeff" + text
    return text.encode()


def test_generated_files_agree_and_take_the_fast_path(tmp_path):
    rng = random.Random(20261208)
    taken = 0
    for i in range(400):
        raw = generated_csv(rng)
        taken += check_file(tmp_path / f"g{i}.csv", raw)
    assert taken == 400  # every generated file is one the fast path can read


HAZARDS = [
    (b"a,b\n1,2\n\n3,4\n", "trips.csv: row 3 is empty"),
    (b"y\n1\n\n2\n", None),
    (b"a,b\r\n1,2\r\n\r\n3,4\r\n", None),
    (b"a,b\r1,2\r\r3,4\r", None),
    (b"a,b\n\n1,2\n", None),
    (b"a,b\n1,2\n  \n3,4\n", None),
    (b"a,b\n1,2\n3,4\n  \n\n", None),
    (b"a\n1_000\n2\n", None),
    (b"a\n1\nnan\n", None),
    (b"a\n1\n-NaN\n", None),
    (b'a\n"1"\n2\n', None),
    (b'"a","b"\n1,2\n', None),
    (b'"a\nb",c\n1,2\n', None),
    (b'a,"b\n1,2\n', None),
    (b"a,b\n1,2,\n", None),
    (b"a,b\n1\n", None),
    (b"a,b\n1,\n", None),
    (b"a\n1\x00\n", None),
    (b"a\n\xd9\xa1\xd9\xa2\n", None),  # Arabic-Indic digits: float() reads them
    (b"a\n\xc2\xa01\xe2\x80\x83\n", None),  # no-break and em spaces around a number
    (b"a\n\t1\x0b\n", None),
    (b"a\n0x1p3\n", None),
    (b"caf\xe9\n1\n", None),
    (b"a\n1\n\xff\n", None),
    (b"a\n1 2\n", None),
    (b"a;b\n1;2\n", None),
    (b"1,2\n3,4\n", None),
    (b"a,a\n1,2\n", None),
    (b",b\n1,2\n", None),
    (b"a,b\n", None),
    (b"", None),
    (b"\n\n", None),
    (b"\xef\xbb\xbf\xef\xbb\xbfa\n1\n", None),
    (b"a\n# comment\n1\n", None),
    (b"a\n1\r\n2\n3\r4\n", None),
    (b"a\n1\n\r\n", None),
    (b"a\n" + b"1" * 200_000 + b"\n", None),
    (b"a\n" + b" " * 140_000 + b"1\n", None),
]


@pytest.mark.parametrize("raw, message", HAZARDS)
def test_hazards_agree(tmp_path, raw, message):
    path = tmp_path / "trips.csv"
    check_file(path, raw)
    if message is not None:
        assert loaded(path) == message.replace("trips.csv", str(path))


def test_long_field_limit_falls_back(tmp_path):
    # 200,000 digits is a valid number to np.loadtxt but over the csv module's field limit.
    path = tmp_path / "long.csv"
    path.write_bytes(b"a\n" + b"1" * 200_000 + b"\n")
    assert fast(path) is None
    assert "longer than" in loaded(path)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cells=st.lists(
        st.lists(
            st.text(alphabet='0123456789.eE+-_ infINFatyAT\t"', max_size=8), min_size=2, max_size=2
        ),
        min_size=1,
        max_size=5,
    ),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    tail=st.sampled_from(["", "\n", "\n\n", "\r\n \r\n"]),
)
def test_random_cells_agree(tmp_path, cells, newline, tail):
    text = newline.join(["a,b"] + [",".join(row) for row in cells]) + tail
    check_file(tmp_path / "h.csv", text.encode())


# -------------------------------------------------------- the project's files


CSV_FILES = sorted((ROOT / "problems").rglob("*.csv")) + sorted((ROOT / "tests").rglob("*.csv"))


@pytest.mark.parametrize("path", CSV_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_project_csv_files_agree(path):
    want = careful(str(path))
    assert_same(loaded(path), want)
    table = fast(path)
    if table is not None:
        assert_same(table, want)


def assert_stored_once(table: dict) -> None:
    """Every column a contiguous float64 row of one (columns, rows) array."""
    columns = list(table.values())
    base = columns[0].base
    assert base is not None and base.dtype == np.float64
    assert base.size == len(columns) * columns[0].size  # one array holds them all
    for column in columns:
        assert column.dtype == np.float64 and column.flags.c_contiguous
        assert column.base is base


def test_columns_are_contiguous_float64_rows_of_one_array(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b,c\n1,2,3\n4,5,6\n")
    table = fast(path)
    assert table is not None
    assert_stored_once(table)
    for name, want in zip("abc", ([1, 4], [2, 5], [3, 6])):
        np.testing.assert_array_equal(table[name], want)
