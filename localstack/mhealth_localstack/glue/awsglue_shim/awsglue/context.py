"""GlueContext over a plain SparkContext; exists only so AWS job scripts run unchanged locally."""

from __future__ import annotations

import logging
import sys
from typing import Any

from pyspark.context import SparkContext
from pyspark.sql import SparkSession


class GlueLogger:
    """What ``GlueContext.get_logger()`` returns on AWS (info/warn/error), writing to stderr."""

    def __init__(self, name: str = "GlueLogger") -> None:
        self._logger = logging.getLogger(name)
        if not self._logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )
            self._logger.addHandler(handler)
            self._logger.setLevel(logging.INFO)
            self._logger.propagate = False

    def info(self, message: str) -> None:
        self._logger.info(message)

    def warn(self, message: str) -> None:
        self._logger.warning(message)

    warning = warn

    def error(self, message: str) -> None:
        self._logger.error(message)

    def debug(self, message: str) -> None:
        self._logger.debug(message)


class GlueContext:
    """``GlueContext(sc)`` with ``spark_session`` and ``get_logger()``; DynamicFrames raise."""

    def __init__(self, sparkContext: SparkContext, **options: Any) -> None:  # noqa: N803 - AWS's name
        self._sc = sparkContext
        self._options = options
        self.spark_session: SparkSession = SparkSession(sparkContext)
        self._logger = GlueLogger()

    @property
    def sparkSession(self) -> SparkSession:  # noqa: N802 - SQLContext's name, inherited on AWS
        return self.spark_session

    def get_logger(self) -> GlueLogger:
        return self._logger

    # Alias for scripts written against the camel-case spelling.
    getLogger = get_logger  # noqa: N815

    def __getattr__(self, name: str) -> Any:
        raise NotImplementedError(
            f"GlueContext.{name} is not available in the local awsglue stand-in "
            "(only spark_session and get_logger are); use Spark DataFrames in the job"
        )
