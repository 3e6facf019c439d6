"""``make bench``: runs every benchmark section, then writes bench/results.json and results.md.

Each section runs in its own Python process (a Spark JVM or a local AWS never lingers into
the next one's timings) and stores its numbers under bench/work/sections/; this module
merges them, checks them against the targets of the benchmark issue and renders the report.
A section that fails is reported as such, and the run exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from bench.common import (
    REPO_ROOT,
    RESULTS_JSON,
    RESULTS_MD,
    SECTION_DIR,
    machine,
)
from bench.report import render_markdown

SECTIONS: Final[dict[str, tuple[str, ...]]] = {
    "convert": ("bench.convert_bench",),
    "glue": ("bench.glue_bench",),
    "chain": ("bench.athena_chain_bench",),
    "iam": ("bench.iam_bench",),
    "iam_chain": ("bench.iam_chain_bench",),
    "athena_latency": ("bench.athena_latency_bench",),
    "scale10": ("bench.scale_bench",),
}
#: Which stored section files each section produces.
SECTION_OUTPUTS: Final[dict[str, tuple[str, ...]]] = {
    "convert": ("convert",),
    "glue": ("glue",),
    "chain": ("chain", "athena"),
    "iam": ("iam",),
    "iam_chain": ("iam_chain",),
    "athena_latency": ("athena_latency",),
    "scale10": ("scale10",),
}
#: Sections that take many minutes and GB of disk: run only when asked (``--scale10``).
OPTIONAL_SECTIONS: Final = frozenset({"scale10"})
#: The targets of the scale benchmark issue: like-for-like floors, the chain on 2 cores.
CHAIN_TARGET_S: Final = 20.0
CONVERT_FLOOR_TARGET: Final = 1.05
GLUE_FLOOR_TARGET: Final = 1.25
#: IAM on the local stage: a request evaluated costs at most this much more than one that is
#: not. The whole run's overhead is bounded by it (requests are only part of a run's time).
IAM_OVERHEAD_TARGET: Final = 1.10
#: The fastest peer emulator's warm small GROUP BY (MiniStack 1.5.33, DuckDB too, measured on
#: this machine: 33-37 ms) and its warm Lambda invoke (~55 ms): be at or below them.
ATHENA_PEER_MS: Final = 37.0
LAMBDA_PEER_MS: Final = 55.0
#: 10x the data: at most 11x the time, no process's peak RSS more than 20 % higher.
SCALE10_TIME_TARGET: Final = 11.0
SCALE10_RSS_TARGET: Final = 1.20


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    measured: str
    met: bool | None  # None: not measured in this run

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "goal": self.goal, "measured": self.measured, "met": self.met}


def _run_section(name: str, extra: Sequence[str]) -> tuple[float, str | None]:
    """Runs one section in a fresh interpreter; returns its seconds and its error, if any."""
    for output in SECTION_OUTPUTS[name]:
        (SECTION_DIR / f"{output}.json").unlink(missing_ok=True)
    environment = dict(os.environ)
    # The chain runs on a local stage of its own, away from `make demo`'s and the tests'.
    environment.setdefault("MHEALTH_LOCAL_PORT", "4575")
    environment.setdefault("MHEALTH_STANDIN_PORT", "4605")
    # Every run starts empty and saves nothing: a restored stage would skip work (unchanged
    # logs are not converted again) and its snapshot of GBs would slow the stop.
    environment["MHEALTH_LOCAL_PERSIST"] = "0"
    print(f"\n== {name}", flush=True)
    began = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", *SECTIONS[name], *extra],
        cwd=REPO_ROOT,
        env=environment,
        check=False,
    )
    seconds = time.perf_counter() - began
    if completed.returncode != 0:
        return seconds, f"`python -m {SECTIONS[name][0]}` exited {completed.returncode}"
    return seconds, None


def _load(name: str) -> dict[str, Any] | None:
    path = SECTION_DIR / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _stored_at(name: str) -> str | None:
    """When a kept section's numbers were written (UTC), or None if it never ran."""
    path = SECTION_DIR / f"{name}.json"
    if not path.exists():
        return None
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")


def evaluate_targets(results: dict[str, Any]) -> list[Target]:
    """The issue's targets, each with the measured value and whether it is met."""
    convert = results.get("convert")
    glue = results.get("glue")
    chain = results.get("chain")
    cpus = results["machine"]["cpus"]
    targets: list[Target] = []
    if convert:
        floor_ratio = convert["ratio_to_same_writer_floor"]
        speedup = convert["speedup_vs_pandas"]
        rss = convert["peak_rss_mb_largest_file"]
        growth = convert["peak_rss_growth_4x"]
        targets += [
            Target(
                "conversion vs the same-writer floor",
                f"≤ {CONVERT_FLOOR_TARGET:.2f}× (medians of whole passes)",
                f"{floor_ratio:.2f}×",
                floor_ratio <= CONVERT_FLOOR_TARGET,
            ),
            Target(
                "conversion vs pandas baseline",
                "no slower (speed-up ≥ 1.0×)",
                f"{speedup:.2f}× faster",
                speedup >= 1.0,
            ),
            Target(
                "peak RSS, largest file",
                "< 256 MB",
                f"{rss:.0f} MB",
                rss < 256,
            ),
            Target(
                "peak RSS growth at 4× the size",
                "< 20 %",
                f"{(growth - 1) * 100:+.0f} %",
                growth < 1.20,
            ),
        ]
    else:
        targets += [
            Target("conversion vs the same-writer floor", "see issue", "not measured", None)
        ]
    if glue:
        glue_ratio = glue["ratio_to_tightest_floor"]
        targets.append(
            Target(
                "Glue transform vs the tightest floor",
                f"≤ {GLUE_FLOOR_TARGET:.2f}× (same columns in and out, partitioned)",
                f"{glue_ratio:.2f}×",
                glue_ratio <= GLUE_FLOOR_TARGET,
            )
        )
    else:
        targets.append(
            Target("Glue transform vs the tightest floor", "≤ 1.25×", "not measured", None)
        )
    if chain:
        seconds = chain["after_deploy_seconds"]
        targets.append(
            Target(
                "full-size local chain after deploy",
                f"≤ {CHAIN_TARGET_S:.0f} s on 2 cores",
                f"{seconds:.0f} s on {cpus} cores",
                seconds <= CHAIN_TARGET_S,
            )
        )
    else:
        targets.append(
            Target(
                "full-size local chain after deploy", f"≤ {CHAIN_TARGET_S:.0f} s", "not run", None
            )
        )
    iam = results.get("iam")
    if iam:
        iam_ratio = iam["ratio_enforced_to_plain"]
        targets.append(
            Target(
                "IAM enforcement per request (bounds the whole run)",
                f"≤ {IAM_OVERHEAD_TARGET:.2f}× the same request unevaluated",
                f"{iam_ratio:.2f}× ({iam['ms_per_request_plain']:.1f} → "
                f"{iam['ms_per_request_enforced']:.1f} ms)",
                iam_ratio <= IAM_OVERHEAD_TARGET,
            )
        )
    else:
        targets.append(Target("IAM enforcement per request", "≤ 1.10×", "not run", None))
    iam_chain = results.get("iam_chain")
    goal = f"≤ {IAM_OVERHEAD_TARGET:.2f}× the run with MHEALTH_IAM=off"
    if iam_chain:
        chain_ratio = iam_chain["ratio_enforce_to_off"]
        targets.append(
            Target(
                "full-size run with IAM enforced",
                goal,
                f"{chain_ratio:.2f}× ({iam_chain['median_seconds_off']:.1f} → "
                f"{iam_chain['median_seconds_enforce']:.1f} s)",
                chain_ratio <= IAM_OVERHEAD_TARGET,
            )
        )
    else:
        targets.append(Target("full-size run with IAM enforced", goal, "not run", None))
    targets += _latency_targets(results.get("athena_latency"))
    targets += _scale_targets(results.get("scale10"))
    return targets


def _latency_targets(latency: dict[str, Any] | None) -> list[Target]:
    if not latency:
        return [Target("warm small Athena GROUP BY", f"≤ {ATHENA_PEER_MS:.0f} ms", "not run", None)]
    median = latency["small_query_ms"]
    invoke = latency["lambda_warm_invoke_ms"]
    return [
        Target(
            "warm small Athena GROUP BY",
            f"≤ {ATHENA_PEER_MS:.0f} ms (the fastest peer emulator)",
            f"{median:.0f} ms ({latency['small_query_ratio_to_direct_duckdb']:.1f}× DuckDB "
            "on the files)",
            median <= ATHENA_PEER_MS,
        ),
        Target(
            "warm Lambda invoke",
            f"ahead of the peers' ~{LAMBDA_PEER_MS:.0f} ms",
            f"{invoke:.0f} ms",
            invoke < LAMBDA_PEER_MS,
        ),
    ]


def _scale_targets(scale: dict[str, Any] | None) -> list[Target]:
    if not scale:
        return [
            Target(
                "chain at 10× the data",
                f"≤ {SCALE10_TIME_TARGET:.0f}× the 1× time",
                "not run",
                None,
            )
        ]
    if "chain_ratio_to_1x" not in scale:
        failed = next((r for r in scale["runs"] if not r["succeeded"]), None)
        where = (
            f"scale {failed['scale']:g} failed at {failed['failure']['step']}"
            if failed
            else "incomplete"
        )
        return [
            Target(
                "chain at 10× the data", f"≤ {SCALE10_TIME_TARGET:.0f}× the 1× time", where, False
            )
        ]
    ratio_10x = scale["chain_ratio_to_1x"]
    growth = scale["peak_rss_growth_max"]
    return [
        Target(
            "chain at 10× the data",
            f"≤ {SCALE10_TIME_TARGET:.0f}× the 1× time",
            f"{ratio_10x:.2f}×",
            ratio_10x <= SCALE10_TIME_TARGET,
        ),
        Target(
            "peak RSS growth 1× → 10×, any process",
            f"≤ +{(SCALE10_RSS_TARGET - 1) * 100:.0f} %",
            f"{(growth - 1) * 100:+.0f} % ({scale['peak_rss_growth_max_role']})",
            growth <= SCALE10_RSS_TARGET,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--only", choices=sorted(SECTIONS), action="append", help="run only these sections"
    )
    parser.add_argument(
        "--skip", choices=sorted(SECTIONS), action="append", default=[], help="skip sections"
    )
    parser.add_argument(
        "--scale10",
        action="store_true",
        help="also run the chain at 1x and 10x (many minutes; `make bench SCALE10=1`)",
    )
    parser.add_argument(
        "--keep",
        choices=sorted(SECTIONS),
        action="append",
        default=[],
        help="do not run this section; report the numbers its last run stored (with its date)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer repeats (a smoke run; its numbers are noisier)",
    )
    args = parser.parse_args(argv)
    default = [name for name in SECTIONS if name not in OPTIONAL_SECTIONS or args.scale10]
    chosen = [
        name for name in (args.only or default) if name not in args.skip and name not in args.keep
    ]
    extra: dict[str, list[str]] = {
        "convert": ["--repeats", "2", "--probes", "1"] if args.quick else [],
        "glue": ["--repeats", "1"] if args.quick else [],
        "chain": ["--query-repeats", "3"] if args.quick else [],
        "iam": ["--repeats", "5"] if args.quick else [],
        "iam_chain": ["--rounds", "1"] if args.quick else [],
        "athena_latency": ["--repeats", "5"] if args.quick else [],
        "scale10": ["--scales", "0.05", "0.5"] if args.quick else [],
    }

    results: dict[str, Any] = {"machine": machine(), "command": "make bench"}
    began = time.perf_counter()
    section_seconds: dict[str, float] = {}
    errors: dict[str, str] = {}
    for name in chosen:
        seconds, error = _run_section(name, extra[name])
        section_seconds[name] = round(seconds, 1)
        if error:
            errors[name] = error
    for name in [*chosen, *args.keep]:
        for output in SECTION_OUTPUTS[name]:
            data = _load(output)
            if data is not None:
                results[output] = data
    latency = results.get("athena_latency")
    if latency:
        # The small query's latency beside the full-table queries, under the keys the issue
        # names (athena.small_query_ms, athena.small_query_ratio_to_direct_duckdb).
        athena = results.setdefault("athena", {})
        for key in ("small_query_ms", "small_query_ratio_to_direct_duckdb"):
            athena[key] = latency[key]
    results["section_seconds"] = section_seconds
    results["wall_seconds"] = round(time.perf_counter() - began, 1)
    results["errors"] = errors
    results["sections_run"] = chosen
    results["sections_kept"] = {
        name: _stored_at(output) for name in args.keep for output in SECTION_OUTPUTS[name]
    }
    results["targets"] = [target.as_dict() for target in evaluate_targets(results)]

    RESULTS_JSON.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    RESULTS_MD.write_text(render_markdown(results), encoding="utf-8")
    print(f"\nwrote {RESULTS_JSON.relative_to(REPO_ROOT)} and {RESULTS_MD.relative_to(REPO_ROOT)}")
    for target in results["targets"]:
        mark = {True: "met", False: "MISSED", None: "not measured"}[target["met"]]
        print(f"  {target['name']:40} {target['measured']:>18}  ({target['goal']}): {mark}")
    if errors:
        for name, error in errors.items():
            print(f"section {name} failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
