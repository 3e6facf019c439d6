"""``mhealth run`` and ``mhealth query``: drive a deployed stage (local or AWS) from a terminal."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from mhealth.ops.deployment import Deployment

ClientFactory = Callable[[str], Any]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser(
        "run",
        help="start the pipeline's state machine on a stage (and follow it with --wait)",
        description="Starts an execution of the deployed state machine. With --wait, prints each "
        "step as it starts and ends and exits non-zero with the failed step and its cause.",
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


def _run(args: argparse.Namespace) -> int:
    from mhealth.ops.deployment import StackNotDeployedError
    from mhealth.ops.execution import start_execution
    from mhealth.ops.progress import follow

    clients = _clients(args.stage, args.region)
    try:
        deployment = _deployment(clients, args.stage)
    except StackNotDeployedError as error:
        print(f"mhealth run: {error}", file=sys.stderr)
        return 2
    execution_arn = start_execution(clients("stepfunctions"), deployment.state_machine_arn, {})
    print(f"started {execution_arn}")
    if not args.wait:
        return 0
    outcome = follow(clients, execution_arn, args.timeout)
    return 0 if outcome.succeeded else 1


def _query(args: argparse.Namespace) -> int:
    from mhealth.ops.deployment import StackNotDeployedError
    from mhealth.ops.query import QueryFailedError, render, run_query

    clients = _clients(args.stage, args.region)
    try:
        deployment = _deployment(clients, args.stage)
        result = run_query(
            clients("athena"),
            args.sql,
            database=deployment.database,
            work_group=deployment.work_group,
        )
    except (StackNotDeployedError, QueryFailedError) as error:
        print(f"mhealth query: {error}", file=sys.stderr)
        return 1
    print(render(result, args.format))
    return 0


def _deployment(clients: ClientFactory, stage: str) -> Deployment:
    from mhealth.ops.deployment import load_deployment

    return load_deployment(clients("cloudformation"), stage)


def _clients(stage: str, region: str | None) -> ClientFactory:
    """A ``service -> boto3 client`` factory for the stage: the local stage talks to the
    local AWS (endpoint and credentials from the local configuration), other stages to AWS
    with the user's own credentials."""
    from mhealth import aws

    if stage == "local":
        from mhealth.local.config import LocalConfig

        return LocalConfig.from_environment().clients(region)
    if region:
        os.environ["AWS_DEFAULT_REGION"] = region
    return cast(ClientFactory, aws.client)
