"""``mhealth demo``: the whole chain on the local AWS, ending with the Athena query's result."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mhealth.cli.errors import JobFailedError, UnreachableError, aws_errors, local_config
from mhealth.cli.sample import check_disk_space, scale_type

if TYPE_CHECKING:
    from mhealth.ops.deployment import Deployment


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline locally and query the result (what `make demo` runs)",
        description="Starts the local AWS and the Kaggle stand-in, generates the synthetic "
        "dataset, deploys serverless.yml to the local stage, runs the state machine while "
        "showing each step, then prints the rows per activity and the seed query through "
        "Athena. The local stack stays up afterwards (`mhealth local down` stops it).",
    )
    parser.add_argument(
        "--scale",
        type=scale_type,
        default=1.0,
        help="dataset size, above 0 and at most 100 (1 = full, the default)",
    )
    parser.add_argument("--seed", type=int, default=2014, help="synthetic data seed")
    parser.add_argument("--skip-deploy", action="store_true", help="reuse the deployed stack")
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="stay in the foreground until interrupted, then stop the local AWS",
    )
    parser.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from mhealth.cli.pipeline import execution_failed
    from mhealth.local import runtime
    from mhealth.local.deploy import DeployError
    from mhealth.local.pipeline import prepare
    from mhealth.ops.deployment import StackNotDeployedError
    from mhealth.ops.progress import follow
    from mhealth.ops.query import QueryFailedError

    config = local_config()
    # Checked before anything starts: the sample (logs and zip) must fit on disk.
    check_disk_space(config.state_dir, args.scale, with_zip=True)
    began = time.monotonic()

    def heading(text: str) -> None:
        print(f"\n== {text}", flush=True)

    heading(f"1/5 local AWS at {config.endpoint_url}")
    try:
        runtime.up(config)
    except runtime.LocalRuntimeError as error:
        raise UnreachableError(f"the local AWS did not start: {error}") from error

    @contextlib.contextmanager
    def phase(name: str) -> Iterator[None]:
        heading(
            "3/5 deploy serverless.yml to the local stage"
            if name == "deploy"
            else f"2/5 synthetic MHEALTH dataset (scale {args.scale:g}, seed {args.seed})"
        )
        yield

    with aws_errors("local", config.endpoint_url):
        try:
            pipeline = prepare(
                config,
                scale=args.scale,
                seed=args.seed,
                deploy_stack=not args.skip_deploy,
                phase=phase,
            )
        except DeployError as error:
            raise JobFailedError(f"the deploy failed: {error}") from error
        except StackNotDeployedError as error:
            raise UnreachableError(
                error.problem, "run `mhealth demo` without --skip-deploy"
            ) from error
        if args.skip_deploy:
            print("(deploy skipped: --skip-deploy)")
        dataset, deployment, clients = pipeline.dataset, pipeline.deployment, config.clients()

        heading("4/5 run the pipeline: Download → Mirror → Convert (per file) → Glue job")
        execution_arn = pipeline.start()
        print(f"execution {execution_arn.rsplit(':', 1)[-1]}")
        outcome = follow(clients, execution_arn, timeout=3600)
        if not outcome.succeeded:
            raise execution_failed(outcome)

        heading(f"5/5 query through Athena ({deployment.database}.{deployment.table})")
        try:
            _print_results(clients("athena"), deployment, dataset.rows)
        except QueryFailedError as error:
            raise JobFailedError(f"Athena {error}") from error

    print(
        f"\ndone in {time.monotonic() - began:.0f} s. The local stack stays up: try\n"
        f"  .venv/bin/mhealth query --stage local 'SELECT user_id, COUNT(*) FROM "
        f'"{deployment.database}"."{deployment.table}" GROUP BY user_id\'\n'
        "  .venv/bin/mhealth run --stage local --wait\n"
        "and `make down` to stop it."
    )
    if args.keep_running:
        _wait_for_signal()
        runtime.down(config)
    return 0


def _wait_for_signal() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"staying up (pid {os.getpid()}); stop with Ctrl-C or `docker compose down`", flush=True)
    stop.wait()


def _print_results(athena: Any, deployment: Deployment, generated_rows: int) -> None:
    from mhealth.ops.query import render, run_query, seed_query

    table = f'"{deployment.database}"."{deployment.table}"'
    counts = run_query(
        athena,
        f'SELECT activity, COUNT(*) AS "rows" FROM {table} GROUP BY activity ORDER BY activity',
        database=deployment.database,
        work_group=deployment.work_group,
    )
    print("rows per activity:")
    print(render(counts))
    total = sum(int(row[1] or 0) for row in counts.rows)
    print(f"total rows: {total:,} (generated: {generated_rows:,})")
    seed_sql = seed_query(deployment.database, deployment.table)
    print(f"\n{seed_sql}")
    seed = run_query(
        athena, seed_sql, database=deployment.database, work_group=deployment.work_group
    )
    print(render(seed))
