"""Pure rules of a local Glue job launch: script argv, Spark submit arguments, error message."""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Mapping, Sequence

from mhealth_localstack import s3uri

# Glue adds these itself; a user argument of the same name must not shadow them.
RESERVED_ARGUMENTS = frozenset({"--JOB_NAME", "--JOB_ID", "--JOB_RUN_ID"})
EXTRA_PY_FILES = "--extra-py-files"
SPARK_CONF = "--conf"

#: The Python of each Glue version this local Glue runs (AWS Glue release notes, "AWS Glue
#: versions": https://docs.aws.amazon.com/glue/latest/dg/release-notes.html). A job created
#: without a version gets Glue's default, 5.1.
GLUE_PYTHON_VERSIONS = {"5.0": "3.11", "5.1": "3.11"}
DEFAULT_GLUE_VERSION = "5.1"

_TRACEBACK_HEADER = "Traceback (most recent call last):"
_MAX_ERROR_MESSAGE = 2048


def python_version_for(glue_version: str | None) -> str:
    """The ``major.minor`` Python a Glue version runs; ValueError for versions run elsewhere."""
    version = glue_version or DEFAULT_GLUE_VERSION
    try:
        return GLUE_PYTHON_VERSIONS[version]
    except KeyError:
        known = ", ".join(sorted(GLUE_PYTHON_VERSIONS))
        raise ValueError(
            f"GlueVersion {version} is not run by the local Glue, which provides Glue "
            f"{known} (Python 3.11, Spark 3.5): set the job's GlueVersion to one of those"
        ) from None


def argument_key(key: str) -> str:
    """The ``--key`` form Glue passes to the script (Glue's docs require the dashes)."""
    return key if key.startswith("--") else f"--{key}"


def merge_arguments(
    default_arguments: Mapping[str, str] | None,
    run_arguments: Mapping[str, str] | None,
    non_overridable_arguments: Mapping[str, str] | None,
) -> dict[str, str]:
    """Job defaults < the run's arguments < the non-overridable ones, as Glue merges them."""
    merged: dict[str, str] = {}
    for source in (default_arguments, run_arguments, non_overridable_arguments):
        for key, value in (source or {}).items():
            merged[argument_key(key)] = str(value)
    return merged


def build_argv(
    script_path: str,
    *,
    job_name: str,
    job_id: str,
    run_id: str,
    arguments: Mapping[str, str],
) -> list[str]:
    """The script's ``sys.argv``: script, --JOB_NAME, --JOB_ID, --JOB_RUN_ID, then --KEY value."""
    argv = [script_path, "--JOB_NAME", job_name, "--JOB_ID", job_id, "--JOB_RUN_ID", run_id]
    for key, value in arguments.items():
        if key in RESERVED_ARGUMENTS:
            continue
        argv.extend([key, value])
    return argv


def split_s3_uri_list(value: str | None) -> list[str]:
    """The comma-separated S3 URIs of ``--extra-py-files`` (blank entries dropped)."""
    if not value:
        return []
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` as ``(bucket, key)``; anything else is a ValueError."""
    return s3uri.bucket_and_key(uri)


def spark_conf_pairs(conf_value: str | None) -> list[tuple[str, str]]:
    """Spark settings from Glue's ``--conf``: ``"a=1 --conf b=2"`` → ``[(a, 1), (b, 2)]``.

    Glue documents this chained form for passing several Spark settings in one argument.
    """
    if not conf_value:
        return []
    pairs: list[tuple[str, str]] = []
    for token in shlex.split(conf_value):
        if token == SPARK_CONF:
            continue
        key, sep, value = token.partition("=")
        if not sep or not key:
            raise ValueError(
                f"Invalid Spark setting in {SPARK_CONF}: {token!r} (expected key=value)"
            )
        pairs.append((key, value))
    return pairs


def spark_submit_args(
    *,
    driver_memory: str,
    java_tmpdir: str,
    conf: Sequence[tuple[str, str]] = (),
) -> str:
    """``PYSPARK_SUBMIT_ARGS`` for local mode: all cores, bounded memory, a per-run Java tmpdir.

    Spark's scratch space comes from ``SPARK_LOCAL_DIRS``, which overrides ``spark.local.dir``.
    """
    parts = [
        "--master",
        "local[*]",
        "--driver-memory",
        driver_memory,
        "--driver-java-options",
        f"-Djava.io.tmpdir={java_tmpdir}",
        # The UI would compete for port 4040 with every other Spark on the host; nobody views it.
        "--conf",
        "spark.ui.enabled=false",
        # The console progress bar is noise in a log file.
        "--conf",
        "spark.ui.showConsoleProgress=false",
    ]
    for key, value in conf:
        parts.extend(["--conf", f"{key}={value}"])
    # pyspark's launcher requires the literal `pyspark-shell` as the last submit argument.
    parts.append("pyspark-shell")
    return shlex.join(parts)


def job_id_for(account_id: str, region: str, job_name: str) -> str:
    """A stable ``j_<hex>`` id per job definition, like the ``--JOB_ID`` Glue passes."""
    digest = hashlib.sha256(f"{account_id}:{region}:{job_name}".encode()).hexdigest()
    return f"j_{digest}"


def error_message_from_stderr(stderr_text: str, exit_code: int | None) -> str:
    """The run's ErrorMessage: the exception line of the last traceback, e.g. ``ValueError: boom``.

    Without a traceback (``sys.exit("...")``, a crashed interpreter) it falls back to the last
    non-blank stderr line, then to the exit code.
    """
    lines = stderr_text.splitlines()
    header_index = None
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].strip() == _TRACEBACK_HEADER:
            header_index = index
            break
    if header_index is not None:
        for line in lines[header_index + 1 :]:
            # Frames are indented; the exception line is the first one that is not.
            if line and not line[0].isspace():
                return _truncate(line.rstrip())
    for line in reversed(lines):
        if line.strip():
            return _truncate(line.strip())
    return f"Job script exited with code {exit_code}"


def _truncate(message: str) -> str:
    return (
        message if len(message) <= _MAX_ERROR_MESSAGE else message[: _MAX_ERROR_MESSAGE - 3] + "..."
    )
