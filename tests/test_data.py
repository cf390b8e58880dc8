"""Tests for diffopt.data (CSV tables) and diffopt.option_values (--set/--at/--data values)."""

from __future__ import annotations

import numpy as np
import pytest

from diffopt.data import load_csv, parse_csv
from diffopt.errors import DataError, UsageError
from diffopt.option_values import parse_assignment, parse_at, parse_value
from diffopt.report.diagnostics import render
from diffopt.source import Source

DOP = 'data trips = csv("trips.csv")\n'
SPAN = Source("taxi.dop", DOP).span(13, 29)


def table(text: str) -> dict[str, np.ndarray]:
    return parse_csv(text, file="trips.csv", name="trips", span=SPAN)


def error(text: str) -> DataError:
    with pytest.raises(DataError) as info:
        table(text)
    assert info.value.span == SPAN
    return info.value


# ------------------------------------------------------------------- success


def test_basic_table():
    out = table("distance_km,minutes\n6,12\n3.5, 7\n")
    assert list(out) == ["distance_km", "minutes"]
    np.testing.assert_array_equal(out["distance_km"], [6.0, 3.5])
    np.testing.assert_array_equal(out["minutes"], [12.0, 7.0])
    assert out["minutes"].dtype == np.float64


def test_crlf_bom_quotes_and_spaces(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b'\xef\xbb\xbf"distance (km)", b\r\n "1.5" , 2 \r\n-3e2,"4"\r\n\r\n\r\n')
    out = load_csv(path, name="trips", span=SPAN)
    assert list(out) == ["distance (km)", "b"]
    np.testing.assert_array_equal(out["distance (km)"], [1.5, -300.0])
    np.testing.assert_array_equal(out["b"], [2.0, 4.0])


def test_inf_accepted():
    out = table("a\ninf\n-inf\n+Inf\n")
    np.testing.assert_array_equal(out["a"], [np.inf, -np.inf, np.inf])


def test_stdin_text():
    out = load_csv("-", name="trips", span=SPAN, from_stdin_text="\ufeffx\r\n1\r\n2\r\n")
    np.testing.assert_array_equal(out["x"], [1.0, 2.0])


def test_stdin_errors_name_stdin():
    with pytest.raises(DataError) as info:
        load_csv("-", name="trips", span=SPAN, from_stdin_text="x\nfoo\n")
    assert info.value.message == "<stdin>: row 2, column 'x': 'foo' is not a number"


# -------------------------------------------------------------------- errors


def test_bad_cell_names_file_row_and_column():
    err = error("a,b\n1,2\n3,abc\n")
    assert err.message == "trips.csv: row 3, column 'b': 'abc' is not a number"
    assert err.notes == ("while reading data 'trips'",)
    assert render(err) == (
        "taxi.dop:1:14: error: trips.csv: row 3, column 'b': 'abc' is not a number\n"
        '    1 | data trips = csv("trips.csv")\n'
        "      |              ^~~~~~~~~~~~~~~~\n"
        "note: while reading data 'trips'"
    )


def test_empty_cell():
    err = error("a,b\n1,\n")
    assert err.message == "trips.csv: row 2, column 'b': the cell is empty"


def test_nan_rejected():
    err = error("a\n1\nNaN\n")
    assert err.message == (
        "trips.csv: row 3, column 'a': 'nan' is not allowed (missing values are not supported)"
    )


def test_decimal_comma_hint():
    err = error('a\n"1,5"\n')
    assert err.message == "trips.csv: row 2, column 'a': '1,5' is not a number"
    assert err.hint == "use '.' as the decimal point (1.5, not 1,5)"


def test_semicolon_separator_hint():
    err = error("a;b\n1;2\n")
    assert err.hint == "the header seems to use ';' between columns; diffopt reads commas"


def test_ragged_row():
    err = error("a,b\n1,2\n3,4,5\n")
    assert err.message == "trips.csv: row 3 has 3 fields, but the header has 2 columns"
    err = error("a,b\n1\n")
    assert err.message == "trips.csv: row 2 has 1 fields, but the header has 2 columns"


def test_blank_line_between_rows():
    assert error("a,b\n1,2\n\n3,4\n").message == "trips.csv: row 3 is empty"
    assert error("y\n1\n\n2\n").message == "trips.csv: row 3, column 'y': the cell is empty"


def test_empty_file():
    for text in ("", "\n\n", "\ufeff"):
        assert error(text).message == (
            "trips.csv: the file is empty; a header row naming the columns is required"
        )


def test_header_without_rows():
    assert error("a,b\n").message == "trips.csv: the header is not followed by any data rows"


def test_duplicate_header():
    assert error("a,b,a\n1,2,3\n").message == (
        "trips.csv: column name 'a' appears twice in the header (columns 1 and 3)"
    )


def test_empty_header_name():
    assert error("a,,c\n1,2,3\n").message == "trips.csv: column 2 of the header row has no name"


def test_numeric_header_is_a_missing_header():
    assert error("1,2\n3,4\n").message == (
        "trips.csv: the first row holds numbers, not column names; a header row is required"
    )


def test_unclosed_quote():
    assert error('a,b\n1,"2\n').message == (
        "trips.csv: row 2, column 'b': a quoted field runs over several lines; "
        "is a closing quote missing?"
    )


def test_nul_byte():
    assert (
        error("a\n1\x00\n").message
        == "trips.csv: the file contains a NUL byte; is it a binary file?"
    )


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError) as info:
        load_csv(path, name="trips", span=SPAN)
    assert info.value.message == f"cannot read data file '{path}': no such file"


def test_directory(tmp_path):
    with pytest.raises(DataError) as info:
        load_csv(tmp_path, name="trips", span=SPAN)
    assert (
        info.value.message == f"cannot read data file '{tmp_path}': it is a directory, not a file"
    )


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"caf\xe9\n1\n")
    with pytest.raises(DataError) as info:
        load_csv(path, name="trips", span=SPAN)
    assert info.value.message == f"{path}: the file is not UTF-8 text: byte 0xe9 at offset 3"


# ------------------------------------------------------ command-line values


def test_parse_assignment():
    assert parse_assignment("x1=3", "--set") == ("x1", "3")
    assert parse_assignment(" trips = other.csv ", "--data") == ("trips", "other.csv")
    assert parse_assignment("w=[1,2]", "--set") == ("w", "[1,2]")
    assert parse_assignment("f=a=b.csv", "--data") == ("f", "a=b.csv")


@pytest.mark.parametrize(
    ("text", "option", "message"),
    [
        ("x", "--set", "--set expects NAME=VALUE, got 'x' (no '=')"),
        ("=3", "--set", "--set expects NAME=VALUE, got '=3' (no name before '=')"),
        ("trips", "--data", "--data expects NAME=PATH, got 'trips' (no '=')"),
        ("trips=", "--data", "--data expects NAME=PATH, got 'trips=' (nothing after '=')"),
    ],
)
def test_parse_assignment_errors(text, option, message):
    with pytest.raises(UsageError) as info:
        parse_assignment(text, option)
    assert info.value.message == message


def test_parse_value_numbers_and_arrays():
    assert parse_value("3", "--set") == 3.0
    assert isinstance(parse_value("3", "--set"), float)
    assert parse_value(" -1.5e-3 ", "--set") == -1.5e-3
    assert parse_value("-inf", "--set") == -np.inf
    np.testing.assert_array_equal(parse_value("[1, 2.5]", "--set"), [1.0, 2.5])
    matrix = parse_value("[[1, 2], [3, 4]]", "--set")
    assert matrix.shape == (2, 2) and matrix.dtype == np.float64
    np.testing.assert_array_equal(parse_value('[1, "inf", Infinity]', "--set"), [1, np.inf, np.inf])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "--set x: 'abc' is not a number or a JSON array of numbers"),
        ("nan", "--set x: nan is not allowed (got 'nan')"),
        ("[1, 2", "--set x: bad JSON in '[1, 2': Expecting ',' delimiter at character 6"),
        ("[1, true]", "--set x: true in '[1, true]' is not a number"),
        ('[1, "a"]', '--set x: "a" in \'[1, "a"]\' is not a number'),
        ("[[1], [2, 3]]", "--set x: the rows of '[[1], [2, 3]]' have different lengths"),
        ("[NaN]", "--set x: NaN is not allowed in '[NaN]'"),
    ],
)
def test_parse_value_errors(text, message):
    with pytest.raises(UsageError) as info:
        parse_value(text, "--set x")
    assert info.value.message == message


def test_parse_value_bad_json_points_at_the_position():
    with pytest.raises(UsageError) as info:
        parse_value("[1, 2", "--set")
    assert info.value.notes == ("[1, 2", "     ^")


def test_parse_at():
    assert parse_at("init") == "init"
    assert parse_at(" random ") == "random"
    at = parse_at('{"x1": 3, "w": [1, 2]}')
    assert at["x1"] == 3.0 and isinstance(at["x1"], float)
    np.testing.assert_array_equal(at["w"], [1.0, 2.0])
    short = parse_at("x1=3,w=[1, 2]")
    assert short["x1"] == 3.0
    np.testing.assert_array_equal(short["w"], [1.0, 2.0])
    assert parse_at("{}") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"x1": 3,}',
            "--at: bad JSON in '{\"x1\": 3,}': "
            "Expecting property name enclosed in double quotes at character 10",
        ),
        ('{"a": 1, "a": 2}', "--at: 'a' is given twice in '{\"a\": 1, \"a\": 2}'"),
        ('{"a": "s"}', '--at a: "s" in \'{"a": "s"}\' is not a number'),
        ("x=1,x=2", "--at: 'x' is given twice in 'x=1,x=2'"),
        ("somewhere", "--at expects init, random, or parameter values, got 'somewhere'"),
    ],
)
def test_parse_at_errors(text, message):
    with pytest.raises(UsageError) as info:
        parse_at(text)
    assert info.value.message == message
