"""Both kinds of Kaggle credentials a secret can hold, through the download step, LocalStack's
Secrets Manager and S3, the real kaggle client and the stand-in: an API token (Kaggle's settings
page, "Generate New Token": ``{"token": "KGAT_…"}``, sent as Bearer after the client's token
introspection) and the legacy pair (``{"username", "key"}``, sent as Basic). Each test has its
own secret, bucket and stand-in."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mhealth.download.kaggle import KaggleAuthError
from mhealth.download.step import download_to_raw
from mhealth.local.kaggle_standin import KaggleStandin
from mhealth.settings import DownloadSettings
from tests.integration.test_download_convert import (
    DATASET,
    LOGS,
    SUBJECTS,
    dataset_zip,
    object_bytes,
    object_keys,
    raw_key,
)

USER, KEY = "kaggle-credentials-user", "kaggle-credentials-key"
TOKEN = "KGAT_integration-test-token"
AwsClient = Callable[[str], Any]


@pytest.fixture
def standin() -> Iterator[KaggleStandin]:
    with KaggleStandin(username=USER, key=KEY, tokens=[TOKEN]) as server:
        server.serve_bytes(DATASET, dataset_zip(LOGS))
        yield server


@pytest.fixture(scope="session")
def kaggle_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kaggle-config")


@pytest.fixture
def make_settings(
    secrets: Any, bucket: str, standin: KaggleStandin, tmp_path: Path, kaggle_config_dir: Path
) -> Iterator[Callable[[dict[str, str]], DownloadSettings]]:
    """Settings whose secret (created here, deleted after) holds the given JSON."""
    created: list[str] = []

    def make(secret: dict[str, str]) -> DownloadSettings:
        name = f"mhealth-test/kaggle-{uuid.uuid4().hex[:12]}"
        secrets.create_secret(Name=name, SecretString=json.dumps(secret))
        created.append(name)
        return DownloadSettings(
            data_bucket=bucket,
            kaggle_secret_name=name,
            kaggle_api_base_url=standin.url,
            kaggle_config_dir=kaggle_config_dir,
            scratch_dir=tmp_path / "scratch",
            retry_base_delay_seconds=0.05,
            request_timeout_seconds=10,
        )

    yield make
    for name in created:
        secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


@pytest.mark.parametrize(
    ("secret", "scheme"),
    [({"token": TOKEN}, "bearer"), ({"username": USER, "key": KEY}, "basic")],
    ids=["api-token", "legacy-pair"],
)
def test_either_kind_of_secret_downloads_all_ten_logs(  # noqa: PLR0917 (fixtures)
    s3: Any,
    secrets: Any,
    standin: KaggleStandin,
    make_settings: Callable[[dict[str, str]], DownloadSettings],
    secret: dict[str, str],
    scheme: str,
) -> None:
    settings = make_settings(secret)
    result = download_to_raw(settings, s3=s3, secrets=secrets)
    assert result["raw_keys"] == [raw_key(subject) for subject in SUBJECTS]
    for subject in SUBJECTS:
        assert object_bytes(s3, settings.data_bucket, raw_key(subject)) == LOGS[subject]
    assert [(r.scheme, r.username, r.status) for r in standin.requests] == [(scheme, USER, 200)]
    # Only a token is checked before use; the legacy pair goes straight to the download.
    assert standin.introspections == ([(True, USER)] if scheme == "bearer" else [])


@pytest.mark.parametrize("expired", [True, False], ids=["expired-token", "wrong-token"])
def test_a_bad_token_fails_at_once_naming_the_secret_and_writes_nothing(
    s3: Any,
    secrets: Any,
    standin: KaggleStandin,
    make_settings: Callable[[dict[str, str]], DownloadSettings],
    *,
    expired: bool,
) -> None:
    if expired:
        standin.expire_token(TOKEN)
    settings = make_settings({"token": TOKEN if expired else "KGAT_not-issued-by-kaggle"})
    slept: list[float] = []
    with pytest.raises(KaggleAuthError) as caught:
        download_to_raw(settings, s3=s3, secrets=secrets, sleep=slept.append)
    message = str(caught.value)
    assert f"secret {settings.kaggle_secret_name!r}" in message
    assert "API token" in message
    assert f"put-secret-value --secret-id {settings.kaggle_secret_name}" in message
    assert slept == []  # no retry
    assert standin.requests == []  # the token check stopped it before any download
    assert standin.introspections == ([(False, None)] if expired else [])
    assert object_keys(s3, settings.data_bucket) == []
