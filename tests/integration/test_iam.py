"""IAM on the local stage: requests signed with a role's temporary credentials are evaluated
against the role's policies, and refused with the service's own error where AWS would refuse.

Each test builds its own role (inline policy), bucket and function; the last test breaks the
deployed pipeline's convert role and puts it back.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from mhealth.local.config import LocalConfig
from mhealth.local.pipeline import prepare
from mhealth.ops.execution import follow_execution, start_execution
from tests.integration.conftest import convert_role_cannot_write_stage

AwsClient = Callable[[str], Any]
UniqueName = Callable[[str], str]
Statement = dict[str, Any]

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@dataclass(frozen=True)
class Role:
    name: str
    arn: str
    session: boto3.session.Session
    endpoint_url: str

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]


@pytest.fixture
def make_role(
    local_aws: LocalConfig, aws_client: AwsClient, unique_name: UniqueName
) -> Iterator[Callable[[list[Statement]], Role]]:
    """``make_role(statements)``: a new role with that inline policy, and a session as it."""
    iam, sts = aws_client("iam"), aws_client("sts")
    created: list[str] = []

    def make(statements: list[Statement]) -> Role:
        name = unique_name("iam-test-role")
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))[
            "Role"
        ]["Arn"]
        created.append(name)
        iam.put_role_policy(
            RoleName=name,
            PolicyName="test",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
        credentials = sts.assume_role(RoleArn=arn, RoleSessionName="iam-test")["Credentials"]
        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=local_aws.region,
        )
        return Role(name, arn, session, local_aws.endpoint_url)

    yield make
    for name in created:
        iam.delete_role_policy(RoleName=name, PolicyName="test")
        iam.delete_role(RoleName=name)


@pytest.fixture
def bucket(bucket: str, s3: Any) -> str:
    """The test's own bucket (conftest), holding ``raw/a.log``, ``stage/a.parquet`` and
    ``private/secret.txt``."""
    for key in ("raw/a.log", "stage/a.parquet", "private/secret.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def _error(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return {
        "code": response["Error"].get("Code"),
        "message": response["Error"].get("Message") or "",
        "status": response["ResponseMetadata"]["HTTPStatusCode"],
    }


def test_deny_statement_beats_allow(make_role: Callable[..., Role], bucket: str) -> None:
    role = make_role(
        [
            {"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bucket}/*"},
            {
                "Sid": "NoPrivate",
                "Effect": "Deny",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/private/*",
            },
        ]
    )
    s3 = role.client("s3")
    assert s3.get_object(Bucket=bucket, Key="raw/a.log")["Body"].read() == b"raw/a.log"
    error = _error(lambda: s3.get_object(Bucket=bucket, Key="private/secret.txt"))
    assert error["code"] == "AccessDenied"
    assert error["status"] == 403
    assert error["message"] == (
        f"User: arn:aws:sts::000000000000:assumed-role/{role.name}/iam-test is not authorized "
        f"to perform: s3:GetObject on resource: arn:aws:s3:::{bucket}/private/secret.txt "
        "with an explicit deny in an identity-based policy"
    )


def test_string_like_prefix_allows_listing_stage_and_denies_raw(
    make_role: Callable[..., Role], bucket: str
) -> None:
    role = make_role(
        [
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": ["stage/*"]}},
            }
        ]
    )
    s3 = role.client("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="stage/")
    assert [item["Key"] for item in listed["Contents"]] == ["stage/a.parquet"]
    error = _error(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="raw/"))
    assert (error["code"], error["status"]) == ("AccessDenied", 403)
    assert "because no identity-based policy allows the s3:ListBucket action" in error["message"]
    # No s3:prefix at all (the whole bucket) does not satisfy the condition either.
    assert _error(lambda: s3.list_objects_v2(Bucket=bucket))["code"] == "AccessDenied"


def test_wrong_resource_arn_denies(
    make_role: Callable[..., Role], bucket: str, aws_client: AwsClient, unique_name: UniqueName
) -> None:
    secrets = aws_client("secretsmanager")
    secret_arn = secrets.create_secret(Name=unique_name("iam-secret"), SecretString="{}")["ARN"]
    role = make_role(
        [
            # A typo'd bucket and a secret ARN without its random suffix: both match nothing.
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}x/*"},
            {
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": secret_arn.rsplit("-", 1)[0],
            },
        ]
    )
    try:
        s3_error = _error(lambda: role.client("s3").get_object(Bucket=bucket, Key="raw/a.log"))
        assert (s3_error["code"], s3_error["status"]) == ("AccessDenied", 403)
        secret_error = _error(
            lambda: role.client("secretsmanager").get_secret_value(SecretId=secret_arn)
        )
        assert secret_error["code"] == "AccessDeniedException"
        assert f"on resource: {secret_arn} because" in secret_error["message"]
    finally:
        secrets.delete_secret(SecretId=secret_arn, ForceDeleteWithoutRecovery=True)


def test_missing_key_is_403_without_list_permission_and_404_with_it(
    make_role: Callable[..., Role], bucket: str
) -> None:
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    listing = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}
    without = make_role([read]).client("s3")
    with_list = make_role([read, listing]).client("s3")
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html ("Permissions")
    assert _error(lambda: without.head_object(Bucket=bucket, Key="raw/missing"))["status"] == 403
    assert _error(lambda: without.get_object(Bucket=bucket, Key="raw/missing"))["code"] == (
        "AccessDenied"
    )
    assert _error(lambda: with_list.head_object(Bucket=bucket, Key="raw/missing"))["status"] == 404
    assert _error(lambda: with_list.get_object(Bucket=bucket, Key="raw/missing"))["code"] == (
        "NoSuchKey"
    )


def test_wrong_secret_for_a_known_key_is_signature_does_not_match(
    make_role: Callable[..., Role], bucket: str, local_aws: LocalConfig
) -> None:
    role = make_role([{"Effect": "Allow", "Action": "*", "Resource": "*"}])
    credentials = role.session.get_credentials()
    assert credentials is not None
    forged = boto3.session.Session(
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key="not-" + credentials.secret_key,
        aws_session_token=credentials.token,
        region_name=local_aws.region,
    )
    s3 = forged.client("s3", endpoint_url=local_aws.endpoint_url)
    error = _error(lambda: s3.get_object(Bucket=bucket, Key="raw/a.log"))
    assert (error["code"], error["status"]) == ("SignatureDoesNotMatch", 403)
    sqs = forged.client("sts", endpoint_url=local_aws.endpoint_url)
    assert _error(sqs.get_caller_identity)["code"] == "SignatureDoesNotMatch"
    # The right secret works, with every permission.
    assert role.client("s3").get_object(Bucket=bucket, Key="raw/a.log")["Body"].read()


def test_plain_local_credentials_stay_administrator(aws_client: AwsClient, bucket: str) -> None:
    body = aws_client("s3").get_object(Bucket=bucket, Key="private/secret.txt")["Body"].read()
    assert body == b"private/secret.txt"


FUNCTION_CODE = """
import boto3

def handler(event, context):
    s3 = boto3.client("s3")
    results = {"caller": boto3.client("sts").get_caller_identity()["Arn"]}
    for key in ("allowed/out.txt", "denied/out.txt"):
        try:
            s3.put_object(Bucket=event["bucket"], Key=key, Body=b"x")
            results[key] = "ok"
        except Exception as error:
            results[key] = error.response["Error"]["Code"]
    return results
"""


def test_a_function_acts_as_its_role(
    make_role: Callable[..., Role],
    bucket: str,
    aws_client: AwsClient,
    unique_name: UniqueName,
) -> None:
    role = make_role(
        [
            {
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/allowed/*",
            }
        ]
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("function.py", FUNCTION_CODE)
    lambda_ = aws_client("lambda")
    name = unique_name("iam-fn")
    lambda_.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role.arn,
        Handler="function.handler",
        Code={"ZipFile": archive.getvalue()},
        Timeout=60,
    )
    try:
        lambda_.get_waiter("function_active_v2").wait(FunctionName=name)
        response = lambda_.invoke(FunctionName=name, Payload=json.dumps({"bucket": bucket}))
        result = json.loads(response["Payload"].read())
    finally:
        lambda_.delete_function(FunctionName=name)
    assert "FunctionError" not in response, result
    assert result == {
        "caller": f"arn:aws:sts::000000000000:assumed-role/{role.name}/{name}",
        "allowed/out.txt": "ok",
        "denied/out.txt": "AccessDenied",
    }


# ------------------------------------------------------------------ the deployed pipeline


@pytest.fixture(scope="module")
def deployed(local_aws: LocalConfig, aws_client: AwsClient) -> Any:
    local = prepare(
        local_aws, scale=0.02, seed=7, report=lambda message: print(f"[prepare] {message}")
    )
    return local.deployment


def _failure_queue(
    aws_client: AwsClient, topic_arn: str, unique_name: UniqueName
) -> tuple[str, str]:
    sqs, sns = aws_client("sqs"), aws_client("sns")
    queue_url = sqs.create_queue(QueueName=unique_name("iam-failures"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)[
        "SubscriptionArn"
    ]
    return queue_url, subscription


def _drain(aws_client: AwsClient, queue_url: str, seconds: float = 15.0) -> list[str]:
    sqs, messages = aws_client("sqs"), []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2
        ).get("Messages", [])
        for message in batch:
            messages.append(json.loads(message["Body"]).get("Message", message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def test_convert_without_put_on_stage_fails_with_access_denied_and_one_alert(
    deployed: Any, aws_client: AwsClient, unique_name: UniqueName
) -> None:
    queue_url, subscription = _failure_queue(aws_client, deployed.failure_topic_arn, unique_name)
    try:
        with convert_role_cannot_write_stage(aws_client, deployed) as role_name:
            sfn = aws_client("stepfunctions")
            arn = start_execution(sfn, deployed.state_machine_arn, {})
            outcome = follow_execution(sfn, arn, timeout_seconds=600)
            messages = _drain(aws_client, queue_url)
    finally:
        aws_client("sns").unsubscribe(SubscriptionArn=subscription)
        aws_client("sqs").delete_queue(QueueUrl=queue_url)

    assert outcome.status == "FAILED"
    assert outcome.failed_step == "ConvertFile"  # the Map's task
    assert "AccessDenied" in (outcome.cause or "")
    assert f"assumed-role/{role_name}/" in (outcome.cause or "")
    assert "s3:PutObject" in (outcome.cause or "")
    assert len(messages) == 1
    assert "AccessDenied" in messages[0]
