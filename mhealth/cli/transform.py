"""``mhealth transform --stage DIR --out DIR``: the Glue transform in a local SparkSession."""

from __future__ import annotations

import argparse
import re
import time
from datetime import datetime
from pathlib import Path

from mhealth.cli.errors import JobFailedError, UsageError, one_line
from mhealth.cli.staging import check_output_folder
from mhealth.core.recording import DEFAULT_RECORDING_START, parse_recording_start


def _recording_start(text: str) -> datetime:
    try:
        return parse_recording_start(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


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
        type=_recording_start,
        default=DEFAULT_RECORDING_START,
        help=f"time of every subject's first sample, ISO-8601 (default {DEFAULT_RECORDING_START})",
    )
    parser.set_defaults(func=_transform)


def _check_stage_folder(stage: Path) -> None:
    """Raises ``UsageError`` unless ``stage`` is a folder holding Parquet files (Spark reads
    every ``*.parquet`` below it that is not hidden or ``_``-prefixed)."""
    hint = "convert logs into it first: `mhealth convert FILE... --out DIR`"
    if not stage.exists():
        raise UsageError(f"--stage {stage} does not exist", hint)
    if not stage.is_dir():
        raise UsageError(f"--stage {stage} is not a folder", hint)
    if not any(_readable_parquet(stage, path) for path in stage.rglob("*.parquet")):
        raise UsageError(f"--stage {stage} holds no Parquet files", hint)


def _readable_parquet(stage: Path, path: Path) -> bool:
    hidden = any(part.startswith((".", "_")) for part in path.relative_to(stage).parts)
    return not hidden and path.is_file() and path.stat().st_size > 0


def _transform(args: argparse.Namespace) -> int:
    from mhealth.local.spark_session import local_spark_session
    from mhealth.transform.job import transform_location
    from mhealth.transform.spark_io import NativeSparkIO

    _check_stage_folder(args.stage)
    check_output_folder(args.out)
    if args.out.resolve() == args.stage.resolve():
        raise UsageError("--out is the --stage folder", "write the table to another folder")
    # argparse applies `type` to a string default too, so this is always a datetime.
    recording_start: datetime = args.recording_start
    started = time.perf_counter()
    spark = local_spark_session("mhealth-transform")
    if not args.debug:  # Spark logs a failed task's Java stack trace itself; --debug keeps it
        spark.sparkContext.setLogLevel("OFF")
    try:
        partitions = transform_location(
            spark,
            str(args.stage.resolve()),
            str(args.out.resolve()),
            recording_start,
            NativeSparkIO(),
        )
    except Exception as error:
        if type(error).__module__.split(".")[0] not in ("pyspark", "py4j"):
            raise
        raise JobFailedError(
            f"the Spark transform failed: {_spark_reason(error)}",
            "check the --stage files (mhealth convert writes them); --debug shows Spark's error",
            details=str(error),
        ) from error
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


def _spark_reason(error: Exception) -> str:
    """The telling line of a Spark error: its error class (``[CANNOT_READ_FILE_FOOTER] …``),
    else the innermost ``Caused by:``, else the first line."""
    lines = [
        line.strip().removeprefix("Caused by: ") for line in str(error).splitlines() if line.strip()
    ]
    classed = [line for line in lines if re.search(r"\[[A-Z_]{3,}(\.[A-Z_]+)?\]", line)]
    causes = [line for line in str(error).splitlines() if line.startswith("Caused by:")]
    reason = (classed or causes[-1:] or lines or [type(error).__name__])[0]
    reason = re.sub(r"^(Caused by: )?[\w.$]+(Exception|Error): ", "", reason.strip())
    return one_line(re.split(r"(?<=\.)\s", reason, maxsplit=1)[0])  # its first sentence
