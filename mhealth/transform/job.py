"""The Glue job as a function: stage Parquet → final partitioned table → Data Catalog.

``run(spark, args)`` is what AWS Glue runs (through ``glue/mhealth_job.py``), what the
local Glue emulation runs (the same script), and what ``mhealth transform`` runs on local
directories. Nothing happens at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Final

from mhealth.core.layout import PREFIXES, s3_uri
from mhealth.core.recording import DEFAULT_RECORDING_START, parse_recording_start
from mhealth.core.schema import SUBJECT_ID, USER_ID
from mhealth.core.table import DEFAULT_DATABASE, DEFAULT_TABLE
from mhealth.transform.spark_io import NativeSparkIO, SparkIO

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient
    from pyspark.sql import SparkSession

#: Job arguments every run needs (``--bucket …``), as getResolvedOptions names them.
REQUIRED_ARGUMENTS: Final = ("bucket",)
#: Optional job arguments and their defaults.
OPTIONAL_ARGUMENTS: Final[dict[str, str]] = {
    "stage_prefix": PREFIXES.stage,
    "processed_prefix": PREFIXES.processed,
    "database": DEFAULT_DATABASE,
    "table": DEFAULT_TABLE,
    "recording_start": DEFAULT_RECORDING_START,
}


@dataclass(frozen=True)
class JobSettings:
    """The job's settings, parsed once from its arguments."""

    stage_location: str
    processed_location: str
    database: str
    table: str
    recording_start: datetime

    @classmethod
    def from_arguments(cls, args: Mapping[str, str]) -> JobSettings:
        missing = [name for name in REQUIRED_ARGUMENTS if not args.get(name)]
        if missing:
            raise ValueError(f"missing job arguments: {', '.join('--' + m for m in missing)}")
        merged = {**OPTIONAL_ARGUMENTS, **{k: v for k, v in args.items() if v}}
        bucket = merged["bucket"]
        return cls(
            stage_location=s3_uri(bucket, merged["stage_prefix"]),
            processed_location=s3_uri(bucket, merged["processed_prefix"]),
            database=merged["database"],
            table=merged["table"],
            recording_start=parse_recording_start(merged["recording_start"]),
        )


@dataclass(frozen=True)
class JobResult:
    """What a run wrote: the ``user_id`` partitions replaced, and those newly catalogued."""

    partitions: list[str]
    new_partitions: list[str]
    #: ``user_id`` partitions removed because their subject is no longer in stage/.
    removed_partitions: list[str] = field(default_factory=list)


def transform_location(
    spark: SparkSession,
    stage_location: str,
    processed_location: str,
    recording_start: datetime,
    io: SparkIO,
) -> list[str]:
    """Reads stage Parquet, writes the final table; returns the partitions written, in order."""
    from mhealth.transform.dataframe import to_final

    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    stage = io.read_parquet(spark, stage_location)
    subjects = sorted(row[0] for row in stage.select(SUBJECT_ID).distinct().collect())
    io.write_partitions(to_final(stage, recording_start), processed_location, USER_ID)
    return [str(subject) for subject in subjects]


def run(
    spark: SparkSession,
    args: Mapping[str, str],
    *,
    io: SparkIO | None = None,
    glue: GlueClient | None = None,
) -> JobResult:
    """The whole job. ``io`` defaults to Spark's own I/O; with ``glue`` the table and its
    partitions are created or updated in the Data Catalog.

    processed/ mirrors stage/: the partitions of subjects no longer in stage/ are dropped from
    the catalog first (so no query sees a partition whose files are going), then deleted."""
    settings = JobSettings.from_arguments(args)
    spark_io = io or NativeSparkIO()
    removed: list[str] = []
    try:
        partitions = transform_location(
            spark,
            settings.stage_location,
            settings.processed_location,
            settings.recording_start,
            spark_io,
        )
        if glue is not None:
            from mhealth.transform.prune import drop_catalog_partitions

            removed = drop_catalog_partitions(glue, settings.database, settings.table, partitions)
        removed = sorted(
            set(removed)
            | set(
                spark_io.remove_partitions(spark, settings.processed_location, USER_ID, partitions)
            ),
            key=lambda value: (len(value), value),
        )
    finally:
        spark_io.close()
    new_partitions: list[str] = []
    if glue is not None:
        from mhealth.transform.catalog_writer import publish_table

        new_partitions = publish_table(
            glue, settings.database, settings.table, settings.processed_location, partitions
        )
    return JobResult(
        partitions=partitions, new_partitions=new_partitions, removed_partitions=removed
    )
