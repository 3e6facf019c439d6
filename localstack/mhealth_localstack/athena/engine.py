"""Runs one Athena query on DuckDB over Glue tables; I/O only through the clients handed in."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs

from mhealth_localstack.athena import catalog, dialect, results, statements
from mhealth_localstack.athena.catalog import GlueCatalog
from mhealth_localstack.athena.errors import QueryError, translate_error
from mhealth_localstack.athena.results import ColumnInfo
from mhealth_localstack.athena.statements import DdlKind, DdlStatement, StatementType

_QUERYABLE_STATEMENTS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})


@dataclass(frozen=True)
class QueryOutput:
    """A finished query: columns, every value as text (one row per result row), and its cost."""

    columns: tuple[ColumnInfo, ...]
    table: pa.Table
    header: bool
    data_scanned_bytes: int


class QueryCancelled(Exception):
    """The query was stopped (StopQueryExecution) while DuckDB ran it."""


class QueryRun:
    """One query's execution; ``cancel`` may be called from another thread."""

    def __init__(
        self,
        query: str,
        *,
        catalog_name: str,
        database: str,
        glue: GlueCatalog,
        filesystem: Callable[[], pafs.FileSystem],
        threads: int = 2,
    ) -> None:
        self._query = query
        self._catalog_name = (catalog_name or dialect.DEFAULT_CATALOG).lower()
        self._database = (database or "default").lower()
        self._glue = glue
        self._filesystem = filesystem
        self._threads = threads
        self._lock = threading.Lock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._cancelled = False

    def cancel(self) -> None:
        """Interrupt DuckDB if it is running this query; a query not started yet will not start."""
        with self._lock:
            self._cancelled = True
            if self._connection is not None:
                self._connection.interrupt()

    def run(self) -> QueryOutput:
        """Execute the query; raises QueryError (Athena's reason) or QueryCancelled."""
        ddl = statements.parse_ddl(self._query)
        if ddl is not None:
            return self._run_ddl(ddl)
        if statements.statement_type(self._query) is not StatementType.DML:
            _check_syntax(self._query)
            raise QueryError(
                "NOT_SUPPORTED",
                "The local Athena runs queries (SELECT, WITH, VALUES, EXPLAIN) and SHOW/DESCRIBE "
                "statements only",
            )
        connection = duckdb.connect(":memory:", config={"threads": self._threads})
        try:
            with self._lock:
                if self._cancelled:
                    raise QueryCancelled
                self._connection = connection
            return self._run_select(connection)
        except duckdb.InterruptException as error:
            raise QueryCancelled from error
        except duckdb.Error as error:
            if self._cancelled:
                raise QueryCancelled from error
            raise translate_error(error, self._query) from error
        finally:
            with self._lock:
                self._connection = None
            connection.close()

    # -- SELECT ---------------------------------------------------------------------------------

    def _run_select(self, connection: duckdb.DuckDBPyConnection) -> QueryOutput:
        statements = duckdb.extract_statements(self._query)
        if len(statements) == 1 and statements[0].type not in _QUERYABLE_STATEMENTS:
            raise QueryError(
                "NOT_SUPPORTED",
                f"Statement type {statements[0].type.name} is not supported by the local Athena",
            )
        parsed = dialect.parse_select(
            connection, self._query, catalog=self._catalog_name, database=self._database
        )
        scanned = self._register_tables(connection, parsed.tables)
        for statement in (*dialect.SESSION_SETTINGS, *dialect.TRINO_MACROS):
            connection.execute(statement)
        # Nothing but the registered tables is reachable from the query (no local files, no
        # extensions), and the query cannot change that.
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
        relation = connection.sql(parsed.sql)
        if relation is None:
            raise QueryError("NOT_SUPPORTED", "The statement returns no result set")
        names = dialect.output_names(parsed.select_items, relation.columns)
        columns = tuple(
            results.column_info(name, str(kind))
            for name, kind in zip(names, relation.types, strict=True)
        )
        arrow = relation.to_arrow_table()
        return QueryOutput(columns, results.format_table(arrow, names), True, scanned)

    def _register_tables(
        self, connection: duckdb.DuckDBPyConnection, tables: tuple[dialect.TableRef, ...]
    ) -> int:
        connection.execute(f"ATTACH ':memory:' AS \"{self._catalog_name}\"")
        schemas = {self._database} | {ref.database for ref in tables}
        for schema in schemas:
            connection.execute(f'CREATE SCHEMA "{self._catalog_name}"."{_q(schema)}"')
        connection.execute(f'USE "{self._catalog_name}"."{_q(self._database)}"')
        scanned = 0
        fs: pafs.FileSystem | None = None
        for index, ref in enumerate(tables):
            if ref.catalog != self._catalog_name:
                raise QueryError(
                    "CATALOG_NOT_FOUND",
                    f"line {ref.line}:{ref.column}: Catalog '{ref.catalog}' not found",
                )
            spec = catalog.load_table(self._glue, ref.database, ref.table)
            if spec is None:
                if not catalog.database_exists(self._glue, ref.database):
                    raise QueryError(
                        "SCHEMA_NOT_FOUND",
                        f"line {ref.line}:{ref.column}: Schema '{ref.database}' does not exist",
                    )
                raise QueryError(
                    "TABLE_NOT_FOUND",
                    f"line {ref.line}:{ref.column}: Table '{ref.qualified}' does not exist",
                )
            fs = fs or self._filesystem()
            data = catalog.table_dataset(spec, fs)
            scanned += data.bytes_total
            source = f"__athena_source_{index}"
            connection.register(source, data.dataset)
            connection.execute(
                f'CREATE VIEW "{self._catalog_name}"."{_q(ref.database)}"."{_q(ref.table)}" '
                f'AS SELECT * FROM "{source}"'
            )
        return scanned

    # -- SHOW / DESCRIBE ----------------------------------------------------------------------

    def _run_ddl(self, ddl: DdlStatement) -> QueryOutput:
        database = ddl.database or self._database
        if ddl.kind is DdlKind.SHOW_DATABASES:
            names = catalog.list_databases(self._glue)
            return _text_output("database_name", _filter(names, ddl))
        if ddl.kind is DdlKind.SHOW_TABLES:
            if not catalog.database_exists(self._glue, database):
                raise QueryError("SCHEMA_NOT_FOUND", f"Schema '{database}' does not exist")
            return _text_output("tab_name", _filter(catalog.list_tables(self._glue, database), ddl))
        spec = catalog.load_table(self._glue, database, ddl.table or "")
        if spec is None:
            raise QueryError(
                "TABLE_NOT_FOUND",
                f"Table '{self._catalog_name}.{database}.{ddl.table}' does not exist",
            )
        if ddl.kind is DdlKind.SHOW_COLUMNS:
            return _text_output("field", [c.name for c in spec.all_columns])
        lines = [f"{c.name:<20}\t{c.hive_type:<20}\t{c.comment}" for c in spec.all_columns]
        if spec.partition_keys:
            lines += [
                "",
                "# Partition Information",
                f"{'# col_name':<20}\t{'data_type':<20}\tcomment",
                "",
            ]
            lines += [f"{c.name:<20}\t{c.hive_type:<20}\t{c.comment}" for c in spec.partition_keys]
        return _text_output("col_name", lines)


def _check_syntax(query: str) -> None:
    try:
        duckdb.extract_statements(query)
    except duckdb.ParserException as error:
        raise translate_error(error, query) from error


def _q(identifier: str) -> str:
    return identifier.replace('"', '""')


def _filter(names: list[str], ddl: DdlStatement) -> list[str]:
    if ddl.regex is not None:
        pattern = statements.table_regex(ddl.regex)
    elif ddl.like is not None:
        pattern = statements.like_to_regex(ddl.like)
    else:
        return names
    return [name for name in names if pattern.fullmatch(name)]


def _text_output(column: str, values: list[str]) -> QueryOutput:
    table = pa.table({column: pa.array(values, pa.string())})
    return QueryOutput((results.ddl_column_info(column),), table, False, 0)
