"""The local Lambda runtime's sandbox rules without LocalStack: what counts as memory used."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

# lambda_/runtime.py runs with the function's Python and imports only the standard library.
_EXTENSION = Path(__file__).resolve().parents[2] / "localstack"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def runtime() -> Iterator[ModuleType]:
    sys.path.insert(0, str(_EXTENSION))
    try:
        yield importlib.import_module("mhealth_localstack.lambda_.runtime")
    finally:
        sys.path.remove(str(_EXTENSION))


def test_v2_memory_used_leaves_out_tmpfs_and_reclaimable_cache(
    runtime: ModuleType, tmp_path: Path
) -> None:
    (tmp_path / "memory.current").write_text(f"{700 * MIB}\n")
    (tmp_path / "memory.stat").write_text(
        f"anon {150 * MIB}\nfile {550 * MIB}\nshmem {500 * MIB}\ninactive_file {40 * MIB}\n"
    )

    cgroup = runtime.MemoryCgroup(str(tmp_path))

    assert cgroup.version == 2
    assert cgroup.used_bytes() == 160 * MIB


def test_v1_memory_used_reads_the_hierarchical_totals(runtime: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "memory.usage_in_bytes").write_text(f"{300 * MIB}\n")
    (tmp_path / "memory.stat").write_text(
        f"shmem 0\ntotal_rss {120 * MIB}\ntotal_shmem {100 * MIB}\ntotal_inactive_file {30 * MIB}\n"
    )

    cgroup = runtime.MemoryCgroup(str(tmp_path))

    assert cgroup.version == 1
    assert cgroup.used_bytes() == 170 * MIB


def test_joining_writes_the_pid_to_the_cgroup(runtime: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "cgroup.procs").write_text("")

    runtime.MemoryCgroup(str(tmp_path)).join(4242)

    assert (tmp_path / "cgroup.procs").read_text() == "4242"
