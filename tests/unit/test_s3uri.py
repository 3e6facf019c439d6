"""The extension's one S3 URI parser, with the schemes Glue and Athena accept for locations."""

from __future__ import annotations

import pytest
from mhealth_localstack import s3uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/processed/", "bucket/processed"),
        ("s3a://bucket/processed/user_id=1/", "bucket/processed/user_id=1"),
        ("s3n://bucket", "bucket"),
    ],
)
def test_path_drops_scheme_and_trailing_slash(uri: str, expected: str) -> None:
    assert s3uri.path(uri) == expected


@pytest.mark.parametrize("uri", ["", "/local/file.py", "s3://", "s3:///key", "https://b/k", "S3"])
def test_path_refuses_what_is_not_an_s3_uri(uri: str) -> None:
    with pytest.raises(ValueError, match="Not an S3 URI"):
        s3uri.path(uri)


def test_bucket_and_key_needs_an_object() -> None:
    assert s3uri.bucket_and_key(" s3://b/lib/a.zip ") == ("b", "lib/a.zip")
    for uri in ("s3://b/", "s3://b", "file:///x"):
        with pytest.raises(ValueError, match="Not an S3 object URI"):
            s3uri.bucket_and_key(uri)


def test_is_s3_uri() -> None:
    assert s3uri.is_s3_uri("s3a://b/k")
    assert not s3uri.is_s3_uri("hdfs://b/k")
