"""Temporary credentials of a role, as a service (Glue) gets them for the code it runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from localstack.aws.connect import connect_to

#: STS AssumeRole's bounds for DurationSeconds.
MIN_SESSION_SECONDS = 900
MAX_SESSION_SECONDS = 43200


def iam_mode() -> str:
    """``MHEALTH_IAM``: enforce (default) | log | off."""
    return os.environ.get("MHEALTH_IAM", "enforce").strip().lower() or "enforce"


@dataclass(frozen=True)
class RoleSession:
    access_key_id: str
    secret_access_key: str
    session_token: str

    def clients(self, region: str) -> Any:
        """boto3 clients on LocalStack signing with these credentials."""
        return connect_to(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
            region_name=region,
        )


def assume_role(
    role_arn: str,
    *,
    session_name: str,
    service_principal: str,
    region: str,
    duration_seconds: int,
) -> RoleSession:
    """AssumeRole on LocalStack's STS, as the service principal that runs the code."""
    duration = max(MIN_SESSION_SECONDS, min(MAX_SESSION_SECONDS, duration_seconds))
    sts = connect_to(region_name=region).sts.request_metadata(service_principal=service_principal)
    credentials = sts.assume_role(
        RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=duration
    )["Credentials"]
    return RoleSession(
        credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
    )
