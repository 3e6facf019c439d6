"""Glue TableInputs as Athena writes them (CTAS, external tables, views) and read back as DDL.

Views are stored the way Athena stores them, so they round-trip with AWS tools
(https://docs.aws.amazon.com/athena/latest/ug/views.html): ``TableType`` ``VIRTUAL_VIEW``,
``ViewOriginalText`` ``/* Presto View: <base64 of a JSON view definition> */``,
``ViewExpandedText`` ``/* Presto View */``, parameters ``presto_view=true`` and
``comment=Presto View``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from mhealth_localstack.athena.catalog import Column, TableSpec
from mhealth_localstack.athena.ddl import PARQUET_INPUT, PARQUET_OUTPUT, PARQUET_SERDE
from mhealth_localstack.athena.errors import QueryError

VIEW_PREFIX: Final = "/* Presto View: "
VIEW_SUFFIX: Final = " */"
_SIMPLE_HIVE: Final = {
    "VARCHAR": "string",
    "BOOLEAN": "boolean",
    "TINYINT": "tinyint",
    "SMALLINT": "smallint",
    "INTEGER": "int",
    "BIGINT": "bigint",
    "HUGEINT": "bigint",
    "UTINYINT": "smallint",
    "USMALLINT": "int",
    "UINTEGER": "bigint",
    "FLOAT": "float",
    "DOUBLE": "double",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "BLOB": "binary",
}
_HIVE_TO_DUCKDB: Final = {
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "binary": "BLOB",
}
_HIVE_TO_TRINO: Final = {
    "string": "varchar",
    "int": "integer",
    "float": "real",
    "binary": "varbinary",
    "timestamp": "timestamp(3)",
}


def hive_type(duckdb_type: str, column: str) -> str:
    """The Hive type Athena stores for a result column of this DuckDB type."""
    text = duckdb_type.upper().strip()
    if text in _SIMPLE_HIVE:
        return _SIMPLE_HIVE[text]
    decimal = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", text)
    if decimal:
        return f"decimal({decimal.group(1)},{decimal.group(2)})"
    if text.endswith("[]"):
        return f"array<{hive_type(text[:-2], column)}>"
    raise QueryError(
        "NOT_SUPPORTED",
        f"Unsupported Hive type for column '{column}': {duckdb_type.lower()} (the local Athena "
        "writes scalar columns and arrays of them)",
    )


def duckdb_type(hive: str) -> str:
    """The DuckDB type of a Hive column type (for casting text fields and type checks)."""
    text = hive.lower().strip()
    if text in _HIVE_TO_DUCKDB:
        return _HIVE_TO_DUCKDB[text]
    if text.startswith(("varchar", "char")):
        return "VARCHAR"
    if text.startswith("decimal"):
        return text.upper()
    return "VARCHAR"


def trino_type(hive: str) -> str:
    """The type name Trino shows for a Hive column type."""
    text = hive.lower().strip()
    if text.startswith("array<") and text.endswith(">"):
        return f"array({trino_type(text[6:-1])})"
    return _HIVE_TO_TRINO.get(text, text)


def _columns(columns: Sequence[Column]) -> list[dict[str, str]]:
    return [
        {"Name": c.name, "Type": c.hive_type, **({"Comment": c.comment} if c.comment else {})}
        for c in columns
    ]


def parquet_table(
    name: str,
    columns: Sequence[Column],
    partition_keys: Sequence[Column],
    location: str,
    compression: str,
) -> dict[str, Any]:
    """The TableInput of a CTAS table (Parquet; the parameters Athena sets)."""
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "EXTERNAL": "TRUE",
            "has_encrypted_data": "false",
            "parquet.compression": compression.upper(),
        },
        "PartitionKeys": _columns(partition_keys),
        "StorageDescriptor": {
            "Columns": _columns(columns),
            "Location": location,
            "InputFormat": PARQUET_INPUT,
            "OutputFormat": PARQUET_OUTPUT,
            "SerdeInfo": {
                "SerializationLibrary": PARQUET_SERDE,
                "Parameters": {"serialization.format": "1"},
            },
        },
    }


def external_table(
    name: str,
    columns: Sequence[Column],
    partition_keys: Sequence[Column],
    *,
    location: str,
    serde: str,
    input_format: str,
    output_format: str,
    serde_parameters: Mapping[str, str],
    table_properties: Mapping[str, str],
    comment: str,
) -> dict[str, Any]:
    """The TableInput of a ``CREATE EXTERNAL TABLE`` statement."""
    table: dict[str, Any] = {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"EXTERNAL": "TRUE", **table_properties},
        "PartitionKeys": _columns(partition_keys),
        "StorageDescriptor": {
            "Columns": _columns(columns),
            "Location": location,
            "InputFormat": input_format,
            "OutputFormat": output_format,
            "SerdeInfo": {"SerializationLibrary": serde, "Parameters": dict(serde_parameters)},
        },
    }
    if comment:
        table["Description"] = comment
        table["Parameters"]["comment"] = comment
    return table


@dataclass(frozen=True)
class ViewDefinition:
    """The JSON Athena keeps (base64) in a view's ViewOriginalText."""

    sql: str
    catalog: str
    schema: str
    columns: tuple[tuple[str, str], ...]  # (name, Trino type)


def view_table(name: str, view: ViewDefinition, hive_columns: Sequence[Column]) -> dict[str, Any]:
    """The TableInput of ``CREATE VIEW``, as Athena writes it."""
    document = {
        "originalSql": view.sql,
        "catalog": view.catalog,
        "schema": view.schema,
        "columns": [{"name": n, "type": t} for n, t in view.columns],
        "owner": "local",
        "runAsInvoker": False,
        "properties": {},
    }
    encoded = base64.b64encode(json.dumps(document).encode()).decode()
    return {
        "Name": name,
        "TableType": "VIRTUAL_VIEW",
        "Parameters": {"presto_view": "true", "comment": "Presto View"},
        "ViewOriginalText": f"{VIEW_PREFIX}{encoded}{VIEW_SUFFIX}",
        "ViewExpandedText": "/* Presto View */",
        "PartitionKeys": [],
        "StorageDescriptor": {
            "Columns": _columns(hive_columns),
            "Location": "",
            "SerdeInfo": {},
        },
    }


def read_view(spec: TableSpec) -> ViewDefinition:
    """The definition of a view stored by Athena (or by this emulator)."""
    text = spec.view_original_text.strip()
    if not (text.startswith(VIEW_PREFIX) and text.endswith(VIEW_SUFFIX)):
        raise QueryError(
            "HIVE_UNSUPPORTED_FORMAT",
            f"View '{spec.qualified}' is not an Athena (Presto) view; its text cannot be read",
        )
    encoded = text[len(VIEW_PREFIX) : -len(VIEW_SUFFIX)].strip()
    try:
        document = json.loads(base64.b64decode(encoded))
    except (ValueError, json.JSONDecodeError) as error:
        raise QueryError(
            "HIVE_UNSUPPORTED_FORMAT", f"View '{spec.qualified}' has an unreadable definition"
        ) from error
    return ViewDefinition(
        sql=str(document["originalSql"]),
        catalog=str(document.get("catalog") or "awsdatacatalog"),
        schema=str(document.get("schema") or spec.database),
        columns=tuple((str(c["name"]), str(c["type"])) for c in document.get("columns", [])),
    )


def show_create(spec: TableSpec) -> list[str]:
    """``SHOW CREATE TABLE``'s lines, in Hive's layout as Athena prints it."""
    if spec.is_view:
        view = read_view(spec)
        return [f'CREATE VIEW "{spec.database}"."{spec.name}" AS', *view.sql.splitlines()]
    lines = [f"CREATE EXTERNAL TABLE `{spec.database}`.`{spec.name}`("]
    lines += _column_lines(spec.columns)
    if spec.partition_keys:
        lines += ["PARTITIONED BY ( ", *_column_lines(spec.partition_keys)]
    lines += ["ROW FORMAT SERDE ", f"  '{spec.serde}' "]
    if spec.serde_parameters:
        lines += ["WITH SERDEPROPERTIES ( "]
        items = sorted(spec.serde_parameters.items())
        for index, (key, value) in enumerate(items):
            end = ")" if index == len(items) - 1 else ", "
            lines.append(f"  '{key}'='{_printable(value)}'{end}")
    lines += [
        "STORED AS INPUTFORMAT ",
        f"  '{spec.input_format}' ",
        "OUTPUTFORMAT ",
        f"  '{spec.output_format}'",
        "LOCATION",
        f"  '{spec.location}'",
    ]
    properties = sorted((k, v) for k, v in spec.parameters.items() if k != "EXTERNAL")
    if properties:
        lines.append("TBLPROPERTIES (")
        for index, (key, value) in enumerate(properties):
            end = ")" if index == len(properties) - 1 else ", "
            lines.append(f"  '{key}'='{value}'{end}")
    return lines


def _column_lines(columns: Sequence[Column]) -> list[str]:
    lines = []
    for index, column in enumerate(columns):
        comment = f" COMMENT '{column.comment}'" if column.comment else ""
        end = ")" if index == len(columns) - 1 else ", "
        lines.append(f"  `{column.name}` {column.hive_type}{comment}{end}")
    return lines


def _printable(value: str) -> str:
    return value.replace("\t", "\\t").replace("\n", "\\n").replace("\x01", "\\u0001")


def partition_name(keys: Sequence[Column], values: Sequence[str]) -> str:
    """``k1=v1/k2=v2``: a partition as SHOW PARTITIONS and MSCK REPAIR TABLE name it."""
    return "/".join(f"{k.name}={v}" for k, v in zip(keys, values, strict=True))


def partition_input(spec: TableSpec, values: Sequence[str], location: str) -> dict[str, Any]:
    """A PartitionInput with the table's storage descriptor at ``location``."""
    serde: dict[str, Any] = {"SerializationLibrary": spec.serde}
    if spec.serde_parameters:
        serde["Parameters"] = dict(spec.serde_parameters)
    return {
        "Values": list(values),
        "StorageDescriptor": {
            "Columns": _columns(spec.columns),
            "Location": location,
            "InputFormat": spec.input_format,
            "OutputFormat": spec.output_format,
            "SerdeInfo": serde,
        },
    }
