"""Glue transform benchmark: the job's transform against a plain Spark read-then-write.

All contenders run in one local SparkSession (what ``mhealth transform`` and the local Glue
emulation use) on the full-size stage Parquet that our converter wrote, interleaved round by
round after a warm-up round:

- ``job``: ``mhealth.transform.job.transform_location`` with Spark's own I/O: what ``run`` does on
  Glue minus the Data Catalog calls (finds the subjects, maps labels to names, computes
  timestamps, writes the table partitioned by ``user_id`` with dynamic overwrite).
- ``floor``: ``spark.read.parquet(stage).write.parquet(out)``: the same data read and written
  with no transform. The job cannot be much faster than this.
- ``floor_partitioned``: the floor written partitioned by subject, to show what the
  partitioned layout alone costs.
- ``floor_projected``: only the stage columns the job uses, read and written partitioned by
  subject with no computation: the tightest floor, since the job writes 6 columns where
  the plain floor writes all 26.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from bench.common import WORK_DIR, interleaved, ratio, write_section

GLUE_DIR: Final = WORK_DIR / "glue"


def _stage_dir() -> Path:
    """Our converter's stage Parquet for the full dataset (converted here if missing)."""
    from bench.common import subject_logs
    from bench.convert_bench import OURS_STAGE_DIR
    from mhealth.convert.logs import convert_file

    logs = subject_logs()
    if len(list(OURS_STAGE_DIR.glob("*.parquet"))) != len(logs):
        for log in logs:
            convert_file(log, OURS_STAGE_DIR)
    return OURS_STAGE_DIR


def _dir_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*.parquet")) / 1_000_000, 1)


def run(repeats: int) -> dict[str, Any]:
    from mhealth.core.recording import DEFAULT_RECORDING_START, parse_recording_start
    from mhealth.core.schema import ACTIVITY_ID, READING_INDEX, SENSOR_SOURCES, SUBJECT_ID
    from mhealth.local.spark_session import local_spark_session
    from mhealth.transform.job import transform_location
    from mhealth.transform.spark_io import NativeSparkIO

    stage = str(_stage_dir().resolve())
    names = ("job", "floor", "floor_partitioned", "floor_projected")
    outputs = {name: GLUE_DIR / name for name in names}
    shutil.rmtree(GLUE_DIR, ignore_errors=True)
    GLUE_DIR.mkdir(parents=True)
    spark = local_spark_session("mhealth-bench")
    recording_start = parse_recording_start(DEFAULT_RECORDING_START)
    try:
        rows = spark.read.parquet(stage).count()

        def job() -> None:
            transform_location(spark, stage, str(outputs["job"]), recording_start, NativeSparkIO())

        def floor() -> None:
            spark.read.parquet(stage).write.mode("overwrite").parquet(str(outputs["floor"]))

        def floor_partitioned() -> None:
            (
                spark.read.parquet(stage)
                .write.mode("overwrite")
                .partitionBy(SUBJECT_ID)
                .parquet(str(outputs["floor_partitioned"]))
            )

        used_columns = [SUBJECT_ID, ACTIVITY_ID, READING_INDEX, *SENSOR_SOURCES.values()]

        def floor_projected() -> None:
            (
                spark.read.parquet(stage)
                .select(*used_columns)
                .write.mode("overwrite")
                .partitionBy(SUBJECT_ID)
                .parquet(str(outputs["floor_projected"]))
            )

        contenders: dict[str, Callable[[], object]] = {
            "job": job,
            "floor": floor,
            "floor_partitioned": floor_partitioned,
            "floor_projected": floor_projected,
        }
        print(f"glue transform: {rows:,} stage rows, {repeats} interleaved rounds", flush=True)
        timings = interleaved(contenders, repeats=repeats, warmup=1)
        written = spark.read.parquet(str(outputs["job"])).count()
        cores = spark.sparkContext.defaultParallelism
    finally:
        spark.stop()
    if written != rows:
        raise RuntimeError(f"the job wrote {written:,} rows from {rows:,} stage rows")
    # Medians of whole job runs. The gate is the tightest floor: the same columns read and
    # written, partitioned the same way, with no computation.
    result: dict[str, Any] = {
        "ratio_to_tightest_floor": ratio(timings["job"].median, timings["floor_projected"].median),
        "ratio_to_partitioned_readwrite": ratio(
            timings["job"].median, timings["floor_partitioned"].median
        ),
        "ratio_to_readwrite_all_columns": ratio(timings["job"].median, timings["floor"].median),
        "rows": rows,
        "spark_cores": cores,
        "repeats": repeats,
    }
    for name, timing in timings.items():
        result[name] = {
            **timing.as_dict(),
            "rows_per_s": round(rows / timing.median),
            "output_mb": _dir_mb(outputs[name]),
        }
        print(f"  {name:18} best {timing.best:6.2f} s  median {timing.median:6.2f} s", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds")
    args = parser.parse_args(argv)
    write_section("glue", run(args.repeats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
