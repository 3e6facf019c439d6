"""The download step's source setting: Kaggle, the UCI repository, or none (use ``raw/`` as is).

Every source ends in the same place: the archive's logs checked and streamed into ``raw/``
(:func:`mhealth.download.archive.upload_raw_logs`). ``none`` downloads nothing, so the
pipeline runs on whatever recordings ``raw/`` already holds.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mhealth.download.archive import upload_raw_logs
from mhealth.download.kaggle import RetryPolicy, TimeBudget
from mhealth.download.step import DownloadResult, download_to_raw
from mhealth.download.uci import download_uci_zip
from mhealth.settings import DownloadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient

logger = logging.getLogger(__name__)


class SourcedDownloadResult(DownloadResult):
    """The download's result and the source it came from (``kaggle``, ``uci`` or ``none``)."""

    source: str


def download_from_source(
    settings: DownloadSettings,
    *,
    s3: S3Client,
    secrets: SecretsManagerClient,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SourcedDownloadResult:
    """Run the download the settings choose; raises on any failure."""
    source = settings.download_source
    if source == "none":
        logger.info("download source is none: the run uses what raw/ holds")
        return SourcedDownloadResult(
            bucket=settings.data_bucket, raw_keys=[], uploaded=0, unchanged=0, source=source
        )
    if source == "uci":
        result = download_uci_to_raw(settings, s3=s3, deadline=deadline, sleep=sleep)
    elif source == "kaggle":
        result = download_to_raw(settings, s3=s3, secrets=secrets, deadline=deadline, sleep=sleep)
    else:  # DownloadSettings.from_env refuses other values; a hand-built one may not
        raise ValueError(f"unknown download source {source!r}")
    return SourcedDownloadResult(**result, source=source)


def download_uci_to_raw(
    settings: DownloadSettings,
    *,
    s3: S3Client,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DownloadResult:
    """Fetch the UCI archive and upload its logs under ``raw/`` (nothing written unless the
    whole archive checked out)."""
    settings.scratch_dir.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix="mhealth-download-uci-", dir=settings.scratch_dir))
    try:
        zip_path = download_uci_zip(
            work_dir,
            base_url=settings.uci_base_url,
            budget=TimeBudget(settings.request_timeout_seconds, deadline),
            retry=RetryPolicy(settings.max_attempts, settings.retry_base_delay_seconds),
            sleep=sleep,
        )
        summary = upload_raw_logs(s3, settings.data_bucket, zip_path)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    logger.info(
        "raw files in place",
        extra={
            "source": "uci",
            "files": len(summary.raw_keys),
            "uploaded": summary.uploaded,
            "unchanged": summary.unchanged,
        },
    )
    return DownloadResult(
        bucket=summary.bucket,
        raw_keys=summary.raw_keys,
        uploaded=summary.uploaded,
        unchanged=summary.unchanged,
    )
