"""Integration fixtures: the local AWS, started once per session, and boto3 clients bound to it.

Every test in this folder is marked ``localstack``. ``local_aws`` reuses a local AWS that is
already healthy at the configured endpoint (``MHEALTH_LOCAL_PORT`` moves it) and otherwise
starts one with the runtime manager, stopping it at the end only if this session started it.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from mhealth.local import runtime
from mhealth.local.config import LocalConfig
from mhealth.ops.deployment import Deployment

# The suite runs its own local stage, away from the one `make demo` leaves up on 4566/4599,
# unless MHEALTH_LOCAL_PORT / MHEALTH_STANDIN_PORT say otherwise.
os.environ.setdefault("MHEALTH_LOCAL_PORT", "4567")
os.environ.setdefault("MHEALTH_STANDIN_PORT", "4598")

AwsClient = Callable[[str], Any]
UniqueName = Callable[[str], str]

_HERE = Path(__file__).parent

# Fail fast instead of retrying for minutes when the emulator is gone.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, read_timeout=120)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.localstack)


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalConfig]:
    """The running local AWS's settings (``endpoint_url``, region, credentials)."""
    config = LocalConfig.from_environment()
    if runtime.is_healthy(config):
        yield config
        return
    try:
        # Fresh: the tests build the state they need, not what an earlier session saved.
        result = runtime.up(
            config, report=lambda message: print(f"[local aws] {message}"), fresh=True
        )
    except runtime.LocalRuntimeError as error:
        pytest.fail(f"cannot start the local AWS: {error}", pytrace=False)
    try:
        yield config
    finally:
        if result.started:
            runtime.down(config, report=lambda message: print(f"[local aws] {message}"))


@pytest.fixture(scope="session")
def aws_client(local_aws: LocalConfig) -> AwsClient:
    """``aws_client("s3")``: a boto3 client on the local AWS (us-east-1, test credentials)."""
    session = boto3.session.Session(
        aws_access_key_id=local_aws.access_key_id,
        aws_secret_access_key=local_aws.secret_access_key,
        region_name=local_aws.region,
    )
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(  # type: ignore[call-overload]
                service, endpoint_url=local_aws.endpoint_url, config=_CLIENT_CONFIG
            )
        return clients[service]

    return client


def make_unique_name(prefix: str) -> str:
    """``prefix-<10 hex>``: lowercase, valid as an S3 bucket, Lambda, Glue or stack name."""
    return f"{prefix.lower()}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def unique_name() -> UniqueName:
    """Names no other test (or earlier run against the same local AWS) uses."""
    return make_unique_name


@contextlib.contextmanager
def convert_role_cannot_write_stage(aws_client: AwsClient, deployment: Deployment) -> Iterator[str]:
    """The deployed convert function's role without ``s3:PutObject`` in its ``WriteStage``
    statement, and ``stage/`` emptied (an unchanged raw log is not converted again, so every
    log must be written anew); the policy is put back afterwards. Yields the role's name."""
    iam = aws_client("iam")
    role_name = aws_client("cloudformation").describe_stack_resource(
        StackName=deployment.stack_name, LogicalResourceId="ConvertFunctionRole"
    )["StackResourceDetail"]["PhysicalResourceId"]
    original = iam.get_role_policy(RoleName=role_name, PolicyName="convert")["PolicyDocument"]
    document = json.loads(original) if isinstance(original, str) else original
    narrowed = json.loads(json.dumps(document))
    for statement in narrowed["Statement"]:
        if statement.get("Sid") == "WriteStage":
            statement["Action"] = [a for a in statement["Action"] if a != "s3:PutObject"]
    s3 = aws_client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=deployment.bucket, Prefix="stage/"
    ):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=deployment.bucket, Key=item["Key"])
    iam.put_role_policy(
        RoleName=role_name, PolicyName="convert", PolicyDocument=json.dumps(narrowed)
    )
    try:
        yield role_name
    finally:
        iam.put_role_policy(
            RoleName=role_name, PolicyName="convert", PolicyDocument=json.dumps(document)
        )


@pytest.fixture
def s3(aws_client: AwsClient) -> Any:
    return aws_client("s3")


@pytest.fixture
def secrets(aws_client: AwsClient) -> Any:
    return aws_client("secretsmanager")


@pytest.fixture
def bucket(s3: Any, unique_name: UniqueName) -> Iterator[str]:
    """An empty bucket of this test's own (not a deployed stage's), emptied and removed after."""
    name = unique_name("mhealth-test")
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)
