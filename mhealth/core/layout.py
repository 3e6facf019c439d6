"""The S3 key layout of the data bucket: prefixes and how each stage names its objects.

The prefixes themselves live in ``s3_layout.json`` beside this module, which
``serverless.yml`` reads too (``${file(mhealth/core/s3_layout.json):raw}``), so the IAM
policies and the code cannot drift apart.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from importlib import resources
from typing import Final

from mhealth.core.schema import USER_ID, subject_id_from_name


@dataclass(frozen=True)
class Prefixes:
    """Key prefixes in the data bucket, each ending in ``/``."""

    raw: str
    stage: str
    processed: str
    quarantine: str
    glue_assets: str
    athena_results: str


def _load_prefixes() -> Prefixes:
    text = resources.files("mhealth.core").joinpath("s3_layout.json").read_text(encoding="utf-8")
    return Prefixes(**json.loads(text))


PREFIXES: Final = _load_prefixes()

PARQUET_SUFFIX: Final = ".parquet"
QUARANTINE_SUFFIX: Final = ".quarantine.jsonl"


def log_stem(log_name: str) -> str:
    """``raw/mHealth_subject3.log`` → ``mHealth_subject3``; rejects other names."""
    base = posixpath.basename(log_name)
    subject_id_from_name(base)
    return base[: -len(".log")]


def raw_key(log_name: str, prefixes: Prefixes = PREFIXES) -> str:
    """Where a raw log lives: ``raw/mHealth_subject3.log``."""
    return f"{prefixes.raw}{log_stem(log_name)}.log"


def stage_key(log_name: str, prefixes: Prefixes = PREFIXES) -> str:
    """Where a log's stage Parquet lives: ``stage/mHealth_subject3.parquet``."""
    return f"{prefixes.stage}{log_stem(log_name)}{PARQUET_SUFFIX}"


def quarantine_key(log_name: str, prefixes: Prefixes = PREFIXES) -> str:
    """Where a log's quarantined lines live: ``quarantine/mHealth_subject3.quarantine.jsonl``."""
    return f"{prefixes.quarantine}{log_stem(log_name)}{QUARANTINE_SUFFIX}"


def stage_file_name(log_name: str) -> str:
    """The stage file name for a log, used by the local CLI: ``mHealth_subject3.parquet``."""
    return f"{log_stem(log_name)}{PARQUET_SUFFIX}"


def quarantine_file_name(log_name: str) -> str:
    """The quarantine file name for a log: ``mHealth_subject3.quarantine.jsonl``."""
    return f"{log_stem(log_name)}{QUARANTINE_SUFFIX}"


#: Under ``quarantine/``: one JSON record per file in ``raw/`` whose name gives no subject id.
RAW_NAME_QUARANTINE_DIR: Final = "raw-names/"
RAW_NAME_RECORD_SUFFIX: Final = ".json"


def raw_name_record_key(raw_object_key: str, prefixes: Prefixes = PREFIXES) -> str:
    """Where the record of a badly named raw file lives:
    ``raw/notes/x.txt`` → ``quarantine/raw-names/notes/x.txt.json``."""
    if not raw_object_key.startswith(prefixes.raw):
        raise ValueError(f"{raw_object_key!r} is not under {prefixes.raw!r}")
    relative = raw_object_key[len(prefixes.raw) :]
    return f"{prefixes.quarantine}{RAW_NAME_QUARANTINE_DIR}{relative}{RAW_NAME_RECORD_SUFFIX}"


def partition_dir(user_id: str) -> str:
    """The Hive-style directory of one user's rows under ``processed/``: ``user_id=3``."""
    return f"{USER_ID}={user_id}"


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` → ``("bucket", "some/key")``."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    return bucket, key
