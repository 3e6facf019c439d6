"""The download and convert Lambdas against the real kaggle client, the Kaggle stand-in and
LocalStack's S3 and Secrets Manager: bytes land where they should, failures leave nothing."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import pyarrow.parquet as pq
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from mhealth.convert.step import RawObjectMissingError, convert_raw_objects
from mhealth.download.archive import InvalidDatasetArchiveError
from mhealth.download.kaggle import KaggleAuthError, KaggleDownloadError
from mhealth.download.step import KaggleSecretError, download_to_raw
from mhealth.local.kaggle_standin import KaggleStandin
from mhealth.settings import DownloadSettings

pytestmark = pytest.mark.localstack

DATASET = "nirmalsankalana/mhealth-dataset-data-set"
USER, KEY = "local-kaggle-user", "local-kaggle-key"
SUBJECTS = range(1, 11)
AwsClient = Callable[[str], Any]


# -- synthetic data in the exact raw format ---------------------------------------------------


def log_bytes(subject: int, rows: int = 25, bad_lines: int = 0) -> bytes:
    """``rows`` valid 24-field lines (23 signals, then the label), then ``bad_lines`` bad ones."""
    lines = []
    for row in range(rows):
        signals = [f"{subject + row / 100 + column / 1000:.4f}" for column in range(23)]
        lines.append("\t".join([*signals, str(row % 13)]))
    lines.extend("1.5\t2.5\tshort line" for _ in range(bad_lines))
    return ("\n".join(lines) + "\n").encode("ascii")


def dataset_zip(logs: dict[int, bytes], extra: dict[str, bytes] | None = None) -> bytes:
    """A zip laid out like Kaggle's: MHEALTHDATASET/mHealth_subject<N>.log and README.txt."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "MHEALTHDATASET/README.txt", "MHEALTH dataset (synthetic) \xb7".encode("latin-1")
        )
        for subject, data in logs.items():
            archive.writestr(f"MHEALTHDATASET/mHealth_subject{subject}.log", data)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


LOGS = {subject: log_bytes(subject, rows=20 + subject) for subject in SUBJECTS}


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def secret_name(secrets: Any) -> Iterator[str]:
    name = f"mhealth-test/kaggle-{uuid.uuid4().hex[:12]}"
    secrets.create_secret(Name=name, SecretString=json.dumps({"username": USER, "key": KEY}))
    yield name
    secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


@pytest.fixture
def standin() -> Iterator[KaggleStandin]:
    with KaggleStandin(username=USER, key=KEY) as server:
        server.serve_bytes(DATASET, dataset_zip(LOGS))
        yield server


@pytest.fixture(scope="session")
def kaggle_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The kaggle client fixes its config dir at first import: one directory for the session.
    return tmp_path_factory.mktemp("kaggle-config")


@pytest.fixture
def settings(
    bucket: str, secret_name: str, standin: KaggleStandin, tmp_path: Path, kaggle_config_dir: Path
) -> DownloadSettings:
    return DownloadSettings(
        data_bucket=bucket,
        kaggle_secret_name=secret_name,
        kaggle_api_base_url=standin.url,
        kaggle_config_dir=kaggle_config_dir,
        scratch_dir=tmp_path / "scratch",
        retry_base_delay_seconds=0.05,
        request_timeout_seconds=10,
    )


@dataclass
class FakeLambdaContext:
    function_name: str = "mhealth-pipeline-local-download"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:test"
    aws_request_id: str = "test-request"
    remaining_millis: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis

    def typed(self) -> LambdaContext:
        """This stand-in where a handler takes Powertools' LambdaContext (which has no public
        constructor): it has every attribute the handlers and ``inject_lambda_context`` read."""
        return cast(LambdaContext, self)


@pytest.fixture
def lambda_env(
    monkeypatch: pytest.MonkeyPatch, s3: Any, settings: DownloadSettings
) -> Iterator[None]:
    """The environment serverless.yml gives the functions on the local stage."""
    import handlers.convert_logs
    import handlers.download_dataset

    for name, value in {
        "AWS_ENDPOINT_URL": s3.meta.endpoint_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DATA_BUCKET": settings.data_bucket,
        "KAGGLE_SECRET_NAME": settings.kaggle_secret_name,
        "KAGGLE_DATASET": DATASET,
        "KAGGLE_CONFIG_DIR": str(settings.kaggle_config_dir),
        "KAGGLE_API_BASE_URL": str(settings.kaggle_api_base_url),
        "KAGGLE_RETRY_BASE_DELAY_SECONDS": "0.05",
        "SCRATCH_DIR": str(settings.scratch_dir),
    }.items():
        monkeypatch.setenv(name, value)
    caches = (
        handlers.download_dataset.settings,
        handlers.download_dataset.clients,
        handlers.convert_logs.settings,
        handlers.convert_logs.s3_client,
    )
    for cached in caches:
        cached.cache_clear()
    yield
    for cached in caches:
        cached.cache_clear()


# -- helpers ----------------------------------------------------------------------------------


def object_keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return sorted(keys)


def object_bytes(s3: Any, bucket: str, key: str) -> bytes:
    data: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return data


def raw_key(subject: int) -> str:
    return f"raw/mHealth_subject{subject}.log"


def assert_nothing_written(s3: Any, settings: DownloadSettings) -> None:
    """No object in the bucket, and no file left in the scratch directory."""
    assert object_keys(s3, settings.data_bucket) == []
    if settings.scratch_dir.exists():
        assert list(settings.scratch_dir.iterdir()) == []


# -- download ---------------------------------------------------------------------------------


def test_download_handler_puts_all_ten_logs_under_raw_with_their_bytes(
    lambda_env: None, s3: Any, settings: DownloadSettings, standin: KaggleStandin
) -> None:
    from handlers.download_dataset import handler

    result = handler({}, FakeLambdaContext().typed())

    expected_keys = [raw_key(subject) for subject in SUBJECTS]
    assert result == {
        "bucket": settings.data_bucket,
        "raw_keys": expected_keys,  # by subject number: 10 comes last
        "uploaded": 10,
        "unchanged": 0,
        "source": "kaggle",  # the default download source
    }
    assert object_keys(s3, settings.data_bucket) == sorted(expected_keys)
    for subject in SUBJECTS:
        assert object_bytes(s3, settings.data_bucket, raw_key(subject)) == LOGS[subject]
        head = s3.head_object(Bucket=settings.data_bucket, Key=raw_key(subject))
        assert head["Metadata"]["sha256"] == hashlib.sha256(LOGS[subject]).hexdigest()
    assert [r.status for r in standin.requests] == [200]
    assert standin.requests[0].username == USER
    assert list(settings.scratch_dir.iterdir()) == []  # the zip and its folder are gone


def test_second_download_uploads_nothing(s3: Any, secrets: Any, settings: DownloadSettings) -> None:
    download_to_raw(settings, s3=s3, secrets=secrets)
    before = {
        key: s3.head_object(Bucket=settings.data_bucket, Key=key)["ETag"]
        for key in object_keys(s3, settings.data_bucket)
    }

    again = download_to_raw(settings, s3=s3, secrets=secrets)

    assert (again["uploaded"], again["unchanged"]) == (0, 10)
    assert again["raw_keys"] == [raw_key(subject) for subject in SUBJECTS]
    after = {
        key: s3.head_object(Bucket=settings.data_bucket, Key=key)["ETag"]
        for key in object_keys(s3, settings.data_bucket)
    }
    assert after == before


def test_a_changed_log_is_uploaded_again_alone(
    s3: Any, secrets: Any, settings: DownloadSettings, standin: KaggleStandin
) -> None:
    download_to_raw(settings, s3=s3, secrets=secrets)
    changed = {**LOGS, 3: log_bytes(3, rows=40)}
    standin.serve_bytes(DATASET, dataset_zip(changed))

    result = download_to_raw(settings, s3=s3, secrets=secrets)

    assert (result["uploaded"], result["unchanged"]) == (1, 9)
    assert object_bytes(s3, settings.data_bucket, raw_key(3)) == changed[3]


def test_wrong_credentials_fail_naming_the_secret_and_write_nothing(
    s3: Any, secrets: Any, settings: DownloadSettings, standin: KaggleStandin
) -> None:
    secrets.put_secret_value(
        SecretId=settings.kaggle_secret_name,
        SecretString=json.dumps({"username": USER, "key": "wrong-key"}),
    )
    with pytest.raises(KaggleAuthError) as caught:
        download_to_raw(settings, s3=s3, secrets=secrets)

    message = str(caught.value)
    assert "rejected the legacy API key" in message
    assert settings.kaggle_secret_name in message
    assert f"put-secret-value --secret-id {settings.kaggle_secret_name}" in message
    assert [r.status for r in standin.requests] == [401]  # no retry on a 401
    assert_nothing_written(s3, settings)


def test_a_missing_secret_fails_saying_how_to_create_it(
    s3: Any, secrets: Any, settings: DownloadSettings, standin: KaggleStandin
) -> None:
    missing = replace(settings, kaggle_secret_name=f"mhealth-test/absent-{uuid.uuid4().hex[:8]}")
    with pytest.raises(KaggleSecretError) as caught:
        download_to_raw(missing, s3=s3, secrets=secrets)

    assert missing.kaggle_secret_name in str(caught.value)
    assert "does not exist" in str(caught.value)
    assert f"create-secret --name {missing.kaggle_secret_name}" in str(caught.value)
    assert standin.received == 0
    assert_nothing_written(s3, settings)


def test_a_placeholder_secret_fails_saying_how_to_fill_it(
    s3: Any, secrets: Any, settings: DownloadSettings, standin: KaggleStandin
) -> None:
    secrets.put_secret_value(
        SecretId=settings.kaggle_secret_name,
        SecretString=json.dumps({"username": "REPLACE_ME", "key": "REPLACE_ME"}),
    )
    with pytest.raises(KaggleSecretError, match="put-secret-value"):
        download_to_raw(settings, s3=s3, secrets=secrets)
    assert standin.received == 0
    assert_nothing_written(s3, settings)


def test_two_500s_then_success_is_retried_to_a_full_download(
    s3: Any, secrets: Any, settings: DownloadSettings, standin: KaggleStandin
) -> None:
    standin.fail_next(2, status=500)

    result = download_to_raw(settings, s3=s3, secrets=secrets)

    assert [r.status for r in standin.requests] == [500, 500, 200]
    assert result["uploaded"] == 10
    for subject in SUBJECTS:
        assert object_bytes(s3, settings.data_bucket, raw_key(subject)) == LOGS[subject]


def test_persistent_500s_give_up_after_bounded_attempts_and_write_nothing(
    s3: Any, secrets: Any, settings: DownloadSettings, standin: KaggleStandin
) -> None:
    standin.fail_next(100, status=503)
    with pytest.raises(KaggleDownloadError, match="failed 3 times"):
        download_to_raw(settings, s3=s3, secrets=secrets)
    assert len(standin.requests) == 3
    assert_nothing_written(s3, settings)


def _crc_corrupted_zip() -> bytes:
    # Stored (uncompressed) members make the log bytes visible; flipping one breaks its CRC.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for subject, data in LOGS.items():
            archive.writestr(f"MHEALTHDATASET/mHealth_subject{subject}.log", data)
    corrupted = bytearray(buffer.getvalue())
    position = bytes(corrupted).index(LOGS[7][:20]) + 5
    corrupted[position] ^= 0x01
    return bytes(corrupted)


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        (b"<html><body>Service unavailable</body></html>", "not a readable zip archive"),
        (dataset_zip(LOGS)[:-200], "not a readable zip archive"),
        (_crc_corrupted_zip(), "mHealth_subject7.log .* is corrupt"),
    ],
    ids=["not-a-zip", "truncated", "bad-crc"],
)
def test_a_corrupt_zip_fails_clearly_and_writes_nothing(  # noqa: PLR0917 (fixtures)
    s3: Any,
    secrets: Any,
    settings: DownloadSettings,
    standin: KaggleStandin,
    archive: bytes,
    message: str,
) -> None:
    standin.serve_bytes(DATASET, archive)
    with pytest.raises(InvalidDatasetArchiveError, match=message):
        download_to_raw(settings, s3=s3, secrets=secrets)
    assert_nothing_written(s3, settings)


def test_a_zip_with_a_path_traversal_member_is_refused_and_writes_nothing(
    s3: Any, secrets: Any, settings: DownloadSettings, standin: KaggleStandin
) -> None:
    evil = dataset_zip(LOGS, extra={"MHEALTHDATASET/../../mHealth_subject11.log": LOGS[1]})
    standin.serve_bytes(DATASET, evil)
    with pytest.raises(InvalidDatasetArchiveError) as caught:
        download_to_raw(settings, s3=s3, secrets=secrets)
    assert "'MHEALTHDATASET/../../mHealth_subject11.log' escapes the target directory" in str(
        caught.value
    )
    assert_nothing_written(s3, settings)


def test_a_zip_without_logs_is_refused(
    s3: Any, secrets: Any, settings: DownloadSettings, standin: KaggleStandin
) -> None:
    standin.serve_bytes(DATASET, dataset_zip({}, extra={"data/mhealth.csv": b"1,2,3\n"}))
    with pytest.raises(InvalidDatasetArchiveError, match="holds no mHealth_subject"):
        download_to_raw(settings, s3=s3, secrets=secrets)
    assert_nothing_written(s3, settings)


def test_a_stalled_kaggle_answer_times_out_instead_of_hanging(
    s3: Any, secrets: Any, settings: DownloadSettings, standin: KaggleStandin
) -> None:
    standin.stall_next(1, seconds=60)
    quick = replace(settings, request_timeout_seconds=1.0)

    result = download_to_raw(quick, s3=s3, secrets=secrets)

    assert result["uploaded"] == 10
    assert standin.received == 2


# -- convert ----------------------------------------------------------------------------------


def put_raw(s3: Any, bucket: str, logs: dict[int, bytes]) -> list[str]:
    for subject, data in logs.items():
        s3.put_object(Bucket=bucket, Key=raw_key(subject), Body=data)
    return [raw_key(subject) for subject in logs]


def test_convert_handler_counts_rows_and_quarantines_bad_lines(
    lambda_env: None, s3: Any, bucket: str
) -> None:
    from handlers.convert_logs import handler

    logs = {1: log_bytes(1, rows=30), 2: log_bytes(2, rows=40, bad_lines=3)}
    keys = put_raw(s3, bucket, logs)

    result = handler({"raw_keys": keys}, FakeLambdaContext(function_name="convert").typed())

    assert result["files"] == [
        {
            "raw_key": "raw/mHealth_subject1.log",
            "stage_key": "stage/mHealth_subject1.parquet",
            "quarantine_key": None,
            "rows_in": 30,
            "rows_written": 30,
            "rows_quarantined": 0,
            "converted": True,
        },
        {
            "raw_key": "raw/mHealth_subject2.log",
            "stage_key": "stage/mHealth_subject2.parquet",
            "quarantine_key": "quarantine/mHealth_subject2.quarantine.jsonl",
            "rows_in": 43,
            "rows_written": 40,
            "rows_quarantined": 3,
            "converted": True,
        },
    ]
    assert (result["rows_in"], result["rows_written"], result["rows_quarantined"]) == (73, 70, 3)
    assert (result["converted"], result["unchanged"]) == (2, 0)

    table = pq.read_table(io.BytesIO(object_bytes(s3, bucket, "stage/mHealth_subject2.parquet")))
    assert table.num_rows == 40
    assert set(table.column("subject_id").to_pylist()) == {2}
    assert table.column("reading_index").to_pylist() == list(range(40))
    assert table.column("activity_id").to_pylist() == [row % 13 for row in range(40)]
    quarantined = [
        json.loads(line)
        for line in object_bytes(s3, bucket, "quarantine/mHealth_subject2.quarantine.jsonl")
        .decode()
        .splitlines()
    ]
    assert [item["line_number"] for item in quarantined] == [41, 42, 43]
    assert all(item["raw"].startswith("1.5\t2.5") for item in quarantined)
    assert object_keys(s3, bucket, "quarantine/") == [
        "quarantine/mHealth_subject2.quarantine.jsonl"
    ]


def test_convert_rerun_overwrites_and_drops_a_stale_quarantine(
    s3: Any, bucket: str, tmp_path: Path
) -> None:
    keys = put_raw(s3, bucket, {4: log_bytes(4, rows=10, bad_lines=2)})
    first = convert_raw_objects(s3, bucket, keys, scratch_dir=tmp_path)
    assert first["rows_quarantined"] == 2

    put_raw(s3, bucket, {4: log_bytes(4, rows=12)})  # the source got fixed
    second = convert_raw_objects(s3, bucket, keys, scratch_dir=tmp_path)
    third = convert_raw_objects(s3, bucket, keys, scratch_dir=tmp_path)

    # The third run finds the raw log unchanged: same counts, nothing converted again.
    assert (second["converted"], second["unchanged"]) == (1, 0)
    assert (third["converted"], third["unchanged"]) == (0, 1)
    assert [{**f, "converted": True} for f in third["files"]] == second["files"]
    assert (second["rows_written"], second["rows_quarantined"]) == (12, 0)
    assert (third["rows_written"], third["rows_quarantined"]) == (12, 0)
    assert object_keys(s3, bucket, "stage/") == ["stage/mHealth_subject4.parquet"]
    assert object_keys(s3, bucket, "quarantine/") == []
    staged = pq.read_table(io.BytesIO(object_bytes(s3, bucket, "stage/mHealth_subject4.parquet")))
    assert staged.num_rows == 12
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "error"),
    [(b"", "is empty"), (b"not\ta\tmhealth\tfile\n" * 5, "no valid MHEALTH record")],
    ids=["empty", "garbage"],
)
def test_convert_raises_on_a_file_level_error_and_writes_no_stage_object(
    s3: Any, bucket: str, tmp_path: Path, content: bytes, error: str
) -> None:
    s3.put_object(Bucket=bucket, Key=raw_key(5), Body=content)
    with pytest.raises(ValueError, match=error):
        convert_raw_objects(s3, bucket, [raw_key(5)], scratch_dir=tmp_path)
    assert object_keys(s3, bucket, "stage/") == []
    assert object_keys(s3, bucket, "quarantine/") == []
    assert list(tmp_path.iterdir()) == []


def test_convert_of_a_missing_raw_object_names_it(s3: Any, bucket: str, tmp_path: Path) -> None:
    with pytest.raises(RawObjectMissingError, match=f"s3://{bucket}/raw/mHealth_subject9.log"):
        convert_raw_objects(s3, bucket, [raw_key(9)], scratch_dir=tmp_path)


def test_convert_handler_rejects_a_malformed_event(lambda_env: None) -> None:
    from handlers.convert_logs import handler

    with pytest.raises(ValueError, match="raw_keys"):
        handler({"raw_keys": []}, FakeLambdaContext().typed())
    with pytest.raises(ValueError, match="must start with 'raw/'"):
        handler({"raw_keys": ["stage/mHealth_subject1.parquet"]}, FakeLambdaContext().typed())


def test_download_then_convert_end_to_end(
    lambda_env: None, s3: Any, settings: DownloadSettings
) -> None:
    from handlers.convert_logs import handler as convert
    from handlers.download_dataset import handler as download

    downloaded = download({}, FakeLambdaContext().typed())
    converted = [
        convert({"raw_keys": [key]}, FakeLambdaContext().typed()) for key in downloaded["raw_keys"]
    ]

    assert sum(item["rows_written"] for item in converted) == sum(20 + s for s in SUBJECTS)
    assert len(object_keys(s3, settings.data_bucket, "stage/")) == 10
