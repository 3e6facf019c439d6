"""Glue transform logic: pure PySpark DataFrame functions from stage rows to the final table.

Input (stage grain: one row per raw line): the columns of ``mhealth.core.schema.STAGE_COLUMNS``.
Output (same grain): ``user_id`` (string), ``activity`` (string), ``timestamp`` (UTC),
``sensor1``..``sensor3`` (double; chest accelerometer X, Y, Z). Native Spark functions
only: no Python UDF, so the work stays in the JVM.
"""

from __future__ import annotations

from datetime import datetime
from itertools import chain
from typing import Final

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from mhealth.core.schema import (
    ACTIVITY_ID,
    ACTIVITY_NAMES,
    FINAL_DATA_COLUMNS,
    READING_INDEX,
    READING_PERIOD_MICROS,
    SENSOR_SOURCES,
    SUBJECT_ID,
    USER_ID,
)

#: Final column order: the partition key first, then the data columns.
FINAL_COLUMNS: Final[tuple[str, ...]] = (USER_ID, *(name for name, _ in FINAL_DATA_COLUMNS))


def activity_name(activity_id: Column) -> Column:
    """The dataset README's name for an activity id (null for an id it does not define)."""
    names = F.create_map(
        *chain.from_iterable((F.lit(k), F.lit(v)) for k, v in ACTIVITY_NAMES.items())
    )
    return F.element_at(names, activity_id.cast("int"))


def sample_timestamp(reading_index: Column, recording_start: datetime) -> Column:
    """``recording_start + reading_index × 20 ms``, exact to the microsecond."""
    start_micros = int(recording_start.timestamp()) * 1_000_000 + recording_start.microsecond
    return F.timestamp_micros(
        F.lit(start_micros) + reading_index.cast("long") * READING_PERIOD_MICROS
    )


def to_final(stage: DataFrame, recording_start: datetime) -> DataFrame:
    """Stage rows → final rows (``FINAL_COLUMNS``), same grain and order."""
    return stage.select(
        F.col(SUBJECT_ID).cast("string").alias(USER_ID),
        activity_name(F.col(ACTIVITY_ID)).alias("activity"),
        sample_timestamp(F.col(READING_INDEX), recording_start).alias("timestamp"),
        *(F.col(source).cast("double").alias(name) for name, source in SENSOR_SOURCES.items()),
    )
