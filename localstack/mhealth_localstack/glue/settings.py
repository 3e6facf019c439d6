"""Settings of the local Glue service, read once from the LocalStack process environment."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Local mode runs driver and executors in one JVM; 4g leaves most of a 24 GB, 2-core host to
# LocalStack, the Lambda processes and a second concurrent run.
DEFAULT_DRIVER_MEMORY = "4g"
DEFAULT_TIMEOUT_MINUTES = 2880  # Glue's default job timeout (48 hours)
SHIM_DIR = Path(__file__).resolve().parent / "awsglue_shim"

# Host variables a JVM and a Python interpreter need; everything else of LocalStack's own
# environment (its config, any real AWS credentials) stays out of the job process.
PASSTHROUGH_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "JAVA_HOME")


@dataclass(frozen=True)
class GlueSettings:
    """Where job scripts run and where their runs leave files."""

    glue_python: str | None
    runs_dir: Path
    driver_memory: str
    passthrough_env: Mapping[str, str]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> GlueSettings:
        env = os.environ if environ is None else environ
        state_dir = env.get("MHEALTH_STATE_DIR")
        base = Path(state_dir) if state_dir else Path(tempfile.gettempdir()) / "mhealth-localstack"
        return cls(
            glue_python=env.get("MHEALTH_GLUE_PYTHON") or None,
            runs_dir=base / "glue-runs",
            driver_memory=env.get("MHEALTH_GLUE_DRIVER_MEMORY") or DEFAULT_DRIVER_MEMORY,
            passthrough_env={name: env[name] for name in PASSTHROUGH_ENV if name in env},
        )
