"""The local Athena's DuckDB connections: prepared ahead, reused only when clean and ended well.

Real DuckDB over real Parquet files (a Hive-partitioned table written here); the Glue Data
Catalog is a dictionary with the API's shapes (GetTable, GetPartitions, GetDatabase).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError
from mhealth_localstack.athena.catalog import GlueCatalog
from mhealth_localstack.athena.engine import ConnectionPool, QueryRun
from mhealth_localstack.athena.errors import QueryError

_PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    },
}
# user_id -> activities written to that partition (hand-written: 3 + 2 rows).
_ROWS = {"1": ["Walking", "Walking", "Jogging"], "2": ["Walking", "Cycling"]}


class CatalogDict:
    """Glue's read calls over a dictionary of tables, in the API's response shapes."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, str], dict[str, Any]] = {}

    def _missing(self, operation: str) -> ClientError:
        return ClientError({"Error": {"Code": "EntityNotFoundException"}}, operation)

    def get_table(self, **kwargs: Any) -> Any:
        key = (kwargs["DatabaseName"], kwargs["Name"])
        if key not in self.tables:
            raise self._missing("GetTable")
        return {"Table": self.tables[key]}

    def get_partitions(self, **kwargs: Any) -> Any:
        return {"Partitions": []}  # partitions come from the Hive folder names

    def get_database(self, **kwargs: Any) -> Any:
        if not any(db == kwargs["Name"] for db, _ in self.tables):
            raise self._missing("GetDatabase")
        return {"Database": {"Name": kwargs["Name"]}}


class RecordingPool(ConnectionPool):
    """A pool that remembers which connection each query got."""

    def __init__(self) -> None:
        super().__init__(threads=1, spares=1)
        self.taken: list[duckdb.DuckDBPyConnection] = []

    def take(self) -> duckdb.DuckDBPyConnection:
        connection = super().take()
        self.taken.append(connection)
        return connection


@pytest.fixture
def bucket(tmp_path: Path) -> pafs.FileSystem:
    """``bucket/readings/user_id=N/part-0.parquet`` under a local folder."""
    for user_id, activities in _ROWS.items():
        folder = tmp_path / "bucket" / "readings" / f"user_id={user_id}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"activity": activities}), folder / "part-0.parquet")
    return pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem())


@pytest.fixture
def catalog() -> CatalogDict:
    glue = CatalogDict()
    glue.tables[("db", "readings")] = {
        "Name": "readings",
        "TableType": "EXTERNAL_TABLE",
        "PartitionKeys": [{"Name": "user_id", "Type": "string"}],
        "StorageDescriptor": {
            "Columns": [{"Name": "activity", "Type": "string"}],
            "Location": "s3://bucket/readings/",
            **_PARQUET,
        },
    }
    return glue


@pytest.fixture
def pool() -> Any:
    connections = RecordingPool()
    yield connections
    connections.close()


def _run(sql: str, glue: CatalogDict, fs: pafs.FileSystem, pool: ConnectionPool) -> list[Any]:
    run = QueryRun(
        sql,
        catalog_name="AwsDataCatalog",
        database="db",
        glue=cast(GlueCatalog, glue),
        filesystem=lambda: fs,
        connections=pool,
    )
    output = run.run()
    return [tuple(row.values()) for row in output.table.to_pylist()]


def test_a_query_that_ended_well_hands_its_connection_to_the_next(
    catalog: CatalogDict, bucket: pafs.FileSystem, pool: RecordingPool
) -> None:
    sql = "SELECT activity, COUNT(*) FROM readings GROUP BY activity ORDER BY activity"
    expected = [("Cycling", "1"), ("Jogging", "1"), ("Walking", "3")]
    assert _run(sql, catalog, bucket, pool) == expected
    assert _run(sql, catalog, bucket, pool) == expected
    assert pool.taken[0] is pool.taken[1]


def test_a_reused_connection_keeps_nothing_of_the_query_before(
    catalog: CatalogDict, bucket: pafs.FileSystem, pool: RecordingPool
) -> None:
    assert _run("SELECT COUNT(*) FROM readings WHERE user_id = '2'", catalog, bucket, pool) == [
        ("2",)
    ]
    del catalog.tables[("db", "readings")]
    catalog.tables[("db", "other")] = {"Name": "other"}  # the database still exists
    with pytest.raises(QueryError) as raised:
        _run("SELECT COUNT(*) FROM readings", catalog, bucket, pool)
    assert raised.value.code == "TABLE_NOT_FOUND"
    assert pool.taken[0] is pool.taken[1]


def test_a_failed_query_s_connection_is_not_reused(
    catalog: CatalogDict, bucket: pafs.FileSystem, pool: RecordingPool
) -> None:
    with pytest.raises(QueryError):
        _run("SELECT 1 / 0 FROM readings", catalog, bucket, pool)
    assert _run("SELECT COUNT(*) FROM readings", catalog, bucket, pool) == [("5",)]
    assert pool.taken[0] is not pool.taken[1]
