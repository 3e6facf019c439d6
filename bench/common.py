"""Shared benchmark plumbing: paths, the dataset in bench/work, interleaved timing, the machine."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

BENCH_DIR: Final = Path(__file__).resolve().parent
REPO_ROOT: Final = BENCH_DIR.parent
WORK_DIR: Final = BENCH_DIR / "work"
#: Each section writes its own JSON here; ``bench.run`` merges them into results.json.
SECTION_DIR: Final = WORK_DIR / "sections"
RESULTS_JSON: Final = BENCH_DIR / "results.json"
RESULTS_MD: Final = BENCH_DIR / "results.md"

DATASET_SCALE: Final = 1.0
DATASET_SEED: Final = 2014
MB: Final = 1_000_000


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated runs of one contender."""

    runs: tuple[float, ...]

    @property
    def best(self) -> float:
        return min(self.runs)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "best_s": round(self.best, 4),
            "median_s": round(self.median, 4),
            "runs_s": [round(r, 4) for r in self.runs],
        }


def interleaved(
    contenders: Mapping[str, Callable[[], object]], repeats: int, warmup: int = 1
) -> dict[str, Timing]:
    """Runs every contender once per round, round after round, so that a burst of load on the
    machine hits all of them alike; ``warmup`` untimed rounds first (imports, page cache)."""
    for _ in range(warmup):
        for run in contenders.values():
            run()
    runs: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            began = time.perf_counter()
            run()
            runs[name].append(time.perf_counter() - began)
    return {name: Timing(tuple(values)) for name, values in runs.items()}


def dataset_dir() -> Path:
    """The full-size synthetic dataset (10 subject logs), generated once and reused."""
    from mhealth.local.synthetic import DATASET_DIR, write_sample

    root = WORK_DIR / "data"
    marker = root / "sample.json"
    wanted = {"scale": DATASET_SCALE, "seed": DATASET_SEED}
    if not (marker.exists() and json.loads(marker.read_text(encoding="utf-8")) == wanted):
        result = write_sample(root, scale=DATASET_SCALE, seed=DATASET_SEED)
        print(f"generated {result.rows:,} rows in {result.seconds:.1f} s under {root}", flush=True)
        marker.write_text(json.dumps(wanted), encoding="utf-8")
    return root / DATASET_DIR


def subject_logs() -> list[Path]:
    """The subject logs in subject order."""
    from mhealth.local.synthetic import SUBJECTS, log_name

    directory = dataset_dir()
    return [directory / log_name(subject) for subject in SUBJECTS]


def _meminfo_total_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "memory_gb": _meminfo_total_gb(),
        "cpu_model": _cpu_model(),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "versions": {
            name: _version(name) for name in ("pyarrow", "pandas", "numpy", "pyspark", "duckdb")
        },
    }


def write_section(name: str, data: Mapping[str, Any]) -> Path:
    """Stores one section's results for ``bench.run`` to merge."""
    SECTION_DIR.mkdir(parents=True, exist_ok=True)
    path = SECTION_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator else float("nan")


def total_bytes(paths: Sequence[Path]) -> int:
    return sum(path.stat().st_size for path in paths)
