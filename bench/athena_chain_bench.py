"""The whole local chain at full size, step by step, then the Athena emulation's query latency.

Runs on a local stage of its own (LocalStack edge ``MHEALTH_LOCAL_PORT``, default 4575, Kaggle
stand-in ``MHEALTH_STANDIN_PORT``, default 4605; state under ``.local/port-<port>``) so that
it never touches the stage ``make demo`` leaves up. It starts that stage unless it is already
up, and stops it at the end only if it started it. Steps: local up, synthetic dataset
published to the stand-in, ``sls deploy --stage local``, one state machine execution
(Download → Convert per file → Glue job), then the seed query and a GROUP BY over the whole
table through Athena's API, interleaved, median latency.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from collections.abc import Iterator
from typing import Any, Final

from bench.common import DATASET_SCALE, DATASET_SEED, write_section

BENCH_EDGE_PORT: Final = "4575"
BENCH_STANDIN_PORT: Final = "4605"
EXECUTION_TIMEOUT_S: Final = 1800.0


def _report(message: str) -> None:
    print(f"  {message}", flush=True)


def _tight_latency(athena: Any, sql: str, database: str, output_location: str) -> float:
    """Seconds from submitting ``sql`` to holding its first result page, polling every 10 ms.

    ``run_query`` backs off from 0.1 s to 2 s between polls, which suits a terminal but would
    make its latency measure the back-off rather than the engine.
    """
    began = time.perf_counter()
    query_id = athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": database},
        ResultConfiguration={"OutputLocation": output_location},
    )["QueryExecutionId"]
    deadline = began + 300
    while True:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] == "SUCCEEDED":
            break
        if status["State"] in ("FAILED", "CANCELLED"):
            raise RuntimeError(f"query {status['State']}: {status.get('StateChangeReason')}")
        if time.perf_counter() > deadline:
            raise TimeoutError(f"query {query_id} still {status['State']} after 300 s")
        time.sleep(0.01)
    athena.get_query_results(QueryExecutionId=query_id)
    return time.perf_counter() - began


def _time_queries(athena: Any, deployment: Any, repeats: int, expected_rows: int) -> dict[str, Any]:
    from mhealth.ops.query import run_query

    table = f'"{deployment.database}"."{deployment.table}"'
    queries = {
        "seed_query": f"SELECT * FROM {table} WHERE user_id = '1' LIMIT 10",
        "group_by_activity": (
            f'SELECT activity, COUNT(*) AS "rows" FROM {table} GROUP BY activity ORDER BY activity'
        ),
    }

    def query(sql: str) -> Any:
        return run_query(
            athena,
            sql,
            database=deployment.database,
            output_location=deployment.athena_output_location,
        )

    # Warm-up, and a check that the table holds what the chain was given.
    counted = sum(int(row[1] or 0) for row in query(queries["group_by_activity"]).rows)
    if counted != expected_rows:
        raise RuntimeError(f"Athena counts {counted:,} rows, the dataset has {expected_rows:,}")
    if len(query(queries["seed_query"]).rows) != 10:
        raise RuntimeError("the seed query did not return 10 rows")
    latencies: dict[str, list[float]] = {name: [] for name in queries}
    client_latencies: dict[str, list[float]] = {name: [] for name in queries}
    for _ in range(repeats):
        for name, sql in queries.items():
            latencies[name].append(
                _tight_latency(athena, sql, deployment.database, deployment.athena_output_location)
            )
            began = time.perf_counter()
            query(sql)
            client_latencies[name].append(time.perf_counter() - began)
    result: dict[str, Any] = {"repeats": repeats, "table_rows": counted}
    for name, values in latencies.items():
        result[name] = {
            "sql": queries[name],
            "median_s": round(statistics.median(values), 3),
            "best_s": round(min(values), 3),
            "runs_s": [round(value, 3) for value in values],
            "run_query_median_s": round(statistics.median(client_latencies[name]), 3),
        }
        print(
            f"  athena {name:18} median {statistics.median(values):.3f} s "
            f"(through run_query and its polling back-off: "
            f"{statistics.median(client_latencies[name]):.3f} s)",
            flush=True,
        )
    return result


def run(query_repeats: int) -> dict[str, Any]:
    os.environ.setdefault("MHEALTH_LOCAL_PORT", BENCH_EDGE_PORT)
    os.environ.setdefault("MHEALTH_STANDIN_PORT", BENCH_STANDIN_PORT)

    from mhealth.local import runtime
    from mhealth.local.config import LocalConfig
    from mhealth.local.pipeline import prepare
    from mhealth.ops.execution import StepEvent

    config = LocalConfig.from_environment()
    phases: dict[str, float] = {}
    print(f"whole chain on the local stage at {config.endpoint_url}", flush=True)
    began = time.perf_counter()
    up = runtime.up(config, report=_report)
    phases["local_up"] = time.perf_counter() - began
    try:

        @contextlib.contextmanager
        def timed(phase: str) -> Iterator[None]:
            began = time.perf_counter()
            yield
            phases[{"publish": "publish_sample"}.get(phase, phase)] = time.perf_counter() - began

        pipeline = prepare(
            config, scale=DATASET_SCALE, seed=DATASET_SEED, phase=timed, report=_report
        )
        dataset, deployment, clients = pipeline.dataset, pipeline.deployment, config.clients()

        def show(event: StepEvent) -> None:
            if event.kind != "entered":
                _report(f"{event.kind:8} {event.step} {event.detail}".rstrip())

        began = time.perf_counter()
        outcome = pipeline.run(on_event=show, timeout_seconds=EXECUTION_TIMEOUT_S)
        phases["execution"] = time.perf_counter() - began
        if not outcome.succeeded:
            raise RuntimeError(
                f"execution {outcome.status} at {outcome.failed_step}: {outcome.error}: "
                f"{outcome.cause}"
            )
        reported = ((outcome.stopped or outcome.started) - outcome.started).total_seconds()

        began = time.perf_counter()
        athena = _time_queries(clients("athena"), deployment, query_repeats, dataset.rows)
        athena["section_seconds"] = round(time.perf_counter() - began, 1)
    finally:
        if up.started:
            runtime.down(config, report=_report)
    seconds_by_step = {name: round(value, 1) for name, value in phases.items()}
    chain = {
        "seconds_by_step": seconds_by_step,
        "total_seconds": round(sum(phases.values()), 1),
        "after_deploy_seconds": round(phases["execution"], 1),
        "execution_seconds_reported_by_step_functions": round(reported, 1),
        "state_machine_step_seconds": {
            name: round(value, 1) for name, value in outcome.step_seconds.items()
        },
        "local_stack_started_by_bench": up.started,
        "dataset_generated": dataset.generated,
        "rows": dataset.rows,
        "endpoint": config.endpoint_url,
    }
    print(f"  chain after deploy {chain['after_deploy_seconds']} s", flush=True)
    return {"chain": chain, "athena": athena}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--query-repeats", type=int, default=5, help="rounds of the queries")
    args = parser.parse_args(argv)
    result = run(args.query_repeats)
    write_section("chain", result["chain"])
    write_section("athena", result["athena"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
