"""The whole chain at 1× and at 10× the full dataset on one local stage, side by side.

``make bench SCALE10=1`` (or ``python -m bench.scale_bench``): it takes many minutes and some
GB of disk, so ``make bench`` runs it only when asked. On a local stage of its own (the
``MHEALTH_LOCAL_PORT`` / ``MHEALTH_STANDIN_PORT`` ports, default 4575/4605) it deploys once,
then for each scale: generates the synthetic dataset and publishes it to the Kaggle stand-in,
runs one state machine execution while ``bench.process_peaks`` samples every process of the
stage by role, and counts the table's rows through Athena. Reported per scale: wall time per
state, peak RSS per process role, bytes in each S3 prefix, the configured Lambda memory and
``/tmp`` beside what the functions held. The 10× run's ratios to the 1× run are the section's
results: ``chain_ratio_to_1x`` (execution time) and ``peak_rss_growth_max`` (the largest growth
of any role's peak).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, Final

from bench.common import DATASET_SEED, machine, write_section

BENCH_EDGE_PORT: Final = "4575"
BENCH_STANDIN_PORT: Final = "4605"
EXECUTION_TIMEOUT_S: Final = 3600.0
MB: Final = 1_000_000


def _report(message: str) -> None:
    print(f"  {message}", flush=True)


def _prefix_bytes(s3: Any, bucket: str) -> dict[str, dict[str, int]]:
    """Objects and bytes under each top-level prefix of the data bucket."""
    totals: dict[str, dict[str, int]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            prefix = item["Key"].split("/", 1)[0] + "/"
            entry = totals.setdefault(prefix, {"objects": 0, "bytes": 0})
            entry["objects"] += 1
            entry["bytes"] += int(item["Size"])
    return dict(sorted(totals.items()))


def _function_limits(lambda_client: Any, stack_prefix: str) -> dict[str, dict[str, int]]:
    limits: dict[str, dict[str, int]] = {}
    for page in lambda_client.get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            if function["FunctionName"].startswith(stack_prefix):
                limits[function["FunctionName"]] = {
                    "memory_mb": int(function.get("MemorySize", 128)),
                    "ephemeral_storage_mb": int(
                        (function.get("EphemeralStorage") or {}).get("Size", 512)
                    ),
                    "timeout_s": int(function.get("Timeout", 3)),
                }
    return limits


def _count_rows(athena: Any, deployment: Any) -> int:
    from mhealth.ops.query import run_query

    result = run_query(
        athena,
        f'SELECT COUNT(*) FROM "{deployment.database}"."{deployment.table}"',
        database=deployment.database,
        output_location=deployment.athena_output_location,
    )
    return int(result.rows[0][0] or 0)


def _one_scale(config: Any, clients: Any, deployment: Any, scale: float) -> dict[str, Any]:
    from bench.process_peaks import ProcessPeaks
    from mhealth.local import runtime
    from mhealth.local.deploy import publish_sample
    from mhealth.ops.execution import StepEvent, follow_execution, start_execution

    print(f"\n-- scale {scale:g}", flush=True)
    began = time.perf_counter()
    dataset = publish_sample(config, scale=scale, seed=DATASET_SEED)
    publish_seconds = time.perf_counter() - began
    zip_bytes = dataset.zip_path.stat().st_size
    _report(
        f"dataset: {dataset.rows:,} rows, zip {zip_bytes / MB:,.0f} MB ({publish_seconds:.0f} s)"
    )

    pids = {record.name: record.pid for record in runtime.read_record(config)}
    sampler = ProcessPeaks(pids["localstack"], pids.get("kaggle-standin"))

    def show(event: StepEvent) -> None:
        if event.kind != "entered" and event.step != "ConvertFile":
            _report(f"{event.kind:8} {event.step} {event.detail}".rstrip())

    sampler.start()
    began = time.perf_counter()
    try:
        arn = start_execution(clients("stepfunctions"), deployment.state_machine_arn, {})
        outcome = follow_execution(
            clients("stepfunctions"), arn, show, timeout_seconds=EXECUTION_TIMEOUT_S
        )
    finally:
        execution_seconds = time.perf_counter() - began
        peaks = sampler.stop()
    result: dict[str, Any] = {
        "scale": scale,
        "rows": dataset.rows,
        "zip_bytes": zip_bytes,
        "publish_sample_seconds": round(publish_seconds, 1),
        "execution_seconds": round(execution_seconds, 1),
        "succeeded": outcome.succeeded,
        "state_seconds": {name: round(value, 1) for name, value in outcome.step_seconds.items()},
        "peak_rss_mb_by_role": peaks,
    }
    if not outcome.succeeded:
        result["failure"] = {
            "step": outcome.failed_step,
            "error": outcome.error,
            "cause": (outcome.cause or "")[:2000],
        }
        _report(f"FAILED at {outcome.failed_step}: {outcome.error}: {outcome.cause}")
        return result
    result["s3_bytes_by_prefix"] = _prefix_bytes(clients("s3"), deployment.bucket)
    began = time.perf_counter()
    result["athena_count"] = _count_rows(clients("athena"), deployment)
    result["athena_count_seconds"] = round(time.perf_counter() - began, 2)
    if result["athena_count"] != dataset.rows:
        raise RuntimeError(f"Athena counts {result['athena_count']:,}, generated {dataset.rows:,}")
    _report(f"execution {execution_seconds:.1f} s; peaks {peaks}")
    return result


def _growth(one: dict[str, Any], ten: dict[str, Any]) -> dict[str, float]:
    """Each role's peak at 10× over its peak at 1× (roles present in both runs)."""
    first, second = one["peak_rss_mb_by_role"], ten["peak_rss_mb_by_role"]
    return {
        role: round(second[role]["peak_rss_mb"] / first[role]["peak_rss_mb"], 3)
        for role in sorted(set(first) & set(second))
        if first[role]["peak_rss_mb"] > 0
    }


def run(scales: tuple[float, float]) -> dict[str, Any]:
    os.environ.setdefault("MHEALTH_LOCAL_PORT", BENCH_EDGE_PORT)
    os.environ.setdefault("MHEALTH_STANDIN_PORT", BENCH_STANDIN_PORT)

    from mhealth.local import runtime
    from mhealth.local.config import LocalConfig
    from mhealth.local.deploy import deploy
    from mhealth.ops.deployment import load_deployment

    info = machine()
    config = LocalConfig.from_environment()
    up = runtime.up(config, report=_report)
    runs: list[dict[str, Any]] = []
    try:
        began = time.perf_counter()
        deploy(config, report=_report)
        deploy_seconds = time.perf_counter() - began
        clients = config.clients()
        deployment = load_deployment(clients("cloudformation"), "local")
        limits = _function_limits(clients("lambda"), deployment.stack_name)
        for scale in scales:
            runs.append(_one_scale(config, clients, deployment, scale))
            if not runs[-1]["succeeded"]:
                break
    finally:
        if up.started:
            runtime.down(config, report=_report)
    result: dict[str, Any] = {
        "machine": info,
        "scales": list(scales),
        "deploy_seconds": round(deploy_seconds, 1),
        "lambda_limits": limits,
        "runs": runs,
        "endpoint": config.endpoint_url,
    }
    if len(runs) == 2 and all(r["succeeded"] for r in runs):
        one, ten = runs
        growth = _growth(one, ten)
        result["chain_ratio_to_1x"] = round(ten["execution_seconds"] / one["execution_seconds"], 3)
        result["rows_ratio"] = round(ten["rows"] / one["rows"], 3)
        result["peak_rss_growth_by_role"] = growth
        result["peak_rss_growth_max"] = max(growth.values())
        result["peak_rss_growth_max_role"] = max(growth, key=lambda role: growth[role])
        result["state_ratio_to_1x"] = {
            name: round(ten["state_seconds"][name] / one["state_seconds"][name], 2)
            for name in one["state_seconds"]
            if name in ten["state_seconds"] and one["state_seconds"][name] > 0
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", type=float, nargs=2, default=(1.0, 10.0))
    args = parser.parse_args(argv)
    result = run(tuple(args.scales))
    write_section("scale10", result)
    runs = result["runs"]
    return 0 if runs and all(r["succeeded"] for r in runs) and len(runs) == 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
