"""The whole chain on the local AWS: serverless.yml deployed with sls, the state machine run
end to end, and the processed table checked through Athena.

The stack is deployed and the pipeline run once for this module (``pipeline``), so each test
runs alone and in any order. A test that breaks one part (credentials, a raw file, the Glue
job) puts it back and runs the pipeline again before it ends (``restore_clean_run``), so the
next test finds the table as a clean run leaves it.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mhealth.local.config import LocalConfig
from mhealth.local.deploy import PublishedDataset
from mhealth.local.kaggle_standin import publish_dataset
from mhealth.local.pipeline import LocalPipeline, prepare
from mhealth.local.synthetic import count_table
from mhealth.ops.deployment import Deployment
from mhealth.ops.execution import ExecutionOutcome
from mhealth.ops.query import QueryResult, run_query
from mhealth.settings import DEFAULT_KAGGLE_DATASET
from tests.published import ACTIVITY_LABELS

SCALE = 0.02
SEED = 7
RECORDING_START = datetime(2014, 1, 1, tzinfo=UTC)
RUN_TIMEOUT_S = 600

AwsClient = Callable[[str], Any]


@dataclass(frozen=True)
class Pipeline:
    local: LocalPipeline
    aws: AwsClient

    @property
    def config(self) -> LocalConfig:
        return self.local.config

    @property
    def deployment(self) -> Deployment:
        return self.local.deployment

    @property
    def dataset(self) -> PublishedDataset:
        return self.local.dataset

    @property
    def table(self) -> str:
        return f'"{self.deployment.database}"."{self.deployment.table}"'

    def run(self, payload: dict[str, Any] | None = None) -> ExecutionOutcome:
        return self.local.run(payload, timeout_seconds=RUN_TIMEOUT_S)

    def query(self, sql: str) -> QueryResult:
        return run_query(
            self.aws("athena"),
            sql,
            database=self.deployment.database,
            output_location=self.deployment.athena_output_location,
        )

    def log_lines(self, subject: int) -> list[str]:
        with zipfile.ZipFile(self.dataset.zip_path) as archive:
            data = archive.read(f"MHEALTHDATASET/mHealth_subject{subject}.log")
        return data.decode("ascii").splitlines()


def _assert_succeeded(outcome: ExecutionOutcome) -> None:
    assert outcome.status == "SUCCEEDED", f"{outcome.failed_step}: {outcome.error}: {outcome.cause}"


@pytest.fixture(scope="module")
def pipeline(local_aws: LocalConfig, aws_client: AwsClient) -> Pipeline:
    """The local stage deployed, with the synthetic dataset published and run once."""
    local = prepare(
        local_aws, scale=SCALE, seed=SEED, report=lambda message: print(f"[prepare] {message}")
    )
    ready = Pipeline(local, aws_client)
    _assert_succeeded(ready.run())
    return ready


@pytest.fixture
def restore_clean_run(pipeline: Pipeline) -> Iterator[None]:
    """For tests that break one part and put it back: a clean run afterwards, so the table and
    raw/ are as the module's first run left them whatever runs next."""
    yield
    _assert_succeeded(pipeline.run())


def _expected_rows_by_activity() -> dict[str, int]:
    totals: Counter[str] = Counter()
    for labels in count_table(SCALE).values():
        for label, rows in labels.items():
            totals[ACTIVITY_LABELS[label]] += rows
    return dict(totals)


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=UTC)


def _table_fingerprint(pipeline: Pipeline) -> list[list[str | None]]:
    return pipeline.query(
        "SELECT user_id, activity, COUNT(*), MIN(timestamp), MAX(timestamp), "
        f"ROUND(SUM(sensor1), 4), ROUND(SUM(sensor2), 4), ROUND(SUM(sensor3), 4) "
        f"FROM {pipeline.table} GROUP BY user_id, activity ORDER BY user_id, activity"
    ).rows


def _processed_keys(pipeline: Pipeline) -> list[str]:
    s3 = pipeline.aws("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=pipeline.deployment.bucket, Prefix="processed/"
    )
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


# ------------------------------------------------------------------------------ happy path


def test_full_run_succeeds_and_reports_every_step(pipeline: Pipeline) -> None:
    outcome = pipeline.run()

    _assert_succeeded(outcome)
    assert {"Download", "Convert", "Transform"} <= set(outcome.step_seconds)
    output = outcome.output
    assert sorted(output["download"]["raw_keys"]) == sorted(
        f"raw/mHealth_subject{n}.log" for n in range(1, 11)
    )
    converted = output["convert"]
    assert sum(item["rows_in"] for item in converted) == pipeline.dataset.rows
    assert sum(item["rows_quarantined"] for item in converted) == 0
    assert output["transform"]["job_run_state"] == "SUCCEEDED"
    # The job ran on Glue 5.0's Python with the library the deploy uploaded (its --extra-py-files).
    events = pipeline.aws("logs").get_log_events(
        logGroupName="/aws-glue/jobs/output", logStreamName=output["transform"]["job_run_id"]
    )["events"]
    job_log = "\n".join(event["message"] for event in events)
    assert "mhealth job: Python 3.11." in job_log
    assert re.search(r"mhealth from \S+/mhealth-[0-9a-f]{16}\.zip/mhealth/__init__\.py", job_log)


def test_table_schema_in_athena_is_the_final_schema(pipeline: Pipeline) -> None:
    result = pipeline.query(f"SELECT * FROM {pipeline.table} LIMIT 1")
    assert result.columns == [
        ("activity", "varchar"),
        ("timestamp", "timestamp"),
        ("sensor1", "double"),
        ("sensor2", "double"),
        ("sensor3", "double"),
        ("user_id", "varchar"),
    ]


def test_rows_per_activity_equal_the_generated_data(pipeline: Pipeline) -> None:
    result = pipeline.query(
        f"SELECT activity, COUNT(*) FROM {pipeline.table} GROUP BY activity ORDER BY activity"
    )
    counts = {row[0]: int(row[1] or 0) for row in result.rows}
    assert counts == _expected_rows_by_activity()
    assert sum(counts.values()) == pipeline.dataset.rows


def test_rows_per_user_equal_the_generated_files(pipeline: Pipeline) -> None:
    result = pipeline.query(f"SELECT user_id, COUNT(*) FROM {pipeline.table} GROUP BY user_id")
    counts = {row[0]: int(row[1] or 0) for row in result.rows}
    assert counts == {str(s): rows for s, rows in pipeline.dataset.rows_by_subject.items()}


@pytest.mark.parametrize(("subject", "line_index"), [(1, 0), (1, 1), (4, 777), (10, -1)])
def test_chosen_rows_carry_exact_timestamps_and_sensor_values(
    pipeline: Pipeline, subject: int, line_index: int
) -> None:
    lines = pipeline.log_lines(subject)
    index = line_index % len(lines)
    fields = lines[index].split("\t")
    expected_time = RECORDING_START + timedelta(milliseconds=20 * index)

    result = pipeline.query(
        f"SELECT activity, timestamp, sensor1, sensor2, sensor3 FROM {pipeline.table} "
        f"WHERE user_id = '{subject}' ORDER BY timestamp OFFSET {index} LIMIT 1"
    )

    assert len(result.rows) == 1
    activity, timestamp, *sensors = result.rows[0]
    assert activity == ACTIVITY_LABELS[int(fields[23])]
    assert timestamp is not None and _timestamp(timestamp) == expected_time
    assert [float(value or "nan") for value in sensors] == [float(f) for f in fields[:3]]


def test_one_partition_per_user_in_catalog_and_storage(pipeline: Pipeline) -> None:
    glue = pipeline.aws("glue")
    partitions = glue.get_partitions(
        DatabaseName=pipeline.deployment.database, TableName=pipeline.deployment.table
    )["Partitions"]
    assert sorted(int(p["Values"][0]) for p in partitions) == list(range(1, 11))
    directories = {key.split("/")[1] for key in _processed_keys(pipeline)}
    assert directories == {f"user_id={n}" for n in range(1, 11)}


def test_seed_query_returns_ten_rows_of_user_one(pipeline: Pipeline) -> None:
    result = pipeline.query(f"SELECT * FROM {pipeline.table} WHERE user_id = '1' LIMIT 10")
    assert len(result.rows) == 10
    assert {row[-1] for row in result.rows} == {"1"}


def test_second_run_leaves_the_table_identical(pipeline: Pipeline) -> None:
    before, keys_before = _table_fingerprint(pipeline), _processed_keys(pipeline)

    outcome = pipeline.run()

    assert outcome.status == "SUCCEEDED", f"{outcome.failed_step}: {outcome.cause}"
    assert outcome.output["download"]["uploaded"] == 0  # raw files unchanged: none re-uploaded
    assert _table_fingerprint(pipeline) == before
    assert len(_processed_keys(pipeline)) == len(keys_before)


def test_schedule_rule_is_daily_and_starts_the_pipeline(pipeline: Pipeline) -> None:
    events = pipeline.aws("events")
    rules = [
        rule
        for page in events.get_paginator("list_rules").paginate()
        for rule in page["Rules"]
        if rule.get("ScheduleExpression")
        and any(
            target["Arn"] == pipeline.deployment.state_machine_arn
            for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        )
    ]
    assert len(rules) == 1
    rule = rules[0]
    assert rule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target.get("RoleArn")
    payload = json.loads(target.get("Input") or "{}")
    assert payload == {}

    outcome = pipeline.run(payload)  # exactly what the rule sends
    assert outcome.status == "SUCCEEDED", f"{outcome.failed_step}: {outcome.cause}"


# ------------------------------------------------------------------------------ failures


@pytest.fixture
def failure_messages(pipeline: Pipeline, unique_name: Callable[[str], str]) -> Iterator[Any]:
    """An SQS queue subscribed to the failure topic; yields a ``receive()`` function."""
    sqs, sns = pipeline.aws("sqs"), pipeline.aws("sns")
    queue_url = sqs.create_queue(QueueName=unique_name("failures"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    subscription = sns.subscribe(
        TopicArn=pipeline.deployment.failure_topic_arn, Protocol="sqs", Endpoint=queue_arn
    )["SubscriptionArn"]

    def receive() -> list[str]:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=10
        ).get("Messages", [])
        return [json.loads(m["Body"]).get("Message", m["Body"]) for m in messages]

    yield receive
    sns.unsubscribe(SubscriptionArn=subscription)
    sqs.delete_queue(QueueUrl=queue_url)


def test_wrong_kaggle_credentials_fail_at_download_and_notify(
    pipeline: Pipeline, failure_messages: Callable[[], list[str]], restore_clean_run: None
) -> None:
    secrets = pipeline.aws("secretsmanager")
    name = pipeline.deployment.kaggle_secret_name
    original = secrets.get_secret_value(SecretId=name)["SecretString"]
    secrets.put_secret_value(
        SecretId=name, SecretString=json.dumps({"username": "someone", "key": "wrong-key"})
    )
    try:
        outcome = pipeline.run()
    finally:
        secrets.put_secret_value(SecretId=name, SecretString=original)

    assert outcome.status == "FAILED"
    assert outcome.failed_step == "Download"
    assert outcome.error == "KaggleAuthError"
    assert name in (outcome.cause or "")
    messages = failure_messages()
    assert len(messages) == 1
    assert "KaggleAuthError" in messages[0]


def test_malformed_lines_are_quarantined_and_counted(
    pipeline: Pipeline, tmp_path: Path, restore_clean_run: None
) -> None:
    original_zip = pipeline.dataset.zip_path.read_bytes()
    broken_zip = tmp_path / "mhealth-dataset-data-set.zip"
    bad_lines = ["1.0\t2.0\t3.0", "\t".join(["x"] * 24), "\t".join(["0.5"] * 23 + ["99"])]
    with (
        zipfile.ZipFile(io.BytesIO(original_zip)) as source,
        zipfile.ZipFile(broken_zip, "w") as target,
    ):
        for member in source.infolist():
            data = source.read(member)
            if member.filename.endswith("mHealth_subject3.log"):
                lines = data.decode("ascii").splitlines()
                data = ("\n".join(lines[:5] + bad_lines + lines[5:]) + "\n").encode("ascii")
            target.writestr(member, data)
    publish_dataset(pipeline.config.kaggle_datasets_dir, DEFAULT_KAGGLE_DATASET, broken_zip)
    try:
        outcome = pipeline.run()
        rows_user_3 = pipeline.query(
            f"SELECT COUNT(*) FROM {pipeline.table} WHERE user_id = '3'"
        ).rows[0][0]
        quarantine = (
            pipeline.aws("s3")
            .get_object(
                Bucket=pipeline.deployment.bucket,
                Key="quarantine/mHealth_subject3.quarantine.jsonl",
            )["Body"]
            .read()
            .decode("utf-8")
        )
    finally:
        original = tmp_path / "original.zip"
        original.write_bytes(original_zip)
        publish_dataset(pipeline.config.kaggle_datasets_dir, DEFAULT_KAGGLE_DATASET, original)

    assert outcome.status == "SUCCEEDED", f"{outcome.failed_step}: {outcome.cause}"
    by_file = {item["files"][0]["raw_key"]: item for item in outcome.output["convert"]}
    subject_3 = by_file["raw/mHealth_subject3.log"]
    assert subject_3["rows_quarantined"] == 3
    assert subject_3["rows_in"] == pipeline.dataset.rows_by_subject[3] + 3
    assert int(rows_user_3 or 0) == pipeline.dataset.rows_by_subject[3]
    records = [json.loads(line) for line in quarantine.splitlines()]
    assert [r["line_number"] for r in records] == [6, 7, 8]
    assert [r["raw"] for r in records] == bad_lines


def test_failing_glue_job_fails_the_execution_with_glues_message(
    pipeline: Pipeline, restore_clean_run: None
) -> None:
    glue = pipeline.aws("glue")
    job = glue.get_job(JobName=pipeline.deployment.glue_job)["Job"]
    update = {
        key: job[key]
        for key in (
            "Role",
            "Command",
            "DefaultArguments",
            "ExecutionProperty",
            "Timeout",
            "GlueVersion",
            "WorkerType",
            "NumberOfWorkers",
        )
        if key in job
    }
    broken = {
        **update,
        "DefaultArguments": {**job["DefaultArguments"], "--recording_start": "not-a-time"},
    }
    glue.update_job(JobName=job["Name"], JobUpdate=broken)
    try:
        outcome = pipeline.run()
    finally:
        glue.update_job(JobName=job["Name"], JobUpdate=update)

    assert outcome.status == "FAILED"
    assert outcome.failed_step == "Transform"
    assert "recording start 'not-a-time' is not an ISO-8601 time" in (outcome.cause or "")
