"""The CLI's error path against the local AWS: a stage that is not deployed, a failing
execution followed with ``run --wait``, a failing Athena query. Each runs the ``mhealth``
console script in a subprocess and asserts the one line on stderr, the exit code and that
no traceback (or raw JSON) shows. (The cases that need no stack are in
tests/unit/test_cli_errors.py.)
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import pytest

from mhealth.local.config import LocalConfig
from mhealth.local.pipeline import prepare
from mhealth.ops.deployment import Deployment
from tests.cli_run import JOB_FAILED, UNREACHABLE, assert_one_error_line, mhealth
from tests.integration.conftest import AwsClient, convert_role_cannot_write_stage

#: A run --wait follows a whole execution.
RUN_TIMEOUT_S = 600
# The dataset tests/integration/test_pipeline.py publishes, so that either module finds the
# stand-in serving what it expects whichever runs first.
SCALE = 0.02
SEED = 7


@pytest.fixture
def cli_env(local_aws: LocalConfig) -> dict[str, str]:
    """The CLI's environment for the local stage this session runs (its ports)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(
        MHEALTH_LOCAL_PORT=str(local_aws.edge_port),
        MHEALTH_STANDIN_PORT=str(local_aws.standin_port),
    )
    return environment


@pytest.fixture(scope="module")
def deployed(local_aws: LocalConfig, aws_client: AwsClient) -> Deployment:
    """The local stage deployed (a no-op for sls when nothing changed)."""
    local = prepare(
        local_aws, scale=SCALE, seed=SEED, report=lambda message: print(f"[prepare] {message}")
    )
    return local.deployment


@pytest.fixture
def wrong_kaggle_credentials(deployed: Deployment, aws_client: AwsClient) -> Iterator[str]:
    """The stage's Kaggle secret holds credentials the stand-in rejects, for this test only
    (a Download that fails writes nothing, so putting the secret back restores the stage)."""
    secrets = aws_client("secretsmanager")
    name = deployed.kaggle_secret_name
    original = secrets.get_secret_value(SecretId=name)["SecretString"]
    secrets.put_secret_value(
        SecretId=name, SecretString=json.dumps({"username": "someone", "key": "wrong-key"})
    )
    try:
        yield name
    finally:
        secrets.put_secret_value(SecretId=name, SecretString=original)


@pytest.mark.parametrize("command", [["query", "SELECT 1"], ["run", "--wait"]])
def test_a_stage_that_is_not_deployed_exits_3_from_run_and_query(
    command: list[str], local_aws: LocalConfig, cli_env: dict[str, str]
) -> None:
    """An AWS stage (here: the local AWS through AWS_ENDPOINT_URL, as boto3 reads it) with no
    stack. DescribeStacks answers a missing stack with ValidationError
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html)."""
    stage = f"nodeploy-{uuid.uuid4().hex[:8]}"
    env = {
        **cli_env,
        "AWS_ENDPOINT_URL": local_aws.endpoint_url,
        "AWS_DEFAULT_REGION": local_aws.region,
        "AWS_ACCESS_KEY_ID": local_aws.access_key_id,
        "AWS_SECRET_ACCESS_KEY": local_aws.secret_access_key,
    }
    verb, *rest = command
    run = mhealth(verb, "--stage", stage, *rest, env=env, timeout=RUN_TIMEOUT_S)

    assert_one_error_line(
        run, UNREACHABLE, f"stage '{stage}' is not deployed", f"npx sls deploy --stage {stage}"
    )
    assert "started" not in run.stdout  # nothing was started


def test_run_wait_marks_the_failed_step_and_says_its_cause_once(
    deployed: Deployment, wrong_kaggle_credentials: str, cli_env: dict[str, str]
) -> None:
    run = mhealth("run", "--stage", "local", "--wait", env=cli_env, timeout=RUN_TIMEOUT_S)

    line = assert_one_error_line(
        run, JOB_FAILED, "execution FAILED at step Download: KaggleAuthError: ", "someone"
    )
    # The step is shown as failed, never as done.
    assert "✗ Download" in run.stdout
    assert "✓ Download" not in run.stdout
    # The cause is said once, on stderr, decoded: no JSON, no escapes, no stack trace.
    output = run.stdout + run.stderr
    assert output.count("'someone'") == 1  # the cause names the rejected user
    assert wrong_kaggle_credentials in line  # and the secret to fix
    for raw in ("\\u", '"errorMessage"', "stackTrace", 'File "'):
        assert raw not in output, raw
    assert "--debug" in line  # the step's stack trace is there on request


def test_run_wait_with_debug_adds_the_steps_stack_trace(
    deployed: Deployment, wrong_kaggle_credentials: str, cli_env: dict[str, str]
) -> None:
    run = mhealth(
        "--debug", "run", "--stage", "local", "--wait", env=cli_env, timeout=RUN_TIMEOUT_S
    )

    assert run.code == JOB_FAILED
    assert "✗ Download" in run.stdout
    # The Lambda's own stack trace (Python frames of the download step), then the line.
    assert 'File "' in run.stderr and "download" in run.stderr
    assert run.error_lines[-1].startswith("error: execution FAILED at step Download: ")


def test_a_failing_query_exits_1_with_athenas_reason(
    deployed: Deployment, cli_env: dict[str, str]
) -> None:
    run = mhealth(
        "query",
        "--stage",
        "local",
        'SELECT * FROM "mhealth_db"."no_such_table"',
        env=cli_env,
        timeout=RUN_TIMEOUT_S,
    )

    assert_one_error_line(run, JOB_FAILED, "Athena query FAILED", "no_such_table")


@pytest.fixture
def convert_cannot_write_stage(deployed: Deployment, aws_client: AwsClient) -> Iterator[None]:
    """The convert function's role loses s3:PutObject for this test only (conftest)."""
    with convert_role_cannot_write_stage(aws_client, deployed):
        yield


def test_run_wait_marks_a_failed_map_iteration_and_its_map_state(
    deployed: Deployment, convert_cannot_write_stage: None, cli_env: dict[str, str]
) -> None:
    """A failing ConvertFile fails the Convert Map state that runs it: both show ✗."""
    run = mhealth("run", "--stage", "local", "--wait", env=cli_env, timeout=RUN_TIMEOUT_S)

    assert_one_error_line(run, JOB_FAILED, "at step ConvertFile: ", "AccessDenied")
    assert "✓ Download" in run.stdout
    assert "✗ Convert  " in run.stdout
    assert "✓ Convert  " not in run.stdout
    assert "→ Transform" not in run.stdout
