"""The one AWS client factory: boto3 clients with bounded retries and timeouts, no endpoint in code.

The endpoint comes from boto3's own configuration: on AWS the default, locally the
``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_<SERVICE>``) the local stage sets. The region
comes from ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, overload

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_athena import AthenaClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_stepfunctions import SFNClient

#: Standard retry mode backs off on throttling and 5xx; the timeouts keep a stuck socket from
#: eating a Lambda's whole budget (botocore's default read timeout is 60 s, connect 60 s).
DEFAULT_CONFIG: Final = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=60,
    user_agent_extra="mhealth-pipeline",
)


@overload
def client(service: Literal["s3"], *, config: Config | None = None) -> S3Client: ...
@overload
def client(
    service: Literal["secretsmanager"], *, config: Config | None = None
) -> SecretsManagerClient: ...
@overload
def client(service: Literal["glue"], *, config: Config | None = None) -> GlueClient: ...
@overload
def client(service: Literal["athena"], *, config: Config | None = None) -> AthenaClient: ...
@overload
def client(service: Literal["stepfunctions"], *, config: Config | None = None) -> SFNClient: ...
@overload
def client(service: Literal["lambda"], *, config: Config | None = None) -> LambdaClient: ...
@overload
def client(service: Literal["sns"], *, config: Config | None = None) -> SNSClient: ...
@overload
def client(service: Literal["logs"], *, config: Config | None = None) -> CloudWatchLogsClient: ...
@overload
def client(
    service: Literal["cloudformation"], *, config: Config | None = None
) -> CloudFormationClient: ...
@overload
def client(service: Literal["events"], *, config: Config | None = None) -> EventBridgeClient: ...
def client(service: str, *, config: Config | None = None) -> Any:
    """A boto3 client for ``service`` with the project's retry and timeout defaults.

    A fresh session per call keeps clients independent of boto3's module-level default
    session (which caches credentials and region from the first use).
    """
    merged = DEFAULT_CONFIG if config is None else DEFAULT_CONFIG.merge(config)
    return boto3.session.Session().client(service, config=merged)  # type: ignore[call-overload]


#: Explicit credentials for :func:`client_factory`: ``(access_key_id, secret_access_key)`` or a
#: mapping with boto3's ``aws_access_key_id`` / ``aws_secret_access_key`` (/ ``aws_session_token``).
Credentials = tuple[str, str] | Mapping[str, str]


def client_factory(
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    credentials: Credentials | None = None,
    config: Config | None = None,
) -> Callable[[str], Any]:
    """A ``service -> client`` factory for tools that talk to a chosen stage (the CLI, tests).

    Lambda code uses :func:`client`; this is for a process that is not configured by its
    environment, e.g. the CLI reaching the local stage at an endpoint read from its config.
    Clients share one session and are cached per service.
    """
    session_args: dict[str, str] = {}
    if region is not None:
        session_args["region_name"] = region
    if isinstance(credentials, tuple):
        session_args["aws_access_key_id"], session_args["aws_secret_access_key"] = credentials
    elif credentials is not None:
        session_args.update(credentials)
    session = boto3.session.Session(**session_args)  # type: ignore[arg-type]
    merged = DEFAULT_CONFIG if config is None else DEFAULT_CONFIG.merge(config)
    cache: dict[str, Any] = {}

    def make(service: str) -> Any:
        if service not in cache:
            cache[service] = session.client(
                service,  # type: ignore[call-overload]
                endpoint_url=endpoint_url,
                config=merged,
            )
        return cache[service]

    return make
