"""``mhealth local up|down|status``: the local AWS (LocalStack + Kaggle stand-in) on this host."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mhealth.cli.errors import UnreachableError, UsageError, local_config
from mhealth.local import iam_report, runtime
from mhealth.local.config import PIPELINE_SERVICES


def _up(args: argparse.Namespace) -> int:
    config = local_config()
    runtime.up(config, timeout_s=args.timeout, fresh=args.fresh)
    print(f"AWS_ENDPOINT_URL={config.endpoint_url}")
    return 0


def _down(args: argparse.Namespace) -> int:
    runtime.down(local_config())
    return 0


def _running(args: argparse.Namespace) -> int:
    """Exit 0 (and name them) when a local AWS with its state under DIR runs, else 1."""
    directory = Path(args.under) if args.under else local_config().state_dir
    found = runtime.instances_under(directory)
    for process in found:
        port, _sep, state = process.instance.partition("@")
        print(f"{process.role} (pid {process.pid}) port {port} state {state}")
    return 0 if found else 1


def _status(args: argparse.Namespace) -> int:
    config = local_config()
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
        summary = runtime.snapshot_summary(config)
        if summary is not None:
            saved = datetime.fromtimestamp(float(summary.get("saved_at", 0)), UTC)
            print(f"Saved state     {config.snapshot_dir} ({saved:%Y-%m-%d %H:%M:%S} UTC)")
        if current.services:
            print("Services:")
            for name in PIPELINE_SERVICES:
                print(f"  {name:<15} {current.services.get(name, 'missing')}")
    # Status is information: "nothing runs" is an answer, not a failure (exit 0 either way).
    return 0


def _iam_report(args: argparse.Namespace) -> int:
    config = local_config()
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
        except runtime.LocalRequestError as error:
            raise UsageError(f"mhealth local {args.local_command}: {error}") from error
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
        "(MHEALTH_STANDIN_PORT). State and logs go to .local/; `down` saves the local AWS's state "
        "there and `up` restores it (`up --fresh` starts empty).",
    )
    commands = parser.add_subparsers(dest="local_command", required=True, metavar="ACTION")
    up = commands.add_parser("up", help="start both and wait until healthy (idempotent)")
    up.add_argument(
        "--timeout",
        type=float,
        default=runtime.DEFAULT_START_TIMEOUT_S,
        help="seconds to wait for health (default %(default)s)",
    )
    up.add_argument(
        "--fresh",
        action="store_true",
        help="start empty: remove the state the last `down` saved (by default it is restored)",
    )
    up.set_defaults(func=_run(_up))
    down = commands.add_parser(
        "down",
        help="save the state and stop the processes `up` started (found by their marker "
        "even without the record)",
    )
    down.set_defaults(func=_run(_down))
    running = commands.add_parser(
        "running",
        help="exit 0 when a local AWS keeping its state under DIR runs (what `make clean` asks)",
    )
    running.add_argument("--under", metavar="DIR", help="default: this local AWS's state dir")
    running.set_defaults(func=_run(_running))
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
