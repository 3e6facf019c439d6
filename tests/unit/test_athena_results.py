"""The local Athena's results: ColumnInfo, Trino's text form of values, CSV files, pages."""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from mhealth_localstack.athena import results
from mhealth_localstack.athena.results import ColumnInfo


def _formatted(array: pa.Array[Any]) -> list[str | None]:
    table = results.format_table(pa.table({"c": array}), ["c"])
    values: list[str | None] = table.column(0).to_pylist()
    return values


def _rows(page: results.Page) -> list[list[str | None]]:
    return [[datum.get("VarCharValue") for datum in row["Data"]] for row in page.rows]


# -- ColumnInfo -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duckdb_type", "athena_type", "precision", "scale"),
    [
        ("VARCHAR", "varchar", 2147483647, 0),
        ("BIGINT", "bigint", 19, 0),
        ("HUGEINT", "bigint", 19, 0),
        ("UBIGINT", "bigint", 19, 0),
        ("INTEGER", "integer", 10, 0),
        ("UINTEGER", "bigint", 19, 0),
        ("SMALLINT", "smallint", 5, 0),
        ("USMALLINT", "integer", 10, 0),
        ("TINYINT", "tinyint", 3, 0),
        ("UTINYINT", "smallint", 5, 0),
        ("DOUBLE", "double", 17, 0),
        ("FLOAT", "float", 7, 0),
        ("BOOLEAN", "boolean", 0, 0),
        ("DATE", "date", 0, 0),
        ("TIMESTAMP", "timestamp", 3, 0),
        ("TIMESTAMP_NS", "timestamp", 3, 0),
        ("TIMESTAMP WITH TIME ZONE", "timestamp with time zone", 3, 0),
        ("TIME", "time", 3, 0),
        ("INTERVAL", "interval day to second", 0, 0),
        ("BLOB", "varbinary", 0, 0),
        ("UUID", "uuid", 0, 0),
        ("JSON", "json", 0, 0),
        ('"NULL"', "unknown", 0, 0),
        ("DECIMAL(10,2)", "decimal", 10, 2),
        ("DECIMAL(38, 0)", "decimal", 38, 0),
        ("decimal(4,3)", "decimal", 4, 3),
        ("INTEGER[]", "array", 0, 0),
        ("VARCHAR[3]", "array", 0, 0),
        ("STRUCT(a INTEGER, b VARCHAR)", "row", 0, 0),
        ("MAP(VARCHAR, DOUBLE)", "map", 0, 0),
        ("BIT", "bit", 0, 0),
    ],
)
def test_column_info_gives_athena_type_precision_and_scale(
    duckdb_type: str, athena_type: str, precision: int, scale: int
) -> None:
    info = results.column_info("x", duckdb_type)

    assert (info["Type"], info["Precision"], info["Scale"]) == (athena_type, precision, scale)


def test_column_info_has_every_athena_field() -> None:
    assert results.column_info("Ünï", "VARCHAR") == ColumnInfo(
        CatalogName="hive",
        SchemaName="",
        TableName="",
        Name="Ünï",
        Label="Ünï",
        Type="varchar",
        Precision=2147483647,
        Scale=0,
        Nullable="UNKNOWN",
        CaseSensitive=True,
    )


@pytest.mark.parametrize(
    ("duckdb_type", "case_sensitive"),
    [("VARCHAR", True), ("JSON", True), ("BIGINT", False), ("DOUBLE", False)],
)
def test_column_info_is_case_sensitive_for_text_only(
    duckdb_type: str, case_sensitive: bool
) -> None:
    assert results.column_info("x", duckdb_type)["CaseSensitive"] is case_sensitive


def test_ddl_column_info_is_a_hive_string() -> None:
    info = results.ddl_column_info("tab_name")

    assert (info["Name"], info["Type"], info["Precision"], info["CaseSensitive"]) == (
        "tab_name",
        "string",
        0,
        True,
    )


# -- values as Trino's text ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0001", "1.0E-4"),
        ("-0.00012345", "-1.2345E-4"),
        ("0.001", "0.001"),
        ("0.000999", "9.99E-4"),
        ("100", "100.0"),
        ("2.5", "2.5"),
        ("9999999", "9999999.0"),
        ("10000000", "1.0E7"),
        ("1e+21", "1.0E21"),
        ("123456789", "1.23456789E8"),
        ("1.7976931348623157e+308", "1.7976931348623157E308"),
        ("0", "0.0"),
        ("-0", "-0.0"),
        ("nan", "NaN"),
        ("inf", "Infinity"),
        ("-inf", "-Infinity"),
        ("Infinity", "Infinity"),
    ],
)
def test_java_number_writes_doubles_as_java_does(text: str, expected: str) -> None:
    assert results.java_number(text) == expected


def test_doubles_are_formatted_like_java_with_null_kept() -> None:
    values = [1e-4, 100.0, 0.1, 1e7, 9999999.0, 1e21, -0.0, 0.30000000000000004, None]

    assert _formatted(pa.array(values, pa.float64())) == [
        "1.0E-4",
        "100.0",
        "0.1",
        "1.0E7",
        "9999999.0",
        "1.0E21",
        "-0.0",
        "0.30000000000000004",
        None,
    ]


def test_nan_and_infinite_doubles_are_formatted_like_java() -> None:
    values = [float("nan"), float("inf"), float("-inf")]

    assert _formatted(pa.array(values, pa.float64())) == ["NaN", "Infinity", "-Infinity"]


def test_reals_are_formatted_with_float_precision() -> None:
    values = [0.3, 1.5, 123456789.0, 1e-4]

    assert _formatted(pa.array(values, pa.float32())) == ["0.3", "1.5", "1.2345679E8", "1.0E-4"]


def test_integers_decimals_and_booleans_are_plain_text() -> None:
    table = pa.table(
        {
            "i": pa.array([-3, None], pa.int64()),
            "d": pa.array([Decimal("1.50"), Decimal("-0.05")], pa.decimal128(10, 2)),
            "b": pa.array([True, False]),
        }
    )

    formatted = results.format_table(table, ["i", "d", "b"])

    assert formatted.to_pydict() == {
        "i": ["-3", None],
        "d": ["1.50", "-0.05"],
        "b": ["true", "false"],
    }


def test_timestamps_show_milliseconds_like_trino() -> None:
    values = [
        dt.datetime(2014, 1, 1, 0, 0, 0, 20000),
        dt.datetime(2014, 1, 1, 0, 0, 0, 123456),
        dt.datetime(2014, 12, 31, 23, 59, 59),
        None,
    ]

    assert _formatted(pa.array(values, pa.timestamp("us"))) == [
        "2014-01-01 00:00:00.020",
        "2014-01-01 00:00:00.123",
        "2014-12-31 23:59:59.000",
        None,
    ]


def test_timestamps_with_time_zone_name_the_zone() -> None:
    value = dt.datetime(2014, 1, 1, 0, 0, 0, 20000, tzinfo=dt.UTC)

    assert _formatted(pa.array([value], pa.timestamp("us", "UTC"))) == [
        "2014-01-01 00:00:00.020 UTC"
    ]


def test_dates_and_times_are_iso_text() -> None:
    table = pa.table(
        {
            "d": pa.array([dt.date(2014, 1, 2), None], pa.date32()),
            "t": pa.array([dt.time(10, 11, 12, 500000), dt.time(0, 0)], pa.time64("us")),
        }
    )

    assert results.format_table(table, ["d", "t"]).to_pydict() == {
        "d": ["2014-01-02", None],
        "t": ["10:11:12.500", "00:00:00.000"],
    }


def _intervals(*values: tuple[int, int, int] | None) -> pa.Array[Any]:
    # (months, days, nanoseconds) tuples, as pa.MonthDayNano takes them.
    return pa.array(list(values), pa.month_day_nano_interval())


_HOUR_NS = 3_600_000_000_000


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (
            _intervals((0, 1, 0), (0, 0, 25 * _HOUR_NS), (0, 0, 0), None),
            ["1 00:00:00.000", "1 01:00:00.000", "0 00:00:00.000", None],
        ),
        (
            _intervals((0, 0, -90 * 60_000_000_000), (0, 0, 1_500_999), (0, 1, -_HOUR_NS)),
            ["-0 01:30:00.000", "0 00:00:00.001", "0 23:00:00.000"],
        ),
        (_intervals((1, 0, 0), (14, 0, 0), (-14, 0, 0), (0, 0, 0)), ["0-1", "1-2", "-1-2", "0-0"]),
        (_intervals((1, 1, 0), (0, 2, 0)), ["0-1 1 00:00:00.000", "2 00:00:00.000"]),
    ],
)
def test_intervals_are_written_like_trino_year_to_month_or_day_to_second(
    array: pa.Array[Any], expected: list[str | None]
) -> None:
    assert _formatted(array) == expected


def test_intervals_in_nested_values_are_written_like_trino() -> None:
    array = pa.array(
        [[(0, 1, 0), (13, 0, 0)]],  # (months, days, nanoseconds)
        pa.list_(pa.month_day_nano_interval()),
    )

    assert _formatted(array) == ["[1 00:00:00.000, 1-1]"]


def test_strings_keep_unicode_empty_and_null_apart() -> None:
    values = ["é✓", "", None, "x\ny"]

    assert _formatted(pa.array(values, pa.string())) == values
    assert _formatted(pa.array(values, pa.large_string())) == values
    assert _formatted(pa.array(values, pa.string()).dictionary_encode()) == values


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (pa.array([[1, 2], [], None], pa.list_(pa.int64())), ["[1, 2]", "[]", None]),
        (pa.array([[1e-4, None, 2.0]], pa.list_(pa.float64())), ["[1.0E-4, null, 2.0]"]),
        (pa.array([[True, False]], pa.list_(pa.bool_())), ["[true, false]"]),
        (
            pa.array([{"a": 1, "b": "x"}], pa.struct([("a", pa.int32()), ("b", pa.string())])),
            ["{a=1, b=x}"],
        ),
        (pa.array([[("k", 1.5)]], pa.map_(pa.string(), pa.float64())), ["{k=1.5}"]),
        (pa.array([b"\x01\xff"], pa.binary()), ["01 ff"]),
    ],
)
def test_nested_values_and_binary_are_written_like_trino(
    array: pa.Array[Any], expected: list[str | None]
) -> None:
    assert _formatted(array) == expected


def test_format_table_renames_columns_and_allows_duplicate_names() -> None:
    table = pa.table({"x": pa.array([1]), "y": pa.array([2])})

    formatted = results.format_table(table, ["a", "a"])

    assert formatted.column_names == ["a", "a"]
    assert [formatted.column(i).to_pylist() for i in range(2)] == [["1"], ["2"]]


def test_format_table_of_an_empty_result_keeps_its_columns() -> None:
    table = pa.table({"x": pa.array([], pa.float64()), "t": pa.array([], pa.timestamp("us"))})

    formatted = results.format_table(table, ["_col0", "t"])

    assert formatted.num_rows == 0
    assert formatted.schema == pa.schema([("_col0", pa.string()), ("t", pa.string())])


# -- CSV and text files -------------------------------------------------------------------------


def _text_table() -> pa.Table:
    return pa.table(
        {
            "a": pa.array(["1", 'x"y', None, ""], pa.string()),
            "b": pa.array(["é,✓", "line\nbreak", "2", None], pa.string()),
        }
    )


def test_csv_quotes_every_value_and_writes_null_as_an_empty_field() -> None:
    expected = '"a","b"\n"1","é,✓"\n"x""y","line\nbreak"\n,"2"\n"",\n'

    assert results.csv_bytes(_text_table()) == expected.encode()


def test_csv_without_header_has_only_the_rows() -> None:
    expected = '"1","é,✓"\n"x""y","line\nbreak"\n,"2"\n"",\n'

    assert results.csv_bytes(_text_table(), header=False) == expected.encode()


def test_csv_of_an_empty_result_is_its_header() -> None:
    table = pa.table({"_col0": pa.array([], pa.string()), "n": pa.array([], pa.string())})

    assert results.csv_bytes(table) == b'"_col0","n"\n'


def test_csv_of_a_table_without_columns_is_empty() -> None:
    assert results.csv_bytes(pa.table({})) == b""


@pytest.mark.parametrize("header", [True, False])
def test_read_csv_gives_back_what_csv_bytes_wrote(header: bool) -> None:
    table = _text_table()

    back = results.read_csv(results.csv_bytes(table, header=header), ["a", "b"], header=header)

    assert back.to_pydict() == table.to_pydict()


def test_read_csv_of_an_empty_result_has_no_rows() -> None:
    back = results.read_csv(b'"a"\n', ["a"])

    assert back.num_rows == 0
    assert back.schema == pa.schema([("a", pa.string())])
    assert results.read_csv(b"", []).num_columns == 0


def test_text_result_is_one_line_per_row_and_reads_back() -> None:
    table = pa.table({"col_name": pa.array(["id      \tbigint", "", None, "é"], pa.string())})

    data = results.text_bytes(table)

    assert data == "id      \tbigint\n\n\né\n".encode()
    assert results.read_text(b"a\tb\nc\n", ["x", "y"]).to_pydict() == {
        "x": ["a", "c"],
        "y": ["b", None],
    }


def test_metadata_file_lists_columns_and_row_count() -> None:
    columns = [results.column_info("n", "BIGINT"), results.column_info("d", "DECIMAL(10,2)")]

    metadata = json.loads(results.metadata_bytes(columns, 3))

    assert metadata == {"ColumnInfo": columns, "RowCount": 3}


# -- pages --------------------------------------------------------------------------------------


def test_token_round_trips_and_belongs_to_its_query() -> None:
    token = results.encode_token("query-1", 5)

    assert results.decode_token("query-1", token) == 5
    assert results.decode_token("query-2", token) is None


@pytest.mark.parametrize(
    "token",
    [
        "!!!",
        "garbage",
        "",
        results.encode_token("q", -1),
        results.encode_token("q", 0) + "x",
        base64.urlsafe_b64encode(b"q:x").decode(),
    ],
)
def test_foreign_or_broken_tokens_decode_to_none(token: str) -> None:
    assert results.decode_token("q", token) is None


def test_header_row_counts_toward_max_results() -> None:
    first = results.page("q", _text_table(), header=True, offset=0, max_results=2)

    assert _rows(first) == [["a", "b"], ["1", "é,✓"]]
    assert first.next_token is not None
    assert results.decode_token("q", first.next_token) == 2


def test_null_is_an_empty_datum_and_empty_string_a_value() -> None:
    page = results.page("q", _text_table(), header=True, offset=3, max_results=10)

    assert page.rows == [
        {"Data": [{}, {"VarCharValue": "2"}]},
        {"Data": [{"VarCharValue": ""}, {}]},
    ]
    assert page.next_token is None


def _all_pages(table: pa.Table, *, header: bool, max_results: int) -> list[list[list[Any]]]:
    pages: list[list[list[Any]]] = []
    offset: int | None = 0
    while offset is not None:
        page = results.page("q", table, header=header, offset=offset, max_results=max_results)
        pages.append(_rows(page))
        offset = None if page.next_token is None else results.decode_token("q", page.next_token)
    return pages


def test_pages_walk_header_and_rows_without_gaps_or_repeats() -> None:
    pages = _all_pages(_text_table(), header=True, max_results=2)

    assert pages == [
        [["a", "b"], ["1", "é,✓"]],
        [['x"y', "line\nbreak"], [None, "2"]],
        [["", None]],
    ]


def test_pages_without_header_hold_only_rows() -> None:
    pages = _all_pages(_text_table(), header=False, max_results=3)

    assert pages == [
        [["1", "é,✓"], ['x"y', "line\nbreak"], [None, "2"]],
        [["", None]],
    ]


def test_one_page_holds_everything_when_it_fits_exactly() -> None:
    page = results.page("q", _text_table(), header=True, offset=0, max_results=5)

    assert len(page.rows) == 5
    assert page.next_token is None


def test_empty_result_pages_its_header_only() -> None:
    table = pa.table({"_col0": pa.array([], pa.string())})

    with_header = results.page("q", table, header=True, offset=0, max_results=1)
    without_header = results.page("q", table, header=False, offset=0, max_results=1)

    assert (with_header.rows, with_header.next_token) == (
        [{"Data": [{"VarCharValue": "_col0"}]}],
        None,
    )
    assert (without_header.rows, without_header.next_token) == ([], None)


def test_offset_past_the_end_is_an_empty_last_page() -> None:
    page = results.page("q", _text_table(), header=True, offset=9, max_results=2)

    assert (page.rows, page.next_token) == ([], None)
