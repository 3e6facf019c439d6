"""Convert step over S3: each ``raw/`` log → its ``stage/`` Parquet and ``quarantine/`` lines.

The raw object is streamed (never held whole in memory) into :func:`.logs.convert_log`,
which writes to files in a scratch directory; those are then uploaded. A rerun overwrites the
stage object and the quarantine object (or deletes a stale quarantine object when no line was
quarantined this time), so it never duplicates output.

An unchanged raw log is not converted again: the stage object records the raw object it was
made from (its ETag and size, as the GET that read it returned them, in the object's
metadata, with the row counts and :data:`STAGE_FORMAT`), and when the raw object's HEAD shows
the same ETag and size the stage object is left exactly as it is. A changed log (a new ETag
or size), a missing stage object or one written by an older format is converted.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final, TypedDict, cast

from botocore.exceptions import ClientError

from mhealth.convert.logs import ConversionResult, convert_log
from mhealth.core.layout import PREFIXES, Prefixes, quarantine_key, stage_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

PARQUET_CONTENT_TYPE: Final = "application/vnd.apache.parquet"
QUARANTINE_CONTENT_TYPE: Final = "application/x-ndjson"
#: Bumped when the stage Parquet's layout changes, so that every log is converted again.
STAGE_FORMAT: Final = "1"
# Stage object metadata (x-amz-meta-*), lower case as S3 returns it.
_SOURCE_KEY, _SOURCE_ETAG, _SOURCE_SIZE = "source-key", "source-etag", "source-size"
_FORMAT, _ROWS_IN, _ROWS_WRITTEN, _ROWS_QUARANTINED = (
    "stage-format",
    "rows-in",
    "rows-written",
    "rows-quarantined",
)


class RawObjectMissingError(FileNotFoundError):
    """A raw key named in the event has no object in the bucket."""


class ConvertedFile(TypedDict):
    """One raw log's conversion: where its output went and its row counts."""

    raw_key: str
    stage_key: str
    quarantine_key: str | None  # None when no line was quarantined
    rows_in: int
    rows_written: int
    rows_quarantined: int
    converted: bool  # False: the raw log was unchanged and its stage object left as it was


class ConvertResult(TypedDict):
    """The convert step's answer: per-file results and the totals over them."""

    files: list[ConvertedFile]
    rows_in: int
    rows_written: int
    rows_quarantined: int
    converted: int  # files converted this time
    unchanged: int  # files whose stage object already matched the raw log


def raw_keys_from_event(event: Mapping[str, Any], prefixes: Prefixes = PREFIXES) -> list[str]:
    """The ``raw_keys`` of a convert event, checked: a non-empty list of keys under ``raw/``."""
    keys = event.get("raw_keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(key, str) for key in keys):
        raise ValueError(
            f'the convert event needs "raw_keys": a non-empty list of {prefixes.raw}... keys; '
            f"got {keys!r}"
        )
    outside = [key for key in keys if not key.startswith(prefixes.raw)]
    if outside:
        raise ValueError(f"raw keys must start with {prefixes.raw!r}: {outside}")
    return list(keys)


def convert_raw_objects(
    s3: S3Client,
    bucket: str,
    raw_keys: Sequence[str],
    *,
    scratch_dir: Path,
    prefixes: Prefixes = PREFIXES,
) -> ConvertResult:
    """Convert each raw object in turn; raises on the first file-level error."""
    files = [
        convert_raw_object(s3, bucket, key, scratch_dir=scratch_dir, prefixes=prefixes)
        for key in raw_keys
    ]
    return ConvertResult(
        files=files,
        rows_in=sum(item["rows_in"] for item in files),
        rows_written=sum(item["rows_written"] for item in files),
        rows_quarantined=sum(item["rows_quarantined"] for item in files),
        converted=sum(item["converted"] for item in files),
        unchanged=sum(not item["converted"] for item in files),
    )


def convert_raw_object(
    s3: S3Client,
    bucket: str,
    raw_key: str,
    *,
    scratch_dir: Path,
    prefixes: Prefixes = PREFIXES,
) -> ConvertedFile:
    """Convert ``raw_key`` into its stage Parquet (and quarantine, when any line was bad)."""
    # Key names first: a wrong name fails before any I/O.
    target_key = stage_key(raw_key, prefixes)
    bad_lines_key = quarantine_key(raw_key, prefixes)
    unchanged = _unchanged_conversion(s3, bucket, raw_key, target_key, bad_lines_key)
    if unchanged is not None:
        logger.info("raw log unchanged, not converted again", extra={**unchanged})
        return unchanged
    scratch_dir.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix="mhealth-convert-", dir=scratch_dir))
    try:
        parquet_path = work_dir / "stage.parquet"
        quarantine_path = work_dir / "quarantine.jsonl"
        result, source_etag, source_size = _convert_object(
            s3, bucket, raw_key, parquet_path, quarantine_path
        )
        metadata = {
            _SOURCE_KEY: raw_key,
            _SOURCE_ETAG: source_etag,
            _SOURCE_SIZE: str(source_size),
            _FORMAT: STAGE_FORMAT,
            _ROWS_IN: str(result.rows_in),
            _ROWS_WRITTEN: str(result.rows_written),
            _ROWS_QUARANTINED: str(result.rows_quarantined),
        }
        s3.upload_file(
            str(parquet_path),
            bucket,
            target_key,
            ExtraArgs={"ContentType": PARQUET_CONTENT_TYPE, "Metadata": metadata},
        )
        if result.rows_quarantined:
            s3.upload_file(
                str(quarantine_path),
                bucket,
                bad_lines_key,
                ExtraArgs={"ContentType": QUARANTINE_CONTENT_TYPE},
            )
        else:
            s3.delete_object(Bucket=bucket, Key=bad_lines_key)  # a stale one from an earlier run
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    converted = ConvertedFile(
        raw_key=raw_key,
        stage_key=target_key,
        quarantine_key=bad_lines_key if result.rows_quarantined else None,
        rows_in=result.rows_in,
        rows_written=result.rows_written,
        rows_quarantined=result.rows_quarantined,
        converted=True,
    )
    logger.info(
        "converted raw log",
        extra={**converted, "quarantine_reasons": result.quarantine_reasons},
    )
    return converted


def _convert_object(
    s3: S3Client, bucket: str, raw_key: str, parquet_path: Path, quarantine_path: Path
) -> tuple[ConversionResult, str, int]:
    """The conversion, and the ETag and size of exactly the raw object it read."""
    try:
        response = s3.get_object(Bucket=bucket, Key=raw_key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            raise RawObjectMissingError(f"s3://{bucket}/{raw_key} does not exist") from error
        raise
    body = response["Body"]
    try:
        with quarantine_path.open("wb") as quarantine:
            # StreamingBody is a read-only binary stream; convert_log only calls read(n).
            result = convert_log(cast(BinaryIO, body), raw_key, str(parquet_path), quarantine)
    finally:
        body.close()
    return result, _etag(response.get("ETag", "")), response["ContentLength"]


def _etag(value: str) -> str:
    return value.strip('"')


def _unchanged_conversion(
    s3: S3Client, bucket: str, raw_key: str, target_key: str, bad_lines_key: str
) -> ConvertedFile | None:
    """The earlier conversion's result when the stage object was made from this very raw
    object (same ETag and size, same stage format); ``None`` when it must be converted."""
    # Listed first so that only an existing key is HEADed: this role may list stage/ only,
    # and S3 answers a HEAD on a missing key with 403, not 404, to a caller without
    # s3:ListBucket on the whole bucket
    # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html, "Permissions").
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=target_key, MaxKeys=1).get("Contents", [])
    if not listed or listed[0]["Key"] != target_key:
        return None
    try:
        raw = s3.head_object(Bucket=bucket, Key=raw_key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
            raise RawObjectMissingError(f"s3://{bucket}/{raw_key} does not exist") from error
        raise
    metadata = s3.head_object(Bucket=bucket, Key=target_key).get("Metadata", {})
    same_source = (
        metadata.get(_SOURCE_KEY) == raw_key
        and metadata.get(_SOURCE_ETAG) == _etag(raw.get("ETag", ""))
        and metadata.get(_SOURCE_SIZE) == str(raw["ContentLength"])
        and metadata.get(_FORMAT) == STAGE_FORMAT
    )
    counts = [metadata.get(name, "") for name in (_ROWS_IN, _ROWS_WRITTEN, _ROWS_QUARANTINED)]
    if not same_source or not all(count.isdigit() for count in counts):
        return None
    rows_in, rows_written, rows_quarantined = (int(count) for count in counts)
    return ConvertedFile(
        raw_key=raw_key,
        stage_key=target_key,
        quarantine_key=bad_lines_key if rows_quarantined else None,
        rows_in=rows_in,
        rows_written=rows_written,
        rows_quarantined=rows_quarantined,
        converted=False,
    )
