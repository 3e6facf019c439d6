"""Lambda entry point of the mirror step: ``raw/`` → the convert work list, ``stage/`` pruned."""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from mhealth import aws
from mhealth.convert.mirror import MirrorResult, mirror_raw
from mhealth.settings import ConvertSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = Logger()  # service name: POWERTOOLS_SERVICE_NAME, set by serverless.yml
# The library logs through the standard logging module; give it the same JSON output.
copy_config_to_registered_loggers(source_logger=logger, include={"mhealth"})


@cache
def settings() -> ConvertSettings:
    """Parsed once per cold start; a missing variable fails the first invocation loudly."""
    return ConvertSettings.from_env(os.environ)


@cache
def s3_client() -> S3Client:
    return aws.client("s3")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> MirrorResult:
    """The event carries nothing the step needs: raw/ itself is the input."""
    return mirror_raw(s3_client(), settings().data_bucket)
