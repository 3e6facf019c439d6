"""``mhealth run`` and ``mhealth query``: drive a deployed stage (local or AWS) from a terminal."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, cast

from mhealth.cli.errors import (
    JobFailedError,
    UnreachableError,
    UsageError,
    aws_errors,
    local_config,
    local_not_running,
)

if TYPE_CHECKING:
    from mhealth.ops.deployment import Deployment
    from mhealth.ops.execution import ExecutionOutcome

LOCAL_STAGE: Final = "local"

ClientFactory = Callable[[str], Any]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser(
        "run",
        help="start the pipeline's state machine on a stage (and follow it with --wait)",
        description="Starts an execution of the deployed state machine. With --wait, prints each "
        "step as it starts and ends (✓ done, ✗ failed) and, if the execution fails, exits 1 "
        "with one line naming the failed step, its error and message.",
    )
    _stage_options(run)
    run.add_argument("--wait", action="store_true", help="follow the execution until it ends")
    run.add_argument("--timeout", type=float, default=3600, help="seconds to wait (default 3600)")
    run.set_defaults(func=_run)

    query = subparsers.add_parser(
        "query",
        help="run SQL through Athena on a stage",
        description="Runs SQL through Athena's API against the stage's Glue database and prints "
        "the result.",
    )
    _stage_options(query)
    query.add_argument(
        "sql",
        help='e.g. SELECT * FROM "mhealth_db"."mhealth" LIMIT 10 (the local stage\'s database; '
        "mhealth_db_<stage> on AWS stages)",
    )
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    query.set_defaults(func=_query)


def _stage_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", default="local", help="deployed stage (default local)")
    parser.add_argument("--region", default=None, help="AWS region (default: your AWS config)")


#: A stage name as the Serverless Framework and CloudFormation take it: the stack is
#: ``mhealth-pipeline-<stage>`` and a stack name holds only letters, digits and hyphens.
_STAGE_NAME = re.compile(r"[A-Za-z0-9-]{1,100}")


def check_stage(stage: str) -> None:
    """Raises ``UsageError`` for a stage name no stack can have, or ``LOCAL`` for ``local``."""
    if not _STAGE_NAME.fullmatch(stage):
        raise UsageError(
            f"--stage {stage!r} is not a stage name (letters, digits and hyphens)",
            "pass the stage you deployed, e.g. --stage local or --stage prod",
        )
    if stage.lower() == LOCAL_STAGE and stage != LOCAL_STAGE:
        raise UsageError(
            f"--stage {stage} is not the local stage: stage names are case-sensitive",
            f"use --stage {LOCAL_STAGE}",
        )


def _run(args: argparse.Namespace) -> int:
    from mhealth.ops.execution import start_execution
    from mhealth.ops.progress import follow

    check_stage(args.stage)
    if args.timeout <= 0:
        raise UsageError(f"--timeout {args.timeout:g} is not above 0", "pass seconds, e.g. 600")
    with _stage_errors(args.stage) as endpoint_url:
        clients = _clients(args.stage, args.region, endpoint_url)
        deployment = _deployment(clients, args.stage)
        execution_arn = start_execution(clients("stepfunctions"), deployment.state_machine_arn, {})
        print(f"started {execution_arn}", flush=True)
        if not args.wait:
            return 0
        try:
            outcome = follow(clients, execution_arn, args.timeout)
        except TimeoutError as error:
            raise JobFailedError(
                str(error), "it goes on running; follow it with a larger --timeout"
            ) from error
    if not outcome.succeeded:
        raise execution_failed(outcome)
    return 0


def execution_failed(outcome: ExecutionOutcome) -> JobFailedError:
    """The one-line error for a failed execution; the step's stack trace only under --debug."""
    from mhealth.ops.progress import describe_failure

    failure = describe_failure(outcome)
    hint = "fix the cause and run again" + (
        " (--debug also prints the step's stack trace)" if failure.stack_trace else ""
    )
    return JobFailedError(failure.summary, hint, details=failure.stack_trace)


def _query(args: argparse.Namespace) -> int:
    from mhealth.ops.query import QueryFailedError, render, run_query

    check_stage(args.stage)
    if not args.sql.strip():
        raise UsageError(
            "the SQL is empty",
            'pass a statement, e.g. \'SELECT * FROM "mhealth_db"."mhealth" LIMIT 10\'',
        )
    with _stage_errors(args.stage) as endpoint_url:
        clients = _clients(args.stage, args.region, endpoint_url)
        deployment = _deployment(clients, args.stage)
        try:
            result = run_query(
                clients("athena"),
                args.sql,
                database=deployment.database,
                work_group=deployment.work_group,
            )
        except QueryFailedError as error:
            raise JobFailedError(f"Athena {error}", "fix the SQL and run again") from error
        except TimeoutError as error:
            raise JobFailedError(str(error), "try a smaller query") from error
    print(render(result, args.format))
    return 0


@contextmanager
def _stage_errors(stage: str) -> Iterator[str | None]:
    """For the block that talks to ``stage``: yields the local AWS's endpoint (None for an AWS
    stage) after checking that the local AWS answers, and turns botocore's errors and a
    missing stack into ``CliError``s."""
    from mhealth.ops.deployment import StackNotDeployedError

    endpoint_url = _local_endpoint() if stage == LOCAL_STAGE else None
    try:
        with aws_errors(stage, endpoint_url):
            yield endpoint_url
    except StackNotDeployedError as error:
        raise UnreachableError(error.problem, error.fix) from error


def _local_endpoint() -> str:
    """The local AWS's endpoint, once it answers (else ``UnreachableError``)."""
    from mhealth.local import runtime

    config = local_config()
    if runtime.service_health(config) is None:
        raise local_not_running(config.endpoint_url)
    return config.endpoint_url


def _deployment(clients: ClientFactory, stage: str) -> Deployment:
    from mhealth.ops.deployment import load_deployment

    return load_deployment(clients("cloudformation"), stage)


def _clients(stage: str, region: str | None, endpoint_url: str | None) -> ClientFactory:
    """A ``service -> boto3 client`` factory for the stage: the local stage talks to the
    local AWS (endpoint and credentials from the local configuration), other stages to AWS
    with the user's own credentials."""
    from mhealth import aws

    if endpoint_url is not None:
        return local_config().clients(region)
    if region:
        os.environ["AWS_DEFAULT_REGION"] = region
    return cast(ClientFactory, aws.client)
