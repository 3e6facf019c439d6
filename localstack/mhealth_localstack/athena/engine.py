"""Runs one Athena statement on DuckDB over Glue tables; I/O only through the clients handed in.

Queries read Glue tables (Parquet or delimited text, views expanded) as pyarrow datasets; CTAS,
INSERT INTO and UNLOAD stream their rows back to S3 as Parquet (``writer``); catalog statements
change the Glue Data Catalog, undoing what they did when a later step fails.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Final

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs

from mhealth_localstack import s3uri
from mhealth_localstack.athena import (
    catalog,
    catalog_ddl,
    ddl,
    dialect,
    glue_tables,
    results,
    statements,
    text,
)
from mhealth_localstack.athena.catalog import Column, GlueCatalog, TableSpec
from mhealth_localstack.athena.errors import QueryError, translate_error
from mhealth_localstack.athena.results import QueryOutput
from mhealth_localstack.athena.scan import CountingFileSystem
from mhealth_localstack.athena.statements import StatementType
from mhealth_localstack.athena.writer import (
    COMPRESSION,
    delete_tree,
    delete_written,
    has_data,
    write_parquet,
)

_QUERYABLE_STATEMENTS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})
_BATCH_ROWS: Final = 64 * 1024
# Leading keywords of Trino statements the local Athena does not run: refused by name.
_TRINO_STATEMENT_KEYWORDS: Final = frozenset(
    {"CREATE", "DROP", "ALTER", "GRANT", "REVOKE", "DELETE", "UPDATE", "MERGE", "CALL"}
    | {"PREPARE", "EXECUTE", "DEALLOCATE", "SET", "RESET", "USE", "START", "COMMIT"}
    | {"ROLLBACK", "OPTIMIZE", "VACUUM", "COMMENT", "TRUNCATE", "REFRESH", "ANALYZE"}
)
_MAX_VIEW_DEPTH: Final = 16
_CTAS_PROPERTIES: Final = frozenset(
    {
        "format",
        "external_location",
        "partitioned_by",
        "write_compression",
        "parquet_compression",
        "table_type",
        "bucketed_by",
        "bucket_count",
        "is_external",  # dbt-athena sends is_external = true
        "compression_level",  # accepted; pyarrow's default level is used
    }
)


def _setup_script() -> str:
    # Temporary macros are found from every schema, views' own included. One script: DuckDB
    # runs 35 statements sent at once about ten times faster than one by one.
    macros = [m.replace("CREATE MACRO", "CREATE TEMP MACRO", 1) for m in dialect.TRINO_MACROS]
    return ";\n".join([*dialect.SESSION_SETTINGS, *macros]) + ";"


_SETUP_SCRIPT: Final = _setup_script()


def prepared_connection(threads: int) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection with Athena's session settings and Trino's macros."""
    connection = duckdb.connect(":memory:", config={"threads": threads})
    connection.execute(_SETUP_SCRIPT)
    return connection


class ConnectionPool:
    """Prepared DuckDB connections kept ready, so that a query does not wait for one.

    Opening a connection and defining the Trino macros takes tens of milliseconds, most of a
    small query's time. The pool makes them ahead of time on a background thread. A query that
    ended well hands its connection back cleaned (its catalog database detached, its Arrow
    sources unregistered: nothing it registered or attached outlives it, only the macros and
    session settings stay) and the next query reuses it; any other connection is closed.
    """

    def __init__(self, threads: int = 2, spares: int = 2) -> None:
        self._threads = threads
        self._spares = spares
        self._ready: list[duckdb.DuckDBPyConnection] = []
        self._used: list[duckdb.DuckDBPyConnection] = []
        self._condition = threading.Condition()
        self._worker: threading.Thread | None = None
        self._stopped = False

    def take(self) -> duckdb.DuckDBPyConnection:
        """A prepared connection: a spare one if ready, else one made now."""
        with self._condition:
            spare = self._ready.pop() if self._ready else None
        return spare if spare is not None else prepared_connection(self._threads)

    def give_back(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Keep a cleaned connection for the next query (closed if enough are ready)."""
        with self._condition:
            if not self._stopped and len(self._ready) < self._spares:
                self._ready.append(connection)
                return
        self.discard(connection)

    def discard(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Hand back a used connection: closed, and a spare made, off the query's path."""
        with self._condition:
            if self._stopped:
                connection.close()
                return
            self._used.append(connection)
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._maintain, name="athena-duckdb-pool", daemon=True
                )
                self._worker.start()
            self._condition.notify()

    def close(self) -> None:
        """Stop the background thread and close every connection it holds."""
        with self._condition:
            self._stopped = True
            self._condition.notify()
            worker = self._worker
        if worker is not None:
            worker.join(timeout=10)
        with self._condition:
            leftover, self._ready, self._used = self._ready + self._used, [], []
        for connection in leftover:
            connection.close()

    def _maintain(self) -> None:
        while True:
            with self._condition:
                while not self._stopped and not self._used and len(self._ready) >= self._spares:
                    self._condition.wait()
                if self._stopped:
                    return
                used, self._used = self._used, []
                missing = len(self._ready) < self._spares
            for connection in used:
                connection.close()
            if missing:
                spare = prepared_connection(self._threads)
                with self._condition:
                    self._ready.append(spare)


class QueryCancelled(Exception):
    """The query was stopped (StopQueryExecution) while DuckDB ran it."""


class QueryRun:
    """One statement's execution; ``cancel`` may be called from another thread."""

    def __init__(
        self,
        query: str,
        *,
        catalog_name: str,
        database: str,
        glue: GlueCatalog,
        filesystem: Callable[[], pafs.FileSystem],
        threads: int = 2,
        query_id: str = "",
        output_location: str = "",
        read_filesystem: Callable[[], pafs.FileSystem] | None = None,
        connections: ConnectionPool | None = None,
    ) -> None:
        self._query = query
        self._catalog_name = (catalog_name or dialect.DEFAULT_CATALOG).lower()
        self._database = (database or "default").lower()
        self._glue = glue
        self._filesystem = filesystem
        self._read_filesystem = read_filesystem or filesystem
        self._threads = threads
        self._connections = connections
        self._query_id = query_id or "local"
        self._output_location = output_location
        self._lock = threading.Lock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._cancelled = False
        self._registered: set[tuple[str, str]] = set()
        self._schemas: set[str] = set()
        self._sources = 0
        self._reading: CountingFileSystem | None = None
        self._catalog = catalog_ddl.CatalogStatements(
            glue, self._catalog_name, self._database, filesystem
        )

    def cancel(self) -> None:
        """Interrupt DuckDB if it is running this query; a query not started yet will not start."""
        with self._lock:
            self._cancelled = True
            if self._connection is not None:
                self._connection.interrupt()

    def run(self) -> QueryOutput:
        """Execute the statement; raises QueryError (Athena's reason) or QueryCancelled."""
        statement = ddl.parse(self._query)
        if statement is not None:
            return self._with_connection(
                lambda connection: self._run_statement(connection, statement)
            )
        show = statements.parse_ddl(self._query)
        if show is not None:
            return self._catalog.show(show)
        if statements.statement_type(self._query) is not StatementType.DML:
            if ddl.first_keyword(self._query) not in _TRINO_STATEMENT_KEYWORDS:
                _check_syntax(self._query)
            raise QueryError(
                "NOT_SUPPORTED",
                f"{_statement_words(self._query)} is not supported by the local Athena (it runs "
                "queries, CTAS, INSERT INTO, UNLOAD, CREATE EXTERNAL TABLE, views, partition "
                "DDL, MSCK REPAIR TABLE and SHOW/DESCRIBE statements)",
            )
        return self._with_connection(self._run_select)

    def _with_connection(
        self, body: Callable[[duckdb.DuckDBPyConnection], QueryOutput]
    ) -> QueryOutput:
        if self._connections is not None:
            connection = self._connections.take()
        else:
            connection = prepared_connection(self._threads)
        succeeded = False
        try:
            with self._lock:
                if self._cancelled:
                    raise QueryCancelled
                self._connection = connection
            output = body(connection)
            succeeded = True
            return output
        except duckdb.InterruptException as error:
            raise QueryCancelled from error
        except duckdb.Error as error:
            if self._cancelled:
                raise QueryCancelled from error
            raise translate_error(error, self._query) from error
        finally:
            with self._lock:
                self._connection = None
            if self._connections is None:
                connection.close()
            elif succeeded and self._reset(connection):
                self._connections.give_back(connection)
            else:
                self._connections.discard(connection)

    def _reset(self, connection: duckdb.DuckDBPyConnection) -> bool:
        """Drop what this statement added to ``connection``; False if it cannot be reused
        (the statement was cancelled, or the cleanup failed)."""
        if self._cancelled:
            return False
        try:
            connection.execute("USE memory.main")
            if self._schemas:
                connection.execute(f'DETACH "{_q(self._catalog_name)}"')
            for index in range(self._sources):
                connection.unregister(f"__athena_source_{index}")
        except duckdb.Error:
            return False
        return True

    # -- queries --------------------------------------------------------------------------------

    def _run_select(self, connection: duckdb.DuckDBPyConnection) -> QueryOutput:
        found = duckdb.extract_statements(self._query)
        if len(found) == 1 and found[0].type not in _QUERYABLE_STATEMENTS:
            raise QueryError(
                "NOT_SUPPORTED",
                f"{_statement_words(self._query)} is not supported by the local Athena",
            )
        relation, names = self._relation(connection, self._query)
        columns = tuple(
            results.column_info(name, str(kind))
            for name, kind in zip(names, relation.types, strict=True)
        )
        arrow = relation.to_arrow_table()
        return QueryOutput(columns, results.format_table(arrow, names), True, self._scanned())

    def _relation(
        self, connection: duckdb.DuckDBPyConnection, query: str, offset: int = 0
    ) -> tuple[duckdb.DuckDBPyRelation, list[str]]:
        """The query ready to run over its registered tables, and its output column names.

        ``offset`` is where the query starts in the statement: error positions count from there.
        """
        text = _blank(self._query[:offset]) + query if offset else query
        if offset:
            found = duckdb.extract_statements(text) if text.strip() else []
            if len(found) != 1 or found[0].type is not duckdb.StatementType.SELECT:
                raise QueryError("SYNTAX_ERROR", "The statement must contain one SELECT query")
        parsed = dialect.parse_select(
            connection, text, catalog=self._catalog_name, database=self._database
        )
        self._prepare(connection)
        self._register_tables(connection, parsed.tables, depth=0)
        dialect.check_comparisons(connection, parsed.sql, parsed.ast)
        try:
            relation = connection.sql(parsed.sql)
        except duckdb.Error as error:
            raise translate_error(error, text) from error
        if relation is None:
            raise QueryError("NOT_SUPPORTED", "The statement returns no result set")
        return relation, dialect.output_names(parsed.select_items, relation.columns)

    def _check_cancelled(self) -> None:
        """Stop before a catalog change once StopQueryExecution came in."""
        with self._lock:
            if self._cancelled:
                raise QueryCancelled

    def _prepare(self, connection: duckdb.DuckDBPyConnection) -> None:
        if self._schemas:
            return
        # The session settings and Trino macros are in place already (prepared_connection).
        connection.execute(f"ATTACH ':memory:' AS \"{_q(self._catalog_name)}\"")
        self._schema(connection, self._database)
        connection.execute(f'USE "{_q(self._catalog_name)}"."{_q(self._database)}"')
        # Nothing but the registered tables is reachable from the query (no local files, no
        # extensions). Registering tables stays possible; settings are locked.
        connection.execute("SET enable_external_access = false")

    def _schema(self, connection: duckdb.DuckDBPyConnection, schema: str) -> None:
        if schema not in self._schemas:
            connection.execute(f'CREATE SCHEMA "{_q(self._catalog_name)}"."{_q(schema)}"')
            self._schemas.add(schema)

    def _read_fs(self) -> CountingFileSystem:
        if self._reading is None:
            self._reading = CountingFileSystem(self._read_filesystem())
        return self._reading

    def _scanned(self) -> int:
        return self._reading.bytes_opened if self._reading is not None else 0

    def _register_tables(
        self,
        connection: duckdb.DuckDBPyConnection,
        tables: tuple[dialect.TableRef, ...],
        *,
        depth: int,
    ) -> None:
        for ref in tables:
            if ref.catalog != self._catalog_name:
                raise QueryError(
                    "CATALOG_NOT_FOUND",
                    f"line {ref.line}:{ref.column}: Catalog '{ref.catalog}' not found",
                )
            if (ref.database, ref.table) in self._registered:
                continue
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
            self._schema(connection, ref.database)
            target = f'"{_q(self._catalog_name)}"."{_q(ref.database)}"."{_q(ref.table)}"'
            if spec.is_view:
                self._register_view(connection, spec, target, depth)
            else:
                self._register_table(connection, spec, target)
            self._registered.add((ref.database, ref.table))

    def _register_table(
        self, connection: duckdb.DuckDBPyConnection, spec: TableSpec, target: str
    ) -> None:
        data = catalog.table_dataset(spec, self._read_fs())
        source = f"__athena_source_{self._sources}"
        self._sources += 1
        connection.register(source, data.dataset)
        if data.text:
            # LazySimpleSerDe: a field that does not parse as its column's type reads as NULL.
            items = [
                f'"{_q(c.name)}"'
                if glue_tables.duckdb_type(c.hive_type) == "VARCHAR"
                else f'TRY_CAST("{_q(c.name)}" AS {glue_tables.duckdb_type(c.hive_type)}) '
                f'AS "{_q(c.name)}"'
                for c in spec.columns
            ] + [f'"{_q(c.name)}"' for c in spec.partition_keys]
            connection.execute(f'CREATE VIEW {target} AS SELECT {", ".join(items)} FROM "{source}"')
        else:
            connection.execute(f'CREATE VIEW {target} AS SELECT * FROM "{source}"')

    def _register_view(
        self, connection: duckdb.DuckDBPyConnection, spec: TableSpec, target: str, depth: int
    ) -> None:
        if depth >= _MAX_VIEW_DEPTH:
            raise QueryError("VIEW_IS_RECURSIVE", f"View is recursive: {spec.qualified}")
        view = glue_tables.read_view(spec)
        parsed = dialect.parse_select(
            connection, view.sql, catalog=view.catalog.lower(), database=view.schema
        )
        self._register_tables(connection, parsed.tables, depth=depth + 1)
        self._schema(connection, view.schema)
        connection.execute(f'USE "{_q(self._catalog_name)}"."{_q(view.schema)}"')
        try:
            connection.execute(f"CREATE VIEW {target} AS {parsed.sql}")
        except duckdb.Error as error:
            raise QueryError(
                "VIEW_IS_STALE", f"View '{spec.qualified}' is stale or invalid: {error}"
            ) from error
        finally:
            connection.execute(f'USE "{_q(self._catalog_name)}"."{_q(self._database)}"')

    # -- statements that change the catalog or write data --------------------------------------

    def _run_statement(
        self, connection: duckdb.DuckDBPyConnection, statement: ddl.Statement
    ) -> QueryOutput:
        if isinstance(statement, ddl.CreateTableAs):
            return self._create_table_as(connection, statement)
        if isinstance(statement, ddl.InsertInto):
            return self._insert_into(connection, statement)
        if isinstance(statement, ddl.Unload):
            return self._unload(connection, statement)
        if isinstance(statement, ddl.CreateView):
            return self._create_view(connection, statement)
        return self._catalog.run(statement)

    def _empty_location(self, location: str, table: str) -> str:
        """The ``bucket/prefix`` CTAS or UNLOAD may write to: it must exist and hold no data."""
        if not s3uri.is_s3_uri(location):
            raise QueryError(
                "INVALID_TABLE_PROPERTY", f"External location must be an S3 URI: '{location}'"
            )
        root = catalog.s3_path(location)
        fs = self._filesystem()
        bucket = root.split("/", 1)[0]
        if fs.get_file_info(bucket).type == pafs.FileType.NotFound:
            raise QueryError(
                "HIVE_FILESYSTEM_ERROR",
                f"The S3 bucket of location '{location}' does not exist (NoSuchBucket)",
            )
        if has_data(fs, root):
            # https://repost.aws/knowledge-center/athena-hive-path-already-exists
            raise QueryError(
                "HIVE_PATH_ALREADY_EXISTS",
                f"Target directory for table '{table}' already exists: {location}",
            )
        return root

    def _result_schema(self, relation: duckdb.DuckDBPyRelation, names: list[str]) -> list[Column]:
        lowered = [name.lower() for name in names]
        duplicates = sorted({name for name in lowered if lowered.count(name) > 1})
        if duplicates:
            raise QueryError(
                "DUPLICATE_COLUMN_NAME", f"Column name '{duplicates[0]}' specified more than once"
            )
        return [
            Column(name, glue_tables.hive_type(str(kind), name))
            for name, kind in zip(lowered, relation.types, strict=True)
        ]

    def _create_table_as(
        self, connection: duckdb.DuckDBPyConnection, st: ddl.CreateTableAs
    ) -> QueryOutput:
        database = self._catalog.database_of(st.name)
        qualified = f"{database}.{st.name.table}"
        if catalog.load_table(self._glue, database, st.name.table) is not None:
            if st.if_not_exists:
                return results.rows_output(0, None)
            raise QueryError(
                "ALREADY_EXISTS",
                f"Table '{self._catalog_name}.{qualified}' already exists",
            )
        unknown = sorted(set(st.properties) - _CTAS_PROPERTIES)
        if unknown:
            raise QueryError(
                "INVALID_TABLE_PROPERTY",
                f"Catalog '{self._catalog_name}' table property '{unknown[0]}' does not exist",
            )
        storage = str(st.properties.get("format", "PARQUET")).upper()
        if storage != "PARQUET":
            raise QueryError(
                "NOT_SUPPORTED",
                f"CREATE TABLE AS with format '{storage}': the local Athena writes PARQUET only",
            )
        if str(st.properties.get("table_type", "HIVE")).upper() != "HIVE":
            raise QueryError("NOT_SUPPORTED", "CREATE TABLE AS writes Hive tables only locally")
        if str(st.properties.get("is_external", "true")).lower() != "true":
            raise QueryError("NOT_SUPPORTED", "CREATE TABLE AS with is_external = false")
        if "bucketed_by" in st.properties:
            raise QueryError("NOT_SUPPORTED", "CREATE TABLE AS with bucketed_by (bucketing)")
        compression = _compression(st.properties)
        location = str(st.properties.get("external_location") or "")
        if not location:
            # Without external_location Athena writes under the query result location.
            location = f"{self._output_location.rstrip('/')}/tables/{self._query_id}/"
        root = self._empty_location(location, qualified)
        relation, names = self._relation(connection, st.query, st.query_offset)
        columns = self._result_schema(relation, names)
        partitioned = _list_property(st.properties, "partitioned_by")
        data_columns, keys = _split_partitions(columns, partitioned)
        written: list[str] = []
        rows = 0
        partitions: list[tuple[str, ...]] = []
        created = False
        try:
            if st.with_data:
                files, rows = write_parquet(
                    relation.to_arrow_reader(_BATCH_ROWS),
                    fs=self._filesystem(),
                    root=root,
                    schema=_arrow_schema(columns),
                    partition_by=partitioned,
                    basename=self._query_id,
                    compression=compression,
                )
                written = [file.path for file in files]
                partitions = sorted({file.partition for file in files})
            self._check_cancelled()
            table_input = glue_tables.parquet_table(
                st.name.table, data_columns, keys, f"s3://{root}/", compression
            )
            self._glue.create_table(DatabaseName=database, TableInput=table_input)
            created = True
            spec = self._catalog.table(ddl.Name(database, st.name.table))
            self._catalog.add_partitions(
                spec, [(v, catalog_ddl.partition_location(spec, v)) for v in partitions]
            )
            self._check_cancelled()
        except BaseException:
            # Nothing half-written stays: not the table, not its files.
            if created:
                self._glue.delete_table(DatabaseName=database, Name=st.name.table)
            delete_tree(self._filesystem(), root)  # the location held no data before
            raise
        return results.rows_output(rows, tuple(f"s3://{path}" for path in written), self._scanned())

    def _insert_into(
        self, connection: duckdb.DuckDBPyConnection, st: ddl.InsertInto
    ) -> QueryOutput:
        spec = self._catalog.table(st.name)
        if spec.is_view or not spec.is_parquet:
            raise QueryError(
                "NOT_SUPPORTED",
                f"INSERT INTO '{spec.qualified}': the local Athena inserts into Parquet tables",
            )
        relation, names = self._relation(connection, st.query, st.query_offset)
        target = list(spec.all_columns)
        if st.columns:
            unknown = [c for c in st.columns if c not in {t.name for t in target}]
            if unknown:
                raise QueryError(
                    "COLUMN_NOT_FOUND",
                    f"Insert column name does not exist in target table: {unknown[0]}",
                )
            target = [next(t for t in target if t.name == c) for c in st.columns]
        query_types = [str(kind) for kind in relation.types]
        table_types = [glue_tables.duckdb_type(c.hive_type) for c in target]
        compatible = len(query_types) == len(table_types) and all(
            dialect.type_family(q) is None or dialect.type_family(q) == dialect.type_family(t)
            for q, t in zip(query_types, table_types, strict=True)
        )
        if not compatible:
            raise QueryError(
                "TYPE_MISMATCH",
                "Insert query has mismatched column types: Table: ["
                + ", ".join(glue_tables.trino_type(c.hive_type) for c in target)
                + "], Query: ["
                + ", ".join(dialect.trino_type_name(q) for q in query_types)
                + "]",
            )
        # Positional: the query's own column names (DuckDB's, not Trino's _colN) address them.
        del names
        selected = {c.name: relation.columns[i] for i, c in enumerate(target)}
        items = [
            f'CAST("{_q(selected[c.name])}" AS {glue_tables.duckdb_type(c.hive_type)})'
            if c.name in selected
            else f"CAST(NULL AS {glue_tables.duckdb_type(c.hive_type)})"
            for c in spec.all_columns
        ]
        shaped = relation.select(", ".join(items))
        root = catalog.s3_path(spec.location)
        files, rows = write_parquet(
            shaped.to_arrow_reader(_BATCH_ROWS),
            fs=self._filesystem(),
            root=root,
            schema=_arrow_schema(list(spec.all_columns)),
            partition_by=[k.name for k in spec.partition_keys],
            basename=self._query_id,
            compression=_compression({}),
        )
        known = {p.values for p in spec.partitions}
        new = sorted({f.partition for f in files} - known)
        try:
            self._check_cancelled()
            self._catalog.add_partitions(
                spec, [(v, catalog_ddl.partition_location(spec, v)) for v in new]
            )
        except BaseException:
            delete_written(self._filesystem(), root, self._query_id)
            raise
        return results.rows_output(rows, tuple(f.uri for f in files), self._scanned())

    def _unload(self, connection: duckdb.DuckDBPyConnection, st: ddl.Unload) -> QueryOutput:
        storage = str(st.properties.get("format", "")).upper()
        if storage != "PARQUET":
            raise QueryError(
                "NOT_SUPPORTED",
                f"UNLOAD with format '{storage or '<none>'}': the local Athena unloads PARQUET",
            )
        unknown = sorted(set(st.properties) - {"format", "compression", "partitioned_by"})
        if unknown:
            raise QueryError("INVALID_TABLE_PROPERTY", f"Unknown UNLOAD property '{unknown[0]}'")
        root = self._empty_location(st.location, st.location)
        relation, names = self._relation(connection, st.query, st.query_offset)
        columns = self._result_schema(relation, names)
        partitioned = _list_property(st.properties, "partitioned_by")
        _split_partitions(columns, partitioned)
        try:
            files, rows = write_parquet(
                relation.to_arrow_reader(_BATCH_ROWS),
                fs=self._filesystem(),
                root=root,
                schema=_arrow_schema(columns),
                partition_by=partitioned,
                basename=self._query_id,
                # UNLOAD's Parquet default is GZIP (https://docs.aws.amazon.com/athena/latest/ug/unload.html)
                compression=_compression(
                    {"write_compression": st.properties.get("compression", "GZIP")}
                ),
            )
        except BaseException:
            delete_tree(self._filesystem(), root)  # the destination held no data before
            raise
        return results.rows_output(rows, tuple(f.uri for f in files), self._scanned())

    def _create_view(
        self, connection: duckdb.DuckDBPyConnection, st: ddl.CreateView
    ) -> QueryOutput:
        database = self._catalog.database_of(st.name)
        existing = catalog.load_table(self._glue, database, st.name.table)
        qualified = f"{self._catalog_name}.{database}.{st.name.table}"
        if existing is not None and not existing.is_view:
            raise QueryError("ALREADY_EXISTS", f"Table '{qualified}' already exists")
        if existing is not None and not st.or_replace:
            raise QueryError("ALREADY_EXISTS", f"View '{qualified}' already exists")
        relation, names = self._relation(connection, st.query, st.query_offset)
        columns = self._result_schema(relation, names)
        view = glue_tables.ViewDefinition(
            sql=st.query,
            catalog=self._catalog_name,
            schema=self._database,
            columns=tuple(
                (c.name, dialect.trino_type_name(str(kind)))
                for c, kind in zip(columns, relation.types, strict=True)
            ),
        )
        table_input = glue_tables.view_table(st.name.table, view, columns)
        if existing is None:
            self._glue.create_table(DatabaseName=database, TableInput=table_input)
        else:
            self._glue.update_table(DatabaseName=database, TableInput=table_input)
        return results.empty_output()


def _check_syntax(query: str) -> None:
    try:
        duckdb.extract_statements(query)
    except duckdb.ParserException as error:
        raise translate_error(error, query) from error


def _q(identifier: str) -> str:
    return identifier.replace('"', '""')


def _blank(text: str) -> str:
    """``text`` as blanks, its line breaks kept (so positions after it stay the same)."""
    return "".join(char if char == "\n" else " " for char in text)


def _statement_words(query: str) -> str:
    """The statement's leading keywords (``CREATE FUNCTION``), to name it in an error."""
    words = re.findall(r"[A-Za-z]+", text.strip_comments(query))[:2]
    return " ".join(words).upper() or "The statement"


def _compression(properties: dict[str, str | list[str]]) -> str:
    name = str(
        properties.get("write_compression") or properties.get("parquet_compression") or "SNAPPY"
    ).upper()
    if name not in COMPRESSION:
        raise QueryError(
            "INVALID_TABLE_PROPERTY",
            f"Unsupported compression '{name}' for PARQUET (use one of {', '.join(COMPRESSION)})",
        )
    return COMPRESSION[name]


def _list_property(properties: dict[str, str | list[str]], name: str) -> list[str]:
    value = properties.get(name) or []
    values = [value] if isinstance(value, str) else value
    return [v.lower() for v in values]


def _split_partitions(
    columns: list[Column], partitioned_by: list[str]
) -> tuple[list[Column], list[Column]]:
    """Data columns and partition keys: the keys must be the query's last columns, in order.

    https://docs.aws.amazon.com/athena/latest/ug/create-table-as.html ("partitioned_by")
    """
    if not partitioned_by:
        return columns, []
    names = [c.name for c in columns]
    missing = [p for p in partitioned_by if p not in names]
    if missing:
        raise QueryError(
            "INVALID_TABLE_PROPERTY",
            f"Partition column '{missing[0]}' is not a column of the query's result",
        )
    if names[-len(partitioned_by) :] != partitioned_by or len(partitioned_by) == len(names):
        raise QueryError(
            "HIVE_COLUMN_ORDER_MISMATCH",
            "Partition keys must be the last columns in the table and in the same order as the "
            f"table properties: [{', '.join(partitioned_by)}]",
        )
    return columns[: -len(partitioned_by)], columns[-len(partitioned_by) :]


def _arrow_schema(columns: list[Column]) -> pa.Schema:
    return pa.schema([pa.field(c.name, catalog.arrow_type(c.hive_type)) for c in columns])
