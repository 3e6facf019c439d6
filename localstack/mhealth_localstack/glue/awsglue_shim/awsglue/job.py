"""Glue's Job bookkeeping (init/commit); exists only so AWS job scripts run unchanged locally.

Job bookmarks are not emulated: ``commit()`` records nothing, so every local run
reprocesses its input.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

LOG = logging.getLogger("awsglue.job")


class Job:
    """Marks the start and the successful end of a job run."""

    @classmethod
    def continuation_options(cls) -> list[str]:
        return [
            "--continuation-option",
            "continuation-enabled",
            "continuation-readonly",
            "continuation-ignore",
        ]

    @classmethod
    def job_bookmark_options(cls) -> list[str]:
        return [
            "--job-bookmark-option",
            "job-bookmark-enable",
            "job-bookmark-pause",
            "job-bookmark-disable",
        ]

    @classmethod
    def job_bookmark_range_options(cls) -> list[str]:
        return ["--job-bookmark-from", "--job-bookmark-to"]

    @classmethod
    def id_params(cls) -> list[str]:
        return ["--JOB_NAME", "--JOB_ID", "--JOB_RUN_ID", "--SECURITY_CONFIGURATION"]

    @classmethod
    def encryption_type_options(cls) -> list[str]:
        return ["--encryption-type", "sse-s3"]

    def __init__(self, glue_context: Any) -> None:
        self._glue_context = glue_context
        self._name: str | None = None
        self._args: dict[str, Any] = {}
        self._committed = False

    def init(self, job_name: str, args: Mapping[str, Any] | None = None) -> None:
        self._name = job_name
        self._args = dict(args or {})
        LOG.info("Job %s initialised (run %s)", job_name, self._args.get("JOB_RUN_ID"))

    def isInitialized(self) -> bool:  # noqa: N802 - AWS's name
        return self._name is not None

    def commit(self) -> None:
        if self._name is None:
            raise RuntimeError("Job.commit() called before Job.init()")
        self._committed = True
        LOG.info("Job %s committed", self._name)
