"""Lambda settings are parsed once, listing every problem; the Kaggle secret is vetted."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from mhealth.download.kaggle import KaggleApiToken, KaggleCredentials
from mhealth.download.step import KaggleSecretError, deadline_from_remaining, parse_kaggle_secret
from mhealth.settings import (
    DEFAULT_KAGGLE_DATASET,
    ConvertSettings,
    DownloadSettings,
    SettingsError,
)

REQUIRED = {"DATA_BUCKET": "data-bucket", "KAGGLE_SECRET_NAME": "mhealth/kaggle"}


def test_download_settings_defaults() -> None:
    settings = DownloadSettings.from_env(REQUIRED)
    assert settings.data_bucket == "data-bucket"
    assert settings.kaggle_secret_name == "mhealth/kaggle"
    assert settings.kaggle_dataset == DEFAULT_KAGGLE_DATASET
    assert settings.kaggle_dataset_version is None
    assert settings.kaggle_api_base_url is None
    assert settings.kaggle_config_dir is None
    assert settings.scratch_dir == Path(tempfile.gettempdir())
    assert settings.max_attempts == 3


def test_download_settings_read_every_option() -> None:
    settings = DownloadSettings.from_env(
        {
            **REQUIRED,
            "KAGGLE_DATASET": "owner/other-set",
            "KAGGLE_DATASET_VERSION": "4",
            "KAGGLE_CONFIG_DIR": "/tmp/kaggle",
            "KAGGLE_API_BASE_URL": "http://127.0.0.1:4599/",
            "SCRATCH_DIR": "/tmp/scratch",
            "KAGGLE_MAX_ATTEMPTS": "5",
            "KAGGLE_RETRY_BASE_DELAY_SECONDS": "0.5",
            "KAGGLE_REQUEST_TIMEOUT_SECONDS": "30",
        }
    )
    assert settings.kaggle_dataset == "owner/other-set"
    assert settings.kaggle_dataset_version == 4
    assert settings.kaggle_config_dir == Path("/tmp/kaggle")
    assert settings.kaggle_api_base_url == "http://127.0.0.1:4599"
    assert settings.scratch_dir == Path("/tmp/scratch")
    assert (settings.max_attempts, settings.retry_base_delay_seconds) == (5, 0.5)
    assert settings.request_timeout_seconds == 30.0


def test_an_empty_version_means_the_latest() -> None:
    assert (
        DownloadSettings.from_env({**REQUIRED, "KAGGLE_DATASET_VERSION": ""}).kaggle_dataset_version
        is None
    )


def test_download_settings_list_every_missing_name() -> None:
    with pytest.raises(SettingsError) as caught:
        DownloadSettings.from_env({})
    assert caught.value.problems == ["missing DATA_BUCKET", "missing KAGGLE_SECRET_NAME"]


def test_download_settings_list_every_malformed_value() -> None:
    with pytest.raises(SettingsError) as caught:
        DownloadSettings.from_env(
            {
                **REQUIRED,
                "KAGGLE_DATASET": "no-owner",
                "KAGGLE_DATASET_VERSION": "latest",
                "KAGGLE_API_BASE_URL": "127.0.0.1:4599",
                "KAGGLE_MAX_ATTEMPTS": "0",
            }
        )
    message = str(caught.value)
    for name in (
        "KAGGLE_DATASET=",
        "KAGGLE_DATASET_VERSION=",
        "KAGGLE_API_BASE_URL=",
        "KAGGLE_MAX_ATTEMPTS=",
    ):
        assert name in message


def test_convert_settings() -> None:
    assert ConvertSettings.from_env({"DATA_BUCKET": "b", "SCRATCH_DIR": "/x"}) == ConvertSettings(
        data_bucket="b", scratch_dir=Path("/x")
    )
    with pytest.raises(SettingsError, match="missing DATA_BUCKET"):
        ConvertSettings.from_env({})


def test_secret_with_username_and_key_gives_credentials() -> None:
    credentials = parse_kaggle_secret('{"username": "ann", "key": "abc123"}', "s")
    assert isinstance(credentials, KaggleCredentials)
    assert (credentials.username, credentials.key) == ("ann", "abc123")
    assert "abc123" not in repr(credentials)


def test_secret_with_a_token_gives_an_api_token() -> None:
    credentials = parse_kaggle_secret('{"token": " KGAT_0123abcd "}', "s")
    assert isinstance(credentials, KaggleApiToken)
    assert credentials.token == "KGAT_0123abcd"
    assert "KGAT_0123abcd" not in repr(credentials)


def test_a_token_wins_over_a_legacy_pair_in_the_same_secret() -> None:
    text = '{"token": "KGAT_0123abcd", "username": "ann", "key": "abc123"}'
    assert parse_kaggle_secret(text, "s") == KaggleApiToken("KGAT_0123abcd")


def test_the_fix_names_the_token_flow_first() -> None:
    with pytest.raises(KaggleSecretError) as caught:
        parse_kaggle_secret("{}", "mhealth-dev/kaggle")
    message = str(caught.value)
    assert "no 'token', nor 'username' and 'key'" in message
    assert message.index('{"token"') < message.index('{"username"')


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '["ann", "abc"]',
        '{"username": "ann"}',
        '{"username": "", "key": "abc"}',
        '{"username": "REPLACE_ME", "key": "REPLACE_ME"}',
        '{"username": "<kaggle-username>", "key": "<kaggle-api-key>"}',
        '{"username": "ann", "key": "changeme"}',
        '{"token": "REPLACE_ME"}',
        '{"token": ""}',
        '{"token": 42, "username": "ann", "key": "abc"}',
        '{"token": "<your KGAT_... API token>"}',
    ],
)
def test_unusable_secret_names_the_secret_and_the_fix(text: str) -> None:
    with pytest.raises(KaggleSecretError) as caught:
        parse_kaggle_secret(text, "mhealth-prod/kaggle")
    message = str(caught.value)
    assert "'mhealth-prod/kaggle'" in message
    assert "aws secretsmanager put-secret-value --secret-id mhealth-prod/kaggle" in message


def test_deadline_keeps_a_margin_before_the_lambda_timeout() -> None:
    import time

    assert deadline_from_remaining(None) is None
    deadline = deadline_from_remaining(900.0)
    assert deadline is not None
    assert 880 < deadline - time.monotonic() <= 885
    short = deadline_from_remaining(10.0)
    assert short is not None
    assert 4 < short - time.monotonic() <= 5
