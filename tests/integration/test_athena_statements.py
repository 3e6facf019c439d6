"""Local Athena statements beyond SELECT, checked against what Athena documents and writes.

Every test builds its own bucket, Glue database and Parquet table (``lake``), so tests run alone
and in any order. AWS references:
CTAS https://docs.aws.amazon.com/athena/latest/ug/create-table-as.html and
https://docs.aws.amazon.com/athena/latest/ug/ctas-considerations-limitations.html,
HIVE_PATH_ALREADY_EXISTS https://repost.aws/knowledge-center/athena-hive-path-already-exists,
views https://docs.aws.amazon.com/athena/latest/ug/views.html,
UNLOAD https://docs.aws.amazon.com/athena/latest/ug/unload.html,
partitions https://docs.aws.amazon.com/athena/latest/ug/partitions.html,
TYPE_MISMATCH (Trino's operator typing) https://trino.io/docs/current/language/types.html.
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.localstack

AwsClient = Callable[[str], Any]
UniqueName = Callable[[str], str]

QUERY_DEADLINE_S = 60.0
TERMINAL_STATES = {"SUCCEEDED", "FAILED", "CANCELLED"}
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
# user_id -> (activity, sensor) rows of the source table ``lake``
ROWS: dict[str, list[tuple[str, float]]] = {
    "1": [("Walking", 1.5), ("Walking", 2.5), ("Jogging", 4.0)],
    "2": [("Walking", 10.0), ("Sitting", 20.0)],
    "3": [("Jogging", 100.0)],
}


@dataclass(frozen=True)
class Lake:
    """A bucket, a Glue database and its table ``lake`` (activity, sensor; user_id partitions)."""

    bucket: str
    database: str
    output: str
    athena: Any
    glue: Any
    s3: Any

    def run(self, query: str) -> dict[str, Any]:
        """Start the query in the lake's database and wait for its final state."""
        query_id = self.athena.start_query_execution(
            QueryString=query,
            QueryExecutionContext={"Database": self.database},
            ResultConfiguration={"OutputLocation": self.output},
        )["QueryExecutionId"]
        deadline = time.monotonic() + QUERY_DEADLINE_S
        while True:
            execution: dict[str, Any] = self.athena.get_query_execution(QueryExecutionId=query_id)[
                "QueryExecution"
            ]
            if execution["Status"]["State"] in TERMINAL_STATES:
                return execution
            if time.monotonic() > deadline:
                pytest.fail(f"{query!r} still {execution['Status']['State']} after the deadline")
            time.sleep(0.05)

    def ok(self, query: str) -> list[list[str | None]]:
        """The query's rows (header first for queries), failing the test if it did not succeed."""
        execution = self.run(query)
        assert execution["Status"]["State"] == "SUCCEEDED", (query, execution["Status"])
        rows: list[list[str | None]] = []
        kwargs: dict[str, Any] = {"QueryExecutionId": execution["QueryExecutionId"]}
        while True:
            page = self.athena.get_query_results(**kwargs)
            rows += [[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]
            if "NextToken" not in page:
                return rows
            kwargs["NextToken"] = page["NextToken"]

    def failure(self, query: str) -> str:
        """The StateChangeReason of a query that must fail."""
        execution = self.run(query)
        assert execution["Status"]["State"] == "FAILED", (query, execution["Status"])
        assert (
            execution["Status"]["AthenaError"]["ErrorMessage"]
            == (execution["Status"]["StateChangeReason"])
        )
        return str(execution["Status"]["StateChangeReason"])

    def keys(self, prefix: str) -> dict[str, int]:
        """Object keys under the prefix, with their sizes."""
        found: dict[str, int] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            found.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
        return found

    def table_names(self) -> list[str]:
        return sorted(
            t["Name"] for t in self.glue.get_tables(DatabaseName=self.database)["TableList"]
        )

    def read_parquet(self, uris: list[str]) -> pa.Table:
        tables = []
        for uri in uris:
            key = uri.removeprefix(f"s3://{self.bucket}/")
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            tables.append(pq.read_table(io.BytesIO(body)))
        return pa.concat_tables(tables)


def _parquet(rows: list[tuple[str, float]]) -> bytes:
    sink = io.BytesIO()
    activity, sensor = zip(*rows, strict=True)
    pq.write_table(
        pa.table({"activity": pa.array(activity), "sensor": pa.array(sensor, pa.float64())}), sink
    )
    return sink.getvalue()


@pytest.fixture
def lake(aws_client: AwsClient, unique_name: UniqueName) -> Iterator[Lake]:
    s3, glue = aws_client("s3"), aws_client("glue")
    bucket = unique_name("athena-statements")
    database = bucket.replace("-", "_")
    s3.create_bucket(Bucket=bucket)
    for user_id, rows in ROWS.items():
        s3.put_object(
            Bucket=bucket, Key=f"lake/user_id={user_id}/part-0.parquet", Body=_parquet(rows)
        )
    glue.create_database(DatabaseInput={"Name": database})
    descriptor = {
        "Columns": [{"Name": "activity", "Type": "string"}, {"Name": "sensor", "Type": "double"}],
        "Location": f"s3://{bucket}/lake/",
        "InputFormat": PARQUET_INPUT,
        "OutputFormat": PARQUET_OUTPUT,
        "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE},
    }
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "lake",
            "TableType": "EXTERNAL_TABLE",
            "StorageDescriptor": descriptor,
            "PartitionKeys": [{"Name": "user_id", "Type": "string"}],
        },
    )
    glue.batch_create_partition(
        DatabaseName=database,
        TableName="lake",
        PartitionInputList=[
            {
                "Values": [user_id],
                "StorageDescriptor": {
                    **descriptor,
                    "Location": f"s3://{bucket}/lake/user_id={user_id}/",
                },
            }
            for user_id in ROWS
        ],
    )
    yield Lake(bucket, database, f"s3://{bucket}/results/", aws_client("athena"), glue, s3)
    for name in [t["Name"] for t in glue.get_tables(DatabaseName=database)["TableList"]]:
        glue.delete_table(DatabaseName=database, Name=name)
    glue.delete_database(Name=database)


# -- CREATE TABLE AS SELECT -----------------------------------------------------------------


def test_ctas_writes_partitioned_parquet_registers_table_and_partitions_then_drop_keeps_data(
    lake: Lake,
) -> None:
    location = f"s3://{lake.bucket}/ctas/doubled/"
    execution = lake.run(
        "CREATE TABLE doubled WITH (format = 'PARQUET', external_location = "
        f"'{location}', partitioned_by = ARRAY['user_id']) AS "
        "SELECT activity, sensor * 2 AS doubled, user_id FROM lake WHERE sensor < 50"
    )

    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    assert execution["StatementType"] == "DDL"
    assert execution["SubstatementType"] == "CREATE_TABLE_AS_SELECT"
    result = lake.athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    assert result["UpdateCount"] == 5
    assert execution["Statistics"]["DataScannedInBytes"] == sum(lake.keys("lake/").values())
    table = lake.glue.get_table(DatabaseName=lake.database, Name="doubled")["Table"]
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("activity", "string"),
        ("doubled", "double"),
    ]
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [("user_id", "string")]
    assert table["StorageDescriptor"]["Location"] == location
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    partitions = lake.glue.get_partitions(DatabaseName=lake.database, TableName="doubled")
    assert sorted(
        (p["Values"], p["StorageDescriptor"]["Location"]) for p in partitions["Partitions"]
    ) == [(["1"], f"{location}user_id=1/"), (["2"], f"{location}user_id=2/")]

    # The manifest lists exactly the data files written (what awswrangler reads back).
    manifest_uri = execution["Statistics"]["DataManifestLocation"]
    assert manifest_uri == f"{lake.output}{execution['QueryExecutionId']}-manifest.csv"
    manifest_key = manifest_uri.removeprefix(f"s3://{lake.bucket}/")
    listed = lake.s3.get_object(Bucket=lake.bucket, Key=manifest_key)["Body"].read().decode()
    files = listed.split()
    assert sorted(files) == sorted(f"s3://{lake.bucket}/{k}" for k in lake.keys("ctas/doubled/"))
    written = lake.read_parquet(files)
    assert written.column("doubled").sort().to_pylist() == [3.0, 5.0, 8.0, 20.0, 40.0]
    assert "user_id" not in written.column_names  # partition values live in the folder names

    assert lake.ok("SELECT user_id, sum(doubled) FROM doubled GROUP BY user_id ORDER BY 1") == [
        ["user_id", "_col1"],
        ["1", "16.0"],
        ["2", "60.0"],
    ]
    assert lake.ok("SHOW PARTITIONS doubled") == [["user_id=1"], ["user_id=2"]]

    assert lake.ok("DROP TABLE doubled") == []
    assert lake.table_names() == ["lake"]
    assert lake.keys("ctas/doubled/")  # Athena's DROP TABLE leaves the data in S3


def test_ctas_as_awswrangler_sends_it_defaults_location_and_with_no_data(lake: Lake) -> None:
    # awswrangler's read_sql_query(ctas_approach=True) statement, without external_location:
    # Athena then writes under <result location>/tables/<query id>/.
    execution = lake.run(
        f'CREATE TABLE "{lake.database}"."temp_table_1"\nWITH(\n    format = \'PARQUET\'\n)\n'
        "AS SELECT activity, count(*) AS n FROM lake GROUP BY activity"
    )
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    table = lake.glue.get_table(DatabaseName=lake.database, Name="temp_table_1")["Table"]
    prefix = f"results/tables/{execution['QueryExecutionId']}/"
    assert table["StorageDescriptor"]["Location"] == f"s3://{lake.bucket}/{prefix}"
    assert lake.ok("SELECT activity, n FROM temp_table_1 ORDER BY activity") == [
        ["activity", "n"],
        ["Jogging", "2"],
        ["Sitting", "1"],
        ["Walking", "3"],
    ]
    columns = lake.athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    assert columns["ResultSet"]["ResultSetMetadata"]["ColumnInfo"][0]["Name"] == "rows"

    # dbt-athena's Hive table materialisation sends table_type and is_external too.
    empty = lake.run(
        "CREATE TABLE shape WITH (table_type = 'hive', is_external = true, "
        f"external_location = 's3://{lake.bucket}/shape/', format = 'parquet') AS "
        "SELECT activity, sensor FROM lake WITH NO DATA"
    )
    assert empty["Status"]["State"] == "SUCCEEDED", empty["Status"]
    assert lake.keys("shape/") == {}
    assert lake.ok("SELECT count(*) FROM shape") == [["_col0"], ["0"]]
    shape = lake.glue.get_table(DatabaseName=lake.database, Name="shape")["Table"]
    assert [c["Type"] for c in shape["StorageDescriptor"]["Columns"]] == ["string", "double"]


def test_ctas_onto_a_location_with_data_fails_hive_path_already_exists_and_registers_nothing(
    lake: Lake,
) -> None:
    reason = lake.failure(
        f"CREATE TABLE again WITH (external_location = 's3://{lake.bucket}/lake/') AS "
        "SELECT * FROM lake"
    )

    assert reason == (
        f"HIVE_PATH_ALREADY_EXISTS: Target directory for table '{lake.database}.again' already "
        f"exists: s3://{lake.bucket}/lake/"
    )
    assert lake.table_names() == ["lake"]


def test_bad_ctas_input_fails_with_athena_errors_and_leaves_no_half_written_table(
    lake: Lake,
) -> None:
    missing_query = (
        f"CREATE TABLE t1 WITH (external_location = 's3://{lake.bucket}/t1/') AS "
        "SELECT * FROM nowhere"
    )
    missing = lake.failure(missing_query)
    no_bucket = lake.failure(
        "CREATE TABLE t2 WITH (external_location = 's3://no-such-bucket-athena-statements/t2/') "
        "AS SELECT 1 AS a"
    )
    not_s3 = lake.failure(
        "CREATE TABLE t3 WITH (external_location = 'file:///tmp/t3') AS SELECT 1 a"
    )
    order = lake.failure(
        f"CREATE TABLE t4 WITH (external_location = 's3://{lake.bucket}/t4/', "
        "partitioned_by = ARRAY['user_id']) AS SELECT user_id, sensor FROM lake"
    )
    exists = lake.failure(
        f"CREATE TABLE lake WITH (external_location = 's3://{lake.bucket}/t5/') AS SELECT 1 a"
    )

    column = missing_query.index("nowhere") + 1
    assert missing == (
        f"TABLE_NOT_FOUND: line 1:{column}: Table 'awsdatacatalog.{lake.database}.nowhere' "
        "does not exist"
    )
    assert no_bucket.startswith("HIVE_FILESYSTEM_ERROR: ")
    assert not_s3.startswith("INVALID_TABLE_PROPERTY: ")
    assert order == (
        "HIVE_COLUMN_ORDER_MISMATCH: Partition keys must be the last columns in the table and in "
        "the same order as the table properties: [user_id]"
    )
    assert exists == f"ALREADY_EXISTS: Table 'awsdatacatalog.{lake.database}.lake' already exists"
    assert lake.table_names() == ["lake"]
    assert [k for k in lake.keys("") if k.startswith(("t1/", "t4/", "t5/"))] == []


# -- INSERT INTO ----------------------------------------------------------------------------


def test_insert_into_appends_rows_and_registers_new_partitions(lake: Lake) -> None:
    execution = lake.run("INSERT INTO lake SELECT 'Cycling', 7.0, '4'")
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    assert execution["StatementType"] == "DML"
    lake.ok("INSERT INTO lake (user_id, activity, sensor) SELECT '1', 'Running', 0.5")

    assert lake.ok(
        "SELECT user_id, count(*), sum(sensor) FROM lake GROUP BY user_id ORDER BY user_id"
    ) == [
        ["user_id", "_col1", "_col2"],
        ["1", "4", "8.5"],
        ["2", "2", "30.0"],
        ["3", "1", "100.0"],
        ["4", "1", "7.0"],
    ]
    assert lake.ok("SHOW PARTITIONS lake")[-1] == ["user_id=4"]


def test_insert_into_with_mismatched_types_fails_type_mismatch_and_writes_nothing(
    lake: Lake,
) -> None:
    before = lake.keys("lake/")

    reason = lake.failure("INSERT INTO lake SELECT 1, 2.0, '9'")

    assert reason == (
        "TYPE_MISMATCH: Insert query has mismatched column types: Table: [varchar, double, "
        "varchar], Query: [integer, decimal(2,1), varchar]"
    )
    assert lake.keys("lake/") == before
    assert lake.ok("SHOW PARTITIONS lake") == [["user_id=1"], ["user_id=2"], ["user_id=3"]]


# -- views ----------------------------------------------------------------------------------


def test_view_is_stored_as_athena_stores_it_queried_replaced_and_dropped(lake: Lake) -> None:
    create = lake.run(
        "CREATE VIEW busiest AS SELECT user_id, count(*) AS n FROM lake GROUP BY user_id"
    )
    assert create["Status"]["State"] == "SUCCEEDED", create["Status"]

    view = lake.glue.get_table(DatabaseName=lake.database, Name="busiest")["Table"]
    assert view["TableType"] == "VIRTUAL_VIEW"
    assert view["Parameters"] == {"presto_view": "true", "comment": "Presto View"}
    assert view["ViewExpandedText"] == "/* Presto View */"
    text = view["ViewOriginalText"]
    assert text.startswith("/* Presto View: ") and text.endswith(" */")
    definition = json.loads(base64.b64decode(text.removeprefix("/* Presto View: ")[:-3]))
    assert definition["originalSql"] == ("SELECT user_id, count(*) AS n FROM lake GROUP BY user_id")
    assert definition["catalog"] == "awsdatacatalog"
    assert definition["schema"] == lake.database
    assert definition["columns"] == [
        {"name": "user_id", "type": "varchar"},
        {"name": "n", "type": "bigint"},
    ]
    assert [(c["Name"], c["Type"]) for c in view["StorageDescriptor"]["Columns"]] == [
        ("user_id", "string"),
        ("n", "bigint"),
    ]
    assert lake.ok("SELECT * FROM busiest WHERE n > 1 ORDER BY user_id") == [
        ["user_id", "n"],
        ["1", "3"],
        ["2", "2"],
    ]

    assert lake.failure("CREATE VIEW busiest AS SELECT 1 AS x") == (
        f"ALREADY_EXISTS: View 'awsdatacatalog.{lake.database}.busiest' already exists"
    )
    lake.ok("CREATE OR REPLACE VIEW busiest AS SELECT max(sensor) AS top FROM lake")
    assert lake.ok("SELECT top FROM busiest") == [["top"], ["100.0"]]
    create_view = lake.ok("SHOW CREATE VIEW busiest")[0][0]
    assert create_view is not None and "busiest" in create_view

    assert lake.ok("DROP VIEW busiest") == []
    assert lake.table_names() == ["lake"]
    assert lake.failure("DROP VIEW busiest") == (
        f"VIEW_NOT_FOUND: View 'awsdatacatalog.{lake.database}.busiest' does not exist"
    )
    assert lake.ok("DROP VIEW IF EXISTS busiest") == []


def test_view_over_a_view_in_another_database_resolves_its_own_schema(lake: Lake) -> None:
    lake.ok("CREATE VIEW walking AS SELECT * FROM lake WHERE activity = 'Walking'")
    lake.ok(
        f'CREATE VIEW walking_total AS SELECT sum(sensor) AS total FROM "{lake.database}".walking'
    )

    assert lake.ok("SELECT total FROM walking_total") == [["total"], ["14.0"]]


# -- UNLOAD ---------------------------------------------------------------------------------


def test_unload_writes_parquet_listed_in_the_manifest(lake: Lake) -> None:
    target = f"s3://{lake.bucket}/unloaded/"
    execution = lake.run(
        f"UNLOAD (SELECT activity, sensor FROM lake WHERE user_id = '2') TO '{target}' "
        "WITH (format = 'PARQUET', compression = 'SNAPPY')"
    )

    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    assert execution["StatementType"] == "DML"
    assert execution["SubstatementType"] == "UNLOAD"
    manifest_key = execution["Statistics"]["DataManifestLocation"].removeprefix(
        f"s3://{lake.bucket}/"
    )
    files = lake.s3.get_object(Bucket=lake.bucket, Key=manifest_key)["Body"].read().decode()
    assert sorted(files.split()) == sorted(
        f"s3://{lake.bucket}/{k}" for k in lake.keys("unloaded/")
    )
    unloaded = lake.read_parquet(files.split()).sort_by("sensor")
    assert unloaded.to_pydict() == {"activity": ["Walking", "Sitting"], "sensor": [10.0, 20.0]}
    assert lake.failure(
        f"UNLOAD (SELECT 1 AS a) TO '{target}' WITH (format = 'PARQUET')"
    ).startswith("HIVE_PATH_ALREADY_EXISTS: ")


# -- external tables ------------------------------------------------------------------------


def test_external_tsv_table_reads_raw_log_files(lake: Lake) -> None:
    # mHealth .log lines: 23 tab-separated signals then the label; CRLF endings tolerated.
    def line(value: float, label: int) -> str:
        return "\t".join([f"{value:.4f}"] * 23 + [str(label)])

    lake.s3.put_object(
        Bucket=lake.bucket,
        Key="raw/mHealth_subject1.log",
        Body=("\r\n".join([line(-9.8, 0), line(1.25, 4), line(2.5, 4)]) + "\r\n").encode(),
    )
    lake.s3.put_object(
        Bucket=lake.bucket, Key="raw/mHealth_subject2.log", Body=(line(3.0, 4) + "\n").encode()
    )
    columns = ", ".join(f"s{i} double" for i in range(1, 24))
    lake.ok(
        f"CREATE EXTERNAL TABLE raw_logs ({columns}, label int) "
        "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' "
        f"STORED AS TEXTFILE LOCATION 's3://{lake.bucket}/raw/'"
    )

    table = lake.glue.get_table(DatabaseName=lake.database, Name="raw_logs")["Table"]
    serde = table["StorageDescriptor"]["SerdeInfo"]
    assert serde["SerializationLibrary"] == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    assert serde["Parameters"]["field.delim"] == "\t"
    assert table["StorageDescriptor"]["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert lake.ok(
        "SELECT label, count(*), sum(s1), max(s23) FROM raw_logs GROUP BY label ORDER BY label"
    ) == [
        ["label", "_col1", "_col2", "_col3"],
        ["0", "1", "-9.8", "-9.8"],
        ["4", "3", "6.75", "3.0"],
    ]
    assert lake.ok("SHOW CREATE TABLE raw_logs")[:2] == [
        [f"CREATE EXTERNAL TABLE `{lake.database}`.`raw_logs`("],
        ["  `s1` double, "],
    ]


def test_external_parquet_table_with_partition_ddl_and_msck_repair(lake: Lake) -> None:
    lake.ok(
        "CREATE EXTERNAL TABLE IF NOT EXISTS copy (activity string, sensor double) "
        "PARTITIONED BY (user_id string) STORED AS PARQUET "
        f"LOCATION 's3://{lake.bucket}/lake/'"
    )
    assert lake.ok("SHOW PARTITIONS copy") == []
    assert lake.ok("SELECT count(*) FROM copy") == [["_col0"], ["6"]]  # Hive folders are read

    lake.ok(
        f"ALTER TABLE copy ADD PARTITION (user_id = '1') LOCATION 's3://{lake.bucket}/lake/user_id=1/'"
    )
    assert lake.failure("ALTER TABLE copy ADD PARTITION (user_id = '1')") == (
        "ALREADY_EXISTS: Partition already exists: user_id=1"
    )
    lake.ok("ALTER TABLE copy ADD IF NOT EXISTS PARTITION (user_id = '1')")
    repaired = lake.ok("MSCK REPAIR TABLE copy")
    assert repaired == [
        ["Partitions not in metastore:\tcopy:user_id=2\tcopy:user_id=3"],
        ["Repair: Added partition to metastore copy:user_id=2"],
        ["Repair: Added partition to metastore copy:user_id=3"],
    ]
    assert lake.ok("SHOW PARTITIONS copy") == [["user_id=1"], ["user_id=2"], ["user_id=3"]]

    lake.ok("ALTER TABLE copy DROP PARTITION (user_id = '2'), PARTITION (user_id = '3')")
    assert lake.ok("SHOW PARTITIONS copy") == [["user_id=1"]]
    assert lake.failure("ALTER TABLE copy DROP PARTITION (user_id = '3')") == (
        "HIVE_METASTORE_ERROR: Partition not found: user_id=3"
    )
    lake.ok("ALTER TABLE copy DROP IF EXISTS PARTITION (user_id = '3')")
    assert lake.ok("MSCK REPAIR TABLE copy")[0][0] == (
        "Partitions not in metastore:\tcopy:user_id=2\tcopy:user_id=3"
    )
    lake.ok("DROP TABLE copy")
    assert lake.table_names() == ["lake"]


# -- metadata statements ----------------------------------------------------------------------


def test_describe_show_columns_and_show_create_table_in_athena_row_shape(lake: Lake) -> None:
    assert lake.ok("DESCRIBE lake") == [
        ["activity            \tstring              \t"],
        ["sensor              \tdouble              \t"],
        ["user_id             \tstring              \t"],
        [""],
        ["# Partition Information"],
        ["# col_name          \tdata_type           \tcomment"],
        [""],
        ["user_id             \tstring              \t"],
    ]
    assert lake.ok(f"SHOW COLUMNS IN {lake.database}.lake") == [
        ["activity"],
        ["sensor"],
        ["user_id"],
    ]
    assert lake.ok(f"SHOW PARTITIONS {lake.database}.lake") == [
        ["user_id=1"],
        ["user_id=2"],
        ["user_id=3"],
    ]
    create = [row[0] for row in lake.ok("SHOW CREATE TABLE lake")]
    assert create[:5] == [
        f"CREATE EXTERNAL TABLE `{lake.database}`.`lake`(",
        "  `activity` string, ",
        "  `sensor` double)",
        "PARTITIONED BY ( ",
        "  `user_id` string)",
    ]
    assert create[-2:] == ["LOCATION", f"  's3://{lake.bucket}/lake/'"]


# -- Trino's strictness -----------------------------------------------------------------------


def test_integer_against_varchar_partition_fails_type_mismatch_like_trino(lake: Lake) -> None:
    assert lake.failure("SELECT count(*) FROM lake WHERE user_id = 1") == (
        "TYPE_MISMATCH: line 1:41: Cannot apply operator: varchar = integer"
    )
    assert lake.failure("SELECT * FROM lake WHERE sensor > '2'") == (
        "TYPE_MISMATCH: line 1:33: Cannot apply operator: double > varchar(1)"
    )
    assert lake.failure("SELECT * FROM lake WHERE user_id IN (1, 2)").startswith(
        "TYPE_MISMATCH: line 1:34: IN value and list items must be the same type: varchar"
    )
    assert lake.ok("SELECT count(*) FROM lake WHERE user_id = '1'") == [["_col0"], ["3"]]
    assert lake.ok(
        "SELECT 7 / 2, 7 / 2.0, 7e0 / 2, DATE '2014-01-02' > DATE '2014-01-01', "
        "TIMESTAMP '2014-01-01 00:00:01' - TIMESTAMP '2014-01-01 00:00:00'"
    ) == [
        ["_col0", "_col1", "_col2", "_col3", "_col4"],
        ["3", "3.5", "3.5", "true", "0 00:00:01.000"],
    ]
    assert lake.failure("SELECT * FROM lake WHERE current_date = '2014-01-01'").startswith(
        "TYPE_MISMATCH: "
    )


def test_query_on_one_user_partition_scans_only_that_partition(lake: Lake) -> None:
    sizes = lake.keys("lake/")
    one = lake.run("SELECT sum(sensor) FROM lake WHERE user_id = '2'")
    everything = lake.run("SELECT sum(sensor) FROM lake")

    assert one["Status"]["State"] == everything["Status"]["State"] == "SUCCEEDED"
    assert one["Statistics"]["DataScannedInBytes"] == sizes["lake/user_id=2/part-0.parquet"]
    assert everything["Statistics"]["DataScannedInBytes"] == sum(sizes.values())


def test_unsupported_statements_fail_naming_the_statement(lake: Lake) -> None:
    assert lake.failure("CREATE FUNCTION f() RETURNS int RETURN 1").startswith(
        "NOT_SUPPORTED: CREATE FUNCTION is not supported by the local Athena"
    )
    assert (
        lake.failure(
            f"CREATE TABLE b WITH (external_location = 's3://{lake.bucket}/b/', format = 'ORC') "
            "AS SELECT 1 AS a"
        )
        == "NOT_SUPPORTED: CREATE TABLE AS with format 'ORC': the local Athena writes PARQUET only"
    )
    assert lake.failure("DELETE FROM lake WHERE sensor > 1").startswith("NOT_SUPPORTED: DELETE")
    assert lake.table_names() == ["lake"]
