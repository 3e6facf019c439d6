"""Lambda entry point of the convert step: ``raw/`` logs → ``stage/`` Parquet."""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from mhealth import aws
from mhealth.convert.step import ConvertResult, convert_raw_objects, raw_keys_from_event
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
def handler(event: dict[str, Any], context: LambdaContext) -> ConvertResult:
    """Event: ``{"raw_keys": ["raw/mHealth_subject1.log", ...]}``."""
    raw_keys = raw_keys_from_event(event)
    config = settings()
    result = convert_raw_objects(
        s3_client(), config.data_bucket, raw_keys, scratch_dir=config.scratch_dir
    )
    logger.info(
        "converted raw logs",
        extra={
            "files": len(result["files"]),
            "rows_in": result["rows_in"],
            "rows_written": result["rows_written"],
            "rows_quarantined": result["rows_quarantined"],
        },
    )
    return result
