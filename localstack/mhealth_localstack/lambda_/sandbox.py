"""Lambda's limits on the host, without Docker: a memory cgroup per execution environment.

AWS gives each execution environment its configured memory (a function that exceeds it is killed:
``Runtime exited with error: signal: killed``) and its own ``/tmp`` of the configured ephemeral
size (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html,
https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html). Here:

- memory: a cgroup per environment, created by this (LocalStack's, root) process; the worker that
  runs the function code joins it. cgroup v2 when its memory controller is available, else the
  v1 memory hierarchy. The runtime (``runtime.py``) enforces the function's memory size.
- ``/tmp``: the runtime enters a private mount namespace and mounts a tmpfs of the ephemeral size
  on ``/tmp`` (``runtime.py enter_private_tmp``); this module only checks once that the
  machine allows it.

Where the machine lacks either (not root, a container without the capability, no memory
controller), environments run without that limit and LocalStack's log says so once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

LOG = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
#: The folder under a memory hierarchy holding one cgroup per environment.
PARENT_NAME = "mhealth-lambda"
#: ``MHEALTH_LAMBDA_SANDBOX=off`` runs environments without limits (e.g. to compare).
SWITCH_VARIABLE = "MHEALTH_LAMBDA_SANDBOX"


@dataclass(frozen=True)
class MemoryHierarchy:
    """Where environment cgroups go, and which file names their version uses."""

    parent: Path
    version: int  # 1 or 2

    @property
    def limit_file(self) -> str:
        return "memory.max" if self.version == 2 else "memory.limit_in_bytes"

    def create(self, name: str, limit_bytes: int) -> Path:
        """A new cgroup ``name`` whose hard limit is ``limit_bytes`` (swap disallowed)."""
        path = self.parent / name
        path.mkdir()
        (path / self.limit_file).write_text(str(limit_bytes))
        swap_file = "memory.swap.max" if self.version == 2 else "memory.memsw.limit_in_bytes"
        with contextlib.suppress(OSError):  # no swap accounting on this kernel: nothing to limit
            (path / swap_file).write_text("0" if self.version == 2 else str(limit_bytes))
        return path


@dataclass(frozen=True)
class SandboxSupport:
    """What this machine allows; a problem is the one-line reason a limit is not enforced."""

    memory: MemoryHierarchy | None
    memory_problem: str | None
    private_tmp_problem: str | None


def _find_memory_hierarchy() -> MemoryHierarchy:
    """The memory hierarchy this process may create cgroups in; OSError saying why not."""
    controllers = CGROUP_ROOT / "cgroup.controllers"
    if controllers.exists():  # unified (v2) hierarchy at the root
        if "memory" not in controllers.read_text().split():
            raise OSError(f"the cgroup v2 hierarchy at {CGROUP_ROOT} has no memory controller")
        subtree = CGROUP_ROOT / "cgroup.subtree_control"
        if "memory" not in subtree.read_text().split():
            subtree.write_text("+memory")
        hierarchy = MemoryHierarchy(CGROUP_ROOT / PARENT_NAME, 2)
        hierarchy.parent.mkdir(exist_ok=True)
        (hierarchy.parent / "cgroup.subtree_control").write_text("+memory")
        return hierarchy
    v1 = CGROUP_ROOT / "memory"
    if (v1 / "memory.limit_in_bytes").exists():  # v1 (or hybrid): the memory hierarchy's root
        hierarchy = MemoryHierarchy(v1 / PARENT_NAME, 1)
        hierarchy.parent.mkdir(exist_ok=True)
        return hierarchy
    raise OSError(f"no cgroup memory controller mounted under {CGROUP_ROOT}")


def _probe_memory() -> tuple[MemoryHierarchy | None, str | None]:
    try:
        hierarchy = _find_memory_hierarchy()
        probe = hierarchy.create(f"probe-{os.getpid()}", 64 * 1024 * 1024)
        probe.rmdir()
    except OSError as error:
        return None, f"cannot create memory cgroups ({error})"
    return hierarchy, None


def _probe_private_tmp(python: str, runtime_script: Path) -> str | None:
    """Run the runtime's own private-/tmp code once in a throwaway process."""
    try:
        answer = subprocess.run(
            [python, "-P", str(runtime_script), "probe-private-tmp"],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return f"cannot run the probe ({error})"
    if answer.returncode != 0:
        lines = (answer.stderr or answer.stdout).strip().splitlines()
        return lines[-1] if lines else f"probe exited with {answer.returncode}"
    return None


@functools.cache
def detect(python: str, runtime_script: Path) -> SandboxSupport:
    """What limits environments get on this machine (checked once, logged once)."""
    if os.environ.get(SWITCH_VARIABLE, "").strip().lower() in ("off", "0", "false", "no"):
        reason = f"{SWITCH_VARIABLE}=off"
        support = SandboxSupport(None, reason, reason)
    else:
        hierarchy, memory_problem = _probe_memory()
        support = SandboxSupport(
            hierarchy, memory_problem, _probe_private_tmp(python, runtime_script)
        )
    if support.memory is not None:
        LOG.info(
            "Lambda memory limits: cgroup v%s under %s",
            support.memory.version,
            support.memory.parent,
        )
    else:
        LOG.warning(
            "Lambda memory sizes are NOT enforced here: %s. Functions may use more memory "
            "than on AWS.",
            support.memory_problem,
        )
    if support.private_tmp_problem is None:
        LOG.info("Lambda /tmp: a private tmpfs of the ephemeral storage size per environment")
    else:
        LOG.warning(
            "Lambda /tmp is NOT private here: %s. Each environment gets a folder as TMPDIR "
            "instead; a literal /tmp path reaches the host's /tmp and no size limit applies.",
            support.private_tmp_problem,
        )
    return support


def remove_cgroup(path: Path) -> None:
    """Remove an environment's cgroup once its processes are gone (best effort)."""
    for _ in range(50):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:  # processes still exiting
            time.sleep(0.1)
    LOG.debug("Could not remove cgroup %s", path)
