"""Peak memory of the local Athena's CTAS over a full-size table (issue 10: under 1 GiB RSS).

Builds a synthetic ``mhealth``-shaped table at full size (1,215,745 rows, the published
per-subject counts, ten ``user_id`` partitions) in the running local AWS, runs a partitioned
``CREATE TABLE … AS SELECT *`` over it, and samples the LocalStack process's resident memory
(``VmRSS`` of its process group) every 50 ms while the statement runs.

Run with the local AWS up: ``python -m bench.athena_ctas_memory`` (``MHEALTH_LOCAL_PORT`` moves it).
Prints one JSON object: rows written, seconds, RSS before and peak during the CTAS (MiB).
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mhealth.local import runtime
from mhealth.local.config import LocalConfig

ROWS_PER_SUBJECT: tuple[int, ...] = (161_280, 130_561, 122_112, 116_736, 119_808, 98_304)
ROWS_PER_SUBJECT += (104_448, 129_024, 135_168, 98_304)
PARQUET = "org.apache.hadoop.hive.ql.io.parquet"


def _group_rss_mib(pgid: int) -> float:
    total = 0
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            for line in (status.parent / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1024


def _partition(user_id: int, rows: int) -> bytes:
    rng = np.random.default_rng(user_id)
    start = np.datetime64("2014-01-01T00:00:00", "us") + np.timedelta64(user_id, "D")
    table = pa.table(
        {
            "activity": pa.array(rng.choice(["Null class", "Walking", "Jogging"], rows)),
            "timestamp": pa.array(start + np.arange(rows) * np.timedelta64(20_000, "us")),
            "sensor1": pa.array(rng.normal(-9.8, 1.0, rows)),
            "sensor2": pa.array(rng.normal(0.0, 2.0, rows)),
            "sensor3": pa.array(rng.normal(0.0, 2.0, rows)),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _setup(config: LocalConfig, bucket: str, database: str) -> dict[str, Any]:
    kwargs = {
        "endpoint_url": config.endpoint_url,
        "region_name": config.region,
        "aws_access_key_id": config.access_key_id,
        "aws_secret_access_key": config.secret_access_key,
    }
    clients = {name: boto3.client(name, **kwargs) for name in ("s3", "glue", "athena")}  # type: ignore[call-overload]
    clients["s3"].create_bucket(Bucket=bucket)
    for user_id, rows in enumerate(ROWS_PER_SUBJECT, start=1):
        clients["s3"].put_object(
            Bucket=bucket,
            Key=f"processed/user_id={user_id}/part-0.parquet",
            Body=_partition(user_id, rows),
        )
    clients["glue"].create_database(DatabaseInput={"Name": database})
    descriptor = {
        "Columns": [
            {"Name": "activity", "Type": "string"},
            {"Name": "timestamp", "Type": "timestamp"},
            *({"Name": f"sensor{i}", "Type": "double"} for i in (1, 2, 3)),
        ],
        "Location": f"s3://{bucket}/processed/",
        "InputFormat": f"{PARQUET}.MapredParquetInputFormat",
        "OutputFormat": f"{PARQUET}.MapredParquetOutputFormat",
        "SerdeInfo": {"SerializationLibrary": f"{PARQUET}.serde.ParquetHiveSerDe"},
    }
    clients["glue"].create_table(
        DatabaseName=database,
        TableInput={
            "Name": "mhealth",
            "TableType": "EXTERNAL_TABLE",
            "StorageDescriptor": descriptor,
            "PartitionKeys": [{"Name": "user_id", "Type": "string"}],
        },
    )
    return clients


def run(config: LocalConfig) -> dict[str, Any]:
    """Measure one CTAS over the full-size table; the table and its copy are left in place."""
    records = {record.name: record for record in runtime.read_record(config)}
    pgid = records["localstack"].pid
    suffix = uuid.uuid4().hex[:8]
    bucket, database = f"ctas-memory-{suffix}", f"ctas_memory_{suffix}"
    clients = _setup(config, bucket, database)
    before = _group_rss_mib(pgid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], _group_rss_mib(pgid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.perf_counter()
    athena = clients["athena"]
    query_id = athena.start_query_execution(
        QueryString=(
            f"CREATE TABLE copy WITH (format = 'PARQUET', external_location = "
            f"'s3://{bucket}/copy/', partitioned_by = ARRAY['user_id']) AS SELECT * FROM mhealth"
        ),
        QueryExecutionContext={"Database": database},
        ResultConfiguration={"OutputLocation": f"s3://{bucket}/results/"},
    )["QueryExecutionId"]
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] in {"SUCCEEDED", "FAILED", "CANCELLED"}:
            break
        time.sleep(0.1)
    seconds = time.perf_counter() - began
    done.set()
    sampler.join()
    result = athena.get_query_results(QueryExecutionId=query_id)
    return {
        "state": execution["Status"]["State"],
        "reason": execution["Status"].get("StateChangeReason"),
        "rows_written": result.get("UpdateCount"),
        "seconds": round(seconds, 1),
        "localstack_rss_before_mib": round(before),
        "localstack_rss_peak_mib": round(peak[0]),
    }


def main() -> int:
    print(json.dumps(run(LocalConfig.from_environment()), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
