"""One error path for the ``mhealth`` command.

A subcommand that meets a user mistake or an expected fault raises a :class:`CliError`; the
entry point (``mhealth.cli.main``) prints it as one line on stderr,

    error: <what is wrong> — <what to do>

and exits with the error's code. The codes (the README's table):

=====  =====================================================================================
 0     done
 1     the job failed: an execution, a query, a conversion or a deploy ran and failed
 2     bad usage: arguments, an empty SQL string, a bad time, a missing or empty input,
       a scale out of range; found before anything starts
 3     not reachable: no region, no credentials, the local AWS not running, the stage not
       deployed
=====  =====================================================================================

``--debug`` (or ``MHEALTH_DEBUG=1``) adds the traceback and any details kept for bug reports.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, Final

if TYPE_CHECKING:
    from mhealth.local.config import LocalConfig

EXIT_OK: Final = 0
EXIT_JOB_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_UNREACHABLE: Final = 3

#: Error codes AWS answers when the caller's credentials are wrong, expired or not allowed.
_CREDENTIAL_CODES: Final = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthFailure",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)


class CliError(Exception):
    """A failure the user can act on: ``message`` says what is wrong, ``hint`` what to do.

    ``details`` (e.g. a failed step's stack trace) is printed only with ``--debug``.
    """

    exit_code: ClassVar[int] = EXIT_JOB_FAILED

    def __init__(self, message: str, hint: str | None = None, *, details: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def line(self) -> str:
        """The one line the entry point prints: ``error: <message> — <hint>``."""
        text = f"error: {self.message}" + (f" — {self.hint}" if self.hint else "")
        return one_line(text)


class UsageError(CliError):
    """Bad arguments or input, found before anything starts (exit 2)."""

    exit_code = EXIT_USAGE


class JobFailedError(CliError):
    """The work ran and failed: an execution, a query, a conversion, a deploy (exit 1)."""

    exit_code = EXIT_JOB_FAILED


class UnreachableError(CliError):
    """No region, no credentials, the local AWS down or the stage not deployed (exit 3)."""

    exit_code = EXIT_UNREACHABLE


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) folded into one space."""
    return re.sub(r"\s+", " ", text).strip()


def local_config() -> LocalConfig:
    """The local AWS's settings from the environment; a bad ``MHEALTH_*`` value is a
    ``UsageError``."""
    from mhealth.local.config import LocalConfig

    try:
        return LocalConfig.from_environment()
    except ValueError as error:
        raise UsageError(str(error), "fix or unset that environment variable") from error


def local_not_running(endpoint_url: str) -> UnreachableError:
    return UnreachableError(
        f"the local AWS is not running at {endpoint_url}",
        "start it with `make up` (or `mhealth local up`), with the same MHEALTH_LOCAL_PORT",
    )


def from_aws(exc: Exception, *, stage: str, endpoint_url: str | None = None) -> CliError:
    """The :class:`CliError` for an exception botocore raised while talking to ``stage``
    (``endpoint_url``: the local AWS's, for the local stage)."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        return _from_client_error(exc, stage)
    if isinstance(exc, BotoCoreError):
        return _from_botocore_error(exc, stage, endpoint_url)
    raise TypeError(f"not an AWS client error: {exc!r}") from exc


def _from_botocore_error(exc: Exception, stage: str, endpoint_url: str | None) -> CliError:
    """Errors botocore raises before or instead of an answer from AWS."""
    from botocore import exceptions as aws

    if isinstance(exc, aws.NoRegionError):
        return UnreachableError(
            f"no AWS region is set for stage {stage!r}",
            "pass --region REGION or set AWS_DEFAULT_REGION (or a region in your AWS config)",
        )
    if isinstance(exc, aws.NoCredentialsError | aws.PartialCredentialsError):
        return UnreachableError(
            f"no AWS credentials found for stage {stage!r}",
            "configure them (`aws configure`, AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY)",
        )
    if isinstance(exc, aws.EndpointConnectionError | aws.ConnectTimeoutError):
        if endpoint_url is not None:
            return local_not_running(endpoint_url)
        where = getattr(exc, "kwargs", {}).get("endpoint_url", "AWS")
        return UnreachableError(f"cannot reach {where}", "check the network and --region")
    if isinstance(exc, aws.ParamValidationError):
        report = str(exc).removeprefix("Parameter validation failed:")
        return UsageError(f"AWS rejected the request's parameters: {report}", "check the arguments")
    return UnreachableError(
        f"talking to stage {stage!r} failed: {exc}", "check the network and try again"
    )


def _from_client_error(exc: Any, stage: str) -> CliError:
    """An error AWS answered (botocore's ``ClientError``)."""
    error = exc.response.get("Error", {})
    code, message = error.get("Code", "Unknown"), error.get("Message", "")
    if code in _CREDENTIAL_CODES:
        return UnreachableError(
            f"AWS refused the credentials for stage {stage!r}: {code}: {message}",
            "check your credentials and their permissions (AWS_PROFILE)",
        )
    return JobFailedError(f"{exc.operation_name} failed on stage {stage!r}: {code}: {message}")


@contextmanager
def aws_errors(stage: str, endpoint_url: str | None = None) -> Iterator[None]:
    """Turns botocore's exceptions raised inside into :class:`CliError` (see ``from_aws``)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise from_aws(exc, stage=stage, endpoint_url=endpoint_url) from exc
