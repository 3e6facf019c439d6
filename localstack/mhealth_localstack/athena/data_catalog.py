"""Athena's catalog API (databases, table metadata) answered from the Glue Data Catalog.

Athena reads ``AwsDataCatalog`` from Glue: its ``ListDatabases``/``GetDatabase`` are Glue's
databases, ``ListTableMetadata``/``GetTableMetadata`` Glue's tables with the storage
descriptor folded into ``Parameters`` (``location``, ``inputformat``, ``outputformat``,
``serde.serialization.lib``, ``serde.param.*``) and the column types as Glue stores them
(Hive type names: ``string``, ``double``, ``timestamp``, ``array<int>``).
https://docs.aws.amazon.com/athena/latest/APIReference/API_TableMetadata.html
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final, Protocol

from mhealth_localstack.athena import results

AWS_DATA_CATALOG: Final = "AwsDataCatalog"
# Page sizes and bounds of the Athena API reference (ListDatabases 1-50, ListTableMetadata 1-50,
# ListDataCatalogs 2-50).
MAX_DATABASES: Final = 50
MAX_TABLES: Final = 50


class CatalogError(Exception):
    """A request the catalog API rejects: Athena's error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class GlueClient(Protocol):
    """The slice of a boto3 Glue client this module uses."""

    def get_database(self, **kwargs: Any) -> Any: ...
    def get_databases(self, **kwargs: Any) -> Any: ...
    def get_table(self, **kwargs: Any) -> Any: ...
    def get_tables(self, **kwargs: Any) -> Any: ...


def aws_data_catalog(account_id: str) -> dict[str, Any]:
    """GetDataCatalog's answer for the Glue catalog every account has."""
    return {
        "Name": AWS_DATA_CATALOG,
        "Description": "AWS Glue Data Catalog",
        "Type": "GLUE",
        "Parameters": {"catalog-id": account_id},
        "Status": "CREATE_COMPLETE",
    }


def check_catalog(name: str | None) -> None:
    """Only the Glue catalog holds databases here."""
    if (name or AWS_DATA_CATALOG).lower() != AWS_DATA_CATALOG.lower():
        raise CatalogError(
            "InvalidRequestException", f"Catalog {name} does not exist or is not a GLUE catalog"
        )


def page_size(requested: Any, largest: int) -> int:
    size = largest if requested in (None, "") else int(requested)
    if not 1 <= size <= largest:
        raise CatalogError("InvalidRequestException", f"MaxResults must be between 1 and {largest}")
    return size


def page_of(
    items: Sequence[dict[str, Any]], scope: str, token: str | None, size: int
) -> dict[str, Any]:
    """``{"Items": items[offset:offset+size], "NextToken"?}`` with an opaque token per scope."""
    offset = 0
    if token:
        decoded = results.decode_token(scope, token)
        if decoded is None:
            raise CatalogError("InvalidRequestException", "Invalid NextToken")
        offset = decoded
    answer: dict[str, Any] = {"Items": list(items[offset : offset + size])}
    if offset + size < len(items):
        answer["NextToken"] = results.encode_token(scope, offset + size)
    return answer


def _paged(call: Any, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        response = call(**kwargs, **({"NextToken": token} if token else {}))
        yield from response.get(key, [])
        token = response.get("NextToken")
        if not token:
            return


def database_of(glue_database: Mapping[str, Any]) -> dict[str, Any]:
    """Athena's Database structure of a Glue database."""
    database: dict[str, Any] = {"Name": glue_database["Name"]}
    if glue_database.get("Description"):
        database["Description"] = glue_database["Description"]
    parameters = dict(glue_database.get("Parameters") or {})
    if glue_database.get("LocationUri"):
        parameters.setdefault("location", glue_database["LocationUri"])
    if parameters:
        database["Parameters"] = parameters
    return database


def list_databases(glue: GlueClient) -> list[dict[str, Any]]:
    return [database_of(d) for d in _paged(glue.get_databases, "DatabaseList")]


def get_database(glue: GlueClient, name: str) -> dict[str, Any]:
    try:
        return database_of(glue.get_database(Name=name)["Database"])
    except Exception as error:
        raise _metadata_error(error, f"Database {name} not found.") from error


def _column(column: Mapping[str, Any]) -> dict[str, str]:
    answer = {"Name": str(column["Name"]), "Type": str(column.get("Type", "")).lower()}
    if column.get("Comment"):
        answer["Comment"] = str(column["Comment"])
    return answer


def table_metadata(table: Mapping[str, Any]) -> dict[str, Any]:
    """Athena's TableMetadata of a Glue table."""
    descriptor = table.get("StorageDescriptor") or {}
    serde = descriptor.get("SerdeInfo") or {}
    parameters: dict[str, str] = {}
    for key, field in (
        ("location", "Location"),
        ("inputformat", "InputFormat"),
        ("outputformat", "OutputFormat"),
    ):
        if descriptor.get(field):
            parameters[key] = str(descriptor[field])
    if serde.get("SerializationLibrary"):
        parameters["serde.serialization.lib"] = str(serde["SerializationLibrary"])
    for key, value in (serde.get("Parameters") or {}).items():
        parameters[f"serde.param.{key}"] = str(value)
    parameters.update({str(k): str(v) for k, v in (table.get("Parameters") or {}).items()})
    metadata: dict[str, Any] = {
        "Name": table["Name"],
        "TableType": table.get("TableType") or "EXTERNAL_TABLE",
        "Columns": [_column(c) for c in descriptor.get("Columns") or []],
        "PartitionKeys": [_column(c) for c in table.get("PartitionKeys") or []],
        "Parameters": parameters,
    }
    for key, field in (("CreateTime", "CreateTime"), ("LastAccessTime", "LastAccessTime")):
        if table.get(field):
            metadata[key] = table[field]
    return metadata


def _name_filter(expression: str | None) -> re.Pattern[str] | None:
    # Athena: "A regex filter that pattern-matches table names" (Glue's GetTables Expression).
    if not expression:
        return None
    try:
        return re.compile(expression, re.IGNORECASE)
    except re.error as error:
        raise CatalogError(
            "InvalidRequestException", f"Invalid Expression {expression!r}: {error}"
        ) from error


def list_table_metadata(
    glue: GlueClient, database: str, expression: str | None
) -> list[dict[str, Any]]:
    """Every table of ``database`` whose name matches ``expression`` in full, by name."""
    pattern = _name_filter(expression)
    try:
        tables = list(_paged(glue.get_tables, "TableList", DatabaseName=database))
    except Exception as error:
        raise _metadata_error(error, f"Database {database} not found.") from error
    chosen = [t for t in tables if pattern is None or pattern.fullmatch(str(t["Name"]))]
    return [table_metadata(t) for t in sorted(chosen, key=lambda t: str(t["Name"]))]


def get_table_metadata(glue: GlueClient, database: str, table: str) -> dict[str, Any]:
    try:
        found = glue.get_table(DatabaseName=database, Name=table)["Table"]
    except Exception as error:
        raise _metadata_error(error, f"Table {table} not found in database {database}.") from error
    return table_metadata(found)


def _metadata_error(error: Exception, message: str) -> CatalogError:
    code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
    if code == "EntityNotFoundException":
        return CatalogError("MetadataException", message)
    return CatalogError("InternalServerException", f"Glue Data Catalog: {error}")
