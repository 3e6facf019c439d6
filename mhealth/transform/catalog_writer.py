"""Writes the final table and its partitions into the Glue Data Catalog (create or update)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mhealth.core.table import partition_input, table_input

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient

# BatchCreatePartition takes at most 100 partitions per call.
_PARTITION_BATCH = 100


def publish_table(
    glue: GlueClient, database: str, table: str, location: str, user_ids: Iterable[str]
) -> list[str]:
    """Creates the database if it is missing, creates or updates the table, and registers any
    ``user_id`` partition it does not know yet. Returns the partitions newly registered."""
    try:
        glue.get_database(Name=database)
    except glue.exceptions.EntityNotFoundException:
        glue.create_database(DatabaseInput={"Name": database})

    definition: Any = table_input(table, location)
    try:
        glue.get_table(DatabaseName=database, Name=table)
    except glue.exceptions.EntityNotFoundException:
        glue.create_table(DatabaseName=database, TableInput=definition)
    else:
        # SkipArchive: a daily run would otherwise add a table version each time, and Glue keeps
        # at most a quota's worth of them (then UpdateTable fails until old ones are deleted).
        glue.update_table(DatabaseName=database, TableInput=definition, SkipArchive=True)

    wanted = sorted(set(user_ids), key=_numeric_first)
    known = _known_partitions(glue, database, table)
    missing = [user_id for user_id in wanted if user_id not in known]
    for start in range(0, len(missing), _PARTITION_BATCH):
        batch = missing[start : start + _PARTITION_BATCH]
        inputs: Any = [partition_input(location, user_id) for user_id in batch]
        response = glue.batch_create_partition(
            DatabaseName=database, TableName=table, PartitionInputList=inputs
        )
        errors = [
            error
            for error in response.get("Errors", [])
            if error.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException"
        ]
        if errors:
            raise RuntimeError(f"Glue refused partitions of {database}.{table}: {errors}")
    return missing


def _known_partitions(glue: GlueClient, database: str, table: str) -> set[str]:
    known: set[str] = set()
    for page in glue.get_paginator("get_partitions").paginate(
        DatabaseName=database, TableName=table
    ):
        known.update(partition["Values"][0] for partition in page["Partitions"])
    return known


def _numeric_first(user_id: str) -> tuple[int, str]:
    return (int(user_id), "") if user_id.isdigit() else (1 << 62, user_id)
