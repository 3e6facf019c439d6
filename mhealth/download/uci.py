"""The publisher's copy of MHEALTH: the UCI Machine Learning Repository's archive over HTTPS.

UCI dataset 319 (Banos et al. 2014, CC BY 4.0) is served without any account at
``https://archive.ics.uci.edu/static/public/319/mhealth+dataset.zip`` (it may redirect to
UCI's CDN; redirects are followed). The archive holds ``MHEALTHDATASET/README.txt`` and
``MHEALTHDATASET/mHealth_subject1.log`` … ``mHealth_subject10.log``, the layout
:mod:`mhealth.download.archive` checks; should the logs ever come wrapped in one inner zip,
that inner zip is unpacked (with the same member checks) and used instead.

The download has the Kaggle path's limits: a per-request timeout capped by the step's
deadline (:class:`~mhealth.download.kaggle.TimeBudget`), bounded retries with backoff on
transient failures only, a streamed body checked against ``Content-Length``, and no more
bytes than the scratch directory can hold.
"""

from __future__ import annotations

import logging
import posixpath
import shutil
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Final

import requests

from mhealth.download.archive import (
    InvalidDatasetArchiveError,
    escapes_target_dir,
    find_log_members,
    open_dataset_zip,
)
from mhealth.download.kaggle import (
    IncompleteDownloadError,
    KaggleDeadlineError,
    RetryPolicy,
    TimeBudget,
)
from mhealth.settings import DEFAULT_UCI_BASE_URL

logger = logging.getLogger(__name__)

#: The archive's path on the repository (dataset 319, "MHEALTH Dataset").
UCI_DATASET_PATH: Final = "/static/public/319/mhealth+dataset.zip"
ZIP_NAME: Final = "mhealth+dataset.zip"

_CHUNK_BYTES: Final = 1024 * 1024
_TRANSIENT_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})


class UciDownloadError(RuntimeError):
    """The archive could not be fetched from the UCI repository (or the configured mirror)."""

    transient: bool = False


class _TransientUciError(UciDownloadError):
    transient = True


def dataset_url(base_url: str) -> str:
    """The archive's URL under ``base_url`` (the repository, or a stand-in for it)."""
    return base_url.rstrip("/") + UCI_DATASET_PATH


def download_uci_zip(
    dest_dir: Path,
    *,
    base_url: str = DEFAULT_UCI_BASE_URL,
    budget: TimeBudget | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    session: requests.Session | None = None,
) -> Path:
    """Fetch the archive into ``dest_dir``; returns the path of the zip that holds the logs.

    On failure no file is left behind in ``dest_dir``.
    """
    budget = budget or TimeBudget()
    retry = retry or RetryPolicy()
    url = dataset_url(base_url)
    dest_dir.mkdir(parents=True, exist_ok=True)
    zip_path = dest_dir / ZIP_NAME
    http = session or requests.Session()
    try:
        for attempt in range(1, retry.max_attempts + 1):
            budget.check(f"downloading {url}")
            try:
                _fetch(http, url, zip_path, budget)
            except UciDownloadError as failure:
                zip_path.unlink(missing_ok=True)
                if not failure.transient:
                    raise
                if attempt == retry.max_attempts:
                    raise UciDownloadError(
                        f"downloading {url} failed {attempt} times; last error: {failure}"
                    ) from failure
                delay = retry.delay(attempt)
                if budget.remaining() <= delay:
                    raise KaggleDeadlineError(
                        f"downloading {url} failed ({failure}) and no time is left to retry"
                    ) from failure
                logger.warning(
                    "UCI download failed, retrying",
                    extra={"url": url, "attempt": attempt, "delay_s": round(delay, 2)},
                )
                sleep(delay)
                continue
            except BaseException:
                zip_path.unlink(missing_ok=True)
                raise
            logger.info(
                "downloaded UCI archive",
                extra={"url": url, "attempt": attempt, "bytes": zip_path.stat().st_size},
            )
            return unwrap_inner_zip(zip_path, dest_dir)
    finally:
        if session is None:
            http.close()
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _fetch(http: requests.Session, url: str, zip_path: Path, budget: TimeBudget) -> None:
    try:
        response = http.get(url, stream=True, timeout=budget.request_timeout())
    except requests.Timeout as error:
        raise _TransientUciError(f"{url} did not answer in time: {error}") from error
    except requests.ConnectionError as error:
        raise _TransientUciError(f"connection to {url} failed: {error}") from error
    with response:
        if response.status_code >= 400:
            failure_class = (
                _TransientUciError
                if response.status_code in _TRANSIENT_STATUSES
                else UciDownloadError
            )
            raise failure_class(f"{url} answered HTTP {response.status_code}")
        announced = response.headers.get("Content-Length")
        free = shutil.disk_usage(zip_path.parent).free
        if announced is not None and announced.isdigit() and int(announced) > free:
            raise UciDownloadError(
                f"{url} announces {int(announced):,} bytes but only {free:,} bytes are free "
                f"in {zip_path.parent}: give the function more ephemeral storage"
            )
        written = 0
        try:
            with zip_path.open("wb") as sink:
                for chunk in response.iter_content(_CHUNK_BYTES):
                    budget.check(f"receiving {url}")
                    sink.write(chunk)
                    written += len(chunk)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
            raise _TransientUciError(f"the body of {url} broke off: {error}") from error
        except requests.Timeout as error:
            raise _TransientUciError(f"{url} stalled: {error}") from error
    if announced is not None and announced.isdigit() and written != int(announced):
        incomplete = IncompleteDownloadError(f"{url}: received {written} of {announced} bytes")
        raise _TransientUciError(str(incomplete)) from incomplete


def unwrap_inner_zip(zip_path: Path, work_dir: Path) -> Path:
    """``zip_path`` if it holds the logs; else the one inner zip it holds, unpacked beside it.

    Raises :class:`InvalidDatasetArchiveError` for an unsafe member, or when there are no logs
    and not exactly one inner zip.
    """
    with open_dataset_zip(zip_path) as archive:
        try:
            find_log_members(archive)
        except InvalidDatasetArchiveError as error:
            if "holds no mHealth_subject" not in str(error):
                raise  # unsafe or duplicated members: never look further
            inner = [
                info
                for info in archive.infolist()
                if not info.is_dir() and info.filename.lower().endswith(".zip")
            ]
            if len(inner) != 1:
                raise InvalidDatasetArchiveError(
                    f"{zip_path.name} holds no mHealth_subject<N>.log file and "
                    f"{len(inner)} inner zip files (expected the logs, or one zip holding them)"
                ) from error
            member = inner[0]
            if escapes_target_dir(member.filename):
                raise InvalidDatasetArchiveError(
                    f"member {member.filename!r} of {zip_path.name} escapes the target directory"
                ) from error
            if member.file_size > shutil.disk_usage(work_dir).free:
                raise InvalidDatasetArchiveError(
                    f"inner zip {member.filename!r} ({member.file_size:,} bytes) does not fit "
                    f"in {work_dir}"
                ) from error
            target = work_dir / f"inner-{posixpath.basename(member.filename)}"
            try:
                with archive.open(member) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink, _CHUNK_BYTES)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError) as copy_error:
                target.unlink(missing_ok=True)
                raise InvalidDatasetArchiveError(
                    f"{member.filename} in {zip_path.name} is corrupt: {copy_error}"
                ) from copy_error
        else:
            return zip_path
    zip_path.unlink(missing_ok=True)
    logger.info("the archive wraps the logs in an inner zip", extra={"inner": member.filename})
    return target
