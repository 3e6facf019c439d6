"""Download step, end to end: the Kaggle secret → the dataset zip → ``raw/`` in the data bucket."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypedDict

from botocore.exceptions import ClientError

from mhealth.download.archive import upload_raw_logs
from mhealth.download.kaggle import (
    KaggleApiToken,
    KaggleAuth,
    KaggleAuthError,
    KaggleCredentials,
    RetryPolicy,
    TimeBudget,
    download_dataset_zip,
)
from mhealth.settings import DownloadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient

logger = logging.getLogger(__name__)

#: Time kept back from the Lambda's own timeout to clean up and report a clear error.
DEADLINE_MARGIN_SECONDS: Final = 15.0

# Values a deployment template may put in the secret before anyone sets the real ones.
_PLACEHOLDER_VALUES: Final = frozenset(
    {"changeme", "change_me", "change-me", "todo", "xxx", "none"}
)
_PLACEHOLDER_WORDS: Final = ("replace", "placeholder")


class KaggleSecretError(KaggleAuthError):
    """The Kaggle credentials secret is missing, unreadable or not filled in."""


class DownloadResult(TypedDict):
    """What the download step hands to the state machine's Map over the raw files."""

    bucket: str
    raw_keys: list[str]  # raw/mHealth_subject<N>.log, sorted by N
    uploaded: int
    unchanged: int


def deadline_from_remaining(
    remaining_seconds: float | None, margin_seconds: float = DEADLINE_MARGIN_SECONDS
) -> float | None:
    """A ``time.monotonic()`` deadline ``margin_seconds`` before the caller's time runs out."""
    if remaining_seconds is None:
        return None
    return time.monotonic() + max(remaining_seconds - margin_seconds, remaining_seconds / 2)


def download_to_raw(
    settings: DownloadSettings,
    *,
    s3: S3Client,
    secrets: SecretsManagerClient,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DownloadResult:
    """Fetch the configured Kaggle dataset and upload its logs under ``raw/``.

    Raises on any failure; nothing is written to S3 unless the whole archive checked out.
    """
    credentials = read_kaggle_credentials(secrets, settings.kaggle_secret_name)
    settings.scratch_dir.mkdir(parents=True, exist_ok=True)
    # A directory per run: a warm Lambda's earlier download can never be mistaken for this one.
    work_dir = Path(tempfile.mkdtemp(prefix="mhealth-download-", dir=settings.scratch_dir))
    try:
        try:
            zip_path = download_dataset_zip(
                settings.kaggle_dataset,
                credentials,
                work_dir,
                version=settings.kaggle_dataset_version,
                api_base_url=settings.kaggle_api_base_url,
                config_dir=settings.kaggle_config_dir or settings.scratch_dir / "kaggle",
                budget=TimeBudget(settings.request_timeout_seconds, deadline),
                retry=RetryPolicy(settings.max_attempts, settings.retry_base_delay_seconds),
                sleep=sleep,
            )
        except KaggleAuthError as error:
            raise KaggleAuthError(
                f"{error}. The credentials come from secret {settings.kaggle_secret_name!r}; "
                f"{_fix_hint(settings.kaggle_secret_name)}"
            ) from error
        summary = upload_raw_logs(s3, settings.data_bucket, zip_path)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    result = DownloadResult(
        bucket=summary.bucket,
        raw_keys=summary.raw_keys,
        uploaded=summary.uploaded,
        unchanged=summary.unchanged,
    )
    logger.info(
        "raw files in place",
        extra={
            "bucket": result["bucket"],
            "files": len(result["raw_keys"]),
            "uploaded": result["uploaded"],
            "unchanged": result["unchanged"],
        },
    )
    return result


def read_kaggle_credentials(secrets: SecretsManagerClient, secret_name: str) -> KaggleAuth:
    """The credentials stored in ``secret_name``: ``{"token"}`` or ``{"username", "key"}``."""
    try:
        value = secrets.get_secret_value(SecretId=secret_name)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise KaggleSecretError(
                f"the Kaggle credentials secret {secret_name!r} does not exist. Create it: "
                f"aws secretsmanager create-secret --name {secret_name} "
                f"--secret-string {_TOKEN_TEMPLATE}"
            ) from error
        if code in {"AccessDeniedException", "AccessDenied"}:
            raise KaggleSecretError(
                f"not allowed to read the Kaggle credentials secret {secret_name!r}: the "
                "function's role needs secretsmanager:GetSecretValue on it"
            ) from error
        if code in {"InvalidRequestException", "DecryptionFailure"}:
            raise KaggleSecretError(
                f"the Kaggle credentials secret {secret_name!r} cannot be read ({code}: "
                f"{error.response.get('Error', {}).get('Message', '')})"
            ) from error
        raise
    text = value.get("SecretString")
    if text is None:
        raise KaggleSecretError(
            f"the Kaggle credentials secret {secret_name!r} holds no string value; "
            + _fix_hint(secret_name)
        )
    return parse_kaggle_secret(text, secret_name)


def parse_kaggle_secret(text: str, secret_name: str) -> KaggleAuth:
    """Parse and vet the secret's JSON; placeholders and missing fields are errors.

    ``{"token": "KGAT_…"}`` is an API token (Kaggle's settings page, "Generate New Token");
    ``{"username": …, "key": …}`` the legacy pair (kaggle.json). A secret holding a token is
    read as a token whatever else it holds.
    """
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise KaggleSecretError(
            f"the Kaggle credentials secret {secret_name!r} is not a JSON object; "
            + _fix_hint(secret_name)
        )
    if "token" in data:
        token = data["token"]
        problem = None
        if not isinstance(token, str) or not token.strip():
            problem = "an empty 'token'"
        elif _is_placeholder(token):
            problem = f"'token' is still the placeholder {token!r}"
        if problem:
            raise KaggleSecretError(
                f"the Kaggle credentials secret {secret_name!r} is not filled in ({problem}); "
                + _fix_hint(secret_name)
            )
        return KaggleApiToken(token=token.strip())
    problems = []
    fields: dict[str, str] = {}
    for name in ("username", "key"):
        raw = data.get(name)
        if not isinstance(raw, str) or not raw.strip():
            problems.append(f"no {name!r}")
        elif _is_placeholder(raw):
            problems.append(f"{name!r} is still the placeholder {raw!r}")
        else:
            fields[name] = raw.strip()
    if problems:
        missing_all = (
            len(problems) == 2 and not fields and all(p.startswith("no") for p in problems)
        )
        detail = "no 'token', nor 'username' and 'key'" if missing_all else ", ".join(problems)
        raise KaggleSecretError(
            f"the Kaggle credentials secret {secret_name!r} is not filled in ({detail}); "
            + _fix_hint(secret_name)
        )
    return KaggleCredentials(username=fields["username"], key=fields["key"])


_TOKEN_TEMPLATE: Final = """'{"token":"<your KGAT_... API token>"}'"""
_LEGACY_TEMPLATE: Final = """'{"username":"<kaggle-username>","key":"<kaggle-api-key>"}'"""


def _fix_hint(secret_name: str) -> str:
    return (
        "put a Kaggle API token there (kaggle.com → Settings → API → Generate New Token): "
        f"aws secretsmanager put-secret-value --secret-id {secret_name} "
        f"--secret-string {_TOKEN_TEMPLATE} (or the legacy pair from 'Legacy API Credentials': "
        f"--secret-string {_LEGACY_TEMPLATE})"
    )


def _is_placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered.startswith("<") and lowered.endswith(">"):
        return True
    return lowered in _PLACEHOLDER_VALUES or any(word in lowered for word in _PLACEHOLDER_WORDS)
