"""From an AWS API request to the IAM checks AWS makes for it: action(s), resource ARN(s) and the
request's condition keys (standard library only).

Sources: the Service Authorization Reference pages "Actions, resources, and condition keys for
…" (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html)
for Amazon S3, AWS Secrets Manager, AWS Glue, Amazon SNS, Amazon CloudWatch Logs, AWS Step
Functions, AWS Lambda, Amazon Athena, Amazon SQS, Amazon CloudWatch and AWS STS; for S3 also
"Required permissions for Amazon S3 API operations"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html) and for
Glue "Specifying AWS Glue resource ARNs"
(https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html), which makes a
catalog request need its permission on the catalog, the database and the table together.

An operation not listed maps to ``<service prefix>:<Operation>`` on ``*``, which is what most
list/describe/create operations without resource-level permissions use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from mhealth_localstack.iam.policy import Check

#: LocalStack's service name -> the IAM action prefix, where they differ.
ACTION_PREFIX = {"stepfunctions": "states", "monitoring": "cloudwatch", "opensearch": "es"}

#: Operations that need no permission at all (AWS: "No permissions are required").
UNAUTHORIZED_OPERATIONS = {("sts", "GetCallerIdentity")}

#: Looks up the full ARN of a Secrets Manager secret from its name or ARN (None: unknown).
SecretArnResolver = Callable[[str], str | None]


@dataclass(frozen=True)
class Target:
    """Where the request happens: region, account and partition of the caller's request."""

    region: str
    account_id: str
    partition: str = "aws"

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account_id if account else ''}:{resource}"
        )


def checks_for(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    target: Target,
    *,
    resolve_secret: SecretArnResolver | None = None,
) -> list[Check]:
    """The checks AWS makes for one request; all must allow it. Empty: nothing to check."""
    if (service, operation) in UNAUTHORIZED_OPERATIONS:
        return []
    mapper = _MAPPERS.get(service)
    if mapper is not None:
        return mapper(operation, params, target, resolve_secret)
    prefix = ACTION_PREFIX.get(service, service)
    return [Check(f"{prefix}:{operation}", "*")]


# ------------------------------------------------------------------ S3

#: S3 operation -> its IAM action where the name differs (object or bucket level alike).
_S3_ACTIONS = {
    "HeadObject": "s3:GetObject",
    "GetObjectAttributes": "s3:GetObject",
    "SelectObjectContent": "s3:GetObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "ListParts": "s3:ListMultipartUploadParts",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "ListBuckets": "s3:ListAllMyBuckets",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "DeleteBucketWebsite": "s3:DeleteBucketWebsite",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "PutBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "s3:PutAccelerateConfiguration",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    "GetObjectLegalHold": "s3:GetObjectLegalHold",
    "GetBucketPolicyStatus": "s3:GetBucketPolicyStatus",
    "GetBucketLogging": "s3:GetBucketLogging",
    "PutBucketLogging": "s3:PutBucketLogging",
    "GetBucketRequestPayment": "s3:GetBucketRequestPayment",
    "PutBucketRequestPayment": "s3:PutBucketRequestPayment",
    "GetBucketIntelligentTieringConfiguration": "s3:GetIntelligentTieringConfiguration",
    "GetBucketInventoryConfiguration": "s3:GetInventoryConfiguration",
    "GetBucketMetricsConfiguration": "s3:GetMetricsConfiguration",
    "GetBucketAnalyticsConfiguration": "s3:GetAnalyticsConfiguration",
}
#: Operations on one object (resource ``bucket/key``); the rest act on the bucket.
_S3_OBJECT_OPERATIONS = {
    "GetObject",
    "HeadObject",
    "GetObjectAttributes",
    "SelectObjectContent",
    "PutObject",
    "DeleteObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "ListParts",
    "GetObjectTagging",
    "PutObjectTagging",
    "DeleteObjectTagging",
    "GetObjectAcl",
    "PutObjectAcl",
    "RestoreObject",
    "GetObjectRetention",
    "PutObjectRetention",
    "GetObjectLegalHold",
    "PutObjectLegalHold",
}
_S3_VERSIONED = {
    "s3:GetObject": "s3:GetObjectVersion",
    "s3:DeleteObject": "s3:DeleteObjectVersion",
    "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
    "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
    "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
}


def s3_object_arn(target: Target, bucket: str, key: str) -> str:
    return f"arn:{target.partition}:s3:::{bucket}/{key}"


def s3_bucket_arn(target: Target, bucket: str) -> str:
    return f"arn:{target.partition}:s3:::{bucket}"


def _s3(
    operation: str, params: Mapping[str, Any], target: Target, _: SecretArnResolver | None
) -> list[Check]:
    bucket = str(params.get("Bucket") or "")
    action = _S3_ACTIONS.get(operation, f"s3:{operation}")
    if operation == "ListBuckets":
        return [Check(action, "*")]
    if operation in ("CopyObject", "UploadPartCopy"):
        source_bucket, source_key, source_version = _copy_source(params.get("CopySource"))
        read = "s3:GetObjectVersion" if source_version else "s3:GetObject"
        return [
            Check(read, s3_object_arn(target, source_bucket, source_key)),
            Check("s3:PutObject", s3_object_arn(target, bucket, str(params.get("Key") or ""))),
        ]
    if operation == "DeleteObjects":
        objects = (params.get("Delete") or {}).get("Objects") or []
        return [
            Check(
                "s3:DeleteObjectVersion" if item.get("VersionId") else "s3:DeleteObject",
                s3_object_arn(target, bucket, str(item.get("Key") or "")),
            )
            for item in objects
        ]
    if operation in _S3_OBJECT_OPERATIONS:
        if params.get("VersionId") and action in _S3_VERSIONED:
            action = _S3_VERSIONED[action]
        return [Check(action, s3_object_arn(target, bucket, str(params.get("Key") or "")))]
    context: dict[str, list[str]] = {}
    listing = ("s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads")
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html
    if action in listing and operation != "HeadBucket":
        for name, key in (("Prefix", "s3:prefix"), ("Delimiter", "s3:delimiter")):
            if params.get(name) is not None:
                context[key] = [str(params[name])]
        max_keys = params.get("MaxKeys")
        if max_keys is not None:
            context["s3:max-keys"] = [str(max_keys)]
    return [Check(action, s3_bucket_arn(target, bucket), context)]


def _copy_source(source: Any) -> tuple[str, str, str]:
    if isinstance(source, Mapping):
        return (
            str(source.get("Bucket") or ""),
            str(source.get("Key") or ""),
            str(source.get("VersionId") or ""),
        )
    text = unquote(str(source or "")).lstrip("/")
    path, _, query = text.partition("?versionId=")
    bucket, _, key = path.partition("/")
    return bucket, key, query


# ------------------------------------------------------------------ Secrets Manager


def _secretsmanager(
    operation: str,
    params: Mapping[str, Any],
    target: Target,
    resolve_secret: SecretArnResolver | None,
) -> list[Check]:
    action = f"secretsmanager:{operation}"
    secret = params.get("SecretId")
    if operation == "CreateSecret":
        secret = params.get("Name")
    if not secret:
        return [Check(action, "*")]
    secret = str(secret)
    arn = resolve_secret(secret) if resolve_secret else None
    if arn is None:
        arn = (
            secret
            if secret.startswith("arn:")
            else target.arn("secretsmanager", f"secret:{secret}")
        )
    return [Check(action, arn)]


# ------------------------------------------------------------------ Glue

_GLUE_JOB_OPERATIONS = {
    "StartJobRun",
    "GetJobRun",
    "GetJobRuns",
    "BatchStopJobRun",
    "GetJob",
    "UpdateJob",
    "DeleteJob",
    "GetJobBookmark",
    "ResetJobBookmark",
}


#: Database operations whose request names the database ``Name`` (GetDatabase's shape).
_GLUE_DATABASE_OPERATIONS = {"GetDatabase", "UpdateDatabase", "DeleteDatabase"}


def _glue(  # noqa: PLR0911 - one return per Glue resource hierarchy
    operation: str, params: Mapping[str, Any], target: Target, _: SecretArnResolver | None
) -> list[Check]:
    action = f"glue:{operation}"
    if operation in _GLUE_JOB_OPERATIONS and params.get("JobName"):
        return [Check(action, target.arn("glue", f"job/{params['JobName']}"))]
    catalog = target.arn("glue", "catalog")
    database = (
        params.get("DatabaseName")
        or (params.get("DatabaseInput") or {}).get("Name")
        or (params.get("Name") if operation in _GLUE_DATABASE_OPERATIONS else None)
    )
    if operation in ("GetDatabases",):
        return [Check(action, catalog), Check(action, target.arn("glue", "database/*"))]
    if not database:
        if operation in ("CreateDatabase", "GetCatalogImportStatus"):
            return [Check(action, catalog)]
        return [Check(action, "*")]
    database_arn = target.arn("glue", f"database/{database}")
    table = params.get("TableName") or (
        params.get("Name") if operation in ("GetTable", "DeleteTable", "GetTableVersions") else None
    )
    if not table and isinstance(params.get("TableInput"), Mapping):
        table = params["TableInput"].get("Name")
    if operation in ("GetDatabase", "CreateDatabase", "UpdateDatabase", "DeleteDatabase"):
        return [Check(action, catalog), Check(action, database_arn)]
    if operation in ("GetTables", "SearchTables", "GetTableVersions") and not table:
        return [
            Check(action, catalog),
            Check(action, database_arn),
            Check(action, target.arn("glue", f"table/{database}/*")),
        ]
    if operation == "BatchDeleteTable":
        names = params.get("TablesToDelete") or []
        return [Check(action, catalog), Check(action, database_arn)] + [
            Check(action, target.arn("glue", f"table/{database}/{name}")) for name in names
        ]
    if table:
        return [
            Check(action, catalog),
            Check(action, database_arn),
            Check(action, target.arn("glue", f"table/{database}/{table}")),
        ]
    return [Check(action, catalog), Check(action, database_arn)]


# ------------------------------------------------------------------ SNS, SQS


def _sns(
    operation: str, params: Mapping[str, Any], target: Target, _: SecretArnResolver | None
) -> list[Check]:
    action = f"sns:{operation}"
    arn = params.get("TopicArn") or params.get("TargetArn") or params.get("ResourceArn")
    if operation == "CreateTopic" and params.get("Name"):
        arn = target.arn("sns", str(params["Name"]))
    if operation in ("Unsubscribe", "GetSubscriptionAttributes", "SetSubscriptionAttributes"):
        subscription = str(params.get("SubscriptionArn") or "")
        arn = subscription.rsplit(":", 1)[0] if subscription.count(":") >= 6 else None
    return [Check(action, str(arn) if arn else "*")]


def _sqs(
    operation: str, params: Mapping[str, Any], target: Target, _: SecretArnResolver | None
) -> list[Check]:
    action = f"sqs:{operation}"
    # Batch operations are authorized as their single counterparts.
    action = action.removesuffix("Batch")
    url = params.get("QueueUrl")
    name = params.get("QueueName")
    if url:
        path = urlsplit(str(url)).path.strip("/").split("/")
        if len(path) >= 2:  # .../<account>/<queue name>
            owner = Target(target.region, path[-2], target.partition)
            return [Check(action, owner.arn("sqs", path[-1]))]
    if name:
        return [Check(action, target.arn("sqs", str(name)))]
    return [Check(action, "*")]


# ------------------------------------------------------------------ CloudWatch Logs


def log_group_arn(target: Target, group: str) -> str:
    """A log group as IAM sees it: the ARN CloudFormation's ``Fn::GetAtt LogGroup.Arn`` gives
    (``…:log-group:NAME:*``), so that a policy naming that ARN covers the group itself."""
    return target.arn("logs", f"log-group:{group}:*")


def _logs(
    operation: str, params: Mapping[str, Any], target: Target, _: SecretArnResolver | None
) -> list[Check]:
    action = f"logs:{operation}"
    group = params.get("logGroupName") or params.get("logGroupIdentifier")
    stream = params.get("logStreamName")
    if not group:
        return [Check(action, "*")]
    group = str(group)
    if group.startswith("arn:"):
        group = group.split(":log-group:", 1)[-1].removesuffix(":*")
    if stream and operation in (
        "PutLogEvents",
        "CreateLogStream",
        "DeleteLogStream",
        "GetLogEvents",
    ):
        return [Check(action, target.arn("logs", f"log-group:{group}:log-stream:{stream}"))]
    return [Check(action, log_group_arn(target, group))]


# ------------------------------------------------------------------ Step Functions, Lambda, Athena


def _states(
    operation: str, params: Mapping[str, Any], target: Target, _: SecretArnResolver | None
) -> list[Check]:
    action = f"states:{operation}"
    arn = params.get("stateMachineArn") or params.get("executionArn") or params.get("resourceArn")
    if operation == "CreateStateMachine" and params.get("name"):
        arn = target.arn("states", f"stateMachine:{params['name']}")
    return [Check(action, str(arn) if arn else "*")]


_LAMBDA_ACTIONS = {
    "Invoke": "lambda:InvokeFunction",
    "InvokeWithResponseStream": "lambda:InvokeFunction",
}


def lambda_function_arn(target: Target, name: str, qualifier: str | None = None) -> str:
    """A function as IAM sees it, from its name, partial ARN or ARN (with qualifier)."""
    if name.startswith("arn:"):
        arn = name
    elif ":" in name:  # "123456789012:function:name[:qualifier]" or "name:qualifier"
        parts = name.split(":")
        if parts[0].isdigit() and len(parts) >= 3:
            arn = f"arn:{target.partition}:lambda:{target.region}:{name}"
        else:
            arn = target.arn("lambda", f"function:{name}")
    else:
        arn = target.arn("lambda", f"function:{name}")
    if qualifier and arn.count(":") == 6:
        arn = f"{arn}:{qualifier}"
    return arn


def _lambda(
    operation: str, params: Mapping[str, Any], target: Target, _: SecretArnResolver | None
) -> list[Check]:
    action = _LAMBDA_ACTIONS.get(operation, f"lambda:{operation}")
    name = params.get("FunctionName")
    if not name:
        return [Check(action, "*")]
    return [Check(action, lambda_function_arn(target, str(name), params.get("Qualifier")))]


def _athena(
    operation: str, params: Mapping[str, Any], target: Target, _: SecretArnResolver | None
) -> list[Check]:
    action = f"athena:{operation}"
    group = params.get("WorkGroup") or (
        params.get("Name") if operation == "CreateWorkGroup" else None
    )
    if group is None and operation.startswith(("List", "CreateWorkGroup")):
        return [Check(action, "*")]
    # Query operations name the query, not its work group: this stage runs them in "primary".
    return [Check(action, target.arn("athena", f"workgroup/{group or 'primary'}"))]


def _cloudwatch(
    operation: str, params: Mapping[str, Any], target: Target, _: SecretArnResolver | None
) -> list[Check]:
    context: dict[str, list[str]] = {}
    if operation == "PutMetricData" and params.get("Namespace"):
        context["cloudwatch:namespace"] = [str(params["Namespace"])]
    return [Check(f"cloudwatch:{operation}", "*", context)]


def _sts(
    operation: str, params: Mapping[str, Any], target: Target, _: SecretArnResolver | None
) -> list[Check]:
    if params.get("RoleArn"):
        return [Check(f"sts:{operation}", str(params["RoleArn"]))]
    return [Check(f"sts:{operation}", "*")]


_Mapper = Callable[[str, Mapping[str, Any], Target, SecretArnResolver | None], list[Check]]
_MAPPERS: dict[str, _Mapper] = {
    "s3": _s3,
    "secretsmanager": _secretsmanager,
    "glue": _glue,
    "sns": _sns,
    "sqs": _sqs,
    "logs": _logs,
    "stepfunctions": _states,
    "lambda": _lambda,
    "athena": _athena,
    "cloudwatch": _cloudwatch,
    "sts": _sts,
}
