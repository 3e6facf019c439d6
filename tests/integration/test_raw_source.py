"""raw/ is the source of truth: every log in it reaches the table, whatever put it there.

On the local stage (serverless.yml deployed once for this module): a hand-added subject's log
is converted and queried, a removed one leaves stage/, processed/ and the catalog, a badly
named file is quarantined and reported, the ``uci`` and ``none`` download sources run the
whole chain, and an unchanged log is not converted again (its stage object keeps its ETag and
LastModified). Each test puts raw/ into the state it needs first (``raw_as_downloaded``); the
download source is switched by changing the Download function's environment and put back
after the test; at the end of the module raw/ is as the Kaggle download leaves it, and a run
brings stage/ and the table back to the ten subjects.

Expected row counts come from the raw objects themselves (one reading per line, as the
dataset's README describes the format), never from the code under test.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from mhealth.download.archive import SHA256_METADATA_KEY
from mhealth.local.config import LocalConfig
from mhealth.local.deploy import PublishedDataset
from mhealth.local.pipeline import prepare
from mhealth.ops.deployment import Deployment
from mhealth.ops.execution import ExecutionOutcome, follow_execution, start_execution
from mhealth.ops.query import run_query

SCALE = 0.02  # the same synthetic dataset as test_pipeline.py: generated once per machine
SEED = 7
RUN_TIMEOUT_S = 600
SUBJECTS = range(1, 11)

AwsClient = Callable[[str], Any]


def _log_key(subject: int) -> str:
    return f"raw/mHealth_subject{subject}.log"


@dataclass(frozen=True)
class Stage:
    config: LocalConfig
    deployment: Deployment
    dataset: PublishedDataset
    aws: AwsClient

    @property
    def bucket(self) -> str:
        return self.deployment.bucket

    @property
    def download_function(self) -> str:
        return f"{self.deployment.stack_name}-download"

    def run(self) -> ExecutionOutcome:
        sfn = self.aws("stepfunctions")
        arn = start_execution(sfn, self.deployment.state_machine_arn, {})
        outcome = follow_execution(sfn, arn, timeout_seconds=RUN_TIMEOUT_S)
        assert outcome.status == "SUCCEEDED", (
            f"{outcome.failed_step}: {outcome.error}: {outcome.cause}"
        )
        return outcome

    def rows_per_user(self) -> dict[str, int]:
        result = run_query(
            self.aws("athena"),
            f'SELECT user_id, COUNT(*) FROM "{self.deployment.database}".'
            f'"{self.deployment.table}" GROUP BY user_id',
            database=self.deployment.database,
            output_location=self.deployment.athena_output_location,
        )
        return {str(row[0]): int(row[1] or 0) for row in result.rows}

    def keys(self, prefix: str) -> list[str]:
        pages = (
            self.aws("s3")
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.bucket, Prefix=prefix)
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        body: bytes = self.aws("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def put(self, key: str, data: bytes) -> None:
        self.aws("s3").put_object(Bucket=self.bucket, Key=key, Body=data)

    def delete(self, key: str) -> None:
        self.aws("s3").delete_object(Bucket=self.bucket, Key=key)

    def lines_per_subject(self) -> dict[str, int]:
        """Rows each raw log holds: its non-empty lines (one reading per line)."""
        counts: dict[str, int] = {}
        for key in self.keys("raw/"):
            name = key.removeprefix("raw/mHealth_subject").removesuffix(".log")
            if name.isdigit() and "/" not in name:
                counts[name] = sum(1 for line in self.read(key).splitlines() if line.strip())
        return counts

    def set_download_source(self, source: str) -> None:
        lam = self.aws("lambda")
        variables = lam.get_function_configuration(FunctionName=self.download_function)[
            "Environment"
        ]["Variables"]
        lam.update_function_configuration(
            FunctionName=self.download_function,
            Environment={"Variables": {**variables, "DOWNLOAD_SOURCE": source}},
        )
        lam.get_waiter("function_updated_v2").wait(FunctionName=self.download_function)

    def restore_raw(self) -> None:
        """raw/ exactly as the download leaves it: the ten logs, nothing else, each with the
        SHA-256 metadata the download step writes (and compares to skip an unchanged log)."""
        wanted = {_log_key(subject) for subject in SUBJECTS}
        for key in self.keys("raw/"):
            if key not in wanted:
                self.delete(key)
        s3 = self.aws("s3")
        with zipfile.ZipFile(self.dataset.zip_path) as archive:
            for subject in SUBJECTS:
                data = archive.read(f"MHEALTHDATASET/mHealth_subject{subject}.log")
                key = _log_key(subject)
                digest = hashlib.sha256(data).hexdigest()
                if key in self.keys(key):
                    head = s3.head_object(Bucket=self.bucket, Key=key)
                    if head.get("Metadata", {}).get(SHA256_METADATA_KEY) == digest and (
                        self.read(key) == data
                    ):
                        continue
                s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=data,
                    Metadata={SHA256_METADATA_KEY: digest},
                )


@pytest.fixture(scope="module")
def stage(local_aws: LocalConfig, aws_client: AwsClient) -> Iterator[Stage]:
    """The local stage deployed with the synthetic dataset and run once; at the end, raw/ and
    the Download function's settings as the deployment made them, and a run on them."""
    local = prepare(
        local_aws, scale=SCALE, seed=SEED, report=lambda message: print(f"[prepare] {message}")
    )
    ready = Stage(local_aws, local.deployment, local.dataset, aws_client)
    ready.run()
    yield ready
    ready.set_download_source("kaggle")
    ready.restore_raw()
    ready.run()


@pytest.fixture
def raw_as_downloaded(stage: Stage) -> Iterator[Stage]:
    """raw/ holds the ten downloaded logs only and the source is kaggle; the source is put
    back to kaggle after the test whatever it changed."""
    stage.set_download_source("kaggle")
    stage.restore_raw()
    yield stage
    stage.set_download_source("kaggle")


# ------------------------------------------------------------------------------ raw/ as input


def test_hand_added_log_reaches_athena_with_its_rows(raw_as_downloaded: Stage) -> None:
    stage = raw_as_downloaded
    stage.put(_log_key(11), stage.read(_log_key(3)))  # as `aws s3 cp` would put it

    outcome = stage.run()

    assert outcome.output["mirror"]["raw_keys"] == [_log_key(n) for n in range(1, 12)]
    assert "raw/mHealth_subject11.log" not in outcome.output["download"]["raw_keys"]
    expected = stage.lines_per_subject()
    assert len(expected) == 11 and expected["11"] == expected["3"] > 0
    assert stage.rows_per_user() == expected
    assert "stage/mHealth_subject11.parquet" in stage.keys("stage/")


def test_removed_log_leaves_table_stage_processed_and_catalog(raw_as_downloaded: Stage) -> None:
    stage = raw_as_downloaded
    stage.put(_log_key(11), stage.read(_log_key(5)))
    stage.run()
    assert len(stage.rows_per_user()) == 11  # the state this test starts from

    stage.delete(_log_key(11))
    outcome = stage.run()

    assert outcome.output["mirror"]["removed"] == 1
    assert outcome.output["mirror"]["removed_keys"] == ["stage/mHealth_subject11.parquet"]
    assert stage.rows_per_user() == stage.lines_per_subject()
    assert sorted(stage.rows_per_user(), key=int) == [str(n) for n in SUBJECTS]
    assert stage.keys("stage/mHealth_subject11") == []
    assert stage.keys("processed/user_id=11/") == []
    glue = stage.aws("glue")
    partitions = glue.get_partitions(
        DatabaseName=stage.deployment.database, TableName=stage.deployment.table
    )["Partitions"]
    assert sorted(int(p["Values"][0]) for p in partitions) == list(SUBJECTS)


def test_badly_named_files_are_quarantined_and_reported(raw_as_downloaded: Stage) -> None:
    stage = raw_as_downloaded
    log = stage.read(_log_key(1))
    stray = {
        "raw/notes.txt": b"not a recording\n",
        "raw/mHealth_subject_twelve.log": log,
        "raw/more/mHealth_subject12.log": log,
    }
    for key, data in stray.items():
        stage.put(key, data)

    outcome = stage.run()

    mirror = outcome.output["mirror"]
    assert mirror["quarantined"] == 3
    records = {
        "quarantine/raw-names/notes.txt.json": "raw/notes.txt",
        "quarantine/raw-names/mHealth_subject_twelve.log.json": "raw/mHealth_subject_twelve.log",
        "quarantine/raw-names/more/mHealth_subject12.log.json": "raw/more/mHealth_subject12.log",
    }
    assert sorted(mirror["quarantine_records"]) == sorted(records)
    for record_key, raw_key in records.items():
        record = json.loads(stage.read(record_key))
        assert record["key"] == raw_key
        assert record["size"] == len(stray[raw_key])
        assert "mHealth_subject<N>.log" in record["reason"]
    assert stage.rows_per_user() == stage.lines_per_subject()  # the ten subjects, untouched
    assert set(stage.keys("raw/")) >= set(stray)  # the user's files stay where they were

    for key in stray:
        stage.delete(key)
    stage.run()
    assert stage.keys("quarantine/raw-names/") == []  # reported as long as they are there


# ------------------------------------------------------------------------------ sources


def test_uci_source_runs_the_chain(raw_as_downloaded: Stage) -> None:
    stage = raw_as_downloaded
    original = stage.read(_log_key(2))
    stage.delete(_log_key(2))
    stage.set_download_source("uci")

    outcome = stage.run()

    download = outcome.output["download"]
    assert download["source"] == "uci"
    assert download["uploaded"] == 1 and download["unchanged"] == 9  # subject 2 came back
    assert stage.read(_log_key(2)) == original
    assert stage.rows_per_user() == stage.lines_per_subject()
    assert len(stage.rows_per_user()) == 10


def test_none_source_runs_on_what_raw_holds(raw_as_downloaded: Stage) -> None:
    stage = raw_as_downloaded
    stage.delete(_log_key(4))
    stage.put(_log_key(11), stage.read(_log_key(6)))
    stage.set_download_source("none")

    outcome = stage.run()

    download = outcome.output["download"]
    assert download == {
        "bucket": stage.bucket,
        "raw_keys": [],
        "uploaded": 0,
        "unchanged": 0,
        "source": "none",
    }
    assert _log_key(4) not in stage.keys("raw/")  # nothing downloaded it again
    expected = stage.lines_per_subject()
    assert sorted(expected, key=int) == [str(n) for n in (1, 2, 3, 5, 6, 7, 8, 9, 10, 11)]
    assert stage.rows_per_user() == expected


# ------------------------------------------------------------------------------ idempotence


def _stage_object_versions(stage: Stage) -> dict[str, tuple[str, str]]:
    s3 = stage.aws("s3")
    versions: dict[str, tuple[str, str]] = {}
    for key in stage.keys("stage/"):
        head = s3.head_object(Bucket=stage.bucket, Key=key)
        versions[key] = (head["ETag"], head["LastModified"].isoformat())
    return versions


def test_unchanged_log_is_not_converted_again_and_a_changed_one_is(
    raw_as_downloaded: Stage,
) -> None:
    stage = raw_as_downloaded
    stage.run()  # stage/ now matches raw/
    before = _stage_object_versions(stage)
    assert len(before) == 10

    outcome = stage.run()

    assert _stage_object_versions(stage) == before
    files = [file for item in outcome.output["convert"] for file in item["files"]]
    assert [file["converted"] for file in files] == [False] * 10
    assert sum(item["unchanged"] for item in outcome.output["convert"]) == 10

    lines = stage.read(_log_key(5)).splitlines(keepends=True)
    stage.put(_log_key(5), b"".join(lines[:-100]))
    stage.set_download_source("none")  # else the download would put the original back
    outcome = stage.run()

    after = _stage_object_versions(stage)
    changed = sorted(key for key in before if after[key] != before[key])
    assert changed == ["stage/mHealth_subject5.parquet"]
    converted = [f["raw_key"] for item in outcome.output["convert"] for f in item["files"]]
    assert [
        f["raw_key"] for item in outcome.output["convert"] for f in item["files"] if f["converted"]
    ] == [_log_key(5)]
    assert len(converted) == 10
    assert stage.rows_per_user()["5"] == len(lines) - 100


# ------------------------------------------------------------------------------ mirror alone


def test_mirror_of_a_raw_without_logs_fails_and_deletes_nothing(
    aws_client: AwsClient, bucket: str
) -> None:
    from mhealth.convert.mirror import NoRawLogsError, mirror_raw

    s3 = aws_client("s3")
    s3.put_object(Bucket=bucket, Key="raw/notes.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="stage/mHealth_subject1.parquet", Body=b"stale")

    with pytest.raises(NoRawLogsError, match=r"holds no mHealth_subject<N>\.log to convert"):
        mirror_raw(s3, bucket)

    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {
        "raw/notes.txt",
        "stage/mHealth_subject1.parquet",  # nothing deleted on a failed run
        "quarantine/raw-names/notes.txt.json",  # but the stray is reported
    }


def test_mirror_lists_every_page_of_raw(aws_client: AwsClient, bucket: str) -> None:
    from mhealth.convert.mirror import mirror_raw

    s3 = aws_client("s3")
    # ListObjectsV2 returns up to 1,000 keys per page
    # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html, MaxKeys).
    subjects = range(1, 1003)
    for subject in subjects:
        s3.put_object(Bucket=bucket, Key=f"raw/mHealth_subject{subject}.log", Body=b"")

    result = mirror_raw(s3, bucket)

    assert result["raw_keys"] == [f"raw/mHealth_subject{n}.log" for n in subjects]
    assert (result["quarantined"], result["removed"]) == (0, 0)
