"""The convert step's work list: what ``raw/`` holds, with ``stage/`` made to mirror it.

``raw/`` is the source of truth, whatever put the files there (the download step, a user's
``aws s3 cp``). Each run lists it in full (every page) and sorts each object into:

- a **log**: a key ``raw/mHealth_subject<N>.log`` (directly under ``raw/``), which goes on the
  work list the state machine's Map converts, one Lambda per log;
- a **badly named file**: anything else, reported, never silently skipped: a JSON record
  ``quarantine/raw-names/<name>.json`` (``key``, ``size``, ``etag``, ``last_modified``,
  ``reason``) is written for it and the file stays in ``raw/`` until its owner renames or
  removes it (the record then goes too). Folder markers (keys ending in ``/``) are not files.

Then ``stage/`` is made to mirror ``raw/``: the Parquet object (and the quarantined lines) of
a subject whose raw log is gone are deleted, so the Glue job drops that subject's partition.
When ``raw/`` holds no log at all, the run fails here (after writing the records), before
anything is deleted.
"""

from __future__ import annotations

import json
import logging
import posixpath
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypedDict

from mhealth.core.layout import (
    PARQUET_SUFFIX,
    PREFIXES,
    QUARANTINE_SUFFIX,
    RAW_NAME_QUARANTINE_DIR,
    Prefixes,
    quarantine_key,
    raw_name_record_key,
    stage_key,
)
from mhealth.core.schema import InvalidLogName, subject_id_from_name

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

#: At most this many keys are named in the step's result (the counts are always complete), so
#: a raw/ full of strays cannot push the state past Step Functions' 256 KiB payload limit.
MAX_LISTED_KEYS: Final = 50
RECORD_CONTENT_TYPE: Final = "application/json"


class NoRawLogsError(RuntimeError):
    """``raw/`` holds no ``mHealth_subject<N>.log``: there is nothing to convert."""


@dataclass(frozen=True)
class RawListing:
    """One object under ``raw/`` as ListObjectsV2 reports it."""

    key: str
    size: int
    etag: str
    last_modified: str  # ISO 8601


@dataclass(frozen=True)
class BadRawName:
    """A file in ``raw/`` whose name gives no subject id, and why."""

    listing: RawListing
    reason: str


@dataclass(frozen=True)
class RawInventory:
    """``raw/`` sorted: the logs by subject number, and the badly named files by key."""

    logs: tuple[RawListing, ...]
    bad: tuple[BadRawName, ...]

    @property
    def log_keys(self) -> list[str]:
        return [item.key for item in self.logs]


class MirrorResult(TypedDict):
    """What the state machine's Map iterates (``raw_keys``) and what the run found in raw/."""

    bucket: str
    raw_keys: list[str]  # the work list: raw/mHealth_subject<N>.log, sorted by N
    quarantined: int  # badly named files in raw/
    quarantine_records: list[str]  # their records' keys (the first MAX_LISTED_KEYS)
    removed: int  # stage objects deleted because their raw log is gone
    removed_keys: list[str]  # those keys (the first MAX_LISTED_KEYS)


def sort_raw_listing(listing: Iterable[RawListing], prefixes: Prefixes = PREFIXES) -> RawInventory:
    """Sort ``raw/``'s objects into logs and badly named files (pure)."""
    logs: dict[int, RawListing] = {}
    bad: list[BadRawName] = []
    for item in listing:
        if not item.key.startswith(prefixes.raw) or item.key.endswith("/"):
            continue  # outside raw/, or a folder marker (the console's "create folder")
        relative = item.key[len(prefixes.raw) :]
        folder, name = posixpath.split(relative)
        if folder:
            bad.append(
                BadRawName(
                    item,
                    f"{relative!r} sits in a folder under {prefixes.raw}; logs must sit directly "
                    f"under {prefixes.raw} as mHealth_subject<N>.log",
                )
            )
            continue
        try:
            subject = subject_id_from_name(name)
        except InvalidLogName as error:
            bad.append(BadRawName(item, str(error)))
            continue
        logs[subject] = item  # keys are unique, so each subject appears once
    return RawInventory(
        logs=tuple(logs[subject] for subject in sorted(logs)),
        bad=tuple(sorted(bad, key=lambda entry: entry.listing.key)),
    )


def record_body(bad: BadRawName) -> bytes:
    """The quarantine record of a badly named raw file, as JSON."""
    record = {
        "key": bad.listing.key,
        "size": bad.listing.size,
        "etag": bad.listing.etag,
        "last_modified": bad.listing.last_modified,
        "reason": bad.reason,
    }
    return (json.dumps(record, indent=2) + "\n").encode("utf-8")


def mirror_raw(s3: S3Client, bucket: str, *, prefixes: Prefixes = PREFIXES) -> MirrorResult:
    """List ``raw/``, report its badly named files, make ``stage/`` mirror it; returns the
    work list. Raises :class:`NoRawLogsError` when there is no log to convert."""
    inventory = sort_raw_listing(list_raw(s3, bucket, prefixes), prefixes)
    quarantine_listing = set(_keys(s3, bucket, prefixes.quarantine))
    records_dir = f"{prefixes.quarantine}{RAW_NAME_QUARANTINE_DIR}"

    records: list[str] = []
    for bad in inventory.bad:
        record_key = raw_name_record_key(bad.listing.key, prefixes)
        records.append(record_key)
        s3.put_object(
            Bucket=bucket, Key=record_key, Body=record_body(bad), ContentType=RECORD_CONTENT_TYPE
        )
        logger.warning(
            "badly named file in raw/, quarantined",
            extra={"key": bad.listing.key, "record": record_key, "reason": bad.reason},
        )
    if not inventory.logs:
        raise NoRawLogsError(
            f"s3://{bucket}/{prefixes.raw} holds no mHealth_subject<N>.log to convert"
            + (
                f" ({len(records)} badly named files, see s3://{bucket}/{records_dir})"
                if records
                else ""
            )
            + ": put recordings there, or set the download source to kaggle or uci"
        )

    current_records = set(records)
    wanted_stage = {stage_key(key, prefixes) for key in inventory.log_keys}
    wanted_quarantine = {quarantine_key(key, prefixes) for key in inventory.log_keys}
    stale = [
        key
        for key in _keys(s3, bucket, prefixes.stage)
        if key.endswith(PARQUET_SUFFIX) and key not in wanted_stage
    ]
    stale += sorted(
        key
        for key in quarantine_listing
        if key.endswith(QUARANTINE_SUFFIX)
        and "/" not in key[len(prefixes.quarantine) :]
        and key not in wanted_quarantine
    )
    stale += sorted(
        key
        for key in quarantine_listing
        if key.startswith(records_dir) and key not in current_records
    )
    for key in stale:
        s3.delete_object(Bucket=bucket, Key=key)
        logger.info("removed: its raw file is gone", extra={"key": key})
    removed_stage = [key for key in stale if key.startswith(prefixes.stage)]

    result = MirrorResult(
        bucket=bucket,
        raw_keys=inventory.log_keys,
        quarantined=len(records),
        quarantine_records=records[:MAX_LISTED_KEYS],
        removed=len(removed_stage),
        removed_keys=removed_stage[:MAX_LISTED_KEYS],
    )
    logger.info(
        "raw/ listed",
        extra={
            "logs": len(result["raw_keys"]),
            "quarantined": result["quarantined"],
            "removed": result["removed"],
        },
    )
    return result


def list_raw(s3: S3Client, bucket: str, prefixes: Prefixes = PREFIXES) -> Iterator[RawListing]:
    """Every object under ``raw/``, all pages."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefixes.raw):
        for item in page.get("Contents", []):
            yield RawListing(
                key=item["Key"],
                size=item["Size"],
                etag=item.get("ETag", ""),
                last_modified=item["LastModified"].isoformat(),
            )


def _keys(s3: S3Client, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield item["Key"]
