"""Peak resident memory of every process of the local stage, by role, while something runs.

A background thread walks ``/proc`` every ``interval`` seconds: the LocalStack process and all
its descendants (Lambda environments, Glue job drivers and their Spark JVMs) and the Kaggle
stand-in. Each process gets a role from its command line and environment:

- ``localstack``: the LocalStack process itself (S3, Step Functions, Athena's DuckDB, …);
- ``lambda:<function>``: a Lambda environment (its supervisor and the function's worker);
- ``glue_driver``: a Glue job script's Python; ``glue_spark_jvm``: its Spark JVM;
- ``kaggle_standin``: the stand-in serving the dataset zip.

A role's peak is the largest resident set of one of its processes: for a process that already
ran before the window, the largest ``VmRSS`` sampled in it; for one born inside the window, its
kernel high-water mark ``VmHWM`` (exact, whatever the sampling interval missed).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

_PROC: Final = Path("/proc")


@dataclass
class RolePeak:
    peak_mb: float = 0.0
    processes: set[int] = field(default_factory=set)

    def as_dict(self) -> dict[str, float | int]:
        return {"peak_rss_mb": round(self.peak_mb, 1), "processes": len(self.processes)}


def _status_kb(pid: int) -> dict[str, int]:
    found: dict[str, int] = {}
    try:
        text = (_PROC / str(pid) / "status").read_text(encoding="utf-8")
    except OSError:
        return found
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "PPid"):
            found[name] = int(value.split()[0])
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _function_name(pid: int) -> str | None:
    try:
        raw = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    for item in raw.split(b"\0"):
        if item.startswith(b"AWS_LAMBDA_FUNCTION_NAME="):
            return item.split(b"=", 1)[1].decode(errors="replace")
    return None


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        parent = _status_kb(int(entry.name)).get("PPid")
        if parent is not None:
            children.setdefault(parent, []).append(int(entry.name))
    return children


class ProcessPeaks:
    """Samples the local stage's processes by role between ``start`` and ``stop``."""

    def __init__(self, localstack_pid: int, standin_pid: int | None, interval: float = 0.1):
        self._localstack = localstack_pid
        self._standin = standin_pid
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._before: set[int] = set()
        self.peaks: dict[str, RolePeak] = {}

    def _tree(self) -> dict[int, str]:
        """Every live process of the stage with its role."""
        children = _children_map()
        roles: dict[int, str] = {}
        pending: list[tuple[int, str | None]] = [(self._localstack, None)]
        while pending:
            pid, inherited = pending.pop()
            # Recomputed at every sample: a launcher (``spark-class``) execs into the JVM.
            role = self._role(pid, inherited)
            roles[pid] = role
            passed = role if role != "localstack" else None
            pending.extend((child, passed) for child in children.get(pid, []))
        if self._standin is not None:
            roles[self._standin] = "kaggle_standin"
        return roles

    def _role(self, pid: int, inherited: str | None) -> str:
        argv = _cmdline(pid)
        role = inherited or ("localstack_child" if argv else "unknown")
        if pid == self._localstack:
            role = "localstack"
        elif "supervise" in argv:
            role = f"lambda:{_function_name(pid) or 'unknown'}"
        elif inherited and inherited.startswith("lambda:"):
            role = inherited
        elif argv and os.path.basename(argv[0]).startswith("java"):
            role = "glue_spark_jvm" if inherited in ("glue_driver", "glue_spark_jvm") else "java"
        elif "--JOB_RUN_ID" in argv:
            role = "glue_driver"
        return role

    def _sample(self) -> None:
        for pid, role in self._tree().items():
            status = _status_kb(pid)
            if not status:
                continue
            kb = status.get("VmRSS", 0)
            if pid not in self._before:
                kb = max(kb, status.get("VmHWM", 0))
            peak = self.peaks.setdefault(role, RolePeak())
            peak.peak_mb = max(peak.peak_mb, kb / 1024)
            peak.processes.add(pid)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def start(self) -> None:
        self._before = set(self._tree())
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="process-peaks", daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, dict[str, float | int]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        return {role: peak.as_dict() for role, peak in sorted(self.peaks.items())}
