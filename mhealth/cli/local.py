"""``mhealth local up|down|status``: the local AWS (LocalStack + Kaggle stand-in) on this host."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mhealth.cli.errors import UnreachableError, UsageError
from mhealth.local import iam_report, runtime
from mhealth.local.config import PIPELINE_SERVICES, LocalConfig


def _up(args: argparse.Namespace) -> int:
    config = LocalConfig.from_environment()
    runtime.up(config, timeout_s=args.timeout)
    print(f"AWS_ENDPOINT_URL={config.endpoint_url}")
    return 0


def _down(args: argparse.Namespace) -> int:
    runtime.down(LocalConfig.from_environment())
    return 0


def _status(args: argparse.Namespace) -> int:
    config = LocalConfig.from_environment()
    current = runtime.status(config)
    if args.json:
        print(
            json.dumps(
                {
                    "endpoint_url": current.endpoint_url,
                    "standin_url": current.standin_url,
                    "localstack_ready": current.localstack_ready,
                    "standin_healthy": current.standin_healthy,
                    "processes": [vars(p) for p in current.processes],
                    "services": {n: current.services.get(n, "missing") for n in PIPELINE_SERVICES},
                    "record": current.record_path,
                },
                indent=2,
            )
        )
    else:
        print(f"LocalStack      {current.endpoint_url}  ready={current.localstack_ready}")
        print(f"Kaggle stand-in {current.standin_url}  healthy={current.standin_healthy}")
        if not current.processes:
            print(f"No processes recorded ({current.record_path})")
        for process in current.processes:
            state = "running" if process.alive else "NOT RUNNING"
            print(f"  {process.name:<15} pid {process.pid:<8} {state:<12} log {process.log}")
            if process.alive:
                listening = ", ".join(process.listening) or "nothing"
                print(f"  {'':<15} listening on {listening}")
        if current.services:
            print("Services:")
            for name in PIPELINE_SERVICES:
                print(f"  {name:<15} {current.services.get(name, 'missing')}")
    # Status is information: "nothing runs" is an answer, not a failure (exit 0 either way).
    return 0


def _iam_report(args: argparse.Namespace) -> int:
    config = LocalConfig.from_environment()
    path = Path(args.file) if args.file else config.iam_decisions_path
    try:
        roles = iam_report.load_journal(path)
    except (FileNotFoundError, ValueError) as error:
        raise UsageError(
            f"cannot read the IAM journal: {error}",
            "run the pipeline on the local stage first, or pass --file",
        ) from error
    if args.json:
        print(json.dumps(iam_report.report_as_json(roles), indent=2))
    else:
        print(iam_report.format_report(roles), end="")
    return 0


def _run(handler: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            code: int = handler(args)
        except runtime.LocalRuntimeError as error:
            raise UnreachableError(f"mhealth local {args.local_command}: {error}") from error
        return code

    return run


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``mhealth local up|down|status|iam-report`` (the registration hook mhealth.cli.main
    calls)."""
    parser = subparsers.add_parser(
        "local",
        help="start, stop or inspect the local AWS (LocalStack + Kaggle stand-in)",
        description="The local AWS runs on this host: LocalStack with the mhealth extension "
        "(Lambda as host processes, Glue in local PySpark, Athena on DuckDB) at "
        "127.0.0.1:4566 (MHEALTH_LOCAL_PORT) and the Kaggle stand-in at 127.0.0.1:4599 "
        "(MHEALTH_STANDIN_PORT). State and logs go to .local/.",
    )
    commands = parser.add_subparsers(dest="local_command", required=True, metavar="ACTION")
    up = commands.add_parser("up", help="start both and wait until healthy (idempotent)")
    up.add_argument(
        "--timeout",
        type=float,
        default=runtime.DEFAULT_START_TIMEOUT_S,
        help="seconds to wait for health (default %(default)s)",
    )
    up.set_defaults(func=_run(_up))
    down = commands.add_parser("down", help="stop the processes `up` started")
    down.set_defaults(func=_run(_down))
    status = commands.add_parser("status", help="endpoints, PIDs, service health, log paths")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=_run(_status))
    report = commands.add_parser(
        "iam-report",
        help="per role: the actions used and the policy statements never used",
        description="Reads the IAM journal the local AWS writes (MHEALTH_IAM=enforce or log) "
        "and prints, per role, each action its requests used (allowed / denied) and the "
        "statements of its policies that no request needed.",
    )
    report.add_argument("--file", help="the journal (default: <state dir>/iam-decisions.jsonl)")
    report.add_argument("--json", action="store_true", help="machine-readable output")
    report.set_defaults(func=_run(_iam_report))
