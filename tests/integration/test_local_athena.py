"""Local Athena: SQL on DuckDB over a partitioned Glue table with Parquet files in the local S3."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.localstack

AwsClient = Callable[[str], Any]

QUERY_DEADLINE_S = 60.0
TERMINAL_STATES = {"SUCCEEDED", "FAILED", "CANCELLED"}
PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
DATA_COLUMNS = [
    ("activity", "string"),
    ("timestamp", "timestamp"),
    ("sensor1", "double"),
    ("sensor2", "double"),
    ("sensor3", "double"),
]
# user_id -> rows of (activity, timestamp, sensor1, sensor2, sensor3)
ROWS: dict[str, list[tuple[Any, ...]]] = {
    "1": [
        ("Walking", datetime(2014, 1, 1, 0, 0, 0), 1.5, -9.8184, 0.0001),
        ("Walking", datetime(2014, 1, 1, 0, 0, 0, 20000), 2.25, None, 100.0),
        ("Standing still", datetime(2014, 1, 1, 0, 0, 0, 40000), 0.0, 3.0, -1.0),
    ],
    "2": [
        ("Jogging", datetime(2014, 1, 2, 12, 0, 0), 4.0, 5.0, 6.0),
        ("Walking", datetime(2014, 1, 2, 12, 0, 0, 20000), 7.0, 8.0, 9.0),
    ],
}


@dataclass(frozen=True)
class AthenaTable:
    """A Glue table over Parquet in S3, and where query results go."""

    bucket: str
    database: str
    table: str
    output: str


def _parquet(rows: list[tuple[Any, ...]]) -> bytes:
    columns = list(zip(*rows, strict=True))
    table = pa.table(
        {
            "activity": pa.array(columns[0], pa.string()),
            "timestamp": pa.array(columns[1], pa.timestamp("us")),
            "sensor1": pa.array(columns[2], pa.float64()),
            "sensor2": pa.array(columns[3], pa.float64()),
            "sensor3": pa.array(columns[4], pa.float64()),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


@pytest.fixture(scope="module")
def athena_table(aws_client: AwsClient) -> Iterator[AthenaTable]:
    s3, glue = aws_client("s3"), aws_client("glue")
    suffix = uuid.uuid4().hex[:8]
    bucket = f"athena-test-{suffix}"
    database = f"athena_db_{suffix}"
    table = "mhealth"
    location = f"s3://{bucket}/processed/"
    s3.create_bucket(Bucket=bucket)
    for user_id, rows in ROWS.items():
        s3.put_object(
            Bucket=bucket,
            Key=f"processed/user_id={user_id}/part-00000.parquet",
            Body=_parquet(rows),
        )
    # Bookkeeping files Athena must skip.
    s3.put_object(Bucket=bucket, Key="processed/_SUCCESS", Body=b"")
    glue.create_database(DatabaseInput={"Name": database})
    descriptor = {
        "Columns": [{"Name": name, "Type": kind} for name, kind in DATA_COLUMNS],
        "Location": location,
        "InputFormat": PARQUET_INPUT_FORMAT,
        "OutputFormat": PARQUET_OUTPUT_FORMAT,
        "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE},
    }
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": table,
            "TableType": "EXTERNAL_TABLE",
            "StorageDescriptor": descriptor,
            "PartitionKeys": [{"Name": "user_id", "Type": "string"}],
        },
    )
    glue.batch_create_partition(
        DatabaseName=database,
        TableName=table,
        PartitionInputList=[
            {
                "Values": [user_id],
                "StorageDescriptor": {**descriptor, "Location": f"{location}user_id={user_id}/"},
            }
            for user_id in ROWS
        ],
    )
    yield AthenaTable(bucket, database, table, f"s3://{bucket}/athena-results/")
    glue.delete_database(Name=database)


def _start(aws_client: AwsClient, athena_table: AthenaTable, query: str) -> str:
    response = aws_client("athena").start_query_execution(
        QueryString=query,
        QueryExecutionContext={"Database": athena_table.database},
        ResultConfiguration={"OutputLocation": athena_table.output},
    )
    query_id: str = response["QueryExecutionId"]
    return query_id


def _wait(aws_client: AwsClient, query_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + QUERY_DEADLINE_S
    while True:
        execution: dict[str, Any] = aws_client("athena").get_query_execution(
            QueryExecutionId=query_id
        )["QueryExecution"]
        if execution["Status"]["State"] in TERMINAL_STATES:
            return execution
        if time.monotonic() > deadline:
            pytest.fail(
                f"query {query_id} still {execution['Status']['State']} after {QUERY_DEADLINE_S} s"
            )
        time.sleep(0.1)


def _run(aws_client: AwsClient, athena_table: AthenaTable, query: str) -> dict[str, Any]:
    return _wait(aws_client, _start(aws_client, athena_table, query))


def _values(rows: list[dict[str, Any]]) -> list[list[str | None]]:
    return [[datum.get("VarCharValue") for datum in row["Data"]] for row in rows]


def test_select_partition_returns_header_typed_columns_and_values(
    aws_client: AwsClient, athena_table: AthenaTable
) -> None:
    query = (
        f'SELECT * FROM "{athena_table.database}"."{athena_table.table}" '
        "WHERE user_id = '1' ORDER BY timestamp LIMIT 10"
    )
    execution = _run(aws_client, athena_table, query)

    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    assert execution["StatementType"] == "DML"
    assert execution["Query"] == query
    assert execution["QueryExecutionContext"]["Database"] == athena_table.database
    assert execution["Statistics"]["DataScannedInBytes"] > 0
    assert execution["Statistics"]["EngineExecutionTimeInMillis"] >= 0
    assert execution["Status"]["CompletionDateTime"] >= execution["Status"]["SubmissionDateTime"]
    result = aws_client("athena").get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    rows = _values(result["ResultSet"]["Rows"])
    assert rows == [
        ["activity", "timestamp", "sensor1", "sensor2", "sensor3", "user_id"],
        ["Walking", "2014-01-01 00:00:00.000", "1.5", "-9.8184", "1.0E-4", "1"],
        ["Walking", "2014-01-01 00:00:00.020", "2.25", None, "100.0", "1"],
        ["Standing still", "2014-01-01 00:00:00.040", "0.0", "3.0", "-1.0", "1"],
    ]
    assert result["ResultSet"]["Rows"][2]["Data"][3] == {}  # NULL is an empty Datum
    info = result["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert [(c["Name"], c["Type"]) for c in info] == [
        ("activity", "varchar"),
        ("timestamp", "timestamp"),
        ("sensor1", "double"),
        ("sensor2", "double"),
        ("sensor3", "double"),
        ("user_id", "varchar"),
    ]
    assert {(c["CatalogName"], c["Nullable"]) for c in info} == {("hive", "UNKNOWN")}
    assert info[0]["Precision"] == 2147483647 and info[0]["CaseSensitive"] is True
    assert info[2]["Precision"] == 17 and info[2]["CaseSensitive"] is False


def test_group_by_counts_rows_per_partition_and_names_expressions_like_trino(
    aws_client: AwsClient, athena_table: AthenaTable
) -> None:
    execution = _run(
        aws_client,
        athena_table,
        f"SELECT user_id, COUNT(*), COUNT(*) AS n, SUM(sensor1) AS total "
        f"FROM {athena_table.table} GROUP BY user_id ORDER BY user_id",
    )

    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    result = aws_client("athena").get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    assert _values(result["ResultSet"]["Rows"]) == [
        ["user_id", "_col1", "n", "total"],
        ["1", "3", "3", "3.75"],
        ["2", "2", "2", "11.0"],
    ]
    types = [c["Type"] for c in result["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
    assert types == ["varchar", "bigint", "bigint", "double"]


def test_results_page_with_max_results_and_next_token(
    aws_client: AwsClient, athena_table: AthenaTable
) -> None:
    execution = _run(
        aws_client,
        athena_table,
        f"SELECT activity, sensor1 FROM {athena_table.table} ORDER BY sensor1",
    )
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    athena = aws_client("athena")

    pages: list[list[list[str | None]]] = []
    kwargs: dict[str, Any] = {"QueryExecutionId": execution["QueryExecutionId"], "MaxResults": 2}
    while True:
        result = athena.get_query_results(**kwargs)
        pages.append(_values(result["ResultSet"]["Rows"]))
        assert [c["Name"] for c in result["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]] == [
            "activity",
            "sensor1",
        ]
        if "NextToken" not in result:
            break
        kwargs["NextToken"] = result["NextToken"]

    # Header plus 5 rows in pages of 2: the header counts toward the first page.
    assert pages == [
        [["activity", "sensor1"], ["Standing still", "0.0"]],
        [["Walking", "1.5"], ["Walking", "2.25"]],
        [["Jogging", "4.0"], ["Walking", "7.0"]],
    ]


def test_results_are_written_as_athena_csv_with_metadata(
    aws_client: AwsClient, athena_table: AthenaTable
) -> None:
    execution = _run(
        aws_client,
        athena_table,
        f"SELECT activity, sensor2, user_id FROM {athena_table.table} "
        "WHERE user_id = '1' ORDER BY timestamp",
    )
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    location = execution["ResultConfiguration"]["OutputLocation"]
    assert location == f"{athena_table.output}{execution['QueryExecutionId']}.csv"

    key = location.removeprefix(f"s3://{athena_table.bucket}/")
    s3 = aws_client("s3")
    body = s3.get_object(Bucket=athena_table.bucket, Key=key)["Body"].read().decode()
    assert body == (
        '"activity","sensor2","user_id"\n'
        '"Walking","-9.8184","1"\n'
        '"Walking",,"1"\n'
        '"Standing still","3.0","1"\n'
    )
    assert list(csv.reader(io.StringIO(body)))[2] == ["Walking", "", "1"]
    metadata = s3.get_object(Bucket=athena_table.bucket, Key=f"{key}.metadata")
    assert metadata["ContentLength"] > 0


def test_bad_sql_fails_with_syntax_error_reason(
    aws_client: AwsClient, athena_table: AthenaTable
) -> None:
    execution = _run(aws_client, athena_table, "SELEC * FROM mhealth")

    assert execution["Status"]["State"] == "FAILED"
    assert execution["Status"]["StateChangeReason"].startswith("SYNTAX_ERROR:")
    assert execution["Status"]["AthenaError"]["ErrorCategory"] == 2
    with pytest.raises(aws_client("athena").exceptions.InvalidRequestException):
        aws_client("athena").get_query_results(QueryExecutionId=execution["QueryExecutionId"])


def test_unknown_table_fails_with_table_not_found(
    aws_client: AwsClient, athena_table: AthenaTable
) -> None:
    execution = _run(aws_client, athena_table, f'SELECT * FROM "{athena_table.database}"."nope"')

    assert execution["Status"]["State"] == "FAILED"
    assert execution["Status"]["StateChangeReason"] == (
        f"TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.{athena_table.database}.nope' "
        "does not exist"
    )


def test_list_query_executions_lists_started_ids(
    aws_client: AwsClient, athena_table: AthenaTable
) -> None:
    first = _start(aws_client, athena_table, "SELECT 1")
    second = _start(aws_client, athena_table, "SELECT 2")
    _wait(aws_client, first)
    _wait(aws_client, second)

    listed: list[str] = []
    kwargs: dict[str, Any] = {"MaxResults": 50}
    while True:
        page = aws_client("athena").list_query_executions(**kwargs)
        listed.extend(page["QueryExecutionIds"])
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert listed.index(second) < listed.index(first)  # newest first

    batch = aws_client("athena").batch_get_query_execution(QueryExecutionIds=[first, "nope"])
    assert [e["QueryExecutionId"] for e in batch["QueryExecutions"]] == [first]
    assert [u["QueryExecutionId"] for u in batch["UnprocessedQueryExecutionIds"]] == ["nope"]


def test_show_tables_answers_from_the_catalog(
    aws_client: AwsClient, athena_table: AthenaTable
) -> None:
    execution = _run(aws_client, athena_table, "SHOW TABLES")

    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    assert execution["StatementType"] == "DDL"
    result = aws_client("athena").get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    assert _values(result["ResultSet"]["Rows"]) == [["mhealth"]]


def test_workgroup_output_location_is_the_fallback(
    aws_client: AwsClient, athena_table: AthenaTable
) -> None:
    athena = aws_client("athena")
    workgroup = f"wg-{uuid.uuid4().hex[:8]}"
    athena.create_work_group(
        Name=workgroup,
        Configuration={
            "ResultConfiguration": {"OutputLocation": f"s3://{athena_table.bucket}/wg-results/"}
        },
    )
    query_id = athena.start_query_execution(QueryString="SELECT 42 AS answer", WorkGroup=workgroup)[
        "QueryExecutionId"
    ]
    execution = _wait(aws_client, query_id)

    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    assert execution["WorkGroup"] == workgroup
    assert execution["ResultConfiguration"]["OutputLocation"] == (
        f"s3://{athena_table.bucket}/wg-results/{query_id}.csv"
    )
    assert query_id in athena.list_query_executions(WorkGroup=workgroup)["QueryExecutionIds"]
    athena.delete_work_group(WorkGroup=workgroup)
