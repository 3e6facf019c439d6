"""Local Glue: job scripts from S3 run in local PySpark, from Step Functions and CloudFormation."""

from __future__ import annotations

import io
import json
import textwrap
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from mhealth.local.config import REPO_ROOT

pytestmark = pytest.mark.localstack

AwsClient = Callable[[str], Any]

ROLE_ARN = "arn:aws:iam::000000000000:role/mhealth-glue-test"
TERMINAL_RUN_STATES = {"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR", "EXPIRED"}
SPARK_RUN_DEADLINE_S = 240.0  # a cold local Spark on a 2-core host takes about 10-20 s
PLAIN_RUN_DEADLINE_S = 90.0

SPARK_GROUP_COUNT_SCRIPT = """
import json
import sys

import boto3
from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql import functions as F

args = getResolvedOptions(sys.argv, ["JOB_NAME", "result_bucket", "result_key"])
glue_context = GlueContext(SparkContext.getOrCreate())
spark = glue_context.spark_session
job = Job(glue_context)
job.init(args["JOB_NAME"], args)

rows = (
    spark.range(1000)
    .withColumn("bucket", F.col("id") % 7)
    .groupBy("bucket")
    .agg(F.count("*").alias("rows"), F.sum("id").alias("id_sum"))
    .orderBy("bucket")
    .collect()
)
result = {str(row["bucket"]): [row["rows"], row["id_sum"]] for row in rows}
boto3.client("s3").put_object(
    Bucket=args["result_bucket"], Key=args["result_key"], Body=json.dumps(result).encode()
)
job.commit()
"""

ECHO_ARGUMENTS_SCRIPT = """
import json
import sys

import boto3
from awsglue.utils import getResolvedOptions

args = getResolvedOptions(sys.argv, ["JOB_NAME", "result_bucket", "result_key", "colour", "size"])
print("echo-arguments-marker", args["colour"], args["size"])
boto3.client("s3").put_object(
    Bucket=args["result_bucket"], Key=args["result_key"], Body=json.dumps(args).encode()
)
"""

# Imports the library from the --extra-py-files zip, compiles every module in it, and reports
# which Python ran it and what else it could import.
SHIPPED_LIBRARY_SCRIPT = """
import importlib.util
import json
import platform
import sys
import zipfile

import boto3
from awsglue.utils import getResolvedOptions

import mhealth
import mhealth.transform.job

args = getResolvedOptions(sys.argv, ["JOB_NAME", "result_bucket", "result_key"])
archive = mhealth.__file__.rsplit("/mhealth/", 1)[0]
with zipfile.ZipFile(archive) as library:
    sources = {name: library.read(name) for name in library.namelist() if name.endswith(".py")}
for name, source in sources.items():
    compile(source, name, "exec", dont_inherit=True)
print("shipped-library-marker", platform.python_version(), archive)
report = {
    "python": platform.python_version(),
    "executable": sys.executable,
    "mhealth_file": mhealth.__file__,
    "archive_on_path": archive in sys.path,
    "compiled": sorted(sources),
    "importable": {
        name: importlib.util.find_spec(name) is not None
        for name in ("pyspark", "pandas", "pyarrow", "duckdb", "kaggle", "aws_lambda_powertools")
    },
}
boto3.client("s3").put_object(
    Bucket=args["result_bucket"], Key=args["result_key"], Body=json.dumps(report).encode()
)
"""

FAILING_SCRIPT = """
def check(value):
    raise ValueError(f"boom: bad input {value}")

check(42)
"""

WAIT_FOR_STOP_SCRIPT = """
import time

deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    time.sleep(0.5)
"""


@dataclass(frozen=True)
class GlueFixture:
    """A bucket for scripts and results, and the clients the tests use."""

    bucket: str
    s3: Any
    glue: Any

    def upload_script(self, name: str, source: str) -> str:
        key = f"scripts/{name}.py"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=textwrap.dedent(source).encode())
        return f"s3://{self.bucket}/{key}"

    def create_job(self, script_source: str, **job: Any) -> str:
        name = f"test-job-{uuid.uuid4().hex[:10]}"
        script = self.upload_script(name, script_source)
        self.glue.create_job(
            Name=name,
            Role=ROLE_ARN,
            Command={"Name": "glueetl", "ScriptLocation": script, "PythonVersion": "3"},
            GlueVersion="5.0",
            **job,
        )
        return name

    def upload_library(self, name: str, files: dict[str, bytes]) -> str:
        """A zip of ``files`` (archive name → bytes) in S3, as the deploy uploads the library."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for member, content in sorted(files.items()):
                archive.writestr(member, content)
        key = f"lib/{name}.zip"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=buffer.getvalue())
        return f"s3://{self.bucket}/{key}"

    def read_json(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())


def wait_for_run(glue: Any, job_name: str, run_id: str, deadline_s: float) -> dict[str, Any]:
    """Poll GetJobRun until the run is terminal; fail with its last state at the deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        run: dict[str, Any] = glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
        if run["JobRunState"] in TERMINAL_RUN_STATES:
            return run
        if time.monotonic() > deadline:
            pytest.fail(f"run {run_id} still {run['JobRunState']} after {deadline_s:.0f} s")
        time.sleep(1)


def wait_for_state(glue: Any, job_name: str, run_id: str, state: str, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]["JobRunState"] != state:
        if time.monotonic() > deadline:
            pytest.fail(f"run {run_id} never reached {state} within {deadline_s:.0f} s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def glue_env(aws_client: AwsClient) -> Iterator[GlueFixture]:
    s3 = aws_client("s3")
    bucket = f"glue-test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    yield GlueFixture(bucket=bucket, s3=s3, glue=aws_client("glue"))
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)


def test_job_definition_round_trips_arguments_concurrency_and_timeout(
    glue_env: GlueFixture,
) -> None:
    name = glue_env.create_job(
        ECHO_ARGUMENTS_SCRIPT,
        DefaultArguments={"--colour": "red"},
        ExecutionProperty={"MaxConcurrentRuns": 3},
        Timeout=7,
    )

    job = glue_env.glue.get_job(JobName=name)["Job"]
    assert job["DefaultArguments"] == {"--colour": "red"}
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 3}
    assert job["Timeout"] == 7

    glue_env.glue.update_job(
        JobName=name,
        JobUpdate={
            "Role": ROLE_ARN,
            "Command": job["Command"],
            "DefaultArguments": {"--colour": "blue"},
            "Timeout": 9,
        },
    )
    updated = glue_env.glue.get_job(JobName=name)["Job"]
    assert updated["DefaultArguments"] == {"--colour": "blue"}
    assert updated["Timeout"] == 9
    assert name in {j["Name"] for j in glue_env.glue.get_jobs()["Jobs"]}

    glue_env.glue.delete_job(JobName=name)
    with pytest.raises(ClientError) as error:
        glue_env.glue.get_job(JobName=name)
    assert error.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_pyspark_job_writes_its_aggregate_to_s3(glue_env: GlueFixture) -> None:
    result_key = f"results/{uuid.uuid4().hex}.json"
    name = glue_env.create_job(
        SPARK_GROUP_COUNT_SCRIPT,
        DefaultArguments={"--result_bucket": glue_env.bucket, "--result_key": result_key},
    )

    run_id = glue_env.glue.start_job_run(JobName=name)["JobRunId"]
    run = wait_for_run(glue_env.glue, name, run_id, SPARK_RUN_DEADLINE_S)

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert run["Id"] == run_id
    assert run["JobName"] == name
    assert run["Attempt"] == 0
    assert run["CompletedOn"] >= run["StartedOn"]
    assert run["ExecutionTime"] >= 0
    expected = {
        str(bucket): [len(ids), sum(ids)]
        for bucket in range(7)
        for ids in [[i for i in range(1000) if i % 7 == bucket]]
    }
    assert glue_env.read_json(result_key) == expected


def test_run_arguments_override_job_defaults(glue_env: GlueFixture, aws_client: AwsClient) -> None:
    result_key = f"results/{uuid.uuid4().hex}.json"
    name = glue_env.create_job(
        ECHO_ARGUMENTS_SCRIPT,
        DefaultArguments={
            "--result_bucket": glue_env.bucket,
            "--result_key": result_key,
            "--colour": "red",
            "--size": "small",
        },
    )

    run_id = glue_env.glue.start_job_run(JobName=name, Arguments={"--size": "large"})["JobRunId"]
    run = wait_for_run(glue_env.glue, name, run_id, PLAIN_RUN_DEADLINE_S)

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert run["Arguments"] == {"--size": "large"}
    args = glue_env.read_json(result_key)
    assert args["colour"] == "red"
    assert args["size"] == "large"
    assert args["JOB_NAME"] == name
    assert args["JOB_RUN_ID"] == run_id
    assert args["JOB_ID"].startswith("j_")
    assert args["job_bookmark_option"] == "job-bookmark-disable"

    logs = aws_client("logs")
    events = logs.get_log_events(logGroupName="/aws-glue/jobs/output", logStreamName=run_id)[
        "events"
    ]
    messages = [e["message"] for e in events]
    assert messages[0].startswith("Glue 5.0 runtime (local): Python 3.11.")
    assert messages[1:] == ["echo-arguments-marker red large"]


class _TaglessLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML has no types: Any
    """Reads serverless.yml, whose CloudFormation tags (``!Ref`` …) do not matter here."""


_TaglessLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def shipped_library_files() -> dict[str, bytes]:
    """The library zip as serverless/plugins/glue-assets.js builds it from custom.glueAssets:
    the package folder at the zip's root, only its ``include`` paths (a trailing "/" is a
    folder), without ``__pycache__`` and compiled files."""
    template = yaml.load((REPO_ROOT / "serverless.yml").read_text(), Loader=_TaglessLoader)
    settings = template["custom"]["glueAssets"]
    package = REPO_ROOT / settings["library"]
    include: list[str] = settings.get("include") or [""]

    def wanted(inside: str) -> bool:
        return any(
            inside.startswith(entry) if entry.endswith("/") or not entry else inside == entry
            for entry in include
        )

    return {
        path.relative_to(REPO_ROOT).as_posix(): path.read_bytes()
        for path in sorted(package.rglob("*"))
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix not in {".pyc", ".pyo"}
        and wanted(path.relative_to(package).as_posix())
    }


def test_job_runs_on_python_3_11_with_only_glue_modules_and_the_shipped_library(
    glue_env: GlueFixture, aws_client: AwsClient
) -> None:
    # Glue 5.0 runs Python 3.11 (https://docs.aws.amazon.com/glue/latest/dg/release-notes.html).
    files = shipped_library_files()
    library = glue_env.upload_library(f"mhealth-{uuid.uuid4().hex[:8]}", files)
    result_key = f"results/{uuid.uuid4().hex}.json"
    name = glue_env.create_job(
        SHIPPED_LIBRARY_SCRIPT,
        DefaultArguments={
            "--extra-py-files": library,
            "--result_bucket": glue_env.bucket,
            "--result_key": result_key,
        },
    )

    run_id = glue_env.glue.start_job_run(JobName=name)["JobRunId"]
    run = wait_for_run(glue_env.glue, name, run_id, PLAIN_RUN_DEADLINE_S)

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    report = glue_env.read_json(result_key)
    assert report["python"].startswith("3.11.")
    assert report["executable"].endswith("/.venv-glue/bin/python")
    archive = report["mhealth_file"].rsplit("/mhealth/", 1)[0]
    assert archive.endswith(".zip")
    assert report["archive_on_path"] is True
    assert report["compiled"] == sorted(name for name in files if name.endswith(".py"))
    # What Glue 5.0 provides is there; the project's own virtualenv is not.
    assert report["importable"] == {
        "pyspark": True,
        "pandas": True,
        "pyarrow": True,
        "duckdb": False,
        "kaggle": False,
        "aws_lambda_powertools": False,
    }
    events = aws_client("logs").get_log_events(
        logGroupName="/aws-glue/jobs/output", logStreamName=run_id
    )["events"]
    messages = [event["message"] for event in events]
    assert messages[0].startswith("Glue 5.0 runtime (local): Python 3.11.")
    assert archive in messages[0]  # the zip on the job's PYTHONPATH
    assert f"shipped-library-marker {report['python']} {archive}" in messages


def test_a_python_3_12_construct_in_the_library_fails_the_run_with_syntax_error(
    glue_env: GlueFixture,
) -> None:
    # A `type` statement (PEP 695) is Python 3.12 syntax: Glue 5.0's Python 3.11 cannot import it.
    library = glue_env.upload_library(
        f"newer-{uuid.uuid4().hex[:8]}",
        {"newer_syntax/__init__.py": b"type UserId = int\n"},
    )
    name = glue_env.create_job(
        "import newer_syntax\n", DefaultArguments={"--extra-py-files": library}
    )

    run_id = glue_env.glue.start_job_run(JobName=name)["JobRunId"]
    run = wait_for_run(glue_env.glue, name, run_id, PLAIN_RUN_DEADLINE_S)

    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"] == "SyntaxError: invalid syntax"


def test_a_job_of_a_glue_version_without_python_3_11_fails_naming_the_versions(
    glue_env: GlueFixture,
) -> None:
    name = f"test-job-{uuid.uuid4().hex[:10]}"
    glue_env.glue.create_job(
        Name=name,
        Role=ROLE_ARN,
        Command={
            "Name": "glueetl",
            "ScriptLocation": glue_env.upload_script(name, "print('never runs')\n"),
            "PythonVersion": "3",
        },
        GlueVersion="4.0",
    )

    run_id = glue_env.glue.start_job_run(JobName=name)["JobRunId"]
    run = wait_for_run(glue_env.glue, name, run_id, PLAIN_RUN_DEADLINE_S)

    assert run["JobRunState"] == "FAILED"
    assert "GlueVersion 4.0 is not run by the local Glue" in run["ErrorMessage"]
    assert "5.0, 5.1" in run["ErrorMessage"]


def test_failing_script_ends_failed_with_its_exception(glue_env: GlueFixture) -> None:
    name = glue_env.create_job(FAILING_SCRIPT)

    run_id = glue_env.glue.start_job_run(JobName=name)["JobRunId"]
    run = wait_for_run(glue_env.glue, name, run_id, PLAIN_RUN_DEADLINE_S)

    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"] == "ValueError: boom: bad input 42"


def test_second_start_beyond_max_concurrent_runs_is_rejected_and_stop_kills_the_run(
    glue_env: GlueFixture,
) -> None:
    name = glue_env.create_job(WAIT_FOR_STOP_SCRIPT, ExecutionProperty={"MaxConcurrentRuns": 1})
    run_id = glue_env.glue.start_job_run(JobName=name)["JobRunId"]
    wait_for_state(glue_env.glue, name, run_id, "RUNNING", PLAIN_RUN_DEADLINE_S)

    with pytest.raises(ClientError) as error:
        glue_env.glue.start_job_run(JobName=name)
    assert error.value.response["Error"]["Code"] == "ConcurrentRunsExceededException"

    stopped = glue_env.glue.batch_stop_job_run(JobName=name, JobRunIds=[run_id])
    assert stopped["SuccessfulSubmissions"] == [{"JobName": name, "JobRunId": run_id}]
    run = wait_for_run(glue_env.glue, name, run_id, PLAIN_RUN_DEADLINE_S)
    assert run["JobRunState"] == "STOPPED"
    runs = glue_env.glue.get_job_runs(JobName=name)["JobRuns"]
    assert [r["Id"] for r in runs] == [run_id]


@pytest.mark.slow
def test_run_past_its_timeout_ends_timeout(glue_env: GlueFixture) -> None:
    name = glue_env.create_job(WAIT_FOR_STOP_SCRIPT, Timeout=1)

    run_id = glue_env.glue.start_job_run(JobName=name)["JobRunId"]
    run = wait_for_run(glue_env.glue, name, run_id, 60 + PLAIN_RUN_DEADLINE_S)

    assert run["JobRunState"] == "TIMEOUT"
    assert run["ExecutionTime"] >= 60


def _run_state_machine(aws_client: AwsClient, job_name: str) -> dict[str, Any]:
    sfn = aws_client("stepfunctions")
    definition = {
        "StartAt": "RunGlueJob",
        "States": {
            "RunGlueJob": {
                "Type": "Task",
                "Resource": "arn:aws:states:::glue:startJobRun.sync",
                "Parameters": {"JobName": job_name},
                "End": True,
            }
        },
    }
    machine_arn = sfn.create_state_machine(
        name=f"glue-sync-{uuid.uuid4().hex[:10]}",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::000000000000:role/mhealth-sfn-test",
    )["stateMachineArn"]
    execution_arn = sfn.start_execution(stateMachineArn=machine_arn)["executionArn"]
    deadline = time.monotonic() + PLAIN_RUN_DEADLINE_S
    while (execution := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        if time.monotonic() > deadline:
            pytest.fail(
                f"execution {execution_arn} still RUNNING after {PLAIN_RUN_DEADLINE_S:.0f} s"
            )
        time.sleep(1)
    sfn.delete_state_machine(stateMachineArn=machine_arn)
    return execution  # type: ignore[no-any-return]


def test_step_functions_glue_sync_task_succeeds_with_the_job(
    glue_env: GlueFixture, aws_client: AwsClient
) -> None:
    result_key = f"results/{uuid.uuid4().hex}.json"
    name = glue_env.create_job(
        ECHO_ARGUMENTS_SCRIPT,
        DefaultArguments={
            "--result_bucket": glue_env.bucket,
            "--result_key": result_key,
            "--colour": "green",
            "--size": "medium",
        },
    )

    execution = _run_state_machine(aws_client, name)

    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    assert output["JobName"] == name
    assert output["JobRunState"] == "SUCCEEDED"
    assert glue_env.read_json(result_key)["colour"] == "green"


def test_step_functions_glue_sync_task_fails_with_the_job(
    glue_env: GlueFixture, aws_client: AwsClient
) -> None:
    name = glue_env.create_job(FAILING_SCRIPT)

    execution = _run_state_machine(aws_client, name)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "States.TaskFailed"
    cause = json.loads(execution["cause"])
    assert cause["JobRunState"] == "FAILED"
    assert cause["ErrorMessage"] == "ValueError: boom: bad input 42"


HIVE_PARQUET = "org.apache.hadoop.hive.ql.io.parquet"
GLUE_TEMPLATE = {
    "Parameters": {"ScriptLocation": {"Type": "String"}, "Suffix": {"Type": "String"}},
    "Resources": {
        "Database": {
            "Type": "AWS::Glue::Database",
            "Properties": {
                "CatalogId": {"Ref": "AWS::AccountId"},
                "DatabaseInput": {
                    "Name": {"Fn::Sub": "cfn_db_${Suffix}"},
                    "Description": "sensor samples",
                },
            },
        },
        "Table": {
            "Type": "AWS::Glue::Table",
            "Properties": {
                "CatalogId": {"Ref": "AWS::AccountId"},
                "DatabaseName": {"Ref": "Database"},
                "TableInput": {
                    "Name": "samples",
                    "TableType": "EXTERNAL_TABLE",
                    "Parameters": {"classification": "parquet"},
                    "PartitionKeys": [{"Name": "user_id", "Type": "int"}],
                    "StorageDescriptor": {
                        "Location": "s3://example-bucket/processed/",
                        "Columns": [
                            {"Name": "chest_acc_x", "Type": "double"},
                            {"Name": "activity_id", "Type": "int"},
                        ],
                        "InputFormat": f"{HIVE_PARQUET}.MapredParquetInputFormat",
                        "OutputFormat": f"{HIVE_PARQUET}.MapredParquetOutputFormat",
                        "Compressed": "false",
                        "SerdeInfo": {
                            "SerializationLibrary": f"{HIVE_PARQUET}.serde.ParquetHiveSerDe"
                        },
                    },
                },
            },
        },
        "Job": {
            "Type": "AWS::Glue::Job",
            "Properties": {
                "Name": {"Fn::Sub": "cfn-job-${Suffix}"},
                "Role": ROLE_ARN,
                "GlueVersion": "5.0",
                "WorkerType": "G.1X",
                "NumberOfWorkers": "2",
                "Timeout": 30,
                "MaxRetries": 0,
                "ExecutionProperty": {"MaxConcurrentRuns": 1},
                "Command": {
                    "Name": "glueetl",
                    "PythonVersion": "3",
                    "ScriptLocation": {"Ref": "ScriptLocation"},
                },
                "DefaultArguments": {
                    "--database": {"Ref": "Database"},
                    "--table": {"Ref": "Table"},
                },
            },
        },
    },
    "Outputs": {
        "DatabaseRef": {"Value": {"Ref": "Database"}},
        "TableRef": {"Value": {"Ref": "Table"}},
        "JobRef": {"Value": {"Ref": "Job"}},
    },
}


def test_cloudformation_creates_glue_database_table_and_job(
    glue_env: GlueFixture, aws_client: AwsClient
) -> None:
    cfn = aws_client("cloudformation")
    suffix = uuid.uuid4().hex[:8]
    stack_name = f"glue-types-{suffix}"
    script = glue_env.upload_script(f"cfn-{suffix}", ECHO_ARGUMENTS_SCRIPT)
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(GLUE_TEMPLATE),
        Parameters=[
            {"ParameterKey": "ScriptLocation", "ParameterValue": script},
            {"ParameterKey": "Suffix", "ParameterValue": suffix},
        ],
    )
    cfn.get_waiter("stack_create_complete").wait(
        StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )

    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["Outputs"]
    }
    database, job_name = f"cfn_db_{suffix}", f"cfn-job-{suffix}"
    assert outputs == {"DatabaseRef": database, "TableRef": "samples", "JobRef": job_name}

    glue = glue_env.glue
    assert glue.get_database(Name=database)["Database"]["Description"] == "sensor samples"
    table = glue.get_table(DatabaseName=database, Name="samples")["Table"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("chest_acc_x", "double"),
        ("activity_id", "int"),
    ]
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [("user_id", "int")]
    job = glue.get_job(JobName=job_name)["Job"]
    assert job["Command"]["ScriptLocation"] == script
    assert job["DefaultArguments"] == {"--database": database, "--table": "samples"}
    assert job["NumberOfWorkers"] == 2
    assert job["Timeout"] == 30

    cfn.delete_stack(StackName=stack_name)
    cfn.get_waiter("stack_delete_complete").wait(
        StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    with pytest.raises(ClientError):
        glue.get_job(JobName=job_name)
    with pytest.raises(ClientError):
        glue.get_database(Name=database)
