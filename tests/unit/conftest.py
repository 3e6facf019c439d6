"""Unit-test fixtures: a small local SparkSession shared by the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    from mhealth.local.spark_session import local_spark_session

    session = local_spark_session("mhealth-unit-tests", cores="1", driver_memory="1g")
    yield session
    session.stop()
