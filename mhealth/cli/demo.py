"""``mhealth demo``: the whole chain on the local AWS, ending with the Athena query's result."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

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
    parser.add_argument("--scale", type=float, default=1.0, help="dataset size (1 = full)")
    parser.add_argument("--seed", type=int, default=2014, help="synthetic data seed")
    parser.add_argument("--skip-deploy", action="store_true", help="reuse the deployed stack")
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="stay in the foreground until interrupted, then stop the local AWS (containers)",
    )
    parser.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from mhealth.local import runtime
    from mhealth.local.config import LocalConfig
    from mhealth.local.deploy import DeployError, deploy, publish_sample
    from mhealth.ops.deployment import load_deployment
    from mhealth.ops.execution import start_execution
    from mhealth.ops.progress import follow
    from mhealth.ops.query import QueryFailedError

    config = LocalConfig.from_environment()
    began = time.monotonic()

    def heading(text: str) -> None:
        print(f"\n== {text}", flush=True)

    heading(f"1/5 local AWS at {config.endpoint_url}")
    try:
        runtime.up(config)
    except runtime.LocalRuntimeError as error:
        print(f"mhealth demo: {error}", file=sys.stderr)
        return 1

    heading(f"2/5 synthetic MHEALTH dataset (scale {args.scale:g}, seed {args.seed})")
    dataset = publish_sample(config, scale=args.scale, seed=args.seed)
    print(
        f"{'generated' if dataset.generated else 'reusing'} {dataset.rows:,} rows in 10 subject "
        f"files; the Kaggle stand-in serves {dataset.zip_path}"
    )

    clients = config.clients()
    heading("3/5 deploy serverless.yml to the local stage")
    if args.skip_deploy:
        print("skipped (--skip-deploy)")
    else:
        try:
            deploy(config)
        except DeployError as error:
            print(f"mhealth demo: {error}", file=sys.stderr)
            return 1
    deployment = load_deployment(clients("cloudformation"), "local")

    heading("4/5 run the pipeline: Download → Mirror → Convert (per file) → Glue job")
    execution_arn = start_execution(clients("stepfunctions"), deployment.state_machine_arn, {})
    print(f"execution {execution_arn.rsplit(':', 1)[-1]}")
    outcome = follow(clients, execution_arn, timeout=3600)
    if not outcome.succeeded:
        return 1

    heading(f"5/5 query through Athena ({deployment.database}.{deployment.table})")
    try:
        _print_results(clients("athena"), deployment, dataset.rows)
    except QueryFailedError as error:
        print(f"mhealth demo: {error}", file=sys.stderr)
        return 1

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
    from mhealth.ops.query import SEED_QUERY, render, run_query

    table = f'"{deployment.database}"."{deployment.table}"'
    counts = run_query(
        athena,
        f'SELECT activity, COUNT(*) AS "rows" FROM {table} GROUP BY activity ORDER BY activity',
        database=deployment.database,
        output_location=deployment.athena_output_location,
    )
    print("rows per activity:")
    print(render(counts))
    total = sum(int(row[1] or 0) for row in counts.rows)
    print(f"total rows: {total:,} (generated: {generated_rows:,})")
    print(f"\n{SEED_QUERY}")
    seed = run_query(
        athena,
        SEED_QUERY,
        database=deployment.database,
        output_location=deployment.athena_output_location,
    )
    print(render(seed))
