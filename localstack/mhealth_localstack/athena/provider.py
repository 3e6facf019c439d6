"""Athena service provider: queries run on DuckDB over Glue tables in S3; the rest stays in moto."""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

import pyarrow as pa
import pyarrow.fs as pafs
from localstack.aws.api import CommonServiceException, RequestContext, handler
from localstack.aws.spec import load_service
from localstack.services.plugins import ServiceLifecycleHook
from localstack.state import StateVisitor

from mhealth_localstack.athena import data_catalog, results, s3_store
from mhealth_localstack.athena.catalog import s3_path
from mhealth_localstack.athena.engine import ConnectionPool, QueryCancelled, QueryRun
from mhealth_localstack.athena.errors import QueryError
from mhealth_localstack.athena.glue_store import InProcessGlue
from mhealth_localstack.athena.results import ColumnInfo
from mhealth_localstack.athena.s3_store import store_filesystem
from mhealth_localstack.athena.statements import (
    StatementType,
    parse_ddl,
    statement_type,
    substatement_type,
)
from mhealth_localstack.credentials import (
    LOCAL_SECRET_ACCESS_KEY,
    access_key_for,
)
from mhealth_localstack.gateway import edge_host, in_memory_client
from mhealth_localstack.persistence import PlainState

LOG = logging.getLogger(__name__)

QUEUED: Final = "QUEUED"
RUNNING: Final = "RUNNING"
SUCCEEDED: Final = "SUCCEEDED"
FAILED: Final = "FAILED"
CANCELLED: Final = "CANCELLED"
_FINAL_STATES: Final = frozenset({SUCCEEDED, FAILED, CANCELLED})

_QUERY_WORKERS: Final = 2
_CACHED_RESULTS: Final = 8  # result tables kept in memory; older ones are read back from S3
_LIST_PAGE_SIZE: Final = 50
#: GetQueryExecution on a query still running waits up to this long for it to finish before it
#: answers, so a polling client learns of the end at once instead of on its next poll (a
#: common client polls every 0.2-1 s; Athena itself answers at once, its queries being slower).
_STATUS_WAIT_S: Final = 0.2
_ENGINE_VERSION: Final = {
    "SelectedEngineVersion": "AUTO",
    "EffectiveEngineVersion": "Athena engine version 3",
}
# Athena's AthenaError.ErrorCategory: 1 system, 2 user.
_SYSTEM_ERROR: Final = 1
_USER_ERROR: Final = 2


def _invalid_request(message: str) -> CommonServiceException:
    return CommonServiceException(
        "InvalidRequestException", message, status_code=400, sender_fault=True
    )


def _catalog_error(error: data_catalog.CatalogError) -> CommonServiceException:
    status = 500 if error.code == "InternalServerException" else 400
    return CommonServiceException(
        error.code, error.message, status_code=status, sender_fault=status == 400
    )


def _s3_filesystem(account_id: str, region: str) -> pafs.FileSystem:
    return pafs.S3FileSystem(
        access_key=access_key_for(account_id),
        secret_key=LOCAL_SECRET_ACCESS_KEY,
        region=region,
        endpoint_override=edge_host(),
        scheme="http",
        allow_bucket_creation=False,
        allow_bucket_deletion=False,
    )


@dataclass
class QueryExecution:
    """One query's bookkeeping (mutated by the worker thread under the provider's lock)."""

    query_id: str
    query: str
    statement_type: StatementType
    database: str | None
    catalog: str
    workgroup: str
    output_location: str
    account_id: str
    region: str
    submitted: datetime
    state: str = QUEUED
    reason: str | None = None
    error_category: int | None = None
    completed: datetime | None = None
    started_monotonic: float | None = None
    engine_millis: int = 0
    scanned_bytes: int = 0
    columns: tuple[ColumnInfo, ...] = ()
    header: bool = True
    manifest_location: str | None = None
    update_count: int = 0
    run: QueryRun | None = field(default=None, repr=False)

    def describe(self) -> dict[str, Any]:
        """The QueryExecution structure of GetQueryExecution."""
        context: dict[str, str] = {"Catalog": self.catalog}
        if self.database:
            context["Database"] = self.database
        status: dict[str, Any] = {"State": self.state, "SubmissionDateTime": self.submitted}
        if self.completed:
            status["CompletionDateTime"] = self.completed
        if self.reason:
            status["StateChangeReason"] = self.reason
        if self.state == FAILED and self.reason:
            status["AthenaError"] = {
                "ErrorCategory": self.error_category or _USER_ERROR,
                "ErrorType": 1000 if self.error_category == _SYSTEM_ERROR else 1100,
                "Retryable": False,
                "ErrorMessage": self.reason,
            }
        statistics_extra = (
            {"DataManifestLocation": self.manifest_location} if self.manifest_location else {}
        )
        total = self.engine_millis
        if self.completed:
            total = int((self.completed - self.submitted).total_seconds() * 1000)
        return {
            "QueryExecutionId": self.query_id,
            "Query": self.query,
            "StatementType": self.statement_type.value,
            "ResultConfiguration": {"OutputLocation": self.output_location},
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            "QueryExecutionContext": context,
            "Status": status,
            "Statistics": {
                "EngineExecutionTimeInMillis": self.engine_millis,
                "DataScannedInBytes": self.scanned_bytes,
                "TotalExecutionTimeInMillis": max(total, self.engine_millis),
                "QueryQueueTimeInMillis": 0,
                "ServicePreProcessingTimeInMillis": 0,
                "QueryPlanningTimeInMillis": 0,
                "ServiceProcessingTimeInMillis": 0,
                "ResultReuseInformation": {"ReusedPreviousResult": False},
                **statistics_extra,
            },
            "WorkGroup": self.workgroup,
            "EngineVersion": dict(_ENGINE_VERSION),
            "SubstatementType": self._substatement_type(),
        }

    def _substatement_type(self) -> str:
        return substatement_type(self.query)


def _at_rest(execution: QueryExecution) -> QueryExecution:
    """A copy to keep across a restart: no worker, and a query still running is cancelled."""
    if execution.state in _FINAL_STATES:
        return replace(execution, run=None)
    return replace(
        execution,
        run=None,
        state=CANCELLED,
        reason="The local AWS stopped while the query ran.",
        completed=datetime.now(UTC),
    )


def _athena_backend(context: RequestContext) -> Any:
    """moto's Athena bookkeeping (work groups, data catalogs) of the caller's account/region."""
    from moto.athena.models import athena_backends

    return athena_backends[context.account_id][context.region]


def _output_file(location: str, query_id: str, statement: StatementType) -> str:
    # Athena writes query results as <id>.csv and metadata statements as <id>.txt.
    suffix = "txt" if statement is StatementType.DDL else "csv"
    return f"{location if location.endswith('/') else location + '/'}{query_id}.{suffix}"


class AthenaProvider(ServiceLifecycleHook):
    """Implements the query-execution operations; every other operation goes to moto."""

    service = "athena"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._executions: dict[tuple[str, str], OrderedDict[str, QueryExecution]] = {}
        self._tokens: dict[tuple[str, str, str], str] = {}
        self._results: OrderedDict[str, pa.Table] = OrderedDict()
        # Set when a query reaches a final state. Kept beside the executions, not in them: the
        # executions are plain data (a snapshot of the provider's state can copy them).
        self._finished: dict[str, threading.Event] = {}
        self._connections = ConnectionPool(threads=2)
        self._pool = ThreadPoolExecutor(
            max_workers=_QUERY_WORKERS, thread_name_prefix="athena-query"
        )

    def on_before_stop(self) -> None:
        with self._lock:
            running = [
                e.run
                for store in self._executions.values()
                for e in store.values()
                if e.run is not None and e.state not in _FINAL_STATES
            ]
        for run in running:
            run.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._connections.close()

    # -- state that survives a restart (persistence.py) ------------------------------------

    def accept_state_visitor(self, visitor: StateVisitor) -> None:
        """moto's work groups, named queries and data catalogs, and the query executions kept
        here (their results are read back from S3 when asked for)."""
        from moto.athena.models import athena_backends

        visitor.visit(athena_backends)
        visitor.visit(
            PlainState("athena", "query-executions", self._dump_executions, self._load_executions)
        )

    def _dump_executions(self) -> dict[tuple[str, str], list[QueryExecution]]:
        with self._lock:
            return {
                key: [_at_rest(execution) for execution in store.values()]
                for key, store in self._executions.items()
            }

    def _load_executions(self, saved: dict[tuple[str, str], list[QueryExecution]]) -> None:
        with self._lock:
            self._executions = {
                key: OrderedDict((e.query_id, e) for e in executions)
                for key, executions in saved.items()
            }
            self._results.clear()

    # -- operations ------------------------------------------------------------------------

    @handler("StartQueryExecution", expand=False)
    def start_query_execution(
        self, context: RequestContext, request: dict[str, Any]
    ) -> dict[str, Any]:
        query = str(request.get("QueryString") or "")
        if not query.strip():
            raise _invalid_request("QueryString must not be empty")
        if request.get("ExecutionParameters"):
            raise _invalid_request("ExecutionParameters are not supported by the local Athena")
        key = (context.account_id, context.region)
        token = request.get("ClientRequestToken")
        with self._lock:
            if token and ((*key, token)) in self._tokens:
                return {"QueryExecutionId": self._tokens[(*key, token)]}
        workgroup = str(request.get("WorkGroup") or "primary")
        location = self._output_location(context, workgroup, request)
        exec_context = request.get("QueryExecutionContext") or {}
        kind = StatementType.DDL if parse_ddl(query) else statement_type(query)
        query_id = str(uuid.uuid4())
        execution = QueryExecution(
            query_id=query_id,
            query=query,
            statement_type=kind,
            database=exec_context.get("Database"),
            catalog=str(exec_context.get("Catalog") or "AwsDataCatalog"),
            workgroup=workgroup,
            output_location=_output_file(location, query_id, kind),
            account_id=context.account_id,
            region=context.region,
            submitted=datetime.now(tz=UTC),
        )
        with self._lock:
            self._executions.setdefault(key, OrderedDict())[query_id] = execution
            self._finished[query_id] = threading.Event()
            if token:
                self._tokens[(*key, token)] = query_id
        self._pool.submit(self._execute, execution)
        return {"QueryExecutionId": query_id}

    @handler("GetQueryExecution", expand=False)
    def get_query_execution(
        self, context: RequestContext, request: dict[str, Any]
    ) -> dict[str, Any]:
        execution = self._find(context, str(request.get("QueryExecutionId", "")))
        with self._lock:
            finished = self._finished.get(execution.query_id)
        if finished is not None:
            finished.wait(_STATUS_WAIT_S)
        with self._lock:
            return {"QueryExecution": execution.describe()}

    @handler("BatchGetQueryExecution", expand=False)
    def batch_get_query_execution(
        self, context: RequestContext, request: dict[str, Any]
    ) -> dict[str, Any]:
        found: list[dict[str, Any]] = []
        missing: list[dict[str, str]] = []
        store = self._store(context)
        with self._lock:
            for query_id in request.get("QueryExecutionIds", []):
                if query_id in store:
                    found.append(store[query_id].describe())
                else:
                    missing.append(
                        {
                            "QueryExecutionId": query_id,
                            "ErrorCode": "404",
                            "ErrorMessage": f"QueryExecution {query_id} was not found",
                        }
                    )
        return {"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing}

    @handler("ListQueryExecutions", expand=False)
    def list_query_executions(
        self, context: RequestContext, request: dict[str, Any]
    ) -> dict[str, Any]:
        workgroup = str(request.get("WorkGroup") or "primary")
        size = min(int(request.get("MaxResults") or _LIST_PAGE_SIZE), _LIST_PAGE_SIZE)
        store = self._store(context)
        with self._lock:
            ids = [e.query_id for e in reversed(store.values()) if e.workgroup == workgroup]
        start = 0
        if request.get("NextToken"):
            offset = results.decode_token("list:" + workgroup, str(request["NextToken"]))
            if offset is None:
                raise _invalid_request("Invalid NextToken")
            start = offset
        response: dict[str, Any] = {"QueryExecutionIds": ids[start : start + size]}
        if start + size < len(ids):
            response["NextToken"] = results.encode_token("list:" + workgroup, start + size)
        return response

    @handler("StopQueryExecution", expand=False)
    def stop_query_execution(
        self, context: RequestContext, request: dict[str, Any]
    ) -> dict[str, Any]:
        execution = self._find(context, str(request.get("QueryExecutionId", "")))
        with self._lock:
            if execution.state in _FINAL_STATES:
                return {}
            run = execution.run
            execution.state = CANCELLED
            execution.reason = "Query cancelled by user"
            execution.completed = datetime.now(tz=UTC)
            finished = self._finished.pop(execution.query_id, None)
        if finished is not None:
            finished.set()
        if run is not None:
            run.cancel()
        return {}

    @handler("GetQueryResults", expand=False)
    def get_query_results(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        execution = self._find(context, str(request.get("QueryExecutionId", "")))
        with self._lock:
            state, reason = execution.state, execution.reason
        if state == FAILED:
            raise _invalid_request(reason or "Query failed")
        if state != SUCCEEDED:
            raise _invalid_request(f"Query has not yet finished. Current state: {state}")
        max_results = int(request.get("MaxResults") or results.MAX_PAGE_SIZE)
        if not 1 <= max_results <= results.MAX_PAGE_SIZE:
            raise _invalid_request(f"MaxResults must be between 1 and {results.MAX_PAGE_SIZE}")
        offset = 0
        if request.get("NextToken"):
            decoded = results.decode_token(execution.query_id, str(request["NextToken"]))
            if decoded is None:
                raise _invalid_request("Invalid NextToken")
            offset = decoded
        table = self._result_table(execution)
        page = results.page(
            execution.query_id,
            table,
            header=execution.header,
            offset=offset,
            max_results=max_results,
        )
        response: dict[str, Any] = {
            "UpdateCount": execution.update_count,
            "ResultSet": {
                "Rows": page.rows,
                "ResultSetMetadata": {"ColumnInfo": list(execution.columns)},
            },
        }
        if page.next_token:
            response["NextToken"] = page.next_token
        return response

    # -- data catalogs and work groups ----------------------------------------------------

    @handler("ListDataCatalogs", expand=False)
    def list_data_catalogs(
        self, context: RequestContext, request: dict[str, Any]
    ) -> dict[str, Any]:
        summaries = [{"CatalogName": data_catalog.AWS_DATA_CATALOG, "Type": "GLUE"}]
        summaries += [
            {"CatalogName": c.name, "Type": c.type}
            for c in _athena_backend(context).data_catalogs.values()
        ]
        return self._catalog_page(
            "DataCatalogsSummary", summaries, "catalogs", request, data_catalog.MAX_DATABASES
        )

    @handler("GetDataCatalog", expand=False)
    def get_data_catalog(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        name = str(request.get("Name") or "")
        if name.lower() == data_catalog.AWS_DATA_CATALOG.lower():
            return {"DataCatalog": data_catalog.aws_data_catalog(context.account_id)}
        if name not in _athena_backend(context).data_catalogs:
            raise _invalid_request(f"Catalog {name} was not found")
        raise NotImplementedError  # catalogs created with CreateDataCatalog live in moto

    @handler("ListDatabases", expand=False)
    def list_databases(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        try:
            data_catalog.check_catalog(request.get("CatalogName"))
            databases = data_catalog.list_databases(self._glue(context))
        except data_catalog.CatalogError as error:
            raise _catalog_error(error) from error
        return self._catalog_page(
            "DatabaseList", databases, "databases", request, data_catalog.MAX_DATABASES
        )

    @handler("GetDatabase", expand=False)
    def get_database(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        try:
            data_catalog.check_catalog(request.get("CatalogName"))
            database = data_catalog.get_database(
                self._glue(context), str(request.get("DatabaseName") or "")
            )
        except data_catalog.CatalogError as error:
            raise _catalog_error(error) from error
        return {"Database": database}

    @handler("ListTableMetadata", expand=False)
    def list_table_metadata(
        self, context: RequestContext, request: dict[str, Any]
    ) -> dict[str, Any]:
        database = str(request.get("DatabaseName") or "")
        expression = request.get("Expression")
        try:
            data_catalog.check_catalog(request.get("CatalogName"))
            tables = data_catalog.list_table_metadata(self._glue(context), database, expression)
        except data_catalog.CatalogError as error:
            raise _catalog_error(error) from error
        scope = f"tables:{database}:{expression or ''}"
        return self._catalog_page(
            "TableMetadataList", tables, scope, request, data_catalog.MAX_TABLES
        )

    @handler("GetTableMetadata", expand=False)
    def get_table_metadata(
        self, context: RequestContext, request: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            data_catalog.check_catalog(request.get("CatalogName"))
            table = data_catalog.get_table_metadata(
                self._glue(context),
                str(request.get("DatabaseName") or ""),
                str(request.get("TableName") or ""),
            )
        except data_catalog.CatalogError as error:
            raise _catalog_error(error) from error
        return {"TableMetadata": table}

    @handler("GetWorkGroup", expand=False)
    def get_work_group(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        name = str(request.get("WorkGroup") or "")
        group = _athena_backend(context).work_groups.get(name)
        if group is None:
            raise _invalid_request(f"WorkGroup {name} is not found.")
        answer: dict[str, Any] = {
            "Name": group.name,
            "State": group.state,
            "Configuration": group.configuration or {},
        }
        if group.description:
            answer["Description"] = group.description
        return {"WorkGroup": answer}

    @handler("CreateWorkGroup", expand=False)
    def create_work_group(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        name = str(request.get("Name") or "")
        if not re.fullmatch(r"[a-zA-Z0-9._-]{1,128}", name):
            raise _invalid_request(f"Invalid WorkGroup name: {name}")
        location = ((request.get("Configuration") or {}).get("ResultConfiguration") or {}).get(
            "OutputLocation"
        )
        if location and not str(location).startswith("s3://"):
            raise _invalid_request(f"OutputLocation must be an S3 URI: {location}")
        created = _athena_backend(context).create_work_group(
            name,
            dict(request.get("Configuration") or {}),
            str(request.get("Description") or ""),
            list(request.get("Tags") or []),
        )
        if created is None:
            raise _invalid_request("WorkGroup is already created")
        return {}

    @handler("UpdateWorkGroup", expand=False)
    def update_work_group(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        """moto has no UpdateWorkGroup: apply ConfigurationUpdates, Description and State."""
        name = str(request.get("WorkGroup") or "")
        group = _athena_backend(context).work_groups.get(name)
        if group is None:
            raise _invalid_request(f"WorkGroup {name} is not found.")
        updates = dict(request.get("ConfigurationUpdates") or {})
        configuration = dict(group.configuration or {})
        result = dict(configuration.get("ResultConfiguration") or {})
        result_updates = dict(updates.pop("ResultConfigurationUpdates", None) or {})
        for member, value in result_updates.items():
            if member.startswith("Remove"):
                if value:
                    result.pop(member[len("Remove") :], None)
            else:
                result[member] = value
        location = result.get("OutputLocation")
        if location and not str(location).startswith("s3://"):
            raise _invalid_request(f"OutputLocation must be an S3 URI: {location}")
        if updates.pop("RemoveBytesScannedCutoffPerQuery", False):
            configuration.pop("BytesScannedCutoffPerQuery", None)
        configuration.update(updates)
        if result:
            configuration["ResultConfiguration"] = result
        else:
            configuration.pop("ResultConfiguration", None)
        group.configuration = configuration
        if "Description" in request:
            group.description = str(request.get("Description") or "")
        if request.get("State") in ("ENABLED", "DISABLED"):
            group.state = request["State"]
        return {}

    def _glue(self, context: RequestContext) -> Any:
        return in_memory_client("glue", context.account_id, context.region)

    @staticmethod
    def _catalog_page(
        key: str, items: list[dict[str, Any]], scope: str, request: dict[str, Any], largest: int
    ) -> dict[str, Any]:
        try:
            size = data_catalog.page_size(request.get("MaxResults"), largest)
            page = data_catalog.page_of(items, scope, request.get("NextToken"), size)
        except data_catalog.CatalogError as error:
            raise _catalog_error(error) from error
        answer: dict[str, Any] = {key: page["Items"]}
        if "NextToken" in page:
            answer["NextToken"] = page["NextToken"]
        return answer

    # -- execution (worker thread) ---------------------------------------------------------

    def _execute(self, execution: QueryExecution) -> None:
        # Catalog calls and result writes go into the gateway in-process, data files are read
        # from the S3 store in-process: a small query is otherwise mostly HTTP round trips.
        glue = InProcessGlue(
            in_memory_client("glue", execution.account_id, execution.region),
            execution.account_id,
            execution.region,
        )
        fs_cache: list[pafs.FileSystem] = []
        read_cache: list[pafs.FileSystem] = []

        def filesystem() -> pafs.FileSystem:
            if not fs_cache:
                fs_cache.append(_s3_filesystem(execution.account_id, execution.region))
            return fs_cache[0]

        def read_filesystem() -> pafs.FileSystem:
            if not read_cache:
                store = store_filesystem(execution.account_id, execution.region, filesystem)
                read_cache.append(store if store is not None else filesystem())
            return read_cache[0]

        run = QueryRun(
            execution.query,
            catalog_name=execution.catalog,
            database=execution.database or "default",
            glue=glue,
            filesystem=filesystem,
            query_id=execution.query_id,
            output_location=execution.output_location.rsplit("/", 1)[0] + "/",
            read_filesystem=read_filesystem,
            connections=self._connections,
        )
        with self._lock:
            if execution.state != QUEUED:
                return
            execution.state = RUNNING
            execution.run = run
        started = time.monotonic()
        try:
            output = run.run()
            self._write_results(execution, output.table, output.columns, output.header)
            manifest = self._write_manifest(execution, output.manifest)
        except QueryCancelled:
            self._finish(execution, started, CANCELLED, "Query cancelled by user")
            return
        except QueryError as error:
            category = _USER_ERROR if error.user_error else _SYSTEM_ERROR
            self._finish(execution, started, FAILED, str(error), category)
            return
        except Exception as error:
            LOG.exception("Athena query %s failed", execution.query_id)
            self._finish(
                execution, started, FAILED, f"GENERIC_INTERNAL_ERROR: {error}", _SYSTEM_ERROR
            )
            return
        with self._lock:
            execution.columns = output.columns
            execution.header = output.header
            execution.scanned_bytes = output.data_scanned_bytes
            execution.manifest_location = manifest
            execution.update_count = output.update_count
            self._results[execution.query_id] = output.table
            while len(self._results) > _CACHED_RESULTS:
                self._results.popitem(last=False)
        self._finish(execution, started, SUCCEEDED, None)

    def _finish(
        self,
        execution: QueryExecution,
        started: float,
        state: str,
        reason: str | None,
        category: int | None = None,
    ) -> None:
        with self._lock:
            execution.run = None
            finished = self._finished.pop(execution.query_id, None)
            if execution.state != CANCELLED:
                execution.state = state
                execution.reason = reason
                execution.error_category = category
                execution.engine_millis = int((time.monotonic() - started) * 1000)
                execution.completed = datetime.now(tz=UTC)
        if finished is not None:
            finished.set()

    @staticmethod
    def _put(execution: QueryExecution, path: str, body: bytes) -> None:
        """One ``PutObject`` of ``bucket/key`` as the query's account (S3's own bookkeeping:
        ETag, notifications, versions), in-process."""
        bucket, _, key = path.partition("/")
        try:
            if not s3_store.put_object(execution.account_id, execution.region, bucket, key, body):
                s3 = in_memory_client("s3", execution.account_id, execution.region)
                s3.put_object(Bucket=bucket, Key=key, Body=body)
        except Exception as error:
            raise QueryError(
                "PERMISSION_DENIED", f"Unable to verify/create output bucket {bucket} ({error})"
            ) from error

    def _write_results(
        self,
        execution: QueryExecution,
        table: pa.Table,
        columns: tuple[ColumnInfo, ...],
        header: bool,
    ) -> None:
        if execution.statement_type is StatementType.DDL:
            body = results.text_bytes(table)
        else:
            body = results.csv_bytes(table, header=header)
        path = s3_path(execution.output_location)
        self._put(execution, path, body)
        self._put(execution, path + ".metadata", results.metadata_bytes(columns, table.num_rows))

    def _write_manifest(
        self, execution: QueryExecution, files: tuple[str, ...] | None
    ) -> str | None:
        """Athena's ``<id>-manifest.csv`` beside the result: the data files a statement wrote."""
        if files is None:
            return None
        location = (
            execution.output_location.rsplit("/", 1)[0] + f"/{execution.query_id}-manifest.csv"
        )
        self._put(execution, s3_path(location), "".join(f"{uri}\n" for uri in files).encode())
        return location

    # -- helpers ---------------------------------------------------------------------------

    def _store(self, context: RequestContext) -> OrderedDict[str, QueryExecution]:
        with self._lock:
            return self._executions.setdefault((context.account_id, context.region), OrderedDict())

    def _find(self, context: RequestContext, query_id: str) -> QueryExecution:
        with self._lock:
            store = self._executions.get((context.account_id, context.region), OrderedDict())
            execution = store.get(query_id)
        if execution is None:
            raise _invalid_request(f"QueryExecution {query_id} was not found")
        return execution

    def _output_location(
        self, context: RequestContext, workgroup: str, request: dict[str, Any]
    ) -> str:
        group = _athena_backend(context).work_groups.get(workgroup)
        if group is None:
            raise _invalid_request(f"WorkGroup {workgroup} is not found.")
        if getattr(group, "state", "ENABLED") == "DISABLED":
            raise _invalid_request(f"WorkGroup {workgroup} is disabled.")
        configuration = group.configuration or {}
        group_location = (configuration.get("ResultConfiguration") or {}).get("OutputLocation")
        requested = (request.get("ResultConfiguration") or {}).get("OutputLocation")
        enforced = bool(configuration.get("EnforceWorkGroupConfiguration")) and group_location
        location = group_location if enforced else (requested or group_location)
        if not location:
            raise _invalid_request(
                "No output location provided. An output location is required either through "
                "the Workgroup result configuration setting or as an API input."
            )
        if not str(location).startswith("s3://"):
            raise _invalid_request(f"OutputLocation must be an S3 URI: {location}")
        return str(location)

    def _result_table(self, execution: QueryExecution) -> pa.Table:
        with self._lock:
            cached = self._results.get(execution.query_id)
            if cached is not None:
                self._results.move_to_end(execution.query_id)
                return cached
        # Evicted from memory: read the result file back, as Athena itself does.
        fs = _s3_filesystem(execution.account_id, execution.region)
        names = [c["Name"] for c in execution.columns]
        try:
            with fs.open_input_stream(s3_path(execution.output_location)) as stream:
                data = stream.read()
        except OSError as error:
            raise _invalid_request(
                f"Query results are no longer available at {execution.output_location}: {error}"
            ) from error
        if execution.statement_type is StatementType.DDL:
            table = results.read_text(data, names)
        else:
            table = results.read_csv(data, names, header=execution.header)
        with self._lock:
            self._results[execution.query_id] = table
            while len(self._results) > _CACHED_RESULTS:
                self._results.popitem(last=False)
        return table


def _defer_to_moto_for_the_rest(provider_class: type) -> None:
    """Give every Athena operation without a handler one that falls through to moto.

    The skeleton only dispatches operations in the provider's dispatch table; a handler
    raising NotImplementedError is what MotoFallbackDispatcher turns into a moto call.
    """
    from botocore import xform_name

    implemented = {getattr(member, "operation", None) for member in vars(provider_class).values()}
    for operation in load_service("athena").operation_names:
        if operation in implemented:
            continue

        def defer_to_moto(self: Any, context: RequestContext, request: Any) -> Any:
            raise NotImplementedError

        defer_to_moto.__name__ = f"_moto_{xform_name(operation)}"
        setattr(
            provider_class, defer_to_moto.__name__, handler(operation, expand=False)(defer_to_moto)
        )


_defer_to_moto_for_the_rest(AthenaProvider)
