"""S3 URIs as Glue and Athena accept them: ``s3://``, and Hadoop's ``s3a://`` and ``s3n://``
spellings of the same location (table locations written by Spark or Hive tools use them)."""

from __future__ import annotations

from typing import Final

SCHEMES: Final = ("s3://", "s3a://", "s3n://")


def is_s3_uri(uri: str) -> bool:
    """Whether ``uri`` starts with one of the S3 schemes."""
    return uri.startswith(SCHEMES)


def path(uri: str) -> str:
    """``s3://bucket/key/`` → ``bucket/key`` (no scheme, no trailing slash): the path form
    pyarrow's S3 filesystem uses. ``ValueError`` for anything that is not an S3 URI."""
    for scheme in SCHEMES:
        if uri.startswith(scheme):
            rest = uri[len(scheme) :].rstrip("/")
            if rest and not rest.startswith("/"):
                return rest
    raise ValueError(f"Not an S3 URI: {uri!r}")


def bucket_and_key(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``("bucket", "key")``; ``ValueError`` unless it names an object."""
    try:
        bucket, _, key = path(uri.strip()).partition("/")
    except ValueError:
        key = ""
    if not key:
        raise ValueError(f"Not an S3 object URI: {uri!r}")
    return bucket, key
