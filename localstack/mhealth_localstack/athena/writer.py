"""Query results streamed to S3 as Parquet (CTAS, INSERT INTO, UNLOAD), Hive-partitioned.

Batches flow from DuckDB through pyarrow's dataset writer to S3 without the whole result in
memory: rows are buffered per open partition up to one row group (``_ROWS_PER_GROUP``), so the
peak is about ``open partitions x row group``, whatever the table's size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from mhealth_localstack.athena.catalog import HIVE_NULL_PARTITION
from mhealth_localstack.athena.errors import QueryError

# Athena's limit: a CTAS, INSERT INTO or UNLOAD writes at most 100 partitions
# (https://docs.aws.amazon.com/athena/latest/ug/ctas-insert-into.html).
MAX_PARTITIONS: Final = 100
_ROWS_PER_GROUP: Final = 64 * 1024
_ROWS_PER_FILE: Final = 4 * 1024 * 1024
COMPRESSION: Final = {
    "SNAPPY": "snappy",
    "GZIP": "gzip",
    "ZSTD": "zstd",
    "LZ4": "lz4",
    "NONE": "none",
    "UNCOMPRESSED": "none",
}


@dataclass(frozen=True)
class WrittenFile:
    """A data file written: its ``bucket/key`` path, size and partition values (key order)."""

    path: str
    size: int
    partition: tuple[str, ...]

    @property
    def uri(self) -> str:
        return f"s3://{self.path}"


def write_parquet(
    batches: pa.RecordBatchReader,
    *,
    fs: pafs.FileSystem,
    root: str,
    schema: pa.Schema,
    partition_by: Sequence[str],
    basename: str,
    compression: str = "snappy",
) -> tuple[list[WrittenFile], int]:
    """Write every batch under ``root`` (``bucket/prefix``), partitions as ``key=value/`` folders.

    Batches are cast to ``schema`` (the catalog's column types). Returns the files written and
    the number of rows. Every file is named ``<basename>_<n>``; on failure (or when the caller
    undoes the write) ``delete_written`` removes them all, finished or not.
    """
    written: list[WrittenFile] = []
    rows = [0]

    def visit(file: Any) -> None:
        size = int(getattr(file, "size", 0) or 0)
        written.append(WrittenFile(file.path, size, _partition_values(root, file.path)))

    partitioning = None
    if partition_by:
        # Values as Hive writes folder names (``activity=Standing still``), not URL-encoded.
        partitioning = ds.HivePartitioning(
            pa.schema([schema.field(name) for name in partition_by]),
            null_fallback=HIVE_NULL_PARTITION,
            segment_encoding="none",
        )
    cast = _caster(schema)

    def counted() -> Iterator[pa.RecordBatch]:
        for batch in batches:
            rows[0] += batch.num_rows
            yield cast(batch)

    source = pa.RecordBatchReader.from_batches(schema, counted())
    options = ds.ParquetFileFormat().make_write_options(compression=compression)
    try:
        ds.write_dataset(
            source,
            root,
            format="parquet",
            filesystem=fs,
            partitioning=partitioning,
            basename_template=f"{basename}_{{i}}",
            existing_data_behavior="overwrite_or_ignore",
            max_partitions=MAX_PARTITIONS,
            max_open_files=MAX_PARTITIONS,
            max_rows_per_group=_ROWS_PER_GROUP,
            min_rows_per_group=_ROWS_PER_GROUP // 2,
            max_rows_per_file=_ROWS_PER_FILE,
            file_options=options,
            file_visitor=visit,
            # S3 has no folders: creating them would leave empty "key/" marker objects.
            create_dir=fs.type_name == "local",
        )
    except pa.ArrowInvalid as error:
        delete_written(fs, root, basename)
        if "max_partitions" in str(error) or "partitions" in str(error).lower():
            raise QueryError(
                "HIVE_TOO_MANY_OPEN_PARTITIONS",
                f"Exceeded limit of {MAX_PARTITIONS} open writers for partitions/buckets",
            ) from error
        raise QueryError("INVALID_CAST_ARGUMENT", str(error)) from error
    except BaseException:
        delete_written(fs, root, basename)
        raise
    for index, file in enumerate(written):
        if not file.size:
            written[index] = WrittenFile(
                file.path, fs.get_file_info(file.path).size, file.partition
            )
    return written, rows[0]


def _caster(schema: pa.Schema) -> Callable[[pa.RecordBatch], pa.RecordBatch]:
    def cast(batch: pa.RecordBatch) -> pa.RecordBatch:
        batch = batch.rename_columns(schema.names)
        if batch.schema.equals(schema):
            return batch
        return batch.cast(schema)

    return cast


def _partition_values(root: str, path: str) -> tuple[str, ...]:
    relative = path[len(root.rstrip("/")) + 1 :]
    values = []
    for segment in relative.split("/")[:-1]:
        _, sep, value = segment.partition("=")
        if sep:
            values.append(unquote(value))
    return tuple(values)


def delete_tree(fs: pafs.FileSystem, root: str) -> None:
    """Delete everything under ``root``, folder markers included (a failed CTAS or UNLOAD, whose
    location held no data before it ran). Deleting files one by one would leave the empty
    ``key=value/`` markers pyarrow's S3 filesystem creates to keep a folder alive."""
    try:
        fs.delete_dir(root)
    except OSError:
        return


def delete_written(fs: pafs.FileSystem, root: str, basename: str) -> None:
    """Delete every file ``write_parquet`` wrote under ``root`` with this basename.

    Best effort: a cleanup must not hide the error that caused it.
    """
    try:
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    except OSError:
        return
    for info in infos:
        if info.type == pafs.FileType.File and info.base_name.startswith(f"{basename}_"):
            try:
                fs.delete_file(info.path)
            except OSError:
                continue


def has_data(fs: pafs.FileSystem, root: str) -> bool:
    """Whether any object exists under ``root`` (``bucket/prefix``)."""
    try:
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    except OSError as error:
        raise QueryError(
            "HIVE_FILESYSTEM_ERROR", f"Cannot list s3://{root}/: {error}", user_error=True
        ) from error
    return any(info.type == pafs.FileType.File for info in infos)
