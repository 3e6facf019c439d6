"""The local stage's IAM evaluator against the examples in AWS's policy-evaluation documentation.

The evaluator lives in the LocalStack extension (``localstack/mhealth_localstack/iam``); its
``policy``, ``actions`` and ``sigv4`` modules use the standard library only, so they are
imported here from the source tree without LocalStack.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

_EXTENSION = str(Path(__file__).resolve().parents[2] / "localstack")
if _EXTENSION not in sys.path:
    sys.path.append(_EXTENSION)

from mhealth_localstack.iam import actions, sigv4  # noqa: E402
from mhealth_localstack.iam.policy import (  # noqa: E402
    Check,
    Statement,
    condition_holds,
    evaluate,
    parse_policy,
    resource_matches,
)


def _decide(document: Mapping[str, Any], action: str, resource: str, **context: object) -> str:
    values = {k.replace("__", ":").replace("_", "-"): v for k, v in context.items()}
    ctx = {k: (list(v) if isinstance(v, list) else [str(v)]) for k, v in values.items()}
    return evaluate(parse_policy("p", document), Check(action, resource, ctx)).outcome


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html
# ("Example identity-based and resource-based policy evaluation": Carlos's user policy)
CARLOS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowS3ListRead",
            "Effect": "Allow",
            "Action": [
                "s3:GetBucketLocation",
                "s3:GetAccountPublicAccessBlock",
                "s3:ListAccessPoints",
                "s3:ListAllMyBuckets",
            ],
            "Resource": "arn:aws:s3:::*",
        },
        {
            "Sid": "AllowS3Self",
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": [
                "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar/*",
                "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar",
            ],
        },
        {
            "Sid": "DenyS3Logs",
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::*log*",
        },
    ],
}


def test_carlos_cannot_save_to_the_logs_bucket_the_deny_wins() -> None:
    statements = parse_policy("carlos", CARLOS)
    decision = evaluate(
        statements,
        Check("s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar-logs/file.txt"),
    )
    # AllowS3Self does not cover the -logs bucket's objects; DenyS3Logs would deny it anyway
    # because "*log*" spans the "/" of the object ARN.
    assert decision.outcome == "explicit-deny"
    assert decision.statement is not None and decision.statement.sid == "DenyS3Logs"


def test_carlos_may_write_his_own_bucket_and_list_every_bucket() -> None:
    assert (
        _decide(CARLOS, "s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar/a.txt")
        == "allow"
    )
    assert _decide(CARLOS, "s3:GetBucketLocation", "arn:aws:s3:::other-bucket") == "allow"
    assert _decide(CARLOS, "s3:GetObject", "arn:aws:s3:::other-bucket/a.txt") == "implicit-deny"


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html
INTERPLAY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowGetList",
            "Effect": "Allow",
            "Action": ["iam:Get*", "iam:List*"],
            "Resource": "*",
        },
        {"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"},
    ],
}


@pytest.mark.parametrize(
    ("action", "outcome"),
    [
        ("iam:GetUser", "allow"),
        ("iam:listroles", "allow"),  # action names are case-insensitive
        ("iam:CreatePolicy", "implicit-deny"),
        ("iam:GetOrganizationsAccessReport", "explicit-deny"),
    ],
)
def test_explicit_and_implicit_denies(action: str, outcome: str) -> None:
    assert _decide(INTERPLAY, action, "*") == outcome


def test_a_deny_in_one_policy_beats_an_allow_in_another() -> None:
    allow = parse_policy(
        "allow", {"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}
    )
    deny = parse_policy("deny", INTERPLAY)
    decision = evaluate([*allow, *deny], Check("iam:GenerateCredentialReport", "*"))
    assert decision.outcome == "explicit-deny"
    assert decision.statement is not None and decision.statement.label == "deny#DenyReports"


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
def test_not_action_allows_everything_but_the_listed_actions() -> None:
    policy = {"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}
    assert _decide(policy, "s3:GetObject", "arn:aws:s3:::b/k") == "allow"
    assert _decide(policy, "iam:CreateUser", "*") == "implicit-deny"


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html
def test_not_resource_applies_to_every_other_resource() -> None:
    policy = {
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"],
            },
        ]
    }
    assert _decide(policy, "s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/a.csv") == "allow"
    assert _decide(policy, "s3:GetObject", "arn:aws:s3:::HRBucket/Other/a.csv") == "explicit-deny"


# https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html (s3:prefix)
# and the IAM example "Allows IAM users to access their own home directory in Amazon S3"
HOME = {
    "Statement": [
        {
            "Sid": "ListYourObjects",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::bucket-name",
            "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}},
        }
    ]
}


def test_string_like_on_s3_prefix_with_a_policy_variable() -> None:
    bucket = "arn:aws:s3:::bucket-name"
    assert (
        _decide(HOME, "s3:ListBucket", bucket, s3__prefix="home/jane/", aws__username="jane")
        == "allow"
    )
    assert (
        _decide(HOME, "s3:ListBucket", bucket, s3__prefix="home/jane/x", aws__username="jane")
        == "allow"
    )
    assert (
        _decide(HOME, "s3:ListBucket", bucket, s3__prefix="home/bob/", aws__username="jane")
        == "implicit-deny"
    )
    # No s3:prefix in the request (e.g. GetBucketLocation, or S3's 404-vs-403 check): no match.
    assert _decide(HOME, "s3:ListBucket", bucket, aws__username="jane") == "implicit-deny"


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
def test_missing_key_fails_positive_operators_and_passes_negated_ones() -> None:
    assert not condition_holds("StringEquals", "aws:PrincipalTag/team", ["a"], {})
    assert condition_holds("StringNotLike", "aws:PrincipalTag/team", ["a*"], {})
    assert condition_holds("ArnNotLike", "aws:SourceArn", ["arn:aws:sns:*"], {})
    assert condition_holds("StringEqualsIfExists", "ec2:InstanceType", ["t2.micro"], {})
    assert not condition_holds(
        "StringEqualsIfExists", "ec2:InstanceType", ["t2.micro"], {"ec2:instancetype": ["m5.large"]}
    )


def test_null_checks_presence() -> None:
    assert condition_holds("Null", "aws:TokenIssueTime", ["true"], {})
    assert not condition_holds("Null", "aws:TokenIssueTime", ["false"], {})
    assert condition_holds("Null", "aws:TokenIssueTime", ["false"], {"aws:tokenissuetime": ["x"]})


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
def test_values_of_one_key_are_ored_and_negated_values_are_nored() -> None:
    ctx = {"aws:requestedregion": ["eu-west-1"]}
    assert condition_holds("StringEquals", "aws:RequestedRegion", ["us-east-1", "eu-west-1"], ctx)
    assert not condition_holds(
        "StringNotEquals", "aws:RequestedRegion", ["us-east-1", "eu-west-1"], ctx
    )
    assert condition_holds("StringNotEquals", "aws:RequestedRegion", ["us-east-1"], ctx)


def test_operators_and_keys_are_anded() -> None:
    policy = {
        "Statement": {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "*",
            "Condition": {
                "StringLike": {"s3:prefix": "stage/*"},
                "StringEquals": {"s3:delimiter": "/"},
            },
        }
    }
    assert _decide(policy, "s3:ListBucket", "*", s3__prefix="stage/a", s3__delimiter="/") == "allow"
    assert _decide(policy, "s3:ListBucket", "*", s3__prefix="stage/a") == "implicit-deny"


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
def test_for_all_values_and_for_any_value() -> None:
    keys = ["environment", "cost-center"]
    ctx = {"aws:tagkeys": ["environment", "cost-center"]}
    assert condition_holds("ForAllValues:StringEquals", "aws:TagKeys", keys, ctx)
    assert not condition_holds(
        "ForAllValues:StringEquals", "aws:TagKeys", keys, {"aws:tagkeys": ["environment", "x"]}
    )
    # ForAllValues holds when the key is absent; ForAnyValue does not.
    assert condition_holds("ForAllValues:StringEquals", "aws:TagKeys", keys, {})
    assert not condition_holds("ForAnyValue:StringEquals", "aws:TagKeys", keys, {})
    assert condition_holds(
        "ForAnyValue:StringEquals", "aws:TagKeys", keys, {"aws:tagkeys": ["x", "environment"]}
    )


def test_bool_ip_numeric_and_date_operators() -> None:
    assert condition_holds(
        "Bool", "aws:SecureTransport", ["false"], {"aws:securetransport": ["false"]}
    )
    assert not condition_holds(
        "Bool", "aws:SecureTransport", ["true"], {"aws:securetransport": ["false"]}
    )
    ip = {"aws:sourceip": ["203.0.113.7"]}
    assert condition_holds("IpAddress", "aws:SourceIp", ["203.0.113.0/24"], ip)
    assert condition_holds("NotIpAddress", "aws:SourceIp", ["198.51.100.0/24"], ip)
    assert condition_holds("NumericLessThanEquals", "s3:max-keys", ["10"], {"s3:max-keys": ["10"]})
    assert not condition_holds("NumericLessThan", "s3:max-keys", ["10"], {"s3:max-keys": ["11"]})
    now = {"aws:currenttime": ["2020-12-10T00:00:00Z"]}
    assert condition_holds("DateGreaterThan", "aws:CurrentTime", ["2020-12-01T00:00:00Z"], now)
    assert condition_holds("DateLessThan", "aws:CurrentTime", ["2020-12-25T06:00:00Z"], now)


def test_arn_like_on_principal_arn() -> None:
    ctx = {"aws:principalarn": ["arn:aws:iam::123456789012:role/convert-role"]}
    assert condition_holds("ArnLike", "aws:PrincipalArn", ["arn:aws:iam::*:role/convert-*"], ctx)
    assert not condition_holds("ArnEquals", "aws:PrincipalArn", ["arn:aws:iam::*:role/x"], ctx)


def test_resource_wildcards_span_slashes_and_colons_only_in_the_resource_part() -> None:
    group = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*"
    stream = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:log-stream:2026/x"
    assert resource_matches(group, stream)
    assert resource_matches("arn:aws:s3:::bucket/stage*", "arn:aws:s3:::bucket/stage/a/b.parquet")
    assert not resource_matches("arn:aws:s3:::bucket/stage/*", "arn:aws:s3:::bucket/raw/a")
    assert not resource_matches("arn:aws:logs:*:1:log-group:x", "arn:aws:logs:r:2:log-group:x")


def test_deciding_statement_label_names_policy_and_sid() -> None:
    statements = parse_policy(
        "convert", {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    )
    assert isinstance(statements[0], Statement)
    assert statements[0].label == "convert#0"


# ------------------------------------------------------------------ request -> checks

TARGET = actions.Target("us-east-1", "123456789012")


def test_head_object_is_get_object_and_list_objects_carries_prefix_and_delimiter() -> None:
    (head,) = actions.checks_for("s3", "HeadObject", {"Bucket": "b", "Key": "stage/x"}, TARGET)
    assert (head.action, head.resource) == ("s3:GetObject", "arn:aws:s3:::b/stage/x")
    (listing,) = actions.checks_for(
        "s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "stage/", "Delimiter": "/"}, TARGET
    )
    assert (listing.action, listing.resource) == ("s3:ListBucket", "arn:aws:s3:::b")
    assert listing.context == {"s3:prefix": ["stage/"], "s3:delimiter": ["/"]}
    (location,) = actions.checks_for("s3", "GetBucketLocation", {"Bucket": "b"}, TARGET)
    assert location.context == {}


def test_glue_table_requests_need_catalog_database_and_table() -> None:
    checks = actions.checks_for("glue", "GetTable", {"DatabaseName": "db", "Name": "t"}, TARGET)
    assert [c.resource for c in checks] == [
        "arn:aws:glue:us-east-1:123456789012:catalog",
        "arn:aws:glue:us-east-1:123456789012:database/db",
        "arn:aws:glue:us-east-1:123456789012:table/db/t",
    ]
    database = actions.checks_for("glue", "GetDatabase", {"Name": "db"}, TARGET)
    assert [c.resource for c in database] == [
        "arn:aws:glue:us-east-1:123456789012:catalog",
        "arn:aws:glue:us-east-1:123456789012:database/db",
    ]
    partitions = actions.checks_for(
        "glue", "BatchCreatePartition", {"DatabaseName": "db", "TableName": "t"}, TARGET
    )
    assert partitions[-1].resource == "arn:aws:glue:us-east-1:123456789012:table/db/t"
    (run,) = actions.checks_for("glue", "StartJobRun", {"JobName": "j"}, TARGET)
    assert run.resource == "arn:aws:glue:us-east-1:123456789012:job/j"


def test_secret_named_by_name_is_checked_by_its_full_arn() -> None:
    full = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kaggle-AbCdEf"
    (check,) = actions.checks_for(
        "secretsmanager",
        "GetSecretValue",
        {"SecretId": "kaggle"},
        TARGET,
        resolve_secret=lambda name: full if name == "kaggle" else None,
    )
    assert check.resource == full


def test_lambda_invoke_and_logs_and_sts() -> None:
    (invoke,) = actions.checks_for(
        "lambda", "Invoke", {"FunctionName": "convert", "Qualifier": "$LATEST"}, TARGET
    )
    assert invoke.action == "lambda:InvokeFunction"
    assert invoke.resource == "arn:aws:lambda:us-east-1:123456789012:function:convert:$LATEST"
    (put,) = actions.checks_for(
        "logs", "PutLogEvents", {"logGroupName": "/aws/lambda/f", "logStreamName": "s"}, TARGET
    )
    assert put.resource.endswith(":log-group:/aws/lambda/f:log-stream:s")
    assert actions.checks_for("sts", "GetCallerIdentity", {}, TARGET) == []


# ------------------------------------------------------------------ SigV4


def test_signature_verification_accepts_the_right_secret_only() -> None:
    # The example request of "Create a signed AWS API request" signed here by hand.
    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    scope = "20150830/us-east-1/iam/aws4_request"
    headers = {
        "host": ["iam.amazonaws.com"],
        "x-amz-date": ["20150830T123600Z"],
        "content-type": ["application/x-www-form-urlencoded; charset=utf-8"],
    }
    signed = sigv4.SignedRequest(
        "AKIDEXAMPLE", scope, ("content-type", "host", "x-amz-date"), "", "20150830T123600Z", False
    )
    signature = sigv4.signature_for(
        signed,
        secret,
        method="GET",
        canonical_uri="/",
        raw_query="Action=ListUsers&Version=2010-05-08",
        headers=lambda name: headers.get(name, []),
        payload_hash=hashlib.sha256(b"").hexdigest(),
    )
    # The value AWS's SigV4 test suite gives for this request (get-vanilla-query-order-key-case
    # family, IAM ListUsers example in the SigV4 documentation).
    assert signature == "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    real = dataclasses.replace(signed, signature=signature)

    def verify(with_secret: str) -> bool:
        return sigv4.verify(
            real,
            with_secret,
            method="GET",
            raw_path="/",
            raw_query="Version=2010-05-08&Action=ListUsers",
            headers=lambda name: headers.get(name, []),
            payload_hash=hashlib.sha256(b"").hexdigest(),
        )

    assert verify(secret)
    assert not verify("wrong-secret")
    assert hmac.compare_digest(sigv4.signing_key(secret, scope), sigv4.signing_key(secret, scope))
