"""Raw step: check the downloaded dataset zip, then stream its MHEALTH logs into ``raw/`` in S3.

Checks come before any write: the archive must open as a zip, no member may escape the
directory it would be extracted to (absolute paths, ``..``, drive letters, symlinks), no
member may be encrypted, each subject may appear once, and at least one
``mHealth_subject<N>.log`` must be present (in any folder; other files are ignored). Every log
is then read once to compute its SHA-256, which also verifies the zip's CRCs, so a corrupt
archive fails before the first upload.

Unchanged files are not uploaded again. "Unchanged" means the object under the same key has
the same size and carries the same SHA-256 in its ``x-amz-meta-sha256`` metadata, which this
module writes on upload. The ETag is not used: for multipart uploads it is not the MD5 of the
content and depends on the part size. An object without the metadata (written by something
else) is replaced once, then recognised.

Uploads stream from the zip member through boto3's managed transfer (bounded memory: one
part buffer per transfer thread). Each S3 object is written atomically (a failed multipart
upload is aborted); if an upload fails, the objects this run had newly created are deleted
again, so a failed run leaves ``raw/`` as it found it, apart from replaced stale copies,
which are complete files.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from mhealth.core.layout import PREFIXES, Prefixes, raw_key
from mhealth.core.schema import LOG_NAME_PATTERN, subject_id_from_name

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

#: Object metadata key holding the hex SHA-256 of the object's bytes.
SHA256_METADATA_KEY: Final = "sha256"
_HASH_CHUNK_BYTES: Final = 1024 * 1024
_UPLOAD_CONCURRENCY: Final = 4


def _transfer_config() -> TransferConfig:
    config = TransferConfig(
        multipart_threshold=16 * 1024 * 1024,
        multipart_chunksize=16 * 1024 * 1024,
        max_concurrency=_UPLOAD_CONCURRENCY,
    )
    # A zip member is a non-seekable stream: s3transfer reads up to max_in_memory_upload_chunks
    # parts ahead into memory (default 10, i.e. 160 MB of 16 MB parts, held more than once while
    # they are signed and sent). Measured locally on three 220 MB members: peak RSS 503 MB with
    # the default, 295 MB with one part per upload thread, in the same time. boto3's
    # TransferConfig has no argument for it; s3transfer reads the attribute.
    config.max_in_memory_upload_chunks = _UPLOAD_CONCURRENCY
    return config


_TRANSFER_CONFIG: Final = _transfer_config()
_DRIVE_LETTER: Final = re.compile(r"^[A-Za-z]:")


class InvalidDatasetArchiveError(ValueError):
    """The downloaded file is not a usable MHEALTH dataset zip."""


@dataclass(frozen=True)
class LogMember:
    """A raw log inside the dataset zip."""

    member_name: str  # the path inside the archive, e.g. MHEALTHDATASET/mHealth_subject3.log
    log_name: str  # its base name, mHealth_subject3.log
    subject_id: int
    size: int  # uncompressed bytes


@dataclass(frozen=True)
class RawObject:
    """A raw log as it now stands in S3."""

    key: str
    size: int
    sha256: str
    uploaded: bool  # False: an identical object was already there


@dataclass(frozen=True)
class RawUploadSummary:
    """The outcome of one upload run, objects sorted by subject number."""

    bucket: str
    objects: tuple[RawObject, ...]

    @property
    def raw_keys(self) -> list[str]:
        return [item.key for item in self.objects]

    @property
    def uploaded(self) -> int:
        return sum(item.uploaded for item in self.objects)

    @property
    def unchanged(self) -> int:
        return len(self.objects) - self.uploaded


def escapes_target_dir(member_name: str) -> bool:
    """Whether extracting ``member_name`` could write outside the directory extracted into."""
    name = member_name.replace("\\", "/")
    if name.startswith("/") or _DRIVE_LETTER.match(name):
        return True
    return ".." in name.split("/")


def find_log_members(archive: zipfile.ZipFile) -> list[LogMember]:
    """The MHEALTH logs in ``archive``, sorted by subject; raises on an unsafe or unusable zip."""
    problems: list[str] = []
    by_subject: dict[int, LogMember] = {}
    for info in archive.infolist():
        name = info.filename
        if escapes_target_dir(name):
            problems.append(f"member {name!r} escapes the target directory")
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            problems.append(f"member {name!r} is a symbolic link")
            continue
        base = posixpath.basename(name.replace("\\", "/"))
        if info.is_dir() or not LOG_NAME_PATTERN.match(base):
            continue  # README.txt and the like
        if info.flag_bits & 0x1:
            problems.append(f"member {name!r} is encrypted")
            continue
        subject = subject_id_from_name(base)
        if subject in by_subject:
            problems.append(
                f"subject {subject} appears twice: {by_subject[subject].member_name!r} and {name!r}"
            )
            continue
        by_subject[subject] = LogMember(name, base, subject, info.file_size)
    if problems:
        raise InvalidDatasetArchiveError(
            f"refusing dataset archive {archive.filename}: " + "; ".join(problems)
        )
    if not by_subject:
        raise InvalidDatasetArchiveError(
            f"dataset archive {archive.filename} holds no mHealth_subject<N>.log file"
        )
    return [by_subject[subject] for subject in sorted(by_subject)]


def open_dataset_zip(path: Path) -> zipfile.ZipFile:
    """Open the downloaded zip, turning a corrupt or non-zip file into a clear error."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as error:
        size = path.stat().st_size if path.is_file() else 0
        raise InvalidDatasetArchiveError(
            f"{path.name} is not a readable zip archive ({size} bytes): {error}"
        ) from error


def upload_raw_logs(
    s3: S3Client, bucket: str, zip_path: Path, *, prefixes: Prefixes = PREFIXES
) -> RawUploadSummary:
    """Check ``zip_path`` and upload each of its logs to ``raw/<log name>`` unless unchanged."""
    with open_dataset_zip(zip_path) as archive:
        members = find_log_members(archive)
        digests = {member.member_name: _sha256(archive, member) for member in members}
        objects: list[RawObject] = []
        created: list[str] = []
        present = _existing_sizes(s3, bucket, prefixes.raw)
        try:
            for member in members:
                key = raw_key(member.log_name, prefixes)
                digest = digests[member.member_name]
                existing = (
                    _existing_digest(s3, bucket, key, member.size) if key in present else None
                )
                if existing == digest:
                    objects.append(RawObject(key, member.size, digest, uploaded=False))
                    continue
                with archive.open(member.member_name) as stream:
                    s3.upload_fileobj(
                        stream,
                        bucket,
                        key,
                        ExtraArgs={
                            "Metadata": {SHA256_METADATA_KEY: digest},
                            "ContentType": "text/plain",
                        },
                        Config=_TRANSFER_CONFIG,
                    )
                if existing is None:
                    created.append(key)
                objects.append(RawObject(key, member.size, digest, uploaded=True))
                logger.info("uploaded raw log", extra={"key": key, "bytes": member.size})
        except BaseException:
            _delete_quietly(s3, bucket, created)
            raise
    return RawUploadSummary(bucket, tuple(objects))


def _sha256(archive: zipfile.ZipFile, member: LogMember) -> str:
    digest = hashlib.sha256()
    try:
        with archive.open(member.member_name) as stream:
            while chunk := stream.read(_HASH_CHUNK_BYTES):
                digest.update(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        # zipfile raises BadZipFile on a CRC mismatch, zlib errors surface as others.
        raise InvalidDatasetArchiveError(
            f"{member.member_name} in {archive.filename} is corrupt: {error}"
        ) from error
    return digest.hexdigest()


def _existing_sizes(s3: S3Client, bucket: str, prefix: str) -> dict[str, int]:
    """Size of every object under ``prefix``. Listed first so that only existing keys are
    HEADed: a HEAD on a missing key is a 404 only for a caller allowed ``s3:ListBucket`` on the
    whole bucket, and a 403 for this role, whose listing is limited to ``raw/`` by ``s3:prefix``
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html, "Permissions")."""
    sizes: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            sizes[item["Key"]] = item["Size"]
    return sizes


def _existing_digest(s3: S3Client, bucket: str, key: str, size: int) -> str | None:
    """The recorded SHA-256 of the object at ``key``; ``""`` if it differs in size or has none;
    ``None`` if there is no object (it went between the listing and this HEAD)."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise
    if head["ContentLength"] != size:
        return ""
    return head.get("Metadata", {}).get(SHA256_METADATA_KEY, "")


def _delete_quietly(s3: S3Client, bucket: str, keys: list[str]) -> None:
    for key in keys:
        try:
            s3.delete_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError):
            logger.exception("could not remove %s after a failed upload run", key)
