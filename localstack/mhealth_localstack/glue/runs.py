"""Glue job runs on the host: fetch the script from S3, run it in local PySpark, track the state."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from mhealth_localstack import processes
from mhealth_localstack.credentials import LOCAL_SECRET_ACCESS_KEY
from mhealth_localstack.glue import launch
from mhealth_localstack.glue.settings import SHIM_DIR

LOG = logging.getLogger(__name__)

ACTIVE_STATES = frozenset({"STARTING", "RUNNING", "STOPPING", "WAITING"})
TERMINAL_STATES = frozenset({"STOPPED", "SUCCEEDED", "FAILED", "TIMEOUT", "ERROR", "EXPIRED"})

OUTPUT_LOG_GROUP = "/aws-glue/jobs/output"
ERROR_LOG_GROUP = "/aws-glue/jobs/error"
LOG_GROUP_NAME = "/aws-glue/jobs"

_POLL_SECONDS = 2.0
_STOP_GRACE_SECONDS = 10.0
_MAX_LOG_EVENT_CHARS = 200_000  # CloudWatch rejects events above 256 KiB
_MAX_LOG_BATCH_EVENTS = 5_000
_MAX_LOG_BATCH_BYTES = 800_000


class S3Reader(Protocol):
    """The part of an S3 client the launcher uses."""

    def get_object(self, *, Bucket: str, Key: str) -> Mapping[str, Any]: ...  # noqa: N803 - boto3 names


class LogsWriter(Protocol):
    """The part of a CloudWatch Logs client the launcher uses."""

    def create_log_group(self, *, logGroupName: str) -> Any: ...  # noqa: N803 - boto3 names

    def create_log_stream(self, *, logGroupName: str, logStreamName: str) -> Any: ...  # noqa: N803 - boto3 names

    def put_log_events(
        self,
        *,
        logGroupName: str,  # noqa: N803 - boto3 names
        logStreamName: str,  # noqa: N803
        logEvents: list[dict[str, Any]],  # noqa: N803
    ) -> Any: ...


@dataclass
class JobRun:
    """One run of a job, as GetJobRun reports it. Mutated only under ``lock``."""

    id: str
    job_name: str
    account_id: str
    region: str
    arguments: dict[str, str]
    timeout_minutes: int
    attempt: int = 0
    previous_run_id: str | None = None
    max_capacity: float | None = None
    allocated_capacity: int | None = None
    worker_type: str | None = None
    number_of_workers: int | None = None
    glue_version: str | None = None
    execution_class: str | None = None
    state: str = "STARTING"
    started_on: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_modified_on: datetime = field(default_factory=lambda: datetime.now(UTC))
    completed_on: datetime | None = None
    error_message: str | None = None
    run_dir: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def transition(self, state: str, error_message: str | None = None) -> None:
        """Move to ``state``; terminal states are final (a stop cannot undo SUCCEEDED)."""
        with self.lock:
            if self.state in TERMINAL_STATES:
                return
            now = datetime.now(UTC)
            self.state = state
            self.last_modified_on = now
            if error_message is not None:
                self.error_message = error_message
            if state in TERMINAL_STATES:
                self.completed_on = now

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    def describe(self) -> dict[str, Any]:
        """The JobRun structure of the Glue API."""
        with self.lock:
            end = self.completed_on or datetime.now(UTC)
            described: dict[str, Any] = {
                "Id": self.id,
                "Attempt": self.attempt,
                "JobName": self.job_name,
                "JobMode": "SCRIPT",
                "StartedOn": self.started_on,
                "LastModifiedOn": self.last_modified_on,
                "JobRunState": self.state,
                "Arguments": dict(self.arguments),
                "PredecessorRuns": [],
                "ExecutionTime": int((end - self.started_on).total_seconds()),
                "Timeout": self.timeout_minutes,
                "LogGroupName": LOG_GROUP_NAME,
            }
            optional = {
                "PreviousRunId": self.previous_run_id,
                "CompletedOn": self.completed_on,
                "ErrorMessage": self.error_message,
                "MaxCapacity": self.max_capacity,
                "AllocatedCapacity": self.allocated_capacity,
                "WorkerType": self.worker_type,
                "NumberOfWorkers": self.number_of_workers,
                "GlueVersion": self.glue_version,
                "ExecutionClass": self.execution_class,
            }
            described.update({key: value for key, value in optional.items() if value is not None})
            return described


@dataclass(frozen=True)
class LaunchSpec:
    """Everything a run needs to start its process, fixed when StartJobRun is accepted."""

    python: str | None
    script_location: str
    job_id: str
    arguments: Mapping[str, str]  # merged: defaults < run arguments < non-overridable
    endpoint_url: str
    access_key_id: str
    driver_memory: str
    passthrough_env: Mapping[str, str]
    #: With the access key: the job role's temporary credentials, or the local secret.
    secret_access_key: str = LOCAL_SECRET_ACCESS_KEY
    session_token: str | None = None


class RunExecutor:
    """Drives one JobRun from STARTING to a terminal state in a background thread."""

    def __init__(
        self,
        run: JobRun,
        spec: LaunchSpec,
        run_dir: Path,
        s3: S3Reader,
        logs: LogsWriter | None,
    ) -> None:
        self.run = run
        self.spec = spec
        self.run_dir = run_dir
        self._s3 = s3
        self._logs = logs
        self._process: subprocess.Popen[bytes] | None = None
        self._process_lock = threading.Lock()
        self._stop_requested = threading.Event()
        self._stop_requested_at = 0.0
        self._thread = threading.Thread(
            target=self._execute, name=f"glue-run-{run.id[:12]}", daemon=True
        )
        run.run_dir = run_dir

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def stop(self) -> None:
        """BatchStopJobRun: SIGTERM the process tree; the run thread escalates, ends it STOPPED."""
        self._stop_requested_at = time.monotonic()
        self._stop_requested.set()
        self.run.transition("STOPPING")
        with self._process_lock:
            process = self._process
        if process is not None:
            processes.signal_group(process, signal.SIGTERM)

    # -- the run ---------------------------------------------------------------------------

    def _execute(self) -> None:
        try:
            self._execute_unguarded()
        except Exception as error:  # a bug here must still end the run, or pollers wait forever
            LOG.exception("Glue job run %s crashed in the launcher", self.run.id)
            self.run.transition("FAILED", f"{type(error).__name__}: {error}")

    def _execute_unguarded(self) -> None:
        spec = self.spec
        if not spec.python:
            self.run.transition(
                "FAILED",
                "MHEALTH_GLUE_PYTHON is not set in LocalStack's environment: "
                "no Python with pyspark to run Glue job scripts",
            )
            return
        try:
            python_version = _checked_python_version(spec.python, self.run.glue_version)
        except ValueError as error:
            self.run.transition("FAILED", str(error))
            return
        scratch = [self.run_dir / "tmp", self.run_dir / "spark-local"]
        for directory in (self.run_dir / "script", self.run_dir / "extra", *scratch):
            directory.mkdir(parents=True, exist_ok=True)

        try:
            script_path = self._download(spec.script_location, self.run_dir / "script")
            extra_paths = [
                self._download(uri, self.run_dir / "extra")
                for uri in launch.split_s3_uri_list(spec.arguments.get(launch.EXTRA_PY_FILES))
            ]
            conf = launch.spark_conf_pairs(spec.arguments.get(launch.SPARK_CONF))
        except (ValueError, OSError, RuntimeError) as error:
            self.run.transition("FAILED", str(error))
            return

        if self._stop_requested.is_set():
            self.run.transition("STOPPED")
            return

        argv = launch.build_argv(
            str(script_path),
            job_name=self.run.job_name,
            job_id=spec.job_id,
            run_id=self.run.id,
            arguments=spec.arguments,
        )
        env = self._environment(extra_paths, conf)
        stdout_path = self.run_dir / "stdout.log"
        stderr_path = self.run_dir / "stderr.log"
        shipper = LogShipper(self._logs, self.run.id, stdout_path, stderr_path)

        # Glue's own first lines say what runs the script; so does ours (the script's log).
        stdout_path.write_text(
            f"Glue {self.run.glue_version or launch.DEFAULT_GLUE_VERSION} runtime (local): "
            f"Python {python_version} ({spec.python}); "
            f"PYTHONPATH={env['PYTHONPATH']}\n",
            encoding="utf-8",
        )
        with stdout_path.open("ab") as stdout, stderr_path.open("wb") as stderr:
            with self._process_lock:
                if self._stop_requested.is_set():
                    self.run.transition("STOPPED")
                    return
                # A new session makes the script, its spark-submit and its JVM one process group,
                # so stop and timeout can kill the whole tree at once.
                self._process = subprocess.Popen(
                    [spec.python, *argv],
                    cwd=self.run_dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=stderr,
                    start_new_session=True,
                )
                process = self._process
            self.run.transition("RUNNING")
            LOG.info(
                "Glue job run %s of %s started (pid %s)",
                self.run.id,
                self.run.job_name,
                process.pid,
            )
            timed_out = self._wait(process, shipper)
        # Whatever the script left behind in its group (a lingering JVM) goes with it.
        processes.stop_group(process, grace_seconds=0)
        shipper.ship(final=True)

        exit_code = process.returncode
        if self._stop_requested.is_set():
            self.run.transition("STOPPED")
        elif timed_out:
            self.run.transition(
                "TIMEOUT", f"Job run timed out after {self.run.timeout_minutes} minutes"
            )
        elif exit_code == 0:
            self.run.transition("SUCCEEDED")
        else:
            stderr_text = stderr_path.read_text(encoding="utf-8", errors="replace")
            self.run.transition("FAILED", launch.error_message_from_stderr(stderr_text, exit_code))
        LOG.info("Glue job run %s ended %s", self.run.id, self.run.state)
        for directory in scratch:
            shutil.rmtree(directory, ignore_errors=True)

    def _wait(self, process: subprocess.Popen[bytes], shipper: LogShipper) -> bool:
        """Wait for the process, shipping logs as they come; True if the job timeout hit first."""
        deadline = time.monotonic() + self.run.timeout_minutes * 60
        while True:
            now = time.monotonic()
            if now >= deadline:
                LOG.warning("Glue job run %s timed out, killing it", self.run.id)
                processes.stop_group(process, grace_seconds=_STOP_GRACE_SECONDS)
                return True
            if (
                self._stop_requested.is_set()
                and now - self._stop_requested_at > _STOP_GRACE_SECONDS
            ):
                processes.signal_group(process, signal.SIGKILL)
            try:
                process.wait(timeout=min(_POLL_SECONDS, deadline - now))
                return False
            except subprocess.TimeoutExpired:
                shipper.ship(final=False)

    def _download(self, uri: str, directory: Path) -> Path:
        bucket, key = launch.parse_s3_uri(uri)
        target = directory / Path(key).name
        try:
            response = self._s3.get_object(Bucket=bucket, Key=key)
        except Exception as error:
            raise RuntimeError(f"Cannot fetch {uri}: {error}") from error
        body: BinaryIO = response["Body"]
        with target.open("wb") as sink:
            shutil.copyfileobj(body, sink)
        return target

    def _environment(self, extra_paths: list[Path], conf: list[tuple[str, str]]) -> dict[str, str]:
        spec = self.spec
        python_path = [str(SHIM_DIR)]
        for path in extra_paths:
            # A zip is imported from directly; a single .py is found through its directory.
            python_path.append(str(path) if path.suffix == ".zip" else str(path.parent))
        python_path.append(str(self.run_dir / "script"))
        tmp = str(self.run_dir / "tmp")
        spark_local = str(self.run_dir / "spark-local")
        env = dict(spec.passthrough_env)
        env.update(
            {
                "AWS_ENDPOINT_URL": spec.endpoint_url,
                "AWS_ACCESS_KEY_ID": spec.access_key_id,
                "AWS_SECRET_ACCESS_KEY": spec.secret_access_key,
                "AWS_DEFAULT_REGION": self.run.region,
                "AWS_REGION": self.run.region,
                "PYTHONPATH": os.pathsep.join(dict.fromkeys(python_path)),
                "PYTHONUNBUFFERED": "1",
                "PYSPARK_PYTHON": spec.python or "",
                "PYSPARK_DRIVER_PYTHON": spec.python or "",
                "PYSPARK_SUBMIT_ARGS": launch.spark_submit_args(
                    driver_memory=spec.driver_memory,
                    java_tmpdir=tmp,
                    conf=conf,
                ),
                "SPARK_LOCAL_DIRS": spark_local,
                # Binding to the machine's hostname fails on hosts whose name does not resolve.
                "SPARK_LOCAL_IP": "127.0.0.1",
                "TMPDIR": tmp,
            }
        )
        env.pop("AWS_SESSION_TOKEN", None)
        if spec.session_token:
            env["AWS_SESSION_TOKEN"] = spec.session_token
        return env


class LogShipper:
    """Copies new lines of the run's stdout/stderr files to CloudWatch Logs (stream = run id)."""

    def __init__(
        self, logs: LogsWriter | None, stream: str, stdout_path: Path, stderr_path: Path
    ) -> None:
        self._logs = logs
        self._stream = stream
        self._sources = {OUTPUT_LOG_GROUP: stdout_path, ERROR_LOG_GROUP: stderr_path}
        self._offsets = dict.fromkeys(self._sources, 0)
        self._ready: set[str] = set()
        self._disabled = logs is None

    def ship(self, *, final: bool) -> None:
        if self._disabled:
            return
        try:
            for group, path in self._sources.items():
                self._ship_file(group, path, final=final)
        except (
            Exception
        ) as error:  # logs are a convenience; the files in the run dir are the record
            LOG.warning(
                "Shipping Glue run logs to CloudWatch failed, continuing without: %s", error
            )
            self._disabled = True

    def _ship_file(self, group: str, path: Path, *, final: bool) -> None:
        if not path.exists():
            return
        with path.open("rb") as source:
            source.seek(self._offsets[group])
            chunk = source.read()
        if not final:
            # Leave a partial last line for the next round.
            end = chunk.rfind(b"\n") + 1
            chunk = chunk[:end]
        if not chunk:
            return
        self._offsets[group] += len(chunk)
        now_ms = int(time.time() * 1000)
        lines = chunk.decode("utf-8", errors="replace").splitlines()
        events = [
            {"timestamp": now_ms, "message": line[:_MAX_LOG_EVENT_CHARS]}
            for line in lines
            if line.strip()
        ]
        if not events:
            return
        self._ensure_stream(group)
        assert self._logs is not None
        for batch in _batches(events):
            self._logs.put_log_events(
                logGroupName=group, logStreamName=self._stream, logEvents=batch
            )

    def _ensure_stream(self, group: str) -> None:
        if group in self._ready:
            return
        assert self._logs is not None
        try:
            self._logs.create_log_group(logGroupName=group)
        except Exception as error:
            if not _already_exists(error):
                raise
        try:
            self._logs.create_log_stream(logGroupName=group, logStreamName=self._stream)
        except Exception as error:
            if not _already_exists(error):
                raise
        self._ready.add(group)


@functools.cache
def _python_version(python: str) -> str:
    """``3.11.7``: the version of the interpreter at ``python`` (asked once per path)."""
    try:
        answer = subprocess.run(
            [python, "-c", "import platform; print(platform.python_version())"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise ValueError(f"MHEALTH_GLUE_PYTHON ({python}) does not run: {error}") from error
    return answer.stdout.strip()


def _checked_python_version(python: str, glue_version: str | None) -> str:
    """The job's interpreter version, checked against the Python its Glue version runs on AWS."""
    wanted = launch.python_version_for(glue_version)
    actual = _python_version(python)
    if actual.rsplit(".", 1)[0] != wanted:
        raise ValueError(
            f"Glue {glue_version or launch.DEFAULT_GLUE_VERSION} runs Python {wanted}, but "
            f"MHEALTH_GLUE_PYTHON ({python}) is Python {actual}: point it at Glue's runtime, "
            ".venv-glue/bin/python (make setup creates it)"
        )
    return actual


def _already_exists(error: Exception) -> bool:
    # Any client's ResourceAlreadyExistsException, without importing botocore's error classes.
    return "ResourceAlreadyExists" in f"{type(error).__name__} {error}"


def _batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    batches: list[list[dict[str, Any]]] = [[]]
    size = 0
    for event in events:
        event_size = len(event["message"].encode()) + 26  # CloudWatch counts 26 bytes per event
        if batches[-1] and (
            len(batches[-1]) >= _MAX_LOG_BATCH_EVENTS or size + event_size > _MAX_LOG_BATCH_BYTES
        ):
            batches.append([])
            size = 0
        batches[-1].append(event)
        size += event_size
    return batches
