"""A paper model of the AWS side at 10× and 100× the data, from the 1×/10× local run.

Every number comes from two sources: what the scale section measured on the local stage (bytes
per row in each S3 prefix, the zip per row, seconds per row of each state, the converter's
peak memory) and AWS's published limits and prices (the constants below, each with its page).
Sizes scale with rows (the dataset grows by longer recordings of the same 10 subjects: the
file count, the partitions and the Map's items stay 10). Times on AWS are the local per-row
rates scaled by the cores each service gets against the 2 local cores; the local run's fixed
part (the state's time at 1× less its per-row part) is kept as start-up. It is a model: the
local rates come from a shared 2-core machine, and AWS's start-up and network are not measured.
"""

from __future__ import annotations

import math
from typing import Any, Final

# -- AWS's published limits and prices (us-east-1) -----------------------------------------
#: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
LAMBDA_MAX_MEMORY_MB: Final = 10_240
LAMBDA_MAX_TIMEOUT_S: Final = 900
LAMBDA_SYNC_PAYLOAD_BYTES: Final = 6 * 1024 * 1024
LAMBDA_ASYNC_PAYLOAD_BYTES: Final = 256 * 1024
#: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-lambda-function-ephemeralstorage.html
LAMBDA_MAX_TMP_MB: Final = 10_240
#: https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html (1,769 MB = 1 vCPU)
LAMBDA_MB_PER_VCPU: Final = 1_769
#: https://aws.amazon.com/lambda/pricing/ (x86, first tier)
LAMBDA_GB_SECOND_USD: Final = 0.0000166667
LAMBDA_TMP_GB_SECOND_USD: Final = 0.0000000309  # each GB of /tmp above the free 512 MB
LAMBDA_REQUEST_USD: Final = 0.20 / 1_000_000
#: https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html
INLINE_MAP_MAX_CONCURRENCY: Final = 40
#: https://aws.amazon.com/glue/pricing/ ($0.44 per DPU-hour, per second, 1-minute minimum)
GLUE_DPU_HOUR_USD: Final = 0.44
GLUE_MIN_BILLED_S: Final = 60
GLUE_G1X_VCPU: Final = 4  # one DPU: 4 vCPU, 16 GB
#: https://aws.amazon.com/athena/pricing/ ($5 per TB scanned, 10 MB minimum per query)
ATHENA_TB_USD: Final = 5.0
ATHENA_MIN_BYTES: Final = 10 * 1024 * 1024
#: https://aws.amazon.com/s3/pricing/ (S3 Standard requests)
S3_PUT_USD: Final = 0.005 / 1000
S3_GET_USD: Final = 0.0004 / 1000
#: boto3's managed transfer: multipart above 8 MiB, in 8 MiB parts (TransferConfig defaults).
MULTIPART_BYTES: Final = 8 * 1024 * 1024

# -- the deployed configuration (serverless.yml, AWS stages) --------------------------------
DOWNLOAD_MEMORY_MB: Final = 1_024
DOWNLOAD_TMP_MB: Final = 1_024
DOWNLOAD_TIMEOUT_S: Final = 600
CONVERT_MEMORY_MB: Final = 2_048
CONVERT_TMP_MB: Final = 1_024
CONVERT_TIMEOUT_S: Final = 300
CONVERT_MAX_CONCURRENCY: Final = 5
GLUE_WORKERS: Final = 2
FILES: Final = 10
#: The largest subject log's share of the rows (subject 1: 161,280 of 1,215,745 at 1×).
LARGEST_FILE_SHARE: Final = 161_280 / 1_215_745
#: The seed query's partition (user_id = '1') is the same subject's share of the table.
PARTITION_SHARE: Final = LARGEST_FILE_SHARE
LOCAL_CORES: Final = 2
MIB: Final = 1024 * 1024


def _fit(one: dict[str, Any], ten: dict[str, Any], state: str) -> tuple[float, float, bool]:
    """``seconds = fixed + per_row × rows`` through the 1× and 10× runs of ``state``, and
    whether the line was fitted. When the 10× run was not slower than the 1× one (load on the
    machine swamped the difference), the whole 10× time counts as per-row: an upper bound."""
    t1, t10 = one["state_seconds"].get(state, 0.0), ten["state_seconds"].get(state, 0.0)
    if t10 <= t1:
        return 0.0, t10 / ten["rows"], False
    per_row = (t10 - t1) / (ten["rows"] - one["rows"])
    return max(t1 - per_row * one["rows"], 0.0), per_row, True


def _prefix(run: dict[str, Any], name: str) -> dict[str, int]:
    found: dict[str, int] = run.get("s3_bytes_by_prefix", {}).get(name, {})
    return {"bytes": found.get("bytes", 0), "objects": found.get("objects", 0)}


def _parts(size: float) -> int:
    """PUT requests to upload one object of ``size`` bytes with boto3's managed transfer."""
    return 1 if size <= MULTIPART_BYTES else math.ceil(size / MULTIPART_BYTES) + 2


def model(scale: dict[str, Any], factors: tuple[int, ...] = (10, 100)) -> dict[str, Any]:
    """The AWS side at each factor of the full dataset, from the scale section's two runs."""
    one, ten = scale["runs"]
    base_rows = one["rows"]
    per_row = {
        name: _prefix(ten, name)["bytes"] / ten["rows"] for name in ("raw/", "stage/", "processed/")
    }
    zip_per_row = ten["zip_bytes"] / ten["rows"]
    processed_objects_per_row = _prefix(ten, "processed/")["objects"] / ten["rows"]
    download_fixed, download_rate, download_fitted = _fit(one, ten, "Download")
    convert_fixed, convert_rate, convert_fitted = _fit(one, ten, "Convert")
    transform_fixed, transform_rate, transform_fitted = _fit(one, ten, "Transform")
    convert_peak = max(
        (
            peak["peak_rss_mb"]
            for role, peak in ten["peak_rss_mb_by_role"].items()
            if "convert" in role
        ),
        default=0.0,
    )
    out: dict[str, Any] = {"factors": {}, "inputs": {}}
    out["inputs"] = {
        "bytes_per_row": {k: round(v, 1) for k, v in per_row.items()},
        "zip_bytes_per_row": round(zip_per_row, 1),
        "local_seconds_per_million_rows": {
            "Download": round(download_rate * 1e6, 2),
            "Convert": round(convert_rate * 1e6, 2),
            "Transform": round(transform_rate * 1e6, 2),
        },
        "local_fixed_seconds": {
            "Download": round(download_fixed, 1),
            "Convert": round(convert_fixed, 1),
            "Transform": round(transform_fixed, 1),
        },
        "convert_peak_rss_mb_at_10x": convert_peak,
        "fitted_through_both_runs": {
            "Download": download_fitted,
            "Convert": convert_fitted,
            "Transform": transform_fitted,
        },
    }
    for factor in factors:
        rows = base_rows * factor
        # Lambda's memory and /tmp sizes are in MiB ("MB" in AWS's pages): compare in MiB.
        zip_mb = zip_per_row * rows / MIB
        raw_bytes = per_row["raw/"] * rows
        stage_bytes = per_row["stage/"] * rows
        processed_bytes = per_row["processed/"] * rows
        largest_raw = raw_bytes * LARGEST_FILE_SHARE
        largest_stage_mb = stage_bytes * LARGEST_FILE_SHARE / MIB
        # Download: the zip sits in /tmp while its members stream to raw/; one process.
        download_s = download_fixed + download_rate * rows
        # Convert: the local Map ran all 10 files on 2 cores; on AWS each file has its own
        # function with CONVERT_MEMORY_MB / 1,769 vCPU, 5 at a time (2 waves of 5 files).
        aws_convert_cpus = CONVERT_MEMORY_MB / LAMBDA_MB_PER_VCPU
        largest_file_s = convert_rate * rows * LARGEST_FILE_SHARE * LOCAL_CORES / aws_convert_cpus
        waves = math.ceil(FILES / CONVERT_MAX_CONCURRENCY)
        convert_s = convert_fixed + waves * largest_file_s
        all_files_convert_gb_s = (
            convert_rate * rows * LOCAL_CORES / aws_convert_cpus * CONVERT_MEMORY_MB / 1024
        )
        # Glue: the local per-row time on 2 cores, spread over the executors' vCPUs (one of
        # the G.1X workers runs the driver).
        executor_vcpus = GLUE_G1X_VCPU * (GLUE_WORKERS - 1)
        glue_s = transform_fixed + transform_rate * rows * LOCAL_CORES / executor_vcpus
        glue_billed_s = max(glue_s, GLUE_MIN_BILLED_S)
        dpu_minutes = GLUE_WORKERS * glue_billed_s / 60
        glue_usd = GLUE_WORKERS * glue_billed_s / 3600 * GLUE_DPU_HOUR_USD
        # Athena: Parquet files of the table (an upper bound: Athena reads only the columns a
        # query uses), the seed query's partition filter keeping one subject's files.
        full_scan = processed_bytes
        filtered_scan = processed_bytes * PARTITION_SHARE
        athena_full_usd = max(full_scan, ATHENA_MIN_BYTES) / 1e12 * ATHENA_TB_USD
        athena_filtered_usd = max(filtered_scan, ATHENA_MIN_BYTES) / 1e12 * ATHENA_TB_USD
        # S3 requests of one run: uploads of raw/ and stage/ (multipart), the Parquet files
        # Spark writes, GETs of each raw and stage file (one streamed GET each) plus the
        # Spark reader's ranged GETs (one per 128 MB split).
        puts = FILES * _parts(raw_bytes / FILES) + FILES * _parts(stage_bytes / FILES)
        puts += math.ceil(processed_objects_per_row * rows)
        gets = FILES + FILES + math.ceil(stage_bytes / (128 * 1024 * 1024)) + FILES
        s3_usd = puts * S3_PUT_USD + gets * S3_GET_USD
        lambda_usd = (
            download_s * DOWNLOAD_MEMORY_MB / 1024 + all_files_convert_gb_s
        ) * LAMBDA_GB_SECOND_USD + (1 + FILES) * LAMBDA_REQUEST_USD
        limits = {
            "download /tmp (zip)": (zip_mb, DOWNLOAD_TMP_MB, LAMBDA_MAX_TMP_MB, "MiB"),
            "download time": (download_s, DOWNLOAD_TIMEOUT_S, LAMBDA_MAX_TIMEOUT_S, "s"),
            "convert /tmp (largest file's Parquet)": (
                largest_stage_mb,
                CONVERT_TMP_MB,
                LAMBDA_MAX_TMP_MB,
                "MiB",
            ),
            "convert time (largest file)": (
                largest_file_s,
                CONVERT_TIMEOUT_S,
                LAMBDA_MAX_TIMEOUT_S,
                "s",
            ),
            "convert memory": (convert_peak, CONVERT_MEMORY_MB, LAMBDA_MAX_MEMORY_MB, "MiB"),
        }
        # The first limit hit: the one whose configured value is the most used.
        use = {name: value / configured for name, (value, configured, _, _) in limits.items()}
        first = max(use, key=lambda name: use[name])
        out["factors"][factor] = {
            "rows": rows,
            "zip_mb": round(zip_mb),
            "raw_mb": round(raw_bytes / 1e6),
            "stage_mb": round(stage_bytes / 1e6),
            "processed_mb": round(processed_bytes / 1e6),
            "largest_raw_mb": round(largest_raw / 1e6),
            "download_s": round(download_s),
            "convert_s": round(convert_s),
            "largest_file_convert_s": round(largest_file_s),
            "glue_s": round(glue_s),
            "glue_dpu_minutes": round(dpu_minutes, 1),
            "glue_usd": round(glue_usd, 3),
            "lambda_usd": round(lambda_usd, 4),
            "athena_full_scan_mb": round(full_scan / 1e6, 1),
            "athena_filtered_scan_mb": round(filtered_scan / 1e6, 1),
            "athena_full_usd": round(athena_full_usd, 5),
            "athena_filtered_usd": round(athena_filtered_usd, 5),
            "s3_puts": puts,
            "s3_gets": gets,
            "s3_usd": round(s3_usd, 4),
            "run_usd": round(glue_usd + lambda_usd + s3_usd, 3),
            "map_concurrency": f"{CONVERT_MAX_CONCURRENCY} of {FILES} files "
            f"(Inline Map allows {INLINE_MAP_MAX_CONCURRENCY})",
            "limits": {
                name: {
                    "needed": round(value, 1),
                    "configured": configured,
                    "aws_max": hard,
                    "unit": unit,
                    "use_of_configured": round(value / configured, 2),
                    "use_of_aws_max": round(value / hard, 2),
                }
                for name, (value, configured, hard, unit) in limits.items()
            },
            "first_limit": first,
            "payload_note": "Map items and step outputs are S3 keys and counts (under 2 KB), "
            f"far from the {LAMBDA_SYNC_PAYLOAD_BYTES // 1024 // 1024} MB / "
            f"{LAMBDA_ASYNC_PAYLOAD_BYTES // 1024} KB payload limits at any size",
        }
    return out


def render(result: dict[str, Any]) -> list[str]:
    """The model as a Markdown table, and the first limit per factor in a sentence."""
    factors = result["factors"]
    keys = list(factors)
    rows: list[tuple[str, str]] = [
        ("rows", "{rows:,}"),
        ("dataset zip MiB (download's /tmp)", "{zip_mb:,}"),
        ("raw/ logs MB", "{raw_mb:,}"),
        ("stage/ Parquet MB", "{stage_mb:,}"),
        ("processed/ table MB", "{processed_mb:,}"),
        ("Download s", "{download_s:,}"),
        ("Convert: largest file s on one function", "{largest_file_convert_s:,}"),
        ("Convert: Map s (2 waves of 5)", "{convert_s:,}"),
        ("Glue job s (G.1X × 2)", "{glue_s:,}"),
        ("Glue DPU-minutes billed", "{glue_dpu_minutes:,}"),
        ("Athena scan, no filter MB", "{athena_full_scan_mb:,}"),
        ("Athena scan, `user_id = '1'` MB", "{athena_filtered_scan_mb:,}"),
        (
            "Athena $ per query, no filter / filtered",
            "{athena_full_usd:.5f} / {athena_filtered_usd:.5f}",
        ),
        ("S3 PUT / GET requests per run", "{s3_puts:,} / {s3_gets:,}"),
        ("$ per run: Glue / Lambda / S3", "{glue_usd:.3f} / {lambda_usd:.4f} / {s3_usd:.4f}"),
        ("**$ per run**", "**{run_usd:.3f}**"),
    ]
    lines = ["| | " + " | ".join(f"{k}×" for k in keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for label, template in rows:
        lines.append(
            f"| {label} | " + " | ".join(template.format(**factors[k]) for k in keys) + " |"
        )
    lines.append("")
    fitted = result["inputs"]["fitted_through_both_runs"]
    for state, ok in fitted.items():
        seconds = result["inputs"]["local_seconds_per_million_rows"][state]
        fixed = result["inputs"]["local_fixed_seconds"][state]
        lines.append(
            f"- {state}: {seconds:,} s per million rows locally"
            + (
                f" plus {fixed:,} s fixed (a line through the 1× and 10× runs)."
                if ok
                else " (the 10× run was not slower than the 1× one on the loaded machine: its "
                "whole time is counted per row, an upper bound)."
            )
        )
    for factor in keys:
        entry = factors[factor]
        limit = entry["limits"][entry["first_limit"]]
        lines.append(
            f"- {factor}×: the first limit is **{entry['first_limit']}**: needs "
            f"{limit['needed']:,.0f} {limit['unit']} against {limit['configured']:,} configured "
            f"({limit['use_of_configured'] * 100:.0f} %); AWS allows up to "
            f"{limit['aws_max']:,} ({limit['use_of_aws_max'] * 100:.0f} % of it)."
        )
        over = [
            f"{name} ({v['needed']:,.0f} {v['unit']}, {v['use_of_aws_max'] * 100:.0f} % of "
            "AWS's maximum)"
            for name, v in entry["limits"].items()
            if v["use_of_configured"] > 1
        ]
        if over:
            lines.append(f"  Over the configured value at {factor}×: " + "; ".join(over) + ".")
    return lines
