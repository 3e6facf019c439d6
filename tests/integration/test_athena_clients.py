"""The clients analysts query Athena with, against the local stage (issue 10's client matrix).

A table of the final schema (``activity``, ``timestamp``, ``sensor1..3``, partitioned by
``user_id``) is registered in Glue exactly as the Glue job registers it (``publish_table``)
over Parquet in the local S3. Each client runs in a subprocess (``athena_client_probe.py``)
with the interpreter of the environment under test:

- ``.venv-clients`` (``requirements/clients.txt``, created by ``make setup``): the newest
  boto3, AWS CLI, PyAthena (DB-API, pandas, Arrow, SQLAlchemy) and awswrangler, whose
  botocore speaks Athena's ``rest-json`` protocol;
- the project's ``.venv`` for boto3 at the locked version (``requirements/lock.txt``), whose
  botocore speaks the older ``json`` protocol.

Every case asserts the values the client returns: row counts, columns, types, sums.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mhealth.core.schema import FINAL_DATA_COLUMNS
from mhealth.local.config import LocalConfig
from mhealth.transform.catalog_writer import publish_table

pytestmark = pytest.mark.localstack

AwsClient = Callable[[str], Any]

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("athena_client_probe.py")
CLIENTS_PYTHON = REPO / ".venv-clients" / "bin" / "python"
CLIENTS_AWS_CLI = REPO / ".venv-clients" / "bin" / "aws"
PROBE_TIMEOUT_S = 300
QUERY_DEADLINE_S = 60.0
START = datetime(2014, 1, 1)
SAMPLE = timedelta(milliseconds=20)

# user_id -> rows of (activity, sensor1, sensor2, sensor3); timestamps are 20 ms apart.
ROWS: dict[str, list[tuple[str, float, float, float]]] = {
    "1": [
        ("Null class", -9.5, 0.25, -1.0),
        ("Walking", -9.75, 0.5, -1.25),
        ("Walking", -10.0, 0.75, -1.5),
        ("Jogging", 1.25, 1.0, -1.75),
    ],
    "2": [
        ("Null class", 2.5, -0.5, 3.0),
        ("Cycling", 3.5, -0.25, 3.25),
        ("Cycling", 4.5, 0.0, 3.5),
    ],
    "3": [
        ("Null class", 0.5, 9.0, 1.0),
        ("Null class", 0.25, 9.25, 1.5),
        ("Running", 0.125, 9.5, 2.0),
        ("Running", 0.0625, 9.75, 2.5),
        ("Running", 0.03125, 10.0, 3.0),
    ],
}
COUNTS = {user: len(rows) for user, rows in ROWS.items()}
TOTAL = sum(COUNTS.values())
SUM_SENSOR1 = {user: sum(r[1] for r in rows) for user, rows in ROWS.items()}
OTHER_TABLE = "other_events"


@dataclass(frozen=True)
class ClientTable:
    """The table the clients query and the settings they get."""

    config: LocalConfig
    bucket: str
    database: str
    table: str

    @property
    def output(self) -> str:
        return f"s3://{self.bucket}/athena-results/"

    def probe_settings(self) -> dict[str, str]:
        return {
            "endpoint_url": self.config.endpoint_url,
            "region": self.config.region,
            "database": self.database,
            "table": self.table,
            "output": self.output,
            "workgroup_output": f"s3://{self.bucket}/workgroup-results/",
        }

    def environment(self) -> dict[str, str]:
        """A client's environment: local credentials and endpoint, nothing of the caller's."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "AWS_ACCESS_KEY_ID": self.config.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.config.secret_access_key,
            "AWS_DEFAULT_REGION": self.config.region,
            "AWS_ENDPOINT_URL": self.config.endpoint_url,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "MHEALTH_PROBE": json.dumps(self.probe_settings()),
        }


def _parquet(user_id: str) -> bytes:
    rows = ROWS[user_id]
    table = pa.table(
        {
            "activity": pa.array([r[0] for r in rows], pa.string()),
            "timestamp": pa.array(
                [START + i * SAMPLE for i in range(len(rows))], pa.timestamp("us")
            ),
            "sensor1": pa.array([r[1] for r in rows], pa.float64()),
            "sensor2": pa.array([r[2] for r in rows], pa.float64()),
            "sensor3": pa.array([r[3] for r in rows], pa.float64()),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


@pytest.fixture(scope="module")
def client_table(local_aws: LocalConfig, aws_client: AwsClient) -> Iterator[ClientTable]:
    s3, glue = aws_client("s3"), aws_client("glue")
    suffix = uuid.uuid4().hex[:8]
    bucket, database, table = f"athena-clients-{suffix}", f"clients_db_{suffix}", "mhealth"
    location = f"s3://{bucket}/processed/"
    s3.create_bucket(Bucket=bucket)
    for user_id in ROWS:
        s3.put_object(
            Bucket=bucket,
            Key=f"processed/user_id={user_id}/part-00000.snappy.parquet",
            Body=_parquet(user_id),
        )
    publish_table(glue, database, table, location, ROWS)
    # A second table, for ListTableMetadata's paging and name filter.
    publish_table(glue, database, OTHER_TABLE, f"s3://{bucket}/other/", [])
    yield ClientTable(local_aws, bucket, database, table)
    for name in (table, OTHER_TABLE):
        glue.delete_table(DatabaseName=database, Name=name)
    glue.delete_database(Name=database)


def _clients_python() -> Path:
    if not CLIENTS_PYTHON.exists():
        pytest.fail(
            f"{CLIENTS_PYTHON.relative_to(REPO)} is missing: `make setup` creates it from "
            "requirements/clients.txt",
            pytrace=False,
        )
    return CLIENTS_PYTHON


def _probe(client_table: ClientTable, case: str, python: Path | None = None) -> dict[str, Any]:
    interpreter = python or _clients_python()
    result = subprocess.run(
        [str(interpreter), str(PROBE), case],
        env=client_table.environment(),
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{case} with {interpreter} exited {result.returncode}:\n{result.stderr[-4000:]}",
            pytrace=False,
        )
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def _pinned(requirements: Path, package: str) -> str:
    for line in requirements.read_text(encoding="utf-8").splitlines():
        name, _, version = line.partition("==")
        if name.strip().lower() == package:
            return version.split(";")[0].strip()
    raise AssertionError(f"{package} is not pinned in {requirements}")


# -- plain boto3, old and new protocol ----------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "protocol"),
    [("locked", "json"), ("newest", "rest-json")],
)
def test_boto3_queries_and_reads_the_catalog_in_either_protocol(
    client_table: ClientTable, environment: str, protocol: str
) -> None:
    if environment == "locked":
        python, pins = Path(sys.executable), REPO / "requirements" / "lock.txt"
    else:
        python, pins = _clients_python(), REPO / "requirements" / "clients.txt"

    seen = _probe(client_table, "boto3", python)

    assert seen["botocore"] == _pinned(pins, "botocore")
    assert seen["protocol"] == protocol
    assert seen["state"] == "SUCCEEDED"
    assert seen["column_types"] == ["varchar", "bigint", "double"]
    assert seen["rows"] == [
        ["user_id", "n", "sum_sensor1"],
        *[[user, str(COUNTS[user]), str(SUM_SENSOR1[user])] for user in sorted(ROWS)],
    ]
    assert seen["catalogs"][0] == "AwsDataCatalog"
    assert seen["catalog_type"] == "GLUE"
    assert client_table.database in seen["databases"]
    assert seen["database"] == client_table.database
    assert seen["tables_paged"] == [client_table.table, OTHER_TABLE]
    assert seen["tables_filtered"] == [client_table.table]
    assert seen["table_columns"] == [list(c) for c in FINAL_DATA_COLUMNS]
    assert seen["table_partition_keys"] == [["user_id", "string"]]
    assert seen["table_location"] == f"s3://{client_table.bucket}/processed/"
    assert seen["table_type"] == "EXTERNAL_TABLE"
    # The work group enforces its own output location over the client's
    # (https://docs.aws.amazon.com/athena/latest/ug/workgroups-settings-override.html).
    assert seen["workgroups_listed"] is True
    assert seen["named_query"] == ["per user", client_table.database, True]
    assert seen["workgroup_enforced"] is True
    assert seen["enforced_location"].startswith(f"s3://{client_table.bucket}/workgroup-results/")
    assert seen["enforced_result_bytes"] > 0
    # Errors come back in the protocol's own error shape, with Athena's codes.
    assert seen["errors"] == {
        "unknown_table": [
            "MetadataException",
            f"Table no_such_table not found in database {client_table.database}.",
        ],
        "unknown_query": [
            "InvalidRequestException",
            "QueryExecution 00000000-0000-0000-0000-000000000000 was not found",
        ],
    }


# -- AWS CLI --------------------------------------------------------------------------------------


def _aws(client_table: ClientTable, *args: str) -> dict[str, Any]:
    _clients_python()
    result = subprocess.run(
        [str(CLIENTS_AWS_CLI), "athena", *args, "--output", "json"],
        env=client_table.environment(),
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def test_aws_cli_round_trip_start_get_results(client_table: ClientTable) -> None:
    started = _aws(
        client_table,
        "start-query-execution",
        "--query-string",
        f'SELECT activity, COUNT(*) AS n FROM "{client_table.database}"."{client_table.table}" '
        "GROUP BY activity ORDER BY activity",
        "--result-configuration",
        f"OutputLocation={client_table.output}",
    )
    query_id = started["QueryExecutionId"]
    deadline = time.monotonic() + QUERY_DEADLINE_S
    while True:
        status = _aws(client_table, "get-query-execution", "--query-execution-id", query_id)[
            "QueryExecution"
        ]["Status"]
        if status["State"] in {"SUCCEEDED", "FAILED", "CANCELLED"} or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert status["State"] == "SUCCEEDED", status

    results = _aws(client_table, "get-query-results", "--query-execution-id", query_id)

    activities: dict[str, int] = {}
    for rows in ROWS.values():
        for activity, *_ in rows:
            activities[activity] = activities.get(activity, 0) + 1
    values = [[d.get("VarCharValue") for d in r["Data"]] for r in results["ResultSet"]["Rows"]]
    assert values == [["activity", "n"], *[[a, str(n)] for a, n in sorted(activities.items())]]
    types = [c["Type"] for c in results["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
    assert types == ["varchar", "bigint"]


# -- PyAthena -------------------------------------------------------------------------------------


def test_pyathena_cursor_binds_parameters_and_types_columns(client_table: ClientTable) -> None:
    seen = _probe(client_table, "pyathena-cursor")

    assert seen["description"] == [
        ["activity", "varchar"],
        ["sensor1", "double"],
        ["timestamp", "timestamp"],
    ]
    assert seen["rows"] == [
        [activity, sensor1, (START + i * SAMPLE).isoformat()]
        for i, (activity, sensor1, _, _) in enumerate(ROWS["2"])
    ]


def test_pyathena_pandas_cursor_reads_the_whole_table(client_table: ClientTable) -> None:
    seen = _probe(client_table, "pandas-cursor")

    assert seen["columns"] == [*(name for name, _ in FINAL_DATA_COLUMNS), "user_id"]
    assert seen["rows"] == TOTAL
    assert seen["per_user"] == COUNTS
    assert seen["sum_sensor1"] == round(sum(SUM_SENSOR1.values()), 6)
    assert seen["dtypes"]["sensor1"] == "float64"
    assert seen["dtypes"]["timestamp"].startswith("datetime64")


def test_pyathena_arrow_cursor_returns_typed_arrow_columns(client_table: ClientTable) -> None:
    seen = _probe(client_table, "arrow-cursor")

    assert [name for name, _ in seen["schema"]] == ["user_id", "n", "last"]
    assert seen["schema"][1][1] == "int64"
    assert seen["schema"][2][1].startswith("timestamp")
    assert seen["rows"] == [
        [user, COUNTS[user], (START + (COUNTS[user] - 1) * SAMPLE).isoformat()]
        for user in sorted(ROWS)
    ]


def test_sqlalchemy_inspects_the_table_and_queries_through_pyathena(
    client_table: ClientTable,
) -> None:
    seen = _probe(client_table, "sqlalchemy")

    assert seen["schemas_include_database"] is True
    assert seen["tables"] == sorted([client_table.table, OTHER_TABLE])
    assert seen["columns"] == [
        ["activity", "String"],
        ["timestamp", "TIMESTAMP"],
        ["sensor1", "DOUBLE"],
        ["sensor2", "DOUBLE"],
        ["sensor3", "DOUBLE"],
        ["user_id", "String"],
    ]
    assert seen["count_user_3"] == COUNTS["3"]


# -- awswrangler (AWS SDK for pandas) -------------------------------------------------------------


def test_awswrangler_read_sql_table_reads_every_row(client_table: ClientTable) -> None:
    seen = _probe(client_table, "wrangler-table")

    assert seen["columns"] == [*(name for name, _ in FINAL_DATA_COLUMNS), "user_id"]
    assert seen["rows"] == TOTAL
    assert seen["per_user"] == COUNTS
    assert seen["dtypes"]["sensor1"] == "float64"
    assert seen["dtypes"]["timestamp"].startswith("datetime64")


def test_awswrangler_catalog_lists_databases_tables_and_types(client_table: ClientTable) -> None:
    seen = _probe(client_table, "wrangler-catalog")

    assert seen["database_listed"] is True
    assert seen["tables"] == sorted([client_table.table, OTHER_TABLE])
    assert seen["table_types"] == {**dict(FINAL_DATA_COLUMNS), "user_id": "string"}
    assert seen["partitions"] == [[user] for user in sorted(ROWS)]


def test_awswrangler_read_sql_query_with_defaults_takes_the_ctas_path(
    client_table: ClientTable,
) -> None:
    seen = _probe(client_table, "wrangler-ctas")

    assert sorted(seen["columns"]) == ["n", "user_id"]
    assert seen["per_user"] == COUNTS


def test_awswrangler_read_sql_query_through_unload(client_table: ClientTable) -> None:
    seen = _probe(client_table, "wrangler-unload")

    assert sorted(seen["columns"]) == ["n", "user_id"]
    assert seen["per_user"] == COUNTS
