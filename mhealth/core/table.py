"""The Glue Data Catalog definition of the final table, built in one place.

The Glue job registers the table with it, the local Athena emulation reads it back, and
the tests compare against it. Pure functions: no AWS call here (see write_catalog).
"""

from __future__ import annotations

from typing import Any, Final

from mhealth.core.layout import partition_dir
from mhealth.core.schema import FINAL_DATA_COLUMNS, FINAL_PARTITION_COLUMNS

DEFAULT_DATABASE: Final = "mhealth_db"
DEFAULT_TABLE: Final = "mhealth"

PARQUET_INPUT_FORMAT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE: Final = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


def _location_dir(location: str) -> str:
    return location if location.endswith("/") else f"{location}/"


def _storage_descriptor(location: str) -> dict[str, Any]:
    return {
        "Columns": [{"Name": name, "Type": kind} for name, kind in FINAL_DATA_COLUMNS],
        "Location": location,
        "InputFormat": PARQUET_INPUT_FORMAT,
        "OutputFormat": PARQUET_OUTPUT_FORMAT,
        "Compressed": True,
        "SerdeInfo": {
            "SerializationLibrary": PARQUET_SERDE,
            "Parameters": {"serialization.format": "1"},
        },
        "StoredAsSubDirectories": False,
    }


def table_input(table: str, location: str) -> dict[str, Any]:
    """Glue ``TableInput`` for the final table over Parquet at ``location`` (``s3://…/processed/``),
    partitioned by ``user_id``."""
    return {
        "Name": table,
        "Description": "MHEALTH body-sensor samples at 50 Hz: one row per sample, "
        "chest accelerometer X/Y/Z as sensor1..3, partitioned by user_id.",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "parquet",
            "EXTERNAL": "TRUE",
            "parquet.compression": "SNAPPY",
        },
        "StorageDescriptor": _storage_descriptor(_location_dir(location)),
        "PartitionKeys": [{"Name": name, "Type": kind} for name, kind in FINAL_PARTITION_COLUMNS],
    }


def partition_input(location: str, user_id: str) -> dict[str, Any]:
    """Glue ``PartitionInput`` for one ``user_id`` partition of the table at ``location``."""
    return {
        "Values": [user_id],
        "StorageDescriptor": _storage_descriptor(
            f"{_location_dir(location)}{partition_dir(user_id)}/"
        ),
        "Parameters": {"classification": "parquet"},
    }
