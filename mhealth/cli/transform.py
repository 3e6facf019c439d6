"""``mhealth transform --stage DIR --out DIR``: the Glue transform in a local SparkSession."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mhealth.core.recording import DEFAULT_RECORDING_START


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "transform",
        help="run the Glue transform locally: stage Parquet → table partitioned by user_id",
        description="Runs the Glue job's transform on local directories and prints the "
        "row count per activity of the written table.",
    )
    parser.add_argument("--stage", required=True, type=Path, metavar="DIR")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR")
    parser.add_argument(
        "--recording-start",
        default=DEFAULT_RECORDING_START,
        help=f"time of every subject's first sample, ISO-8601 (default {DEFAULT_RECORDING_START})",
    )
    parser.set_defaults(func=_transform)


def _transform(args: argparse.Namespace) -> int:
    from mhealth.core.recording import parse_recording_start
    from mhealth.local.spark_session import local_spark_session
    from mhealth.transform.job import transform_location
    from mhealth.transform.spark_io import NativeSparkIO

    if not args.stage.is_dir():
        print(f"mhealth transform: {args.stage} is not a directory", file=sys.stderr)
        return 1
    started = time.perf_counter()
    spark = local_spark_session("mhealth-transform")
    partitions = transform_location(
        spark,
        str(args.stage.resolve()),
        str(args.out.resolve()),
        parse_recording_start(args.recording_start),
        NativeSparkIO(),
    )
    table = spark.read.parquet(str(args.out.resolve()))
    counts = table.groupBy("activity").count().orderBy("activity").collect()
    total = sum(row["count"] for row in counts)
    print(f"{'activity':<28}{'rows':>12}")
    for row in counts:
        print(f"{row['activity']:<28}{row['count']:>12,}")
    print(
        f"total: {total:,} rows in {len(partitions)} partitions "
        f"(user_id={','.join(partitions)}) in {args.out}, {time.perf_counter() - started:.1f} s"
    )
    return 0
