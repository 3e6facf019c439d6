"""processed/ and the catalog mirror stage/: partitions of subjects no longer staged are removed.

The convert step's mirror deletes the stage object of a subject whose raw log was removed;
this is the Glue job's half: that subject's ``user_id=<N>`` directory under ``processed/``
and its catalog partition go too, so the table shows exactly the subjects ``raw/`` holds.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient

# BatchDeletePartition takes at most 25 partitions per call.
_DELETE_BATCH = 25


def drop_catalog_partitions(
    glue: GlueClient, database: str, table: str, keep: Collection[str]
) -> list[str]:
    """Deletes the table's partitions whose ``user_id`` is not in ``keep``; returns them, sorted.
    A table that does not exist yet has nothing to drop."""
    try:
        pages = list(
            glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table)
        )
    except glue.exceptions.EntityNotFoundException:
        return []
    doomed = sorted(
        {
            partition["Values"][0]
            for page in pages
            for partition in page["Partitions"]
            if partition["Values"][0] not in keep
        }
    )
    for start in range(0, len(doomed), _DELETE_BATCH):
        batch: Any = [{"Values": [value]} for value in doomed[start : start + _DELETE_BATCH]]
        response = glue.batch_delete_partition(
            DatabaseName=database, TableName=table, PartitionsToDelete=batch
        )
        errors = [
            error
            for error in response.get("Errors", [])
            if error.get("ErrorDetail", {}).get("ErrorCode") != "EntityNotFoundException"
        ]
        if errors:
            raise RuntimeError(f"Glue refused to drop partitions of {database}.{table}: {errors}")
    return doomed
