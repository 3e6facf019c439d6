"""Renders bench/results.md from the merged results of one ``make bench`` run."""

from __future__ import annotations

from typing import Any, Final

_CONTENDER_LABELS: Final = {
    "ours": "ours (`mhealth.convert.logs`)",
    "pandas": "pandas baseline (`read_csv(sep=r'\\s+')` + `to_parquet`)",
    "floor": "pyarrow floor (`read_csv` + `write_table`, default writer)",
    "floor_our_writer": "pyarrow floor with our Parquet writer settings (the gate)",
}
_GLUE_LABELS: Final = {
    "job": "Glue job transform (`transform_location`)",
    "floor": "Spark read → write, all 26 columns (the floor)",
    "floor_partitioned": "Spark read → write partitioned by subject",
    "floor_projected": "Spark read → write of the 6 used columns, partitioned (the gate)",
}


def _mark(met: bool | None) -> str:
    return {True: "✅ met", False: "❌ missed", None: "– not measured"}[met]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _compare(ratio: float, what: str) -> str:
    """``1.08`` → "8 % slower than {what}"; ``0.93`` → "7 % faster than {what}"."""
    if abs(ratio - 1.0) < 0.005:
        return f"as fast as {what}"
    if ratio > 1.0:
        return f"{(ratio - 1) * 100:.0f} % slower than {what}"
    return f"{(1 - ratio) * 100:.0f} % faster than {what}"


def _target_notes(results: dict[str, Any]) -> dict[str, str]:
    """Why each target came out as it did: every sentence computed from this run's numbers,
    so a regression reads as one."""
    notes: dict[str, str] = {}
    convert = results.get("convert")
    if convert:
        total = convert["total"]
        same = convert["ratio_to_same_writer_floor"]
        default = convert["ratio_to_default_writer_floor"]
        notes["conversion vs the same-writer floor"] = (
            "Ours (validation, quarantine, `subject_id` and `reading_index` added) is "
            + _compare(same, "pyarrow reading and writing the same files with our writer settings")
            + ". "
            f"Against pyarrow's default writer it is {_compare(default, 'that floor')}, whose "
            f"Parquet is {total['floor']['output_mb']:.0f} MB against our "
            f"{total['ours']['output_mb']:.0f} MB."
        )
        speedup = convert["speedup_vs_pandas"]
        notes["conversion vs pandas baseline"] = (
            f"The seed-style pandas conversion takes {speedup:.2f}× our time "
            f"({total['pandas']['median_s']:.2f} s against {total['ours']['median_s']:.2f} s)."
        )
        memory = convert["memory"]
        notes["peak RSS, largest file"] = (
            f"{memory['ours']['1x']['rss_after_imports_mb']:.0f} MB of it is the interpreter "
            f"and libraries after imports; pandas peaks at "
            f"{convert['pandas_peak_rss_mb_largest_file']:.0f} MB on the same file."
        )
        notes["peak RSS growth at 4× the size"] = (
            f"Ours ×{convert['peak_rss_growth_4x']:.2f}, pandas "
            f"×{convert['pandas_peak_rss_growth_4x']:.2f} from 1× to 4× the input."
        )
    glue = results.get("glue")
    if glue:
        tightest = _compare(
            glue["ratio_to_tightest_floor"],
            "Spark reading and writing the 6 columns it uses, partitioned the same way",
        )
        partitioned = _compare(glue["ratio_to_partitioned_readwrite"], "all 26 partitioned")
        unpartitioned = _compare(glue["ratio_to_readwrite_all_columns"], "all 26 unpartitioned")
        notes["Glue transform vs the tightest floor"] = (
            f"The job is {tightest}; {partitioned}, {unpartitioned}."
        )
    chain = results.get("chain")
    if chain:
        steps = chain["state_machine_step_seconds"]
        if steps:
            slowest = max(steps, key=lambda name: steps[name])
            share = steps[slowest] / max(sum(steps.values()), 1e-9)
            notes["full-size local chain after deploy"] = (
                f"The slowest state is {slowest}: {steps[slowest]:.1f} s, "
                f"{share * 100:.0f} % of the states' time."
            )
    iam = results.get("iam")
    if iam:
        versus = _compare(
            iam["ratio_enforced_to_plain"], "the same request with the local credentials"
        )
        notes["IAM enforcement per request (bounds the whole run)"] = (
            "A request signed with a role's credentials (authenticated, mapped to its actions "
            f"and evaluated) is {versus}: "
            f"{iam['ms_per_request_enforced'] - iam['ms_per_request_plain']:.2f} ms more each, "
            f"medians of {len(iam['local_credentials']['runs_s'])} interleaved rounds of "
            f"{iam['requests_per_round']} requests."
        )
    iam_chain = results.get("iam_chain")
    if iam_chain:
        runs = iam_chain["execution_seconds"]
        notes["full-size run with IAM enforced"] = (
            "The execution with enforcement is "
            + _compare(iam_chain["ratio_enforce_to_off"], "with MHEALTH_IAM=off")
            + f" (medians of {iam_chain['rounds']} alternating runs each on a fresh local AWS; "
            f"off: {', '.join(f'{s:.1f}' for s in runs['off'])} s, enforce: "
            f"{', '.join(f'{s:.1f}' for s in runs['enforce'])} s)."
        )
    notes.update(_latency_notes(results.get("athena_latency")))
    notes.update(_scale_notes(results.get("scale10")))
    return notes


def _latency_notes(latency: dict[str, Any] | None) -> dict[str, str]:
    if not latency:
        return {}
    median = latency["small_query_ms"]
    direct = latency["direct_duckdb_ms"]
    load = latency["load_average_at_start"][0]
    return {
        "warm small Athena GROUP BY": (
            f"Submit → first result page, median of {latency['repeats']}, "
            f"{latency['get_query_execution_calls_median']:g} GetQueryExecution call(s) per "
            f"query; {median - direct:.0f} ms of it is outside DuckDB (the same query on the "
            f"same files directly: {direct:.1f} ms). LocalStack spent "
            f"{latency['localstack_cpu_ms_per_query']:.0f} ms of CPU per query; the load "
            f"average was {load:.1f} on {latency.get('cpus', 2)} cores at the start."
        ),
        "warm Lambda invoke": (
            f"Median of {len(latency['lambda_warm_invoke_runs_ms'])} synchronous invokes of a "
            f"warm function returning its event: {latency['lambda_warm_invoke_ms']:.0f} ms."
        ),
    }


def _scale_notes(scale: dict[str, Any] | None) -> dict[str, str]:
    if not scale or "chain_ratio_to_1x" not in scale:
        return {}
    one, ten = scale["runs"]
    ratios = scale["state_ratio_to_1x"]
    worst = max(ratios, key=lambda name: ratios[name])
    growth = scale["peak_rss_growth_by_role"]
    rows_ratio = scale["rows_ratio"]
    return {
        "chain at 10× the data": (
            f"{ten['rows']:,} rows ({rows_ratio:.1f}× the data): {ten['execution_seconds']:.0f} s "
            f"against {one['execution_seconds']:.0f} s. The state that grew most is {worst} "
            f"(×{ratios[worst]:.1f}: {one['state_seconds'][worst]:.0f} s → "
            f"{ten['state_seconds'][worst]:.0f} s)."
        ),
        "peak RSS growth 1× → 10×, any process": (
            "Per role, peak at 10× over peak at 1×: "
            + ", ".join(f"{role} ×{value:.2f}" for role, value in growth.items())
            + "."
        ),
    }


def _latency_section(latency: dict[str, Any]) -> list[str]:
    lines = [
        "## Athena latency on a small table, and a warm Lambda invoke",
        "",
        f"{latency['rows']:,} rows of Parquet in {latency['partitions']} Hive partitions behind "
        f"a Glue table; `{latency['sql']}`. Client botocore {latency['client_botocore']}, "
        f"polling GetQueryExecution every {latency['poll_interval_ms']:.0f} ms; "
        f"{latency['repeats']} warm runs after 3 untimed ones.",
        "",
    ]
    lines += _table(
        ["contender", "median ms", "runs ms"],
        [
            [
                "local Athena (submit → first result page)",
                f"{latency['small_query_ms']:.1f}",
                ", ".join(f"{v:.0f}" for v in latency["small_query_runs_ms"]),
            ],
            [
                "DuckDB, same query over the same files on disk",
                f"{latency['direct_duckdb_ms']:.2f}",
                ", ".join(f"{v:.1f}" for v in latency["direct_duckdb_runs_ms"]),
            ],
            [
                "warm Lambda invoke (host executor)",
                f"{latency['lambda_warm_invoke_ms']:.1f}",
                ", ".join(f"{v:.0f}" for v in latency["lambda_warm_invoke_runs_ms"]),
            ],
        ],
    )
    lines += [
        "",
        f"Ratio to direct DuckDB: **{latency['small_query_ratio_to_direct_duckdb']:.1f}×**; "
        f"LocalStack CPU per query {latency['localstack_cpu_ms_per_query']:.0f} ms; load "
        f"average at start {', '.join(str(x) for x in latency['load_average_at_start'])}.",
        "",
    ]
    return lines


def _scale_section(scale: dict[str, Any], stored_at: str | None) -> list[str]:
    info = scale.get("machine")
    when = (
        f"run on {info['date_utc']}, load average at start "
        f"{', '.join(str(x) for x in info['load_average_at_start'])}"
        if info
        else f"stored {stored_at or 'earlier'} (that run did not record its load average)"
    )
    lines = [
        "## The chain at 1× and 10× the data",
        "",
        f"One local stage, deployed once ({scale['deploy_seconds']:.0f} s), then one execution "
        f"per scale; {when}.",
        "",
    ]
    runs = scale["runs"]
    states = list(runs[0]["state_seconds"])
    header = ["", *[f"scale {run['scale']:g}" for run in runs]]
    rows = [
        ["rows", *[f"{run['rows']:,}" for run in runs]],
        ["dataset zip MB", *[f"{run['zip_bytes'] / 1e6:,.0f}" for run in runs]],
        ["execution s", *[f"{run['execution_seconds']:.1f}" for run in runs]],
    ]
    rows += [
        [
            f"state {name} s",
            *[f"{run['state_seconds'].get(name, float('nan')):.1f}" for run in runs],
        ]
        for name in states
    ]
    roles = sorted({role for run in runs for role in run["peak_rss_mb_by_role"]})
    rows += [
        [
            f"peak RSS MB, {role}",
            *[
                f"{run['peak_rss_mb_by_role'][role]['peak_rss_mb']:.0f}"
                if role in run["peak_rss_mb_by_role"]
                else "–"
                for run in runs
            ],
        ]
        for role in roles
    ]
    prefixes = sorted({p for run in runs for p in run.get("s3_bytes_by_prefix", {})})
    rows += [
        [
            f"S3 {prefix} MB",
            *[
                f"{run.get('s3_bytes_by_prefix', {}).get(prefix, {}).get('bytes', 0) / 1e6:,.0f}"
                for run in runs
            ],
        ]
        for prefix in prefixes
    ]
    lines += _table(header, rows)
    limits = scale["lambda_limits"]
    lines += [
        "",
        "Configured Lambda limits on the local stage: "
        + "; ".join(
            f"{name}: {v['memory_mb']} MB memory, {v['ephemeral_storage_mb']} MB /tmp, "
            f"{v['timeout_s']} s"
            for name, v in sorted(limits.items())
        )
        + ". The host executor enforces memory and /tmp; a function over either fails its "
        "state, so a succeeded execution stayed inside both.",
        "",
    ]
    if "chain_ratio_to_1x" in scale:
        from bench.scaling_model import model, render

        lines += [
            "### The AWS side at 10× and 100×, from this run's rates (`bench/scaling_model.py`)",
            "",
            *render(model(scale)),
            "",
        ]
    for run in runs:
        if not run["succeeded"]:
            failure = run["failure"]
            lines += [
                f"**Scale {run['scale']:g} failed** at {failure['step']}: {failure['error']}: "
                f"{failure['cause'][:300]}",
                "",
            ]
    return lines


def _convert_section(convert: dict[str, Any]) -> list[str]:
    total = convert["total"]
    lines = [
        "## Conversion (raw `.log` → stage Parquet)",
        "",
        f"Full-size dataset: {total['rows']:,} rows, {total['mb']} MB in 10 files. Each file is "
        f"converted by every contender in turn, {convert['repeats']} rounds after a warm-up "
        "round, in one warm process. A pass is one round over all 10 files; totals are the "
        "median pass (and the fastest pass beside it).",
        "",
    ]
    rows = []
    for name, label in _CONTENDER_LABELS.items():
        entry = total[name]
        rows.append(
            [
                label,
                f"{entry['best_s']:.3f}",
                f"{entry['median_s']:.3f}",
                f"{entry['rows_per_s']:,}",
                f"{entry['mb_per_s']:.0f}",
                f"{entry['output_mb']:.1f}",
            ]
        )
    lines += _table(
        ["contender", "fastest pass s", "median pass s", "rows/s", "MB/s", "Parquet MB"], rows
    )
    lines += [
        "",
        f"Ours / same-writer floor: **{convert['ratio_to_same_writer_floor']:.2f}×**; ours / "
        f"default-writer floor: {convert['ratio_to_default_writer_floor']:.2f}×; speed-up over "
        f"pandas: **{convert['speedup_vs_pandas']:.2f}×** (medians of whole passes).",
        "",
        "Per file (median of the rounds, seconds):",
        "",
    ]
    per_file = [
        [
            entry["file"],
            f"{entry['rows']:,}",
            f"{entry['mb']:.1f}",
            f"{entry['ours']['median_s']:.3f}",
            f"{entry['pandas']['median_s']:.3f}",
            f"{entry['floor_our_writer']['median_s']:.3f}",
            f"{entry['ratio_to_same_writer_floor']:.2f}",
            f"{entry['speedup_vs_pandas']:.2f}",
        ]
        for entry in convert["per_file"]
    ]
    lines += _table(
        ["file", "rows", "MB", "ours", "pandas", "same-writer floor", "ours/floor", "pandas/ours"],
        per_file,
    )
    memory = convert["memory"]
    lines += [
        "",
        f"Peak RSS of one conversion of the largest file ({memory['file']}) in a fresh process "
        f"(worst of {memory['probes_per_size']}), at its size and at 4× (the file repeated):",
        "",
    ]
    mem_rows = []
    for name in ("ours", "pandas", "floor"):
        entry = memory[name]
        mem_rows.append(
            [
                _CONTENDER_LABELS[name],
                f"{entry['1x']['rss_after_imports_mb']:.0f}",
                f"{entry['1x']['peak_rss_mb']:.0f} ({entry['1x']['mb_in']:.0f} MB in)",
                f"{entry['4x']['peak_rss_mb']:.0f} ({entry['4x']['mb_in']:.0f} MB in)",
                f"×{entry['growth_4x']:.2f}",
            ]
        )
    lines += _table(
        ["contender", "RSS after imports MB", "peak RSS MB at 1×", "peak RSS MB at 4×", "growth"],
        mem_rows,
    )
    return [*lines, ""]


def _glue_section(glue: dict[str, Any]) -> list[str]:
    lines = [
        "## Glue transform (local Spark)",
        "",
        f"{glue['rows']:,} stage rows (our converter's output), local Spark with "
        f"{glue['spark_cores']} cores, {glue['repeats']} interleaved rounds after a warm-up.",
        "",
    ]
    rows = [
        [
            label,
            f"{glue[name]['best_s']:.2f}",
            f"{glue[name]['median_s']:.2f}",
            f"{glue[name]['rows_per_s']:,}",
            f"{glue[name]['output_mb']:.1f}",
        ]
        for name, label in _GLUE_LABELS.items()
        if name in glue
    ]
    lines += _table(["contender", "best s", "median s", "rows/s", "output MB"], rows)
    lines += [
        "",
        f"Job / tightest floor: **{glue['ratio_to_tightest_floor']:.2f}×**; job / all columns "
        f"partitioned {glue['ratio_to_partitioned_readwrite']:.2f}×; job / all columns "
        f"unpartitioned {glue['ratio_to_readwrite_all_columns']:.2f}× (medians).",
        "",
    ]
    return lines


def _athena_section(athena: dict[str, Any]) -> list[str]:
    lines = [
        "## Athena emulation (LocalStack extension, DuckDB)",
        "",
        f"Over the full table ({athena['table_rows']:,} rows) the chain wrote; "
        f"{athena['repeats']} interleaved rounds after a warm-up, through Athena's API on the "
        "local AWS. Latency = submit → first result page, polling every 10 ms; `run_query` "
        "(what `mhealth query` uses) polls with a back-off from 0.1 s.",
        "",
    ]
    rows = [
        [
            f"`{athena[name]['sql']}`",
            f"{athena[name]['median_s']:.3f}",
            f"{athena[name]['best_s']:.3f}",
            f"{athena[name]['run_query_median_s']:.3f}",
        ]
        for name in ("seed_query", "group_by_activity")
    ]
    lines += _table(["query", "median s", "best s", "median s via run_query"], rows)
    return [*lines, ""]


def _chain_section(chain: dict[str, Any]) -> list[str]:
    lines = [
        "## The whole local chain",
        "",
        f"One full-size run ({chain['rows']:,} rows) on a local stage of its own "
        f"({chain['endpoint']}), started by the benchmark: "
        f"{'yes' if chain['local_stack_started_by_bench'] else 'no, it was already up'}. "
        + (
            "The dataset was generated and published to the Kaggle stand-in in this run."
            if chain["dataset_generated"]
            else "The Kaggle stand-in already served the same dataset (same scale and seed), "
            "so `publish_sample` only checked it."
        ),
        "",
    ]
    labels = {
        "local_up": "local AWS up (LocalStack + Kaggle stand-in)",
        "publish_sample": "synthetic dataset → Kaggle stand-in",
        "deploy": "`sls deploy --stage local`",
        "execution": "state machine execution, start to end (the chain after deploy)",
    }
    rows = [
        [labels.get(name, name), f"{seconds:.1f}"]
        for name, seconds in chain["seconds_by_step"].items()
    ]
    rows.append(["**total**", f"**{chain['total_seconds']:.1f}**"])
    lines += _table(["step", "seconds"], rows)
    lines += ["", "Inside the execution (Step Functions' own timestamps):", ""]
    lines += _table(
        ["state", "seconds"],
        [[name, f"{value:.1f}"] for name, value in chain["state_machine_step_seconds"].items()],
    )
    return [*lines, ""]


def render_markdown(results: dict[str, Any]) -> str:
    info = results["machine"]
    versions = ", ".join(f"{name} {version}" for name, version in info["versions"].items())
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{results['command']}` on {info['date_utc']}: {info['cpus']} CPUs "
        f"({info['cpu_model']}), {info['memory_gb']} GB RAM, {info['os']}, Python "
        f"{info['python']}; {versions}. Load average at start "
        f"{', '.join(str(x) for x in info['load_average_at_start'])}. "
        f"Whole run: {results['wall_seconds']:.0f} s. Every number below comes from this run"
        + (
            ", except the sections kept from their own earlier run: "
            + ", ".join(f"`{n}` ({when})" for n, when in results["sections_kept"].items())
            if results.get("sections_kept")
            else ""
        )
        + ".",
        "",
        "## Targets",
        "",
    ]
    notes = _target_notes(results)
    lines += _table(
        ["target", "goal", "measured", "result", "why"],
        [
            [t["name"], t["goal"], t["measured"], _mark(t["met"]), notes.get(t["name"], "")]
            for t in results["targets"]
        ],
    )
    lines.append("")
    for name, error in results.get("errors", {}).items():
        lines += [f"**Section `{name}` failed**: {error}.", ""]
    if "convert" in results:
        lines += _convert_section(results["convert"])
    if "glue" in results:
        lines += _glue_section(results["glue"])
    if "athena" in results:
        lines += _athena_section(results["athena"])
    if "chain" in results:
        lines += _chain_section(results["chain"])
    if "athena_latency" in results:
        lines += _latency_section(results["athena_latency"])
    if "scale10" in results:
        lines += _scale_section(
            results["scale10"], (results.get("sections_kept") or {}).get("scale10")
        )
    lines += [
        "## How it is measured",
        "",
        "- Contenders run interleaved, round after round, so load on the machine hits them "
        "alike; ratios compare medians from the same run, each against the like-for-like "
        "floor (same output, same settings).",
        "- Peak RSS is the kernel's high-water mark (`VmHWM`) of a fresh process doing one "
        "conversion (`bench/rss_probe.py`), interpreter and libraries included.",
        "- Data: the synthetic full-size dataset (`mhealth.local.synthetic`, seed 2014), generated "
        "under `bench/work/`; the 4× file is the largest file repeated four times.",
        "- No timing is asserted in any test; `make bench` is the only place speed is judged.",
        "",
    ]
    return "\n".join(lines)
