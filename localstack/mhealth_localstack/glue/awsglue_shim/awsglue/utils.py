"""Job argument parsing as AWS Glue does it; exists only so AWS job scripts run unchanged here."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, NoReturn

from awsglue.job import Job

# Every getResolvedOptions result also lands here, as in the AWS library.
_global_args: dict[str, Any] = {}

# Glue parses these itself; a job may read them but may not ask for them by name.
_RESERVED_ID_OPTIONS = ("--JOB_ID", "--JOB_RUN_ID", "--SECURITY_CONFIGURATION")
_TEMP_DIR_OPTIONS = ("TempDir", "RedshiftTempDir")


class GlueArgumentError(Exception):
    """A required job argument is missing or an argument has an invalid value."""


class GlueArgumentParser(argparse.ArgumentParser):
    """Raises instead of printing usage and exiting, so the error reaches the run."""

    def error(self, message: str) -> NoReturn:
        raise GlueArgumentError(message)


def _reject_reserved(option: str, requested: Sequence[str]) -> None:
    if option.lstrip("-") in requested:
        raise RuntimeError(f"Using reserved arguments {option}")


def _resolve_bookmark_option(
    resolved: dict[str, Any], continuation_choices: list[str], bookmark_choices: list[str]
) -> None:
    """Settle ``job_bookmark_option`` and check the bookmark range options, as Glue does."""
    # The old continuation option still selects the bookmark mode when the new one is absent.
    continuation = resolved.pop("continuation_option", None)
    if resolved.get("job_bookmark_option") is None:
        if continuation is None:
            resolved["job_bookmark_option"] = "job-bookmark-disable"
        else:
            index = continuation_choices.index(continuation)
            resolved["job_bookmark_option"] = bookmark_choices[index]

    missing_range = [
        option
        for option in Job.job_bookmark_range_options()
        if resolved.get(option.lstrip("-").replace("-", "_")) is None
    ]
    if resolved["job_bookmark_option"] == "job-bookmark-pause":
        if len(missing_range) == 1:
            raise RuntimeError(f"Missing option or value for {missing_range[0]}")
    elif not missing_range:
        raise RuntimeError("Invalid option(s)" + " ".join(Job.job_bookmark_range_options()))


def getResolvedOptions(args: Sequence[str], options: Sequence[str]) -> dict[str, Any]:  # noqa: N802 - AWS's name
    """Parse ``sys.argv`` into a dict holding every name in ``options`` plus Glue's own arguments.

    Like AWS: each requested name must be present as ``--name value`` (else GlueArgumentError);
    unknown arguments are ignored; ``JOB_ID``, ``JOB_RUN_ID``, ``SECURITY_CONFIGURATION``,
    ``job_bookmark_option`` (default ``job-bookmark-disable``), ``TempDir`` and
    ``RedshiftTempDir`` are always in the result; asking for a reserved name is a RuntimeError.
    """
    requested = list(options)
    parser = GlueArgumentParser()

    bookmark_option, *bookmark_choices = Job.job_bookmark_options()
    continuation_option, *continuation_choices = Job.continuation_options()
    for option in (bookmark_option, continuation_option):
        _reject_reserved(option, requested)
    parser.add_argument(bookmark_option, choices=bookmark_choices, required=False)
    parser.add_argument(continuation_option, choices=continuation_choices, required=False)

    for option in Job.job_bookmark_range_options():
        _reject_reserved(option, requested)
        parser.add_argument(option, required=False)

    for option in _RESERVED_ID_OPTIONS:
        _reject_reserved(option, requested)
        parser.add_argument(option, required=False)

    encryption_option, *encryption_choices = Job.encryption_type_options()
    _reject_reserved(encryption_option, requested)
    parser.add_argument(encryption_option, choices=encryption_choices, required=False)

    requested = [name for name in requested if name not in _TEMP_DIR_OPTIONS]
    for name in _TEMP_DIR_OPTIONS:
        parser.add_argument(f"--{name}", required=False)

    for name in requested:
        parser.add_argument(f"--{name}", required=True)

    parsed, _unknown = parser.parse_known_args(list(args[1:]))
    resolved: dict[str, Any] = vars(parsed)

    if resolved.get("TempDir") is not None:
        resolved["RedshiftTempDir"] = resolved["TempDir"]
    elif resolved.get("RedshiftTempDir") is not None:
        resolved["TempDir"] = resolved["RedshiftTempDir"]

    _resolve_bookmark_option(resolved, continuation_choices, bookmark_choices)
    _global_args.update(resolved)
    return resolved
