"""Stopping the process groups our services start (Glue job runs, Lambda environments).

Each is started with ``start_new_session=True``, so it leads its own process group and a signal
to the group reaches whatever it spawned (Spark's JVM, a function's worker). The Lambda runtime
script (``lambda_/runtime.py``) runs in the function's own interpreter without this package and
keeps its own two ``killpg`` calls.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    """Send ``signum`` to the process's group; a group that is already gone is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def stop_group(process: subprocess.Popen[bytes], *, grace_seconds: float) -> None:
    """SIGTERM the group, wait up to ``grace_seconds`` for the leader, then SIGKILL what is left
    (at once with a grace of 0) and reap the leader."""
    if grace_seconds > 0:
        signal_group(process, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_seconds)
    signal_group(process, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
