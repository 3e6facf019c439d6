"""Conversion benchmark: our converter against the pandas baseline and the pyarrow floor.

Time: every subject file of the full-size dataset, the contenders interleaved round by round
in one warm process (best and median of ``--repeats``). Memory: one conversion of the largest
file per fresh process (``bench.rss_probe``), at its size and at four times its size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any, Final

from bench.common import (
    MB,
    REPO_ROOT,
    WORK_DIR,
    interleaved,
    ratio,
    subject_logs,
    total_bytes,
    write_section,
)
from bench.contenders import CONTENDERS

CONVERT_DIR: Final = WORK_DIR / "convert"
#: Where our converter's stage Parquet lands; the Glue benchmark reads it.
OURS_STAGE_DIR: Final = CONVERT_DIR / "ours"
RSS_CONTENDERS: Final = ("ours", "pandas", "floor")
GROWTH_FACTOR: Final = 4


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 24), b""))


def time_conversions(logs: list[Path], repeats: int) -> dict[str, Any]:
    """Per file (median of rounds) and in total (median of whole passes): seconds, rows/s, MB/s."""
    out_dirs = {name: CONVERT_DIR / name for name in CONTENDERS}
    for directory in out_dirs.values():
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
    per_file: list[dict[str, Any]] = []
    # Round r of every file, added up, is one whole pass of a contender over the dataset.
    passes: dict[str, list[float]] = {name: [0.0] * repeats for name in CONTENDERS}
    for number, log in enumerate(logs):
        runs = {name: partial(run, log, out_dirs[name]) for name, run in CONTENDERS.items()}
        timings = interleaved(runs, repeats=repeats, warmup=1 if number == 0 else 0)
        rows = _count_lines(log)
        size = log.stat().st_size
        entry: dict[str, Any] = {"file": log.name, "rows": rows, "mb": round(size / MB, 2)}
        for name, timing in timings.items():
            entry[name] = timing.as_dict()
            for round_number, seconds in enumerate(timing.runs):
                passes[name][round_number] += seconds
        entry["ratio_to_same_writer_floor"] = ratio(
            timings["ours"].median, timings["floor_our_writer"].median
        )
        entry["speedup_vs_pandas"] = ratio(timings["pandas"].median, timings["ours"].median)
        per_file.append(entry)
        print(
            f"  {log.name:24} {rows:>8,} rows  ours {timings['ours'].median:.3f} s  "
            f"pandas {timings['pandas'].median:.3f} s  "
            f"same-writer floor {timings['floor_our_writer'].median:.3f} s  "
            f"(×{entry['ratio_to_same_writer_floor']:.2f})",
            flush=True,
        )

    rows_total = sum(entry["rows"] for entry in per_file)
    bytes_total = total_bytes(logs)
    total: dict[str, Any] = {"rows": rows_total, "mb": round(bytes_total / MB, 1)}
    for name, whole in passes.items():
        outputs = sorted(out_dirs[name].glob("*.parquet"))
        median = statistics.median(whole)
        total[name] = {
            "median_s": round(median, 3),
            "best_s": round(min(whole), 3),
            "passes_s": [round(seconds, 3) for seconds in whole],
            "rows_per_s": round(rows_total / median),
            "mb_per_s": round(bytes_total / MB / median, 1),
            "output_mb": round(total_bytes(outputs) / MB, 1),
        }
    return {"per_file": per_file, "total": total}


def _probe(contender: str, log: Path, out_dir: Path) -> dict[str, Any]:
    shutil.rmtree(out_dir, ignore_errors=True)
    completed = subprocess.run(
        [sys.executable, "-m", "bench.rss_probe", contender, str(log), str(out_dir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"rss probe {contender} on {log} failed:\n{completed.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def measure_memory(largest: Path, probes: int) -> dict[str, Any]:
    """Peak RSS of one conversion in a fresh process at 1× and 4× the largest file (the 4×
    file is the largest file repeated, under the same name so the subject id still parses)."""
    grown_dir = WORK_DIR / f"x{GROWTH_FACTOR}"
    grown_dir.mkdir(parents=True, exist_ok=True)
    grown = grown_dir / largest.name
    if not grown.exists() or grown.stat().st_size != GROWTH_FACTOR * largest.stat().st_size:
        content = largest.read_bytes()
        grown.write_bytes(content * GROWTH_FACTOR)
    memory: dict[str, Any] = {"file": largest.name, "probes_per_size": probes}
    for name in RSS_CONTENDERS:
        sizes: dict[str, Any] = {}
        for label, log in (("1x", largest), (f"{GROWTH_FACTOR}x", grown)):
            results = [
                _probe(name, log, WORK_DIR / "rss" / f"{name}-{label}") for _ in range(probes)
            ]
            worst = max(results, key=lambda item: item["peak_rss_mb"])
            sizes[label] = {
                "mb_in": round(log.stat().st_size / MB, 1),
                "peak_rss_mb": worst["peak_rss_mb"],
                "rss_after_imports_mb": worst["rss_after_imports_mb"],
                "seconds_cold": min(item["seconds"] for item in results),
            }
        sizes[f"growth_{GROWTH_FACTOR}x"] = ratio(
            sizes[f"{GROWTH_FACTOR}x"]["peak_rss_mb"], sizes["1x"]["peak_rss_mb"]
        )
        memory[name] = sizes
        print(
            f"  peak RSS {name:7} {sizes['1x']['peak_rss_mb']:6.0f} MB at 1×, "
            f"{sizes[f'{GROWTH_FACTOR}x']['peak_rss_mb']:6.0f} MB at {GROWTH_FACTOR}× "
            f"(×{sizes[f'growth_{GROWTH_FACTOR}x']:.2f})",
            flush=True,
        )
    return memory


def run(repeats: int, probes: int) -> dict[str, Any]:
    logs = subject_logs()
    print(f"conversion: {len(logs)} files, {repeats} interleaved rounds", flush=True)
    timing = time_conversions(logs, repeats)
    largest = max(logs, key=lambda path: path.stat().st_size)
    print(f"conversion memory: {largest.name}, fresh process per run", flush=True)
    memory = measure_memory(largest, probes)
    total = timing["total"]
    ours_mem = memory["ours"]
    # Every ratio compares medians of whole passes over the dataset. The gate is the
    # like-for-like floor: pyarrow reading and writing the same files with our writer settings.
    return {
        "ratio_to_same_writer_floor": ratio(
            total["ours"]["median_s"], total["floor_our_writer"]["median_s"]
        ),
        "ratio_to_default_writer_floor": ratio(
            total["ours"]["median_s"], total["floor"]["median_s"]
        ),
        "speedup_vs_pandas": ratio(total["pandas"]["median_s"], total["ours"]["median_s"]),
        "peak_rss_mb_largest_file": ours_mem["1x"]["peak_rss_mb"],
        "peak_rss_mb_4x": ours_mem[f"{GROWTH_FACTOR}x"]["peak_rss_mb"],
        "peak_rss_growth_4x": ours_mem[f"growth_{GROWTH_FACTOR}x"],
        "pandas_peak_rss_mb_largest_file": memory["pandas"]["1x"]["peak_rss_mb"],
        "pandas_peak_rss_growth_4x": memory["pandas"][f"growth_{GROWTH_FACTOR}x"],
        "repeats": repeats,
        "total": total,
        "per_file": timing["per_file"],
        "memory": memory,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds per file")
    parser.add_argument("--probes", type=int, default=2, help="fresh processes per RSS point")
    args = parser.parse_args(argv)
    write_section("convert", run(args.repeats, args.probes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
