"""A deployed stage's resource names, read from its CloudFormation stack outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from mhealth.core.layout import PREFIXES, s3_uri

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

SERVICE: Final = "mhealth-pipeline"

#: serverless.yml's Outputs, by the field they fill.
OUTPUT_KEYS: Final[dict[str, str]] = {
    "bucket": "DataBucketName",
    "state_machine_arn": "StateMachineArn",
    "glue_job": "GlueJobName",
    "database": "GlueDatabaseName",
    "table": "GlueTableName",
    "failure_topic_arn": "FailureTopicArn",
    "kaggle_secret_name": "KaggleSecretName",
    "work_group": "AthenaWorkGroupName",
}


class StackNotDeployedError(RuntimeError):
    """The stage has no stack, or the stack lacks the pipeline's outputs: ``problem`` says
    which, ``fix`` what to run."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}: {fix}")
        self.problem = problem
        self.fix = fix


@dataclass(frozen=True)
class Deployment:
    stage: str
    stack_name: str
    bucket: str
    state_machine_arn: str
    glue_job: str
    database: str
    table: str
    failure_topic_arn: str
    kaggle_secret_name: str
    #: The stage's Athena work group: it enforces the result location (athena-results/).
    work_group: str

    @property
    def athena_output_location(self) -> str:
        return s3_uri(self.bucket, PREFIXES.athena_results)


def stack_name(stage: str) -> str:
    return f"{SERVICE}-{stage}"


def load_deployment(cloudformation: CloudFormationClient, stage: str) -> Deployment:
    name = stack_name(stage)
    deploy = f"run `npx sls deploy --stage {stage}`"
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        # "If the stack doesn't exist, a ValidationError is returned" (DescribeStacks, AWS
        # CloudFormation API Reference). Other errors (credentials, throttling) are not about
        # the stage and go on to the caller.
        if error.response.get("Error", {}).get("Code") != "ValidationError":
            raise
        raise StackNotDeployedError(
            f"stage {stage!r} is not deployed (no stack {name})", deploy
        ) from error
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stacks[0].get("Outputs", [])}
    missing = [key for key in OUTPUT_KEYS.values() if not outputs.get(key)]
    if missing:
        raise StackNotDeployedError(
            f"stage {stage!r} is not fully deployed (stack {name} lacks outputs "
            f"{', '.join(missing)})",
            deploy,
        )
    return Deployment(
        stage=stage,
        stack_name=name,
        **{field: outputs[key] for field, key in OUTPUT_KEYS.items()},
    )
