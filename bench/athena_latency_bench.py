"""Warm latency of a small Athena query and a warm Lambda invoke on the local AWS.

The question is the emulator's own overhead, measured the way the peer emulators were: a
small ``GROUP BY`` over 6,000 rows of Parquet in two Hive partitions behind a Glue table,
timed from ``StartQueryExecution`` to holding the first ``GetQueryResults`` page, the client
polling ``GetQueryExecution`` every 10 ms, median of ``--repeats`` warm runs. The baseline, in
the same script and on the same files, is DuckDB running the same query over the same Parquet
read directly from local disk in this process (what the emulator would cost if the Athena API,
the catalog and S3 were free). A warm synchronous Lambda invoke of a function that returns its
event is timed too, median of ``--repeats``.

It uses the local AWS at ``MHEALTH_LOCAL_PORT`` (starting it when it is not up, and then
stopping it afterwards) and removes what it created.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import textwrap
import time
import uuid
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from bench.common import WORK_DIR, ratio, write_section

BENCH_EDGE_PORT: Final = "4575"
BENCH_STANDIN_PORT: Final = "4605"
ROWS_PER_PARTITION: Final = 3_000
PARTITIONS: Final = ("1", "2")
ACTIVITIES: Final = ("Standing still", "Walking", "Jogging", "Cycling", "Running", "Null class")
POLL_S: Final = 0.01
PARQUET_INPUT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE: Final = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
COLUMNS: Final = (
    ("activity", "string"),
    ("timestamp", "timestamp"),
    ("sensor1", "double"),
    ("sensor2", "double"),
    ("sensor3", "double"),
)
QUERY: Final = (
    'SELECT activity, COUNT(*) AS "rows", AVG(sensor1) AS mean1 FROM {table} '
    "GROUP BY activity ORDER BY activity"
)
#: A role the local stage accepts for a function (only its ARN is needed here).
LAMBDA_ROLE: Final = "arn:aws:iam::000000000000:role/mhealth-bench-latency"


def _partition_table(user_id: str) -> pa.Table:
    start = datetime(2014, 1, int(user_id))
    rows = range(ROWS_PER_PARTITION)
    return pa.table(
        {
            "activity": pa.array([ACTIVITIES[i * 7 % len(ACTIVITIES)] for i in rows]),
            "timestamp": pa.array(
                [start + timedelta(milliseconds=20 * i) for i in rows], pa.timestamp("us")
            ),
            "sensor1": pa.array([(i % 97) / 7.0 for i in rows], pa.float64()),
            "sensor2": pa.array([(i % 89) / 3.0 for i in rows], pa.float64()),
            "sensor3": pa.array([(i % 83) / 5.0 for i in rows], pa.float64()),
        }
    )


def write_local_files(root: Path) -> list[Path]:
    """The two partitions as Parquet files under ``root/user_id=N/``."""
    paths = []
    for user_id in PARTITIONS:
        path = root / f"user_id={user_id}" / "part-00000.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(_partition_table(user_id), path)
        paths.append(path)
    return paths


def _direct_duckdb(root: Path, repeats: int) -> tuple[list[float], list[tuple[Any, ...]]]:
    """The same query by DuckDB over the same files on local disk (one warm connection)."""
    import duckdb

    connection = duckdb.connect(":memory:", config={"threads": 2})
    table = f"read_parquet('{root.as_posix()}/*/*.parquet', hive_partitioning = true)"
    sql = QUERY.format(table=table)
    rows = connection.execute(sql).fetchall()  # warm-up
    runs = []
    for _ in range(repeats):
        began = time.perf_counter()
        connection.execute(sql).fetchall()
        runs.append(time.perf_counter() - began)
    connection.close()
    return runs, rows


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds a process has used so far (0 when unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _athena_query(athena: Any, sql: str, database: str, output: str) -> tuple[float, int, Any]:
    """Seconds from submit to the first result page, the GetQueryExecution calls, the page."""
    began = time.perf_counter()
    query_id = athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": database},
        ResultConfiguration={"OutputLocation": output},
    )["QueryExecutionId"]
    polls = 0
    while True:
        polls += 1
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] == "SUCCEEDED":
            break
        if status["State"] in ("FAILED", "CANCELLED"):
            raise RuntimeError(f"query {status['State']}: {status.get('StateChangeReason')}")
        if time.perf_counter() - began > 60:
            raise TimeoutError(f"query {query_id} still {status['State']} after 60 s")
        time.sleep(POLL_S)
    page = athena.get_query_results(QueryExecutionId=query_id)
    return time.perf_counter() - began, polls, page


def _create_table(clients: Any, bucket: str, database: str, files: list[Path]) -> str:
    s3, glue = clients("s3"), clients("glue")
    s3.create_bucket(Bucket=bucket)
    for user_id, path in zip(PARTITIONS, files, strict=True):
        s3.put_object(
            Bucket=bucket,
            Key=f"processed/user_id={user_id}/part-00000.parquet",
            Body=path.read_bytes(),
        )
    location = f"s3://{bucket}/processed/"
    descriptor = {
        "Columns": [{"Name": name, "Type": kind} for name, kind in COLUMNS],
        "Location": location,
        "InputFormat": PARQUET_INPUT,
        "OutputFormat": PARQUET_OUTPUT,
        "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE},
    }
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "readings",
            "TableType": "EXTERNAL_TABLE",
            "StorageDescriptor": descriptor,
            "PartitionKeys": [{"Name": "user_id", "Type": "string"}],
        },
    )
    glue.batch_create_partition(
        DatabaseName=database,
        TableName="readings",
        PartitionInputList=[
            {
                "Values": [user_id],
                "StorageDescriptor": {**descriptor, "Location": f"{location}user_id={user_id}/"},
            }
            for user_id in PARTITIONS
        ],
    )
    return f'"{database}"."readings"'


def _drop(clients: Any, bucket: str, database: str) -> None:
    s3 = clients("s3")
    try:
        clients("glue").delete_database(Name=database)
    except Exception as error:  # cleanup: report, do not mask the result
        print(f"  (could not delete database {database}: {error})")
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    s3.delete_bucket(Bucket=bucket)


def _lambda_invokes(clients: Any, repeats: int) -> list[float]:
    """Warm synchronous invokes of a function that returns its event."""
    lambda_client = clients("lambda")
    name = f"mhealth-bench-echo-{uuid.uuid4().hex[:8]}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "app.py",
            textwrap.dedent(
                """
                def handler(event, context):
                    return event
                """
            ),
        )
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="app.handler",
        Role=LAMBDA_ROLE,
        Code={"ZipFile": buffer.getvalue()},
        Timeout=10,
    )
    try:
        lambda_client.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        payload = json.dumps({"ping": 1}).encode()
        for _ in range(2):  # cold start, then one warm call
            lambda_client.invoke(FunctionName=name, Payload=payload)["Payload"].read()
        runs = []
        for _ in range(repeats):
            began = time.perf_counter()
            answer = lambda_client.invoke(FunctionName=name, Payload=payload)["Payload"].read()
            runs.append(time.perf_counter() - began)
            if json.loads(answer) != {"ping": 1}:
                raise RuntimeError(f"the function answered {answer!r}")
        return runs
    finally:
        lambda_client.delete_function(FunctionName=name)


def run(repeats: int) -> dict[str, Any]:
    os.environ.setdefault("MHEALTH_LOCAL_PORT", BENCH_EDGE_PORT)
    os.environ.setdefault("MHEALTH_STANDIN_PORT", BENCH_STANDIN_PORT)
    import botocore

    from mhealth.local import runtime
    from mhealth.local.config import LocalConfig

    load = [round(x, 2) for x in os.getloadavg()]
    root = WORK_DIR / "athena-latency"
    files = write_local_files(root)
    direct_runs, direct_rows = _direct_duckdb(root, repeats)

    config = LocalConfig.from_environment()
    up = runtime.up(config, report=lambda message: print(f"  {message}", flush=True))
    suffix = uuid.uuid4().hex[:8]
    bucket, database = f"mhealth-bench-latency-{suffix}", f"bench_latency_{suffix}"
    try:
        clients = config.clients()
        table = _create_table(clients, bucket, database, files)
        athena = clients("athena")
        output = f"s3://{bucket}/athena-results/"
        sql = QUERY.format(table=table)
        for _ in range(
            int(os.environ.get("WARM", "3"))
        ):  # warm-up: imports, first connection, page cache
            _, _, page = _athena_query(athena, sql, database, output)
        rows = page["ResultSet"]["Rows"]
        got = [tuple(d.get("VarCharValue") for d in row["Data"]) for row in rows]
        expected = [(str(a), str(n)) for a, n, _ in direct_rows]
        if [g[:2] for g in got[1:]] != expected:
            raise RuntimeError(f"Athena answered {got[1:]}, DuckDB on the files {expected}")
        localstack_pid = next(
            (record.pid for record in runtime.read_record(config) if record.name == "localstack"),
            None,
        )
        athena_runs, polls = [], []
        cpu_before = _cpu_seconds(localstack_pid)
        for _ in range(repeats):
            seconds, count, _ = _athena_query(athena, sql, database, output)
            athena_runs.append(seconds)
            polls.append(count)
        cpu_per_query = (_cpu_seconds(localstack_pid) - cpu_before) / repeats
        lambda_runs = _lambda_invokes(clients, repeats)
        _drop(clients, bucket, database)
    finally:
        if up.started:
            runtime.down(config, report=lambda message: print(f"  {message}", flush=True))
    athena_ms = statistics.median(athena_runs) * 1000
    direct_ms = statistics.median(direct_runs) * 1000
    lambda_ms = statistics.median(lambda_runs) * 1000
    result = {
        "sql": QUERY.format(table='"<database>"."readings"'),
        "rows": ROWS_PER_PARTITION * len(PARTITIONS),
        "partitions": len(PARTITIONS),
        "repeats": repeats,
        "poll_interval_ms": POLL_S * 1000,
        "client_botocore": botocore.__version__,
        "small_query_ms": round(athena_ms, 1),
        "small_query_best_ms": round(min(athena_runs) * 1000, 1),
        "small_query_runs_ms": [round(value * 1000, 1) for value in athena_runs],
        "get_query_execution_calls_median": statistics.median(polls),
        # CPU the LocalStack process spent per query (all its threads): what the latency is
        # made of when the machine is idle, and less at the mercy of other jobs than wall time.
        "localstack_cpu_ms_per_query": round(cpu_per_query * 1000, 1),
        "load_average_at_start": load,
        "cpus": os.cpu_count(),
        "direct_duckdb_ms": round(direct_ms, 2),
        "direct_duckdb_runs_ms": [round(value * 1000, 2) for value in direct_runs],
        "small_query_ratio_to_direct_duckdb": ratio(athena_ms, direct_ms),
        "lambda_warm_invoke_ms": round(lambda_ms, 1),
        "lambda_warm_invoke_runs_ms": [round(value * 1000, 1) for value in lambda_runs],
        "endpoint": config.endpoint_url,
    }
    print(
        f"  athena small GROUP BY: median {athena_ms:.1f} ms over {repeats} "
        f"(direct DuckDB {direct_ms:.2f} ms, ×{result['small_query_ratio_to_direct_duckdb']}); "
        f"GetQueryExecution calls per query (median) {result['get_query_execution_calls_median']}; "
        f"LocalStack CPU per query {result['localstack_cpu_ms_per_query']} ms; "
        f"lambda warm invoke median {lambda_ms:.1f} ms",
        flush=True,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=10, help="timed runs of each")
    args = parser.parse_args(argv)
    write_section("athena_latency", run(args.repeats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
