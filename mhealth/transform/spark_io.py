"""How the Glue job's Spark reads stage Parquet and writes the partitioned table.

On AWS Glue, Spark reads and writes ``s3://`` itself (``NativeSparkIO``). Locally, Spark
cannot talk to S3 (the hadoop-aws jars come only from Maven), so ``StagedS3SparkIO``
moves the files through Python: boto3 downloads the stage objects to a work directory,
Spark reads and writes local files, and boto3 uploads the written partitions. The job
code above this layer is the same in both places.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mhealth.core.layout import PARQUET_SUFFIX, split_s3_uri

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from pyspark.sql import DataFrame, SparkSession


class SparkIO(Protocol):
    """Reads a Parquet dataset and replaces the partitions a DataFrame holds."""

    def read_parquet(self, spark: SparkSession, uri: str) -> DataFrame: ...

    def write_partitions(self, frame: DataFrame, uri: str, partition_column: str) -> None:
        """Writes ``frame`` as Parquet partitioned by ``partition_column``; partitions present
        in ``frame`` are replaced whole, all others are left as they are."""
        ...

    def remove_partitions(
        self, spark: SparkSession, uri: str, partition_column: str, keep: Collection[str]
    ) -> list[str]:
        """Deletes every ``<partition_column>=<value>`` directory under ``uri`` whose value is
        not in ``keep``; returns the values removed, sorted."""
        ...

    def close(self) -> None: ...


def _dynamic_overwrite(frame: DataFrame, path: str, partition_column: str) -> None:
    spark = frame.sparkSession
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    frame.write.mode("overwrite").partitionBy(partition_column).parquet(path)


class NativeSparkIO:
    """Spark reads and writes the URIs itself: ``s3://`` on Glue, local paths on a laptop."""

    def read_parquet(self, spark: SparkSession, uri: str) -> DataFrame:
        return spark.read.parquet(uri)

    def write_partitions(self, frame: DataFrame, uri: str, partition_column: str) -> None:
        _dynamic_overwrite(frame, uri, partition_column)

    def remove_partitions(
        self, spark: SparkSession, uri: str, partition_column: str, keep: Collection[str]
    ) -> list[str]:
        # Hadoop's FileSystem API: the same call deletes on s3:// (Glue) and on local paths.
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        root = jvm.org.apache.hadoop.fs.Path(uri)
        filesystem = root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        if not filesystem.exists(root):
            return []
        removed: list[str] = []
        for status in filesystem.listStatus(root):
            value = _partition_value(str(status.getPath().getName()), partition_column)
            if value is not None and value not in keep:
                filesystem.delete(status.getPath(), True)
                removed.append(value)
        return sorted(removed)

    def close(self) -> None:
        pass


def _partition_value(name: str, partition_column: str) -> str | None:
    """``user_id=3`` → ``3``; ``None`` for anything that is not such a directory name."""
    prefix = f"{partition_column}="
    return name[len(prefix) :] if name.startswith(prefix) else None


class StagedS3SparkIO:
    """Spark on local files, boto3 between them and S3 (for an emulated S3 endpoint)."""

    def __init__(self, s3: S3Client, work_dir: Path | None = None) -> None:
        self._s3 = s3
        self._owns_work_dir = work_dir is None
        self._work_dir = (
            Path(tempfile.mkdtemp(prefix="mhealth-spark-io-")) if work_dir is None else work_dir
        )

    def read_parquet(self, spark: SparkSession, uri: str) -> DataFrame:
        bucket, prefix = split_s3_uri(uri)
        target = Path(tempfile.mkdtemp(prefix="read-", dir=self._work_dir))
        found = 0
        for page in self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            for item in page.get("Contents", []):
                key = item["Key"]
                if not key.endswith(PARQUET_SUFFIX):
                    continue
                local = target / key[len(prefix) :].lstrip("/")
                local.parent.mkdir(parents=True, exist_ok=True)
                self._s3.download_file(bucket, key, str(local))
                found += 1
        if not found:
            raise FileNotFoundError(f"no Parquet objects under {uri}: has the convert step run?")
        return spark.read.option("recursiveFileLookup", "true").parquet(str(target))

    def write_partitions(self, frame: DataFrame, uri: str, partition_column: str) -> None:
        bucket, prefix = split_s3_uri(uri)
        prefix = prefix if prefix.endswith("/") or not prefix else f"{prefix}/"
        target = Path(tempfile.mkdtemp(prefix="write-", dir=self._work_dir)) / "table"
        _dynamic_overwrite(frame, str(target), partition_column)
        for partition in sorted(p for p in target.iterdir() if p.is_dir()):
            partition_prefix = f"{prefix}{partition.name}/"
            stale = self._keys_under(bucket, partition_prefix)
            uploaded: set[str] = set()
            # Upload first, then delete what the new files replace: a failure midway
            # leaves the old partition readable rather than empty.
            for part in sorted(partition.glob(f"*{PARQUET_SUFFIX}")):
                key = f"{partition_prefix}{part.name}"
                self._s3.upload_file(str(part), bucket, key)
                uploaded.add(key)
            self._delete(bucket, sorted(stale - uploaded))

    def remove_partitions(
        self, spark: SparkSession, uri: str, partition_column: str, keep: Collection[str]
    ) -> list[str]:
        bucket, prefix = split_s3_uri(uri)
        prefix = prefix if prefix.endswith("/") or not prefix else f"{prefix}/"
        doomed: dict[str, list[str]] = {}
        for key in sorted(self._keys_under(bucket, prefix)):
            value = _partition_value(key[len(prefix) :].split("/", 1)[0], partition_column)
            if value is not None and "/" in key[len(prefix) :] and value not in keep:
                doomed.setdefault(value, []).append(key)
        for keys in doomed.values():
            self._delete(bucket, keys)
        return sorted(doomed)

    def close(self) -> None:
        if self._owns_work_dir:
            shutil.rmtree(self._work_dir, ignore_errors=True)

    def _keys_under(self, bucket: str, prefix: str) -> set[str]:
        keys: set[str] = set()
        for page in self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            keys.update(item["Key"] for item in page.get("Contents", []))
        return keys

    def _delete(self, bucket: str, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            self._s3.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
            )
