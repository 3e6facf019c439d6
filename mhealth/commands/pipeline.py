"""``mhealth run`` and ``mhealth query``: drive a deployed stage (local or AWS) from a terminal."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from mhealth.deployment import Deployment
    from mhealth.execution import ExecutionOutcome, StepEvent
    from mhealth.local.config import LocalConfig

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
    query.add_argument("sql", help='e.g. SELECT * FROM "mhealth_db"."mhealth" LIMIT 10')
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    query.set_defaults(func=_query)


def _stage_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", default="local", help="deployed stage (default local)")
    parser.add_argument("--region", default=None, help="AWS region (default: your AWS config)")


def _run(args: argparse.Namespace) -> int:
    from mhealth.deployment import StackNotDeployedError
    from mhealth.execution import start_execution

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


def follow(clients: ClientFactory, execution_arn: str, timeout: float) -> ExecutionOutcome:
    """Follows an execution, printing progress; prints the outcome and returns it."""
    from mhealth.execution import follow_execution

    started = datetime.now().astimezone()

    def show(event: StepEvent) -> None:
        elapsed = (event.at - started).total_seconds()
        mark = {"entered": "→", "exited": "✓", "failed": "✗"}[event.kind]
        detail = f"  {event.detail}" if event.detail else ""
        print(f"[{max(elapsed, 0.0):6.1f} s] {mark} {event.step}{detail}", flush=True)

    outcome = follow_execution(
        clients("stepfunctions"), execution_arn, show, timeout_seconds=timeout
    )
    total = ((outcome.stopped or outcome.started) - outcome.started).total_seconds()
    if outcome.succeeded:
        print(f"execution SUCCEEDED in {total:.1f} s")
    else:
        print(
            f"execution {outcome.status} at step {outcome.failed_step or '?'}: "
            f"{outcome.error or 'error'}: {outcome.cause or 'no cause given'}",
            file=sys.stderr,
        )
    return outcome


def _query(args: argparse.Namespace) -> int:
    from mhealth.athena_query import QueryFailedError, render, run_query
    from mhealth.deployment import StackNotDeployedError

    clients = _clients(args.stage, args.region)
    try:
        deployment = _deployment(clients, args.stage)
        result = run_query(
            clients("athena"),
            args.sql,
            database=deployment.database,
            output_location=deployment.athena_output_location,
        )
    except (StackNotDeployedError, QueryFailedError) as error:
        print(f"mhealth query: {error}", file=sys.stderr)
        return 1
    print(render(result, args.format))
    return 0


def _deployment(clients: ClientFactory, stage: str) -> Deployment:
    from mhealth.deployment import load_deployment

    return load_deployment(clients("cloudformation"), stage)


def _clients(stage: str, region: str | None) -> ClientFactory:
    """A ``service -> boto3 client`` factory for the stage: the local stage talks to the
    local AWS (endpoint and credentials from the local configuration), other stages to AWS
    with the user's own credentials."""
    from mhealth import aws

    if stage == "local":
        from mhealth.local.config import LocalConfig

        return local_clients(LocalConfig.from_environment(), region)
    if region:
        os.environ["AWS_DEFAULT_REGION"] = region
    return cast(ClientFactory, aws.client)


def local_clients(config: LocalConfig, region: str | None = None) -> ClientFactory:
    """Clients bound to the local AWS, its endpoint and credentials from the local configuration."""
    from mhealth import aws

    return aws.client_factory(
        region=region or config.region,
        endpoint_url=config.endpoint_url,
        credentials=(config.access_key_id, config.secret_access_key),
    )
