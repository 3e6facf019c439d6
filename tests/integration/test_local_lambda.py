"""The host-process Lambda executor: Python 3.12 functions answer, fail, time out, reach S3."""

from __future__ import annotations

import io
import json
import textwrap
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.localstack

ROLE_ARN = "arn:aws:iam::000000000000:role/mhealth-lambda-test"
LOG_DEADLINE_S = 30.0

AwsClient = Callable[[str], Any]
UniqueName = Callable[[str], str]
CreateFunction = Callable[..., str]


def zipped_module(source: str, module: str = "app") -> bytes:
    """A deployment package holding one module, built in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{module}.py", textwrap.dedent(source))
    return buffer.getvalue()


@pytest.fixture
def create_function(aws_client: AwsClient, unique_name: UniqueName) -> Iterator[CreateFunction]:
    """Create a python3.12 function from source, wait until Active; deleted after the test."""
    lambda_client = aws_client("lambda")
    created: list[str] = []

    def create(
        source: str, *, handler: str = "app.handler", timeout: int = 10, **extra: Any
    ) -> str:
        name = unique_name("mhealth-test-fn")
        lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Handler=handler,
            Role=ROLE_ARN,
            Code={"ZipFile": zipped_module(source)},
            Timeout=timeout,
            **extra,
        )
        created.append(name)
        lambda_client.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        return name

    yield create
    for name in created:
        lambda_client.delete_function(FunctionName=name)


def invoke(aws_client: AwsClient, name: str, event: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Invoke synchronously: the response metadata and the decoded payload."""
    response = aws_client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response, json.loads(response["Payload"].read())


def test_function_returns_its_payload(
    aws_client: AwsClient, create_function: CreateFunction
) -> None:
    name = create_function(
        """
        def handler(event, context):
            return {"greeting": "hello " + event["who"], "function": context.function_name}
        """
    )

    response, payload = invoke(aws_client, name, {"who": "mhealth"})

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert payload == {"greeting": "hello mhealth", "function": name}


def test_exception_is_an_unhandled_function_error(
    aws_client: AwsClient, create_function: CreateFunction
) -> None:
    name = create_function(
        """
        def handler(event, context):
            raise ValueError(f"bad input: {event['value']}")
        """
    )

    response, payload = invoke(aws_client, name, {"value": 42})

    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "bad input: 42"
    assert any("app.py" in frame and "in handler" in frame for frame in payload["stackTrace"])


def test_timeout_fails_the_invocation_and_replaces_the_environment(
    aws_client: AwsClient, create_function: CreateFunction
) -> None:
    name = create_function(
        """
        import time

        INVOCATIONS = 0

        def handler(event, context):
            global INVOCATIONS
            INVOCATIONS += 1
            time.sleep(event["sleep"])
            return INVOCATIONS
        """,
        timeout=2,
    )

    started = time.monotonic()
    response, payload = invoke(aws_client, name, {"sleep": 10})
    elapsed = time.monotonic() - started

    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in payload["errorMessage"]
    assert elapsed < 8, f"the 2 s timeout was not enforced (took {elapsed:.1f} s)"
    # A fresh runtime (module state reset) serves the next call, then stays warm.
    assert invoke(aws_client, name, {"sleep": 0})[1] == 1
    assert invoke(aws_client, name, {"sleep": 0})[1] == 2


def test_boto3_inside_reaches_local_s3_and_prints_to_cloudwatch(
    aws_client: AwsClient, create_function: CreateFunction, unique_name: UniqueName
) -> None:
    s3 = aws_client("s3")
    bucket = unique_name("mhealth-test-bucket")
    s3.create_bucket(Bucket=bucket)
    name = create_function(
        """
        import boto3

        def handler(event, context):
            # No endpoint here: boto3 reads AWS_ENDPOINT_URL, as deployed handlers do.
            boto3.client("s3").put_object(
                Bucket=event["bucket"], Key=event["key"], Body=event["body"].encode()
            )
            print(f"stored s3://{event['bucket']}/{event['key']}")
            return {"key": event["key"]}
        """
    )

    response, payload = invoke(
        aws_client, name, {"bucket": bucket, "key": "probe/hello.txt", "body": "from lambda"}
    )

    assert "FunctionError" not in response, payload
    assert payload == {"key": "probe/hello.txt"}
    stored = s3.get_object(Bucket=bucket, Key="probe/hello.txt")["Body"].read()
    assert stored == b"from lambda"
    expected_line = f"stored s3://{bucket}/probe/hello.txt"
    assert expected_line in _wait_for_log_messages(aws_client("logs"), name, expected_line)
    s3.delete_object(Bucket=bucket, Key="probe/hello.txt")
    s3.delete_bucket(Bucket=bucket)


def _wait_for_log_messages(logs: Any, function_name: str, needle: str) -> list[str]:
    """The function's CloudWatch log lines, polled until one contains ``needle`` or the deadline."""
    group = f"/aws/lambda/{function_name}"
    deadline = time.monotonic() + LOG_DEADLINE_S
    messages: list[str] = []
    while time.monotonic() < deadline:
        try:
            events = logs.filter_log_events(logGroupName=group)["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        messages = [event["message"].rstrip("\n") for event in events]
        if any(needle in message for message in messages):
            return messages
        time.sleep(0.5)
    return messages
