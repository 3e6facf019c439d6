"""Lambda entry point of the download step: the dataset (Kaggle, UCI or none) → ``raw/`` logs."""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from mhealth import aws
from mhealth.download.sources import SourcedDownloadResult, download_from_source
from mhealth.download.step import deadline_from_remaining
from mhealth.settings import DownloadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient

logger = Logger()  # service name: POWERTOOLS_SERVICE_NAME, set by serverless.yml
# The library logs through the standard logging module; give it the same JSON output.
copy_config_to_registered_loggers(source_logger=logger, include={"mhealth"})


@cache
def settings() -> DownloadSettings:
    """Parsed once per cold start; a missing variable fails the first invocation loudly."""
    return DownloadSettings.from_env(os.environ)


@cache
def clients() -> tuple[S3Client, SecretsManagerClient]:
    return aws.client("s3"), aws.client("secretsmanager")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> SourcedDownloadResult:
    """The event carries nothing the step needs; everything comes from the settings."""
    s3, secrets = clients()
    deadline = deadline_from_remaining(context.get_remaining_time_in_millis() / 1000)
    return download_from_source(settings(), s3=s3, secrets=secrets, deadline=deadline)
