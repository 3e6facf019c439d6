"""The local AWS's Glue catalog honours UpdateTable's SkipArchive (the daily run's table update),
and its CloudFormation deploys AWS::Athena::WorkGroup (create, update, delete) and updates an
AWS::SecretsManager::Secret's value in place, as AWS does."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mhealth.core.table import table_input
from mhealth.transform.catalog_writer import publish_table

AwsClient = Callable[[str], Any]
UniqueName = Callable[[str], str]


@pytest.fixture
def database(aws_client: AwsClient, unique_name: UniqueName) -> Iterator[str]:
    name = unique_name("skiparchive").replace("-", "_")
    yield name
    glue = aws_client("glue")
    with contextlib.suppress(glue.exceptions.EntityNotFoundException):
        glue.delete_database(Name=name)


def _versions(glue: Any, database: str, table: str) -> list[str]:
    pages = glue.get_paginator("get_table_versions").paginate(
        DatabaseName=database, TableName=table
    )
    return sorted(v["VersionId"] for page in pages for v in page["TableVersions"])


def test_daily_table_updates_archive_no_versions(aws_client: AwsClient, database: str) -> None:
    """UpdateTable with SkipArchive "does not create the archived version of the table"
    (https://docs.aws.amazon.com/glue/latest/webapi/API_UpdateTable.html); without it every
    update adds one."""
    glue = aws_client("glue")
    location = "s3://bucket/processed/"
    for _ in range(3):  # three daily runs: one create, two updates
        publish_table(glue, database, "mhealth", location, ["1", "2"])
    assert _versions(glue, database, "mhealth") == ["1"]
    moved = "s3://bucket/elsewhere/"
    publish_table(glue, database, "mhealth", moved, ["1"])
    table = glue.get_table(DatabaseName=database, Name="mhealth")["Table"]
    assert table["StorageDescriptor"]["Location"] == moved  # updated in place
    assert _versions(glue, database, "mhealth") == ["1"]
    glue.update_table(DatabaseName=database, TableInput=table_input("mhealth", location))
    assert _versions(glue, database, "mhealth") == ["1", "2"]


def _work_group_template(name: str, cutoff: int) -> str:
    return json.dumps(
        {
            "Resources": {
                "WorkGroup": {
                    "Type": "AWS::Athena::WorkGroup",
                    "Properties": {
                        "Name": name,
                        "Description": "test",
                        "State": "ENABLED",
                        "RecursiveDeleteOption": True,
                        "WorkGroupConfiguration": {
                            "EnforceWorkGroupConfiguration": True,
                            "BytesScannedCutoffPerQuery": cutoff,
                            "ResultConfiguration": {
                                "OutputLocation": "s3://results-bucket/athena-results/",
                                "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
                            },
                        },
                    },
                }
            },
            "Outputs": {"Name": {"Value": {"Ref": "WorkGroup"}}},
        }
    )


def test_cloudformation_creates_updates_and_deletes_a_work_group(
    aws_client: AwsClient, unique_name: UniqueName
) -> None:
    cloudformation, athena = aws_client("cloudformation"), aws_client("athena")
    stack, name = unique_name("wg-stack"), unique_name("wg")
    cloudformation.create_stack(StackName=stack, TemplateBody=_work_group_template(name, 10**9))
    try:
        cloudformation.get_waiter("stack_create_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
        assert [o["OutputValue"] for o in outputs] == [name]  # Ref is the name
        configuration = athena.get_work_group(WorkGroup=name)["WorkGroup"]["Configuration"]
        assert configuration["EnforceWorkGroupConfiguration"] is True
        assert configuration["BytesScannedCutoffPerQuery"] == 10**9
        assert configuration["ResultConfiguration"] == {
            "OutputLocation": "s3://results-bucket/athena-results/",
            "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
        }

        cloudformation.update_stack(
            StackName=stack, TemplateBody=_work_group_template(name, 2 * 10**9)
        )
        cloudformation.get_waiter("stack_update_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        configuration = athena.get_work_group(WorkGroup=name)["WorkGroup"]["Configuration"]
        assert configuration["BytesScannedCutoffPerQuery"] == 2 * 10**9
        assert configuration["ResultConfiguration"]["OutputLocation"] == (
            "s3://results-bucket/athena-results/"
        )
    finally:
        cloudformation.delete_stack(StackName=stack)
        cloudformation.get_waiter("stack_delete_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    names = [group["Name"] for group in athena.list_work_groups()["WorkGroups"]]
    assert name not in names


def _secret_template(name: str, value: str) -> str:
    return json.dumps(
        {
            "Resources": {
                "Secret": {
                    "Type": "AWS::SecretsManager::Secret",
                    "Properties": {"Name": name, "Description": value, "SecretString": value},
                }
            }
        }
    )


def test_cloudformation_updates_a_secret_value_in_place(
    aws_client: AwsClient, unique_name: UniqueName
) -> None:
    """SecretString and Description update with "No interruption"
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-secretsmanager-secret.html):
    what MHEALTH_KAGGLE_CREDENTIALS relies on to switch the local stage's Kaggle secret."""
    cloudformation, secrets = aws_client("cloudformation"), aws_client("secretsmanager")
    stack, name = unique_name("secret-stack"), f"mhealth-test/{unique_name('secret')}"
    token, legacy = '{"token": "KGAT_a"}', '{"username": "u", "key": "k"}'
    cloudformation.create_stack(StackName=stack, TemplateBody=_secret_template(name, token))
    try:
        waiter = {"Delay": 1, "MaxAttempts": 120}
        cloudformation.get_waiter("stack_create_complete").wait(
            StackName=stack, WaiterConfig=waiter
        )
        arn = secrets.describe_secret(SecretId=name)["ARN"]
        assert secrets.get_secret_value(SecretId=name)["SecretString"] == token
        cloudformation.update_stack(StackName=stack, TemplateBody=_secret_template(name, legacy))
        cloudformation.get_waiter("stack_update_complete").wait(
            StackName=stack, WaiterConfig=waiter
        )
        assert secrets.get_secret_value(SecretId=name)["SecretString"] == legacy
        described = secrets.describe_secret(SecretId=name)
        assert (described["ARN"], described["Description"]) == (arn, legacy)  # same secret
    finally:
        cloudformation.delete_stack(StackName=stack)
        cloudformation.get_waiter("stack_delete_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
