"""Rollback-safe Glue assets: serverless/plugins/glue-assets.js, run against the local AWS's S3
deploy after deploy, keeps the script and library of earlier deploys (tagged ``superseded``,
which the bucket's lifecycle rule expires later) and untags an object a deploy names again."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

AwsClient = Callable[[str], Any]
REPO = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).with_name("glue_assets_deploys.js")


def _deploy(endpoint: str, bucket: str, work: Path, *scripts: str) -> list[dict[str, str]]:
    node = shutil.which("node")
    assert node, "node is not installed"
    completed = subprocess.run(
        [node, str(HARNESS), str(REPO), endpoint, bucket, str(work), *scripts],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return [json.loads(line) for line in completed.stdout.splitlines()]


def _tags(s3: Any, bucket: str, key: str) -> dict[str, str]:
    tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in tags}


def test_earlier_assets_are_kept_and_tagged_and_a_redeploy_untags_them(
    aws_client: AwsClient, bucket: str, tmp_path: Path
) -> None:
    s3 = aws_client("s3")
    first, second, again = _deploy(
        s3.meta.endpoint_url,
        bucket,
        tmp_path,
        "print('job v1')\n",
        "print('job v2')\n",
        "print('job v1')\n",  # a deploy of the earlier sources (what a rollback restores)
    )
    assert first["script"] != second["script"]
    assert again == first
    keys = {
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    }
    # Nothing deleted: both scripts, and the library (same content every time: one key).
    assert keys == {first["script"], second["script"], first["library"]}
    assert s3.get_object(Bucket=bucket, Key=first["script"])["Body"].read() == b"print('job v1')\n"
    assert _tags(s3, bucket, first["script"]) == {}  # current again
    assert _tags(s3, bucket, first["library"]) == {}
    assert _tags(s3, bucket, second["script"]) == {"superseded": "true"}


def test_a_superseded_asset_keeps_its_content_type_and_metadata(
    aws_client: AwsClient, bucket: str, tmp_path: Path
) -> None:
    s3 = aws_client("s3")
    first, _second = _deploy(
        s3.meta.endpoint_url, bucket, tmp_path, "print('one')\n", "print('two')\n"
    )
    head = s3.head_object(Bucket=bucket, Key=first["script"])
    assert head["ContentType"] == "text/x-python"
    assert set(head["Metadata"]) == {"content-sha256"}
    assert _tags(s3, bucket, first["script"]) == {"superseded": "true"}
