"""Query results as Athena shows them: ColumnInfo, values as strings, CSV files, result pages."""

from __future__ import annotations

import base64
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, TypedDict

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

MAX_PAGE_SIZE: Final = 1000


class ColumnInfo(TypedDict):
    """Athena's ResultSetMetadata.ColumnInfo entry."""

    CatalogName: str
    SchemaName: str
    TableName: str
    Name: str
    Label: str
    Type: str
    Precision: int
    Scale: int
    Nullable: str
    CaseSensitive: bool


# Athena type name and the Precision Athena reports for it.
_PRECISION: Final[dict[str, int]] = {
    "varchar": 2147483647,
    "char": 2147483647,
    "bigint": 19,
    "integer": 10,
    "smallint": 5,
    "tinyint": 3,
    "double": 17,
    "float": 7,
    "timestamp": 3,
    "timestamp with time zone": 3,
    "time": 3,
}
_DUCKDB_TYPES: Final[dict[str, str]] = {
    "VARCHAR": "varchar",
    "BIGINT": "bigint",
    "UBIGINT": "bigint",
    "HUGEINT": "bigint",  # DuckDB widens SUM(bigint) to INT128; Trino keeps bigint
    "UHUGEINT": "bigint",
    "INTEGER": "integer",
    "UINTEGER": "bigint",
    "SMALLINT": "smallint",
    "USMALLINT": "integer",
    "TINYINT": "tinyint",
    "UTINYINT": "smallint",
    "DOUBLE": "double",
    "FLOAT": "float",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
    "TIME": "time",
    "TIME WITH TIME ZONE": "time with time zone",
    "INTERVAL": "interval day to second",
    "BLOB": "varbinary",
    "UUID": "uuid",
    "JSON": "json",
    "NULL": "unknown",
    '"NULL"': "unknown",
}


def column_info(name: str, duckdb_type: str) -> ColumnInfo:
    """ColumnInfo for a result column of the given DuckDB type (``str(DuckDBPyType)``)."""
    text = duckdb_type.upper()
    precision = 0
    scale = 0
    decimal = re.match(r"DECIMAL\((\d+),\s*(\d+)\)", text)
    if decimal:
        athena = "decimal"
        precision, scale = int(decimal.group(1)), int(decimal.group(2))
    elif text.endswith("]"):
        athena = "array"
    elif text.startswith("STRUCT"):
        athena = "row"
    elif text.startswith("MAP"):
        athena = "map"
    else:
        athena = _DUCKDB_TYPES.get(text, text.lower())
        precision = _PRECISION.get(athena, 0)
    return ColumnInfo(
        CatalogName="hive",
        SchemaName="",
        TableName="",
        Name=name,
        Label=name,
        Type=athena,
        Precision=precision,
        Scale=scale,
        Nullable="UNKNOWN",
        CaseSensitive=athena in {"varchar", "char", "json"},
    )


def ddl_column_info(name: str) -> ColumnInfo:
    """ColumnInfo of a metadata statement's single text column (Athena names it in Hive terms)."""
    info = column_info(name, "VARCHAR")
    info["Type"] = "string"
    info["Precision"] = 0
    return info


# -- values as strings (Trino's text form) -------------------------------------------------------


def java_number(text: str) -> str:
    """A shortest-repr decimal (``0.0001``, ``1e+21``, ``100``) as Java's Double.toString."""
    lowered = text.lower()
    if lowered in {"nan", "-nan"}:
        return "NaN"
    if lowered in {"inf", "+inf", "infinity"}:
        return "Infinity"
    if lowered in {"-inf", "-infinity"}:
        return "-Infinity"
    value = Decimal(text)
    if value.is_zero():
        return "-0.0" if value.is_signed() else "0.0"
    magnitude = abs(value)
    if Decimal("0.001") <= magnitude < Decimal(10_000_000):
        plain = format(value, "f")
        return plain if "." in plain else f"{plain}.0"
    sign, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)
    mantissa = "".join(map(str, digits))
    power = len(mantissa) + exponent - 1
    fraction = mantissa[1:] or "0"
    return f"{'-' if sign else ''}{mantissa[0]}.{fraction}E{power}"


def _format_floats(column: pa.Array) -> pa.Array:
    text = pc.cast(column, pa.string())
    magnitude = pc.abs(column)
    plain = pc.and_(pc.greater_equal(magnitude, 1e-3), pc.less(magnitude, 1e7))
    plain = pc.fill_null(plain, False)
    needs_point = pc.invert(pc.match_substring_regex(text, r"[.eE]"))
    with_point = pc.binary_join_element_wise(text, pa.scalar(".0"), "")
    result = pc.if_else(pc.and_(plain, needs_point), with_point, text)
    other = pc.and_(pc.invert(plain), pc.is_valid(column))
    if pc.any(other).as_py():
        values = result.to_pylist()
        flags = other.to_pylist()
        result = pa.array(
            [
                java_number(v) if flag and v is not None else v
                for v, flag in zip(values, flags, strict=True)
            ],
            pa.string(),
        )
    return result


_MILLIS_PER_DAY: Final = 86_400_000


def _interval_text(value: pa.MonthDayNano, *, year_to_month: bool) -> str:
    """Trino's text of an interval: ``Y-M`` year to month, ``D HH:MM:SS.mmm`` day to second.

    DuckDB's one INTERVAL type keeps months, days and nanoseconds apart; Trino's two types cannot
    mix them, so a day-to-second text of an interval with months shows the months first.
    """
    months, days, nanos = value.months, value.days, value.nanoseconds
    if year_to_month:
        sign = "-" if months < 0 else ""
        return f"{sign}{abs(months) // 12}-{abs(months) % 12}"
    millis = days * _MILLIS_PER_DAY + (abs(nanos) // 1_000_000) * (-1 if nanos < 0 else 1)
    sign = "-" if millis < 0 else ""
    day, rest = divmod(abs(millis), _MILLIS_PER_DAY)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    text = f"{sign}{day} {hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"
    if months:
        return f"{_interval_text(value, year_to_month=True)} {text}"
    return text


def _is_year_to_month(value: pa.MonthDayNano) -> bool:
    return bool(value.months != 0 and value.days == 0 and value.nanoseconds == 0)


def _format_intervals(array: pa.Array) -> pa.Array:
    """Intervals as Trino text: ``Y-M`` when the column holds months only, else day to second."""
    values = array.to_pylist()
    present = [v for v in values if v is not None]
    year_to_month = any(v.months for v in present) and all(
        v.days == 0 and v.nanoseconds == 0 for v in present
    )
    return pa.array(
        [None if v is None else _interval_text(v, year_to_month=year_to_month) for v in values],
        pa.string(),
    )


def _nested_text(value: Any) -> str:  # noqa: PLR0911 (one return per kind)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_number(repr(value)) if math.isfinite(value) else java_number(str(value))
    if isinstance(value, list):
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            return "{" + ", ".join(f"{_nested_text(k)}={_nested_text(v)}" for k, v in value) + "}"
        return "[" + ", ".join(_nested_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_nested_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bytes):
        return " ".join(f"{b:02x}" for b in value)
    if isinstance(value, pa.MonthDayNano):
        return _interval_text(value, year_to_month=_is_year_to_month(value))
    return str(value)


def _format_column(column: pa.ChunkedArray | pa.Array) -> pa.Array:  # noqa: PLR0911
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.dictionary_decode()
        kind = array.type
    if pa.types.is_string(kind) or pa.types.is_string_view(kind):
        return pc.cast(array, pa.string())
    if pa.types.is_large_string(kind):
        return pc.cast(array, pa.string())
    if pa.types.is_floating(kind):
        return _format_floats(array)
    if pa.types.is_integer(kind) or pa.types.is_decimal(kind) or pa.types.is_boolean(kind):
        return pc.cast(array, pa.string())
    if pa.types.is_date(kind):
        return pc.cast(array, pa.string())
    if pa.types.is_timestamp(kind):
        millis = pc.cast(array, pa.timestamp("ms", kind.tz), safe=False)
        pattern = "%Y-%m-%d %H:%M:%S" + (" %Z" if kind.tz else "")
        return pc.strftime(millis, format=pattern)
    if pa.types.is_time(kind):
        millis = pc.cast(array, pa.time32("ms"), safe=False)
        return pc.cast(millis, pa.string())
    if pa.types.is_interval(kind):
        return _format_intervals(array)
    return pa.array(
        [None if v is None else _nested_text(v) for v in array.to_pylist()], pa.string()
    )


def format_table(table: pa.Table, names: Sequence[str]) -> pa.Table:
    """Every column as Trino's text form (NULL stays null), renamed to ``names``."""
    columns = [_format_column(table.column(i)) for i in range(table.num_columns)]
    return pa.table(columns, names=[f"c{i}" for i in range(len(columns))]).rename_columns(
        list(names)
    )


# -- CSV files ---------------------------------------------------------------------------------


def csv_bytes(table: pa.Table, *, header: bool = True) -> bytes:
    """Athena's result CSV: header row, every non-null value double-quoted, NULL as empty field."""
    sink = io.BytesIO()
    options = pacsv.WriteOptions(include_header=header, quoting_style="all_valid")
    if table.num_columns:
        pacsv.write_csv(table, sink, write_options=options)
    return sink.getvalue()


def text_bytes(table: pa.Table) -> bytes:
    """A metadata statement's ``.txt`` result: one line per row, columns tab-separated."""
    rows = zip(*(table.column(i).to_pylist() for i in range(table.num_columns)), strict=True)
    return "".join("\t".join(v or "" for v in row) + "\n" for row in rows).encode()


def read_csv(data: bytes, names: Sequence[str], *, header: bool = True) -> pa.Table:
    """A CSV written by csv_bytes back as a string table (quoted "" stays an empty string)."""
    if not names:
        return pa.table({})
    read = pacsv.ReadOptions(column_names=list(names), skip_rows=1 if header else 0)
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    return pacsv.read_csv(io.BytesIO(data), read_options=read, convert_options=convert)


def read_text(data: bytes, names: Sequence[str]) -> pa.Table:
    """A ``.txt`` result written by text_bytes back as a string table."""
    lines = data.decode().splitlines()
    columns: list[list[str | None]] = [[] for _ in names]
    for line in lines:
        parts = line.split("\t")
        for index in range(len(names)):
            columns[index].append(parts[index] if index < len(parts) else None)
    return pa.table([pa.array(c, pa.string()) for c in columns], names=list(names))


def metadata_bytes(columns: Sequence[ColumnInfo], row_count: int) -> bytes:
    """The ``.metadata`` file beside a result (JSON here; Athena's own is a binary protobuf)."""
    return json.dumps({"ColumnInfo": list(columns), "RowCount": row_count}, indent=1).encode()


# -- pages -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One GetQueryResults page: rows as Athena Datum lists, and the token of the next page."""

    rows: list[dict[str, list[dict[str, str]]]]
    next_token: str | None


def encode_token(query_id: str, offset: int) -> str:
    """An opaque NextToken for the row offset of a query's results."""
    return base64.urlsafe_b64encode(f"{query_id}:{offset}".encode()).decode()


def decode_token(query_id: str, token: str) -> int | None:
    """The row offset of a NextToken, or None when the token is not one of this query's."""
    try:
        owner, _, offset = base64.urlsafe_b64decode(token.encode()).decode().rpartition(":")
        value = int(offset)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if owner == query_id and value >= 0 else None


def _datum(value: str | None) -> dict[str, str]:
    return {} if value is None else {"VarCharValue": value}


def page(query_id: str, table: pa.Table, *, header: bool, offset: int, max_results: int) -> Page:
    """Rows ``offset`` onwards; the header row (when shown) is row 0 and counts toward the page."""
    total = table.num_rows + (1 if header else 0)
    stop = min(total, offset + max_results)
    rows: list[dict[str, list[dict[str, str]]]] = []
    position = offset
    if header and position == 0 and stop > 0:
        rows.append({"Data": [_datum(name) for name in table.column_names]})
        position = 1
    data_start = position - (1 if header else 0)
    data_stop = stop - (1 if header else 0)
    if data_stop > data_start:
        chunk = table.slice(data_start, data_stop - data_start)
        columns = [chunk.column(i).to_pylist() for i in range(chunk.num_columns)]
        for row in zip(*columns, strict=True):
            rows.append({"Data": [_datum(v) for v in row]})
    next_token = encode_token(query_id, stop) if stop < total else None
    return Page(rows, next_token)


# -- a statement's outcome ---------------------------------------------------------------------


@dataclass(frozen=True)
class QueryOutput:
    """A finished statement: columns, every value as text, its cost, and the files it wrote.

    ``manifest`` lists the S3 URIs of the data files a CTAS, INSERT INTO or UNLOAD wrote (Athena's
    ``DataManifestLocation`` file); None for statements that write no data.
    """

    columns: tuple[ColumnInfo, ...]
    table: pa.Table
    header: bool
    data_scanned_bytes: int
    manifest: tuple[str, ...] | None = None
    update_count: int = 0


def text_output(column: str, values: list[str]) -> QueryOutput:
    table = pa.table({column: pa.array(values, pa.string())})
    return QueryOutput((ddl_column_info(column),), table, False, 0)


def empty_output() -> QueryOutput:
    """A DDL statement's result: no columns, no rows."""
    return QueryOutput((), pa.table({}), False, 0)


def rows_output(rows: int, manifest: tuple[str, ...] | None, scanned: int = 0) -> QueryOutput:
    """CTAS, INSERT INTO and UNLOAD answer with the number of rows written."""
    table = pa.table({"rows": pa.array([str(rows)], pa.string())})
    return QueryOutput(
        (column_info("rows", "BIGINT"),), table, True, scanned, manifest, update_count=rows
    )
