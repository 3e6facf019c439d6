"""IAM enforcement's cost on a whole pipeline run: the full-size local stage deployed and run
with ``MHEALTH_IAM=off`` and with ``MHEALTH_IAM=enforce``, alternating (off, enforce, off, …),
each on a fresh local AWS of its own; measured is the execution as Step Functions reports it
(Download → Mirror → Convert → Transform), the part of a run whose requests IAM evaluates.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from typing import Any

from bench.common import DATASET_SCALE, DATASET_SEED, ratio, write_section

BENCH_EDGE_PORT = "4577"
BENCH_STANDIN_PORT = "4607"
EXECUTION_TIMEOUT_S = 1800
MODES = ("off", "enforce")


def _report(message: str) -> None:
    print(f"[iam chain] {message}", flush=True)


def _one_run(mode: str) -> float:
    from mhealth.local import runtime
    from mhealth.local.config import LocalConfig
    from mhealth.local.pipeline import prepare

    os.environ["MHEALTH_IAM"] = mode
    config = LocalConfig.from_environment()
    runtime.up(config, report=_report, fresh=True)
    try:
        pipeline = prepare(config, scale=DATASET_SCALE, seed=DATASET_SEED, report=_report)
        outcome = pipeline.run(timeout_seconds=EXECUTION_TIMEOUT_S)
        if not outcome.succeeded:
            raise RuntimeError(
                f"MHEALTH_IAM={mode}: execution {outcome.status} at {outcome.failed_step}: "
                f"{outcome.error}: {outcome.cause}"
            )
        seconds = ((outcome.stopped or outcome.started) - outcome.started).total_seconds()
    finally:
        runtime.down(config, report=_report)
    _report(f"MHEALTH_IAM={mode}: execution {seconds:.1f} s")
    return seconds


def run(rounds: int) -> dict[str, Any]:
    os.environ.setdefault("MHEALTH_LOCAL_PORT", BENCH_EDGE_PORT)
    os.environ.setdefault("MHEALTH_STANDIN_PORT", BENCH_STANDIN_PORT)
    previous = os.environ.get("MHEALTH_IAM")
    seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
    try:
        for _ in range(rounds):
            for mode in MODES:
                seconds[mode].append(round(_one_run(mode), 1))
    finally:
        if previous is None:
            os.environ.pop("MHEALTH_IAM", None)
        else:
            os.environ["MHEALTH_IAM"] = previous
    off, enforce = (statistics.median(seconds[mode]) for mode in MODES)
    return {
        "rounds": rounds,
        "dataset_scale": DATASET_SCALE,
        "execution_seconds": seconds,
        "median_seconds_off": round(off, 1),
        "median_seconds_enforce": round(enforce, 1),
        "ratio_enforce_to_off": round(ratio(enforce, off), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2, help="runs per mode, alternating")
    args = parser.parse_args(argv)
    result = run(args.rounds)
    print(json.dumps(result, indent=2))
    write_section("iam_chain", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
