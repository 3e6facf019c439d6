"""The Glue transform on a few stage rows, checked cell by cell, and the job's partition writes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mhealth.convert.logs import STAGE_SCHEMA
from mhealth.core.recording import parse_recording_start
from mhealth.core.schema import SIGNAL_COLUMNS
from mhealth.transform.dataframe import FINAL_COLUMNS, to_final
from mhealth.transform.job import JobSettings, transform_location
from mhealth.transform.spark_io import NativeSparkIO
from tests.published import ACTIVITY_LABELS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

pytestmark = pytest.mark.spark

START = datetime(2014, 1, 1, tzinfo=UTC)


def _stage_rows(subject: int, samples: list[tuple[int, int]]) -> pa.Table:
    """Stage rows for ``(reading_index, activity_id)`` pairs; chest X/Y/Z encode the index."""
    columns: dict[str, list[object]] = {name: [] for name in STAGE_SCHEMA.names}
    for index, activity in samples:
        for position, name in enumerate(SIGNAL_COLUMNS):
            columns[name].append(index + position / 10)
        columns["activity_id"].append(activity)
        columns["subject_id"].append(subject)
        columns["reading_index"].append(index)
    return pa.table(columns, schema=STAGE_SCHEMA)


def _write_stage(directory: Path, subject: int, samples: list[tuple[int, int]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(_stage_rows(subject, samples), directory / f"mHealth_subject{subject}.parquet")
    return directory


def _stage_frame(
    spark: SparkSession, tmp_path: Path, subject: int, samples: list[tuple[int, int]]
) -> DataFrame:
    return spark.read.parquet(str(_write_stage(tmp_path / "stage", subject, samples)))


def test_to_final_maps_names_timestamps_and_sensors_cell_by_cell(
    spark: SparkSession, tmp_path: Path
) -> None:
    stage = _stage_frame(spark, tmp_path, 3, [(0, 0), (1, 6), (7, 12), (150_001, 8)])
    rows = to_final(stage, START).orderBy("timestamp").collect()

    assert tuple(rows[0].asDict()) == FINAL_COLUMNS
    assert [tuple(row) for row in rows] == [
        ("3", "Null class", datetime(2014, 1, 1, 0, 0, 0), 0.0, 0.1, 0.2),
        ("3", "Waist bends forward", datetime(2014, 1, 1, 0, 0, 0, 20_000), 1.0, 1.1, 1.2),
        ("3", "Jump front & back", datetime(2014, 1, 1, 0, 0, 0, 140_000), 7.0, 7.1, 7.2),
        # 150,001 samples × 20 ms = 3000.02 s = 50 min 0.02 s
        (
            "3",
            "Knees bending (crouching)",
            datetime(2014, 1, 1, 0, 50, 0, 20_000),
            150_001.0,
            150_001.1,
            150_001.2,
        ),
    ]


def test_every_activity_id_maps_to_the_dataset_name(spark: SparkSession, tmp_path: Path) -> None:
    stage = _stage_frame(spark, tmp_path, 1, [(i, i) for i in range(13)])
    names = [row["activity"] for row in to_final(stage, START).orderBy("timestamp").collect()]
    assert names == [ACTIVITY_LABELS[i] for i in range(13)]


def test_final_schema_types(spark: SparkSession, tmp_path: Path) -> None:
    stage = _stage_frame(spark, tmp_path, 1, [(0, 1)])
    types = dict(to_final(stage, START).dtypes)
    assert types == {
        "user_id": "string",
        "activity": "string",
        "timestamp": "timestamp",
        "sensor1": "double",
        "sensor2": "double",
        "sensor3": "double",
    }


def test_recording_start_is_parsed_as_utc() -> None:
    assert parse_recording_start("2020-05-01T12:00:00Z") == datetime(2020, 5, 1, 12, tzinfo=UTC)
    assert parse_recording_start("2020-05-01T14:00:00+02:00") == datetime(
        2020, 5, 1, 12, tzinfo=UTC
    )
    assert parse_recording_start("2020-05-01T12:00:00") == datetime(2020, 5, 1, 12, tzinfo=UTC)
    with pytest.raises(ValueError, match="not an ISO-8601 time"):
        parse_recording_start("yesterday")


def test_job_settings_from_glue_arguments() -> None:
    settings = JobSettings.from_arguments({"bucket": "b", "JOB_NAME": "j"})
    assert settings.stage_location == "s3://b/stage/"
    assert settings.processed_location == "s3://b/processed/"
    assert (settings.database, settings.table) == ("mhealth_db", "mhealth")
    assert settings.recording_start == START
    with pytest.raises(ValueError, match="missing job arguments: --bucket"):
        JobSettings.from_arguments({"JOB_NAME": "j"})


def test_job_writes_one_partition_per_user_and_rerun_is_identical(
    spark: SparkSession, tmp_path: Path
) -> None:
    stage, out = tmp_path / "stage", tmp_path / "processed"
    _write_stage(stage, 1, [(i, i % 13) for i in range(30)])
    _write_stage(stage, 2, [(i, 4) for i in range(5)])

    def snapshot() -> list[tuple[object, ...]]:
        table = spark.read.parquet(str(out))
        return sorted(tuple(row) for row in table.collect())

    partitions = transform_location(spark, str(stage), str(out), START, NativeSparkIO())
    assert partitions == ["1", "2"]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["user_id=1", "user_id=2"]
    first = snapshot()
    assert len(first) == 35

    transform_location(spark, str(stage), str(out), START, NativeSparkIO())
    assert snapshot() == first


def test_job_replaces_only_the_partitions_it_writes(spark: SparkSession, tmp_path: Path) -> None:
    out = tmp_path / "processed"
    first_stage, second_stage = tmp_path / "stage1", tmp_path / "stage2"
    _write_stage(first_stage, 1, [(i, 1) for i in range(10)])
    _write_stage(first_stage, 2, [(i, 2) for i in range(10)])
    _write_stage(second_stage, 2, [(i, 3) for i in range(4)])

    transform_location(spark, str(first_stage), str(out), START, NativeSparkIO())
    transform_location(spark, str(second_stage), str(out), START, NativeSparkIO())

    table = spark.read.parquet(str(out))
    counts = {
        (r["user_id"], r["activity"]): r["count"]
        for r in table.groupBy("user_id", "activity").count().collect()
    }
    assert counts == {("1", "Standing still"): 10, ("2", "Lying down"): 4}


def test_remove_partitions_deletes_only_subjects_not_kept(
    spark: SparkSession, tmp_path: Path
) -> None:
    stage, out = tmp_path / "stage", tmp_path / "processed"
    for subject in (1, 2, 11):
        _write_stage(stage, subject, [(i, 1) for i in range(3)])
    transform_location(spark, str(stage), str(out), START, NativeSparkIO())
    (out / "_SUCCESS").touch()

    removed = NativeSparkIO().remove_partitions(spark, str(out), "user_id", {"1", "2"})

    assert removed == ["11"]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["user_id=1", "user_id=2"]
    assert (out / "_SUCCESS").exists()  # not a partition: left alone
    assert NativeSparkIO().remove_partitions(spark, str(tmp_path / "none"), "user_id", {"1"}) == []
