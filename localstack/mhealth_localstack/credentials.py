"""The credentials our services sign with on LocalStack's gateway when they act as an account
rather than as a role: LocalStack maps the access key id to the account and does not check the
secret (the IAM enforcement checks only signatures made with a role's temporary credentials)."""

from __future__ import annotations

from typing import Final, TypedDict

from localstack.constants import DEFAULT_AWS_ACCOUNT_ID


class ClientCredentials(TypedDict):
    """boto3 client keyword arguments."""

    aws_access_key_id: str
    aws_secret_access_key: str


#: The secret access key that goes with every local access key id.
LOCAL_SECRET_ACCESS_KEY: Final = "test"


def access_key_for(account_id: str) -> str:
    """An access key id that LocalStack maps to ``account_id``: a 12-digit key id means that
    account; ``test`` means the default one."""
    return "test" if account_id == DEFAULT_AWS_ACCOUNT_ID else account_id


def local_credentials(account_id: str) -> ClientCredentials:
    """boto3 client keyword arguments that sign as ``account_id``."""
    return {
        "aws_access_key_id": access_key_for(account_id),
        "aws_secret_access_key": LOCAL_SECRET_ACCESS_KEY,
    }


def local_environment(account_id: str) -> dict[str, str]:
    """The same credentials as a process's environment variables."""
    return {
        "AWS_ACCESS_KEY_ID": access_key_for(account_id),
        "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_ACCESS_KEY,
    }
