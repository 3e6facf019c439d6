"""Glue service provider: job runs run in local PySpark; catalog and job definitions are moto's."""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localstack.aws.api import CommonServiceException, RequestContext, handler
from localstack.aws.connect import connect_to
from localstack.aws.spec import load_service
from localstack.services.moto import call_moto
from localstack.services.plugins import ServiceLifecycleHook
from localstack.state import StateVisitor

from mhealth_localstack.credentials import LOCAL_SECRET_ACCESS_KEY, access_key_for
from mhealth_localstack.gateway import edge_url
from mhealth_localstack.glue import launch
from mhealth_localstack.glue.runs import JobRun, LaunchSpec, RunExecutor
from mhealth_localstack.glue.settings import DEFAULT_TIMEOUT_MINUTES, GlueSettings
from mhealth_localstack.iam.sessions import RoleSession, assume_role, iam_mode
from mhealth_localstack.persistence import PlainState

LOG = logging.getLogger(__name__)

_DEFAULT_MAX_CONCURRENT_RUNS = 1
_DEFAULT_PAGE_SIZE = 100
_MAX_PAGE_SIZE = 200

# UpdateJob's JobUpdate members and the moto FakeJob attributes holding them.
_JOB_UPDATE_ATTRIBUTES = {
    "Description": "description",
    "LogUri": "log_uri",
    "Role": "role",
    "ExecutionProperty": "execution_property",
    "Command": "command",
    "DefaultArguments": "default_arguments",
    "NonOverridableArguments": "non_overridable_arguments",
    "Connections": "connections",
    "MaxRetries": "max_retries",
    "AllocatedCapacity": "allocated_capacity",
    "Timeout": "timeout",
    "MaxCapacity": "max_capacity",
    "WorkerType": "worker_type",
    "NumberOfWorkers": "number_of_workers",
    "SecurityConfiguration": "security_configuration",
    "NotificationProperty": "notification_property",
    "GlueVersion": "glue_version",
    "CodeGenConfigurationNodes": "code_gen_configuration_nodes",
    "ExecutionClass": "execution_class",
    "SourceControlDetails": "source_control_details",
}
# moto's FakeJob keeps these as {} rather than None when absent.
_JOB_DICT_ATTRIBUTES = frozenset({"execution_property", "default_arguments"})


def _client_error(code: str, message: str) -> CommonServiceException:
    return CommonServiceException(code, message, status_code=400, sender_fault=True)


def _entity_not_found(message: str) -> CommonServiceException:
    return _client_error("EntityNotFoundException", message)


def _invalid_input(message: str) -> CommonServiceException:
    return _client_error("InvalidInputException", message)


def _moto_job(context: RequestContext, job_name: str) -> Any:
    from moto.glue.exceptions import EntityNotFoundException
    from moto.glue.models import glue_backends

    backend = glue_backends[context.account_id][context.region]
    try:
        return backend.get_job(job_name)
    except EntityNotFoundException as error:
        raise _entity_not_found(f"Job {job_name} not found.") from error


def _moto_utcnow() -> datetime:
    from moto.core.utils import utcnow

    return utcnow()


def _run_at_rest(run: JobRun) -> dict[str, Any]:
    """A run's fields to keep across a restart (no lock); a run still going has failed."""
    with run.lock:
        values = {f.name: getattr(run, f.name) for f in fields(run) if f.name != "lock"}
    if run.is_active:
        now = datetime.now(UTC)
        values.update(
            state="FAILED",
            error_message="The local AWS stopped during this run.",
            completed_on=now,
            last_modified_on=now,
        )
    return values


class GlueProvider(ServiceLifecycleHook):
    """Implements the job-run operations; every operation it does not define goes to moto."""

    service = "glue"

    def __init__(self) -> None:
        self._settings = GlueSettings.from_environ()
        self._lock = threading.Lock()
        # (account, region, job name) -> run id -> run; insertion order is start order.
        self._runs: dict[tuple[str, str, str], dict[str, JobRun]] = {}
        self._executors: dict[str, RunExecutor] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def on_before_stop(self) -> None:
        """LocalStack is shutting down: no job process may outlive it."""
        with self._lock:
            executors = list(self._executors.values())
        LOG.info("Stopping %d active Glue job run(s)", sum(e.run.is_active for e in executors))
        for executor in executors:
            if executor.run.is_active:
                executor.stop()
        for executor in executors:
            executor.join(timeout=15)

    # -- state that survives a restart (persistence.py) ------------------------------------

    def accept_state_visitor(self, visitor: StateVisitor) -> None:
        """moto's Data Catalog (databases, tables, partitions) and job definitions, and the
        job runs kept here."""
        from moto.glue.models import glue_backends

        visitor.visit(glue_backends)
        visitor.visit(PlainState("glue", "job-runs", self._dump_runs, self._load_runs))

    def _dump_runs(self) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
        with self._lock:
            return {
                key: [_run_at_rest(run) for run in runs.values()]
                for key, runs in self._runs.items()
            }

    def _load_runs(self, saved: dict[tuple[str, str, str], list[dict[str, Any]]]) -> None:
        with self._lock:
            self._runs = {
                key: {values["id"]: JobRun(**values) for values in runs}
                for key, runs in saved.items()
            }
            self._executors = {}

    # -- job definitions: moto, with the gaps filled -----------------------------------------

    @handler("CreateJob", expand=False)
    def create_job(self, context: RequestContext, request: dict[str, Any]) -> Any:
        from moto.glue.models import glue_backends

        name = request.get("Name")
        if name in glue_backends[context.account_id][context.region].jobs:
            # moto would silently replace the job; Glue refuses.
            raise _client_error("AlreadyExistsException", f"Job {name} already exists.")
        return call_moto(context)

    @handler("UpdateJob", expand=False)
    def update_job(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        """moto has no UpdateJob; Glue replaces the whole definition with JobUpdate."""
        job_name = request["JobName"]
        job_update: dict[str, Any] = request.get("JobUpdate") or {}
        job = _moto_job(context, job_name)
        for member, attribute in _JOB_UPDATE_ATTRIBUTES.items():
            value = job_update.get(member)
            if value is None and attribute in _JOB_DICT_ATTRIBUTES:
                value = {}
            setattr(job, attribute, value)
        if job.execution_class is None:
            job.execution_class = "STANDARD"
        job.last_modified_on = _moto_utcnow()
        return {"JobName": job_name}

    # -- the catalog: moto, with SkipArchive ---------------------------------------------------

    @handler("UpdateTable", expand=False)
    def update_table(self, context: RequestContext, request: dict[str, Any]) -> Any:
        """moto archives every update as a new table version; with ``SkipArchive`` Glue keeps
        the version it has and replaces its definition in place."""
        if not request.get("SkipArchive"):
            return call_moto(context)
        from moto.glue.exceptions import EntityNotFoundException
        from moto.glue.models import glue_backends

        backend = glue_backends[context.account_id][context.region]
        table_input = dict(request.get("TableInput") or {})
        database, name = str(request.get("DatabaseName") or ""), str(table_input.get("Name") or "")
        try:
            table = backend.get_table(database, name)
        except EntityNotFoundException as error:
            raise _entity_not_found(str(getattr(error, "message", error))) from error
        table.versions[str(table._current_version)] = table_input
        table.updated_time = _moto_utcnow()
        return {}

    @handler("DeleteJob", expand=False)
    def delete_job(self, context: RequestContext, request: dict[str, Any]) -> Any:
        """Deleting a job also stops and forgets its runs, as in Glue."""
        key = (context.account_id, context.region, request["JobName"])
        with self._lock:
            runs = self._runs.pop(key, {})
            executors = [
                self._executors.pop(run_id) for run_id in runs if run_id in self._executors
            ]
        for executor in executors:
            if executor.run.is_active:
                executor.stop()
        return call_moto(context)

    # -- job runs --------------------------------------------------------------------------

    @handler("StartJobRun", expand=False)
    def start_job_run(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        job_name = request.get("JobName")
        if not job_name:
            raise _invalid_input("JobName is required.")
        if request.get("AllocatedCapacity") and request.get("MaxCapacity"):
            raise _invalid_input("Please set only Allocated Capacity or Max Capacity")
        job = _moto_job(context, job_name)
        command = job.command or {}
        script_location = command.get("ScriptLocation")
        if not script_location:
            raise _invalid_input(f"Job {job_name} has no Command.ScriptLocation.")
        run_arguments: dict[str, str] = request.get("Arguments") or {}
        merged = launch.merge_arguments(
            job.default_arguments, run_arguments, job.non_overridable_arguments
        )
        key = (context.account_id, context.region, job_name)
        max_concurrent = int(
            (job.execution_property or {}).get("MaxConcurrentRuns") or _DEFAULT_MAX_CONCURRENT_RUNS
        )

        clients = self._clients(context)
        role = _job_role_credentials(
            context, job.role, int(request.get("Timeout") or job.timeout or DEFAULT_TIMEOUT_MINUTES)
        )
        with self._lock:
            job_runs = self._runs.setdefault(key, {})
            previous_id = request.get("JobRunId")
            previous = job_runs.get(previous_id) if previous_id else None
            if previous_id and previous is None:
                raise _entity_not_found(f"Job run {previous_id} not found.")
            active = sum(1 for run in job_runs.values() if run.is_active)
            if active >= max_concurrent:
                raise _client_error(
                    "ConcurrentRunsExceededException",
                    f"Concurrent runs exceeded for {job_name}: {active} of at most "
                    f"{max_concurrent} (ExecutionProperty.MaxConcurrentRuns) are running.",
                )
            run = JobRun(
                id=f"jr_{secrets.token_hex(32)}",
                job_name=job_name,
                account_id=context.account_id,
                region=context.region,
                arguments=dict(run_arguments),
                timeout_minutes=int(
                    request.get("Timeout") or job.timeout or DEFAULT_TIMEOUT_MINUTES
                ),
                attempt=previous.attempt + 1 if previous else 0,
                previous_run_id=previous.id if previous else None,
                max_capacity=request.get("MaxCapacity") or job.max_capacity,
                allocated_capacity=request.get("AllocatedCapacity") or job.allocated_capacity,
                worker_type=request.get("WorkerType") or job.worker_type,
                number_of_workers=request.get("NumberOfWorkers") or job.number_of_workers,
                glue_version=job.glue_version,
                execution_class=request.get("ExecutionClass") or job.execution_class,
            )
            job_runs[run.id] = run
            executor = RunExecutor(
                run,
                LaunchSpec(
                    python=self._settings.glue_python,
                    script_location=script_location,
                    job_id=launch.job_id_for(context.account_id, context.region, job_name),
                    arguments=merged,
                    endpoint_url=edge_url(),
                    access_key_id=role.access_key_id
                    if role
                    else access_key_for(context.account_id),
                    secret_access_key=role.secret_access_key if role else LOCAL_SECRET_ACCESS_KEY,
                    session_token=role.session_token if role else None,
                    driver_memory=self._settings.driver_memory,
                    passthrough_env=self._settings.passthrough_env,
                ),
                run_dir=self._run_dir(run.id),
                # Glue fetches the script and --extra-py-files as the job's role.
                s3=role.clients(context.region).s3 if role else clients.s3,
                logs=clients.logs,
            )
            self._executors[run.id] = executor
        executor.start()
        LOG.info("Glue job %s: run %s accepted", job_name, run.id)
        return {"JobRunId": run.id}

    @handler("GetJobRun", expand=False)
    def get_job_run(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        run = self._find_run(context, request["JobName"], request["RunId"])
        return {"JobRun": run.describe()}

    @handler("GetJobRuns", expand=False)
    def get_job_runs(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        job_name = request["JobName"]
        _moto_job(context, job_name)
        with self._lock:
            runs = list(self._runs.get((context.account_id, context.region, job_name), {}).values())
        runs.sort(key=lambda run: run.started_on, reverse=True)
        page_size = min(int(request.get("MaxResults") or _DEFAULT_PAGE_SIZE), _MAX_PAGE_SIZE)
        try:
            offset = int(request.get("NextToken") or 0)
        except ValueError as error:
            raise _invalid_input("Invalid NextToken.") from error
        page = runs[offset : offset + page_size]
        response: dict[str, Any] = {"JobRuns": [run.describe() for run in page]}
        if offset + page_size < len(runs):
            response["NextToken"] = str(offset + page_size)
        return response

    @handler("BatchStopJobRun", expand=False)
    def batch_stop_job_run(
        self, context: RequestContext, request: dict[str, Any]
    ) -> dict[str, Any]:
        job_name = request["JobName"]
        submitted: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for run_id in request.get("JobRunIds") or []:
            with self._lock:
                run = self._runs.get((context.account_id, context.region, job_name), {}).get(run_id)
                executor = self._executors.get(run_id)
            if run is None or executor is None:
                errors.append(
                    _stop_error(
                        job_name, run_id, "EntityNotFoundException", f"Job run {run_id} not found."
                    )
                )
            elif not run.is_active:
                errors.append(
                    _stop_error(
                        job_name,
                        run_id,
                        "InvalidInputException",
                        f"Job run {run_id} is already {run.state}.",
                    )
                )
            else:
                executor.stop()
                submitted.append({"JobName": job_name, "JobRunId": run_id})
        return {"SuccessfulSubmissions": submitted, "Errors": errors}

    # -- helpers ---------------------------------------------------------------------------

    def _find_run(self, context: RequestContext, job_name: str, run_id: str) -> JobRun:
        with self._lock:
            run = self._runs.get((context.account_id, context.region, job_name), {}).get(run_id)
        if run is None:
            _moto_job(context, job_name)  # an unknown job is reported as such
            raise _entity_not_found(f"Job run {run_id} not found.")
        return run

    def _run_dir(self, run_id: str) -> Path:
        return self._settings.runs_dir / run_id

    @staticmethod
    def _clients(context: RequestContext) -> Any:
        return connect_to(
            aws_access_key_id=access_key_for(context.account_id), region_name=context.region
        )


def _job_role_credentials(
    context: RequestContext, role: str | None, timeout_minutes: int
) -> RoleSession | None:
    """The job role's temporary credentials for one run (None with ``MHEALTH_IAM=off``): the
    job script, and Glue fetching it, act as that role, as on AWS."""
    if iam_mode() == "off" or not role:
        return None
    role_arn = (
        role
        if role.startswith("arn:")
        else (f"arn:{context.partition}:iam::{context.account_id}:role/{role}")
    )
    # The run's lifetime plus a margin, within STS's 15 min .. 12 h.
    return assume_role(
        role_arn,
        session_name="GlueJobRunnerSession",
        service_principal="glue",
        region=context.region,
        duration_seconds=timeout_minutes * 60 + 900,
    )


def _stop_error(job_name: str, run_id: str, code: str, message: str) -> dict[str, Any]:
    return {
        "JobName": job_name,
        "JobRunId": run_id,
        "ErrorDetail": {"ErrorCode": code, "ErrorMessage": message},
    }


def _install_moto_fallthrough(provider_class: type) -> None:
    """Give every Glue operation without a handler one that defers to moto.

    localstack.aws.api has no generated GlueApi, and LocalStack only dispatches operations that
    have a @handler; MotoFallbackDispatcher turns a handler's NotImplementedError into a moto call.
    """
    implemented = {getattr(member, "operation", None) for member in vars(provider_class).values()}
    for operation in load_service("glue").operation_names:
        if operation in implemented:
            continue

        def defer_to_moto(self: Any, context: RequestContext, request: Any) -> Any:
            raise NotImplementedError

        defer_to_moto.__name__ = defer_to_moto.__qualname__ = f"moto_{operation}"
        setattr(
            provider_class, defer_to_moto.__name__, handler(operation, expand=False)(defer_to_moto)
        )


_install_moto_fallthrough(GlueProvider)
