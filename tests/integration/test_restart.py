"""State that survives `mhealth local down` / `up`; `mhealth local up --fresh` starts empty.

This test runs its own local AWS (free ports, a state dir under tmp_path), started and stopped
with the CLI as a user would, so the session's shared local AWS is left alone. LocalStack's own
persistence (PERSISTENCE=1) is LocalStack Pro only
(https://docs.localstack.cloud/aws/capabilities/state-management/persistence/ names the Pro
image); the extension writes the snapshot instead (mhealth_localstack/persistence.py).
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mhealth.local.config import LocalConfig

MHEALTH = str(Path(sys.executable).parent / "mhealth")
DEADLINE_S = 60.0
TRUST_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}
INVOKE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}],
}
HANDLER = """
import os

def handler(event, context):
    return {"echo": event, "greeting": os.environ["GREETING"]}
"""
# A CloudFormation stack of its own, with resources of two services.
TEMPLATE = {
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "restart-cfn-topic"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "restart-cfn-queue"}},
    },
    "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}},
}
ROWS = {"1": [("Walking", 1.5), ("Running", 2.5)], "2": [("Cycling", -3.0)]}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class OwnStack:
    """A local AWS of this test's own: its environment, settings and clients."""

    environ: dict[str, str]
    config: LocalConfig

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [MHEALTH, "local", *args],
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.config.endpoint_url,
            region_name=self.config.region,
            aws_access_key_id=self.config.access_key_id,
            aws_secret_access_key=self.config.secret_access_key,
            config=Config(retries={"mode": "standard", "max_attempts": 3}, read_timeout=120),
        )


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnStack]:
    state = tmp_path_factory.mktemp("restart") / "state"
    environ = {
        **os.environ,
        "MHEALTH_LOCAL_PORT": str(_free_port()),
        "MHEALTH_STANDIN_PORT": str(_free_port()),
        "MHEALTH_LOCAL_STATE_DIR": str(state),
    }
    stack = OwnStack(environ, LocalConfig.from_environment(environ))
    try:
        yield stack
    finally:
        stack.cli("down")


def _up(stack: OwnStack, *flags: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = stack.cli("up", *flags)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    return result, took


def _down(stack: OwnStack) -> float:
    started = time.monotonic()
    result = stack.cli("down")
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert "killed" not in result.stdout, result.stdout  # stopped within the grace period
    return took


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def _parquet(rows: list[tuple[str, float]]) -> bytes:
    table = pa.table(
        {
            "activity": pa.array([r[0] for r in rows], pa.string()),
            "sensor1": pa.array([r[1] for r in rows], pa.float64()),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _until(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.5)
    pytest.fail(f"{what} not within {DEADLINE_S} s")


def _athena(stack: OwnStack, query: str, output: str) -> tuple[str, list[list[str]]]:
    athena = stack.client("athena")
    query_id: str = athena.start_query_execution(
        QueryString=query, ResultConfiguration={"OutputLocation": output}
    )["QueryExecutionId"]

    def finished() -> str | None:
        state: str = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"][
            "Status"
        ]["State"]
        return state if state in ("SUCCEEDED", "FAILED", "CANCELLED") else None

    assert _until(finished, f"query {query_id}") == "SUCCEEDED"
    rows = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"]
    return query_id, [[cell.get("VarCharValue", "") for cell in row["Data"]] for row in rows]


def _run_state_machine(stack: OwnStack, arn: str, payload: dict[str, Any]) -> dict[str, Any]:
    sfn = stack.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]

    def finished() -> dict[str, Any] | None:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        return None if described["status"] == "RUNNING" else described

    described: dict[str, Any] = _until(finished, "the state machine's execution")
    return described


@dataclass
class Deployed:
    bucket: str
    big: bytes
    machine_arn: str
    named_query: str
    topic_arn: str
    queue_arn: str
    query_id: str
    execution_arn: str


def _deploy(own_stack: OwnStack) -> Deployed:
    """A bucket with data, a catalog table over it, a Glue job, a role, a function, a state
    machine, a secret, a work group, a topic with a queue, a CloudFormation stack."""
    s3, glue, iam = (own_stack.client(n) for n in ("s3", "glue", "iam"))
    lam, sfn, cfn = (own_stack.client(n) for n in ("lambda", "stepfunctions", "cloudformation"))
    secrets, athena, sns, sqs = (
        own_stack.client(n) for n in ("secretsmanager", "athena", "sns", "sqs")
    )

    bucket = "restart-data"
    s3.create_bucket(Bucket=bucket)
    big = os.urandom(3 * 1024 * 1024)  # larger than what LocalStack keeps in memory per object
    s3.put_object(Bucket=bucket, Key="raw/small.txt", Body=b"hello restart")
    s3.put_object(Bucket=bucket, Key="raw/big.bin", Body=big)
    for user_id, rows in ROWS.items():
        s3.put_object(
            Bucket=bucket, Key=f"processed/user_id={user_id}/part-0.parquet", Body=_parquet(rows)
        )
    glue.create_database(DatabaseInput={"Name": "restart_db"})
    storage = {
        "Columns": [{"Name": "activity", "Type": "string"}, {"Name": "sensor1", "Type": "double"}],
        "Location": f"s3://{bucket}/processed/",
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
        },
    }
    glue.create_table(
        DatabaseName="restart_db",
        TableInput={
            "Name": "readings",
            "TableType": "EXTERNAL_TABLE",
            "StorageDescriptor": storage,
            "PartitionKeys": [{"Name": "user_id", "Type": "string"}],
        },
    )
    glue.batch_create_partition(
        DatabaseName="restart_db",
        TableName="readings",
        PartitionInputList=[
            {
                "Values": [user_id],
                "StorageDescriptor": {
                    **storage,
                    "Location": f"s3://{bucket}/processed/user_id={user_id}/",
                },
            }
            for user_id in ROWS
        ],
    )
    role_arn = iam.create_role(
        RoleName="restart-role", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA)
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="restart-role", PolicyName="invoke", PolicyDocument=json.dumps(INVOKE_POLICY)
    )
    glue.create_job(
        Name="restart-job",
        Role=role_arn,
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/scripts/job.py"},
        GlueVersion="5.0",
    )
    lam.create_function(
        FunctionName="restart-fn",
        Runtime="python3.12",
        Handler="app.handler",
        Role=role_arn,
        Code={"ZipFile": _zip(HANDLER)},
        Environment={"Variables": {"GREETING": "still here"}},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="restart-fn")
    machine_arn = sfn.create_state_machine(
        name="restart-machine",
        roleArn=role_arn,
        definition=json.dumps(
            {
                "StartAt": "Invoke",
                "States": {
                    "Invoke": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": "restart-fn", "Payload.$": "$"},
                        "OutputPath": "$.Payload",
                        "End": True,
                    }
                },
            }
        ),
    )["stateMachineArn"]
    secrets.create_secret(Name="restart/kaggle", SecretString='{"username": "u", "key": "k"}')
    athena.create_work_group(
        Name="restart-wg",
        Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{bucket}/wg/"}},
    )
    named_query = athena.create_named_query(
        Name="per-user", Database="restart_db", QueryString="SELECT 1", WorkGroup="restart-wg"
    )["NamedQueryId"]
    topic_arn = sns.create_topic(Name="restart-failures")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="restart-watch")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    cfn.create_stack(StackName="restart-stack", TemplateBody=json.dumps(TEMPLATE))
    cfn.get_waiter("stack_create_complete").wait(
        StackName="restart-stack", WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    before_id, before_rows = _athena(
        own_stack, "SELECT COUNT(*) FROM restart_db.readings", f"s3://{bucket}/results/"
    )
    assert before_rows == [["_col0"], ["3"]]
    before_run = _run_state_machine(own_stack, machine_arn, {"n": 1})
    assert before_run["status"] == "SUCCEEDED", before_run

    return Deployed(
        bucket=bucket,
        big=big,
        machine_arn=machine_arn,
        named_query=named_query,
        topic_arn=topic_arn,
        queue_arn=queue_arn,
        query_id=before_id,
        execution_arn=before_run["executionArn"],
    )


def _check_restored(own_stack: OwnStack, d: Deployed) -> None:
    bucket, big, topic_arn, queue_arn = d.bucket, d.big, d.topic_arn, d.queue_arn
    s3, glue, iam = (own_stack.client(n) for n in ("s3", "glue", "iam"))
    sfn, cfn = (own_stack.client(n) for n in ("stepfunctions", "cloudformation"))
    secrets, athena, sns, sqs = (
        own_stack.client(n) for n in ("secretsmanager", "athena", "sns", "sqs")
    )
    assert s3.get_object(Bucket=bucket, Key="raw/small.txt")["Body"].read() == b"hello restart"
    assert s3.get_object(Bucket=bucket, Key="raw/big.bin")["Body"].read() == big
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="processed/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [
        "processed/user_id=1/part-0.parquet",
        "processed/user_id=2/part-0.parquet",
    ]
    table = glue.get_table(DatabaseName="restart_db", Name="readings")["Table"]
    assert table["StorageDescriptor"]["Location"] == f"s3://{bucket}/processed/"
    partitions = glue.get_partitions(DatabaseName="restart_db", TableName="readings")
    assert sorted(p["Values"] for p in partitions["Partitions"]) == [["1"], ["2"]]
    assert glue.get_job(JobName="restart-job")["Job"]["Command"]["ScriptLocation"] == (
        f"s3://{bucket}/scripts/job.py"
    )
    assert iam.get_role_policy(RoleName="restart-role", PolicyName="invoke")["RoleName"] == (
        "restart-role"
    )
    assert json.loads(secrets.get_secret_value(SecretId="restart/kaggle")["SecretString"]) == {
        "username": "u",
        "key": "k",
    }
    assert athena.get_work_group(WorkGroup="restart-wg")["WorkGroup"]["Configuration"][
        "ResultConfiguration"
    ] == {"OutputLocation": f"s3://{bucket}/wg/"}
    assert athena.get_named_query(NamedQueryId=d.named_query)["NamedQuery"]["Name"] == "per-user"
    old = athena.get_query_execution(QueryExecutionId=d.query_id)["QueryExecution"]
    assert old["Status"]["State"] == "SUCCEEDED"
    assert athena.get_query_results(QueryExecutionId=d.query_id)["ResultSet"]["Rows"][1] == {
        "Data": [{"VarCharValue": "3"}]
    }
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert [s["Endpoint"] for s in subscriptions] == [queue_arn]
    assert sqs.get_queue_url(QueueName="restart-watch")["QueueUrl"].endswith("/restart-watch")
    stack = cfn.describe_stacks(StackName="restart-stack")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Outputs"][0]["OutputValue"] == topic_arn.replace(
        "restart-failures", "restart-cfn-topic"
    )
    assert sfn.describe_execution(executionArn=d.execution_arn)["status"] == "SUCCEEDED"


def _check_it_runs(own_stack: OwnStack, d: Deployed) -> None:
    """A Lambda invoke, the state machine end to end, an Athena query on the restored table."""
    lam = own_stack.client("lambda")
    invoked = lam.invoke(FunctionName="restart-fn", Payload=b'{"after": "restart"}')
    assert "FunctionError" not in invoked
    assert json.loads(invoked["Payload"].read()) == {
        "echo": {"after": "restart"},
        "greeting": "still here",
    }
    after_run = _run_state_machine(own_stack, d.machine_arn, {"n": 2})
    assert after_run["status"] == "SUCCEEDED", after_run
    assert json.loads(after_run["output"]) == {"echo": {"n": 2}, "greeting": "still here"}
    _, rows = _athena(
        own_stack,
        "SELECT user_id, COUNT(*) AS n, SUM(sensor1) AS total FROM restart_db.readings "
        "GROUP BY user_id ORDER BY user_id",
        f"s3://{d.bucket}/results/",
    )
    assert rows == [["user_id", "n", "total"], ["1", "2", "4.0"], ["2", "1", "-3.0"]]


def _check_empty(own_stack: OwnStack) -> None:
    s3, glue, lam = (own_stack.client(n) for n in ("s3", "glue", "lambda"))
    sfn, cfn, secrets = (
        own_stack.client(n) for n in ("stepfunctions", "cloudformation", "secretsmanager")
    )
    assert s3.list_buckets()["Buckets"] == []
    assert [d["Name"] for d in glue.get_databases()["DatabaseList"]] in ([], ["default"])
    assert lam.list_functions()["Functions"] == []
    assert sfn.list_state_machines()["stateMachines"] == []
    assert cfn.describe_stacks()["Stacks"] == []
    assert secrets.list_secrets()["SecretList"] == []
    with pytest.raises(ClientError):
        glue.get_job(JobName="restart-job")


def test_down_up_keeps_the_state_and_up_fresh_starts_empty(own_stack: OwnStack) -> None:
    _down(own_stack)  # whatever another test left running
    _up(own_stack, "--fresh")
    deployed = _deploy(own_stack)

    # -- restart
    down_s = _down(own_stack)
    manifest = json.loads((own_stack.config.snapshot_dir / "manifest.json").read_text())
    assert {"s3", "lambda", "glue", "athena", "stepfunctions", "cloudformation"} <= set(
        manifest["services"]
    )
    up_result, up_s = _up(own_stack)
    assert "Restoring the saved state" in up_result.stdout
    print(f"down {down_s:.1f} s, up {up_s:.1f} s")

    _check_restored(own_stack, deployed)
    _check_it_runs(own_stack, deployed)

    _down(own_stack)
    fresh, _ = _up(own_stack, "--fresh")
    assert "Removed the saved state" in fresh.stdout
    _check_empty(own_stack)


def test_up_fresh_refuses_while_up(own_stack: OwnStack) -> None:
    _up(own_stack)
    result = own_stack.cli("up", "--fresh")
    # A request that does not fit the running stack: bad usage (README, exit codes).
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: mhealth local up: the local AWS is already up (pids "
        f"{', '.join(str(p) for p in _pids(own_stack))}): run `mhealth local down` first, then "
        "`mhealth local up --fresh`."
    )
    assert "Traceback" not in result.stderr


def _pids(stack: OwnStack) -> list[int]:
    record = json.loads(stack.config.record_path.read_text())
    return [int(p["pid"]) for p in record["processes"]]
